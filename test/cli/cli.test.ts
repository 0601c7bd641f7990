import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/tracking/file-store.js';
import { BIN, ensureBuilt, REPO, tempDir } from '../tracking/helpers.js';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment without any lpclust/MLflow setting of the machine running the tests. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(LPCLUST_|MLFLOW_)/.test(k)) env[k] = v;
  return { ...env, NO_COLOR: '1', ...extra };
}

function cli(args: string[], cwd = tempDir(), env: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, env: cleanEnv(env), timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const VERSION = (JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

describe('lpclust CLI basics', () => {
  beforeAll(() => ensureBuilt());

  it('--version, --help, help of a command, no arguments', async () => {
    const [version, help, runsHelp, none] = await Promise.all([cli(['--version']), cli(['--help']), cli(['runs', '--help']), cli([])]);
    expect(version).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: lpclust');
    expect(help.stdout).toMatch(/^\s+runs\b/m);
    for (const opt of ['--tracking-uri', '--experiment-name', '--json', '--log-level', '--quiet']) expect(help.stdout).toContain(opt);
    expect(runsHelp.code).toBe(0);
    expect(runsHelp.stdout).toContain('Examples:');
    expect(runsHelp.stdout).toContain('lpclust runs show');
    expect(none.code).toBe(2);
    expect(none.stdout + none.stderr).toContain('Usage: lpclust');
  });

  it('suggests the command or option meant, exit code 2', async () => {
    const [cmd, opt, globalOpt, sub, level] = await Promise.all([
      cli(['rusn']),
      cli(['runs', '--limt', '3']),
      cli(['--trackng-uri', 'file:./x', 'runs']),
      cli(['runs', 'shwo', 'abc']),
      cli(['--log-level', 'loud', 'runs']),
    ]);
    expect(cmd.code).toBe(2);
    expect(cmd.stderr).toContain("unknown command 'rusn'");
    expect(cmd.stderr).toMatch(/did you mean runs\?/i);
    expect(opt.code).toBe(2);
    expect(opt.stderr).toMatch(/unknown option '--limt'[\s\S]*did you mean --limit\?/i);
    expect(globalOpt.code).toBe(2);
    expect(globalOpt.stderr).toMatch(/did you mean --tracking-uri\?/i);
    expect(sub.code).toBe(2);
    expect(sub.stderr).toMatch(/unknown sub-command 'shwo'.*did you mean show\?/);
    expect(level.code).toBe(2);
    expect(level.stderr).toContain('loud');
  });

  it('bad values are usage errors (2), missing data input errors (3): one line plus a hint', async () => {
    const [limit, status, missingRun, missingExp] = await Promise.all([
      cli(['runs', '--limit', '-3']),
      cli(['runs', '--status', 'DONE']),
      cli(['runs', 'show', '0123456789abcdef0123456789abcdef']),
      cli(['runs', '--experiment', 'nope']),
    ]);
    expect(limit.code).toBe(2);
    expect(limit.stderr.split('\n')[0]).toBe('lpclust: Expected a non-negative integer for `--limit` but received `-3`');
    expect(status.code).toBe(2);
    expect(status.stderr).toContain('received `DONE`');
    expect(missingRun.code).toBe(3);
    expect(missingRun.stderr).toMatch(/^lpclust: no run .*0123456789abcdef0123456789abcdef/);
    expect(missingRun.stderr.trim().split('\n')).toHaveLength(2);
    expect(missingRun.stderr).toContain('hint:');
    expect(missingExp.code).toBe(3);
    expect(missingExp.stderr).toContain('no experiment named "nope"');
    expect(missingRun.stderr).not.toMatch(/^\s+at /m);
  });

  it('--log-level debug adds the stack; secrets in the tracking URI never appear', async () => {
    const [debug, secret] = await Promise.all([
      cli(['--log-level', 'debug', 'runs', 'show', '0123456789abcdef0123456789abcdef']),
      cli(['--tracking-uri', 'ftp://admin:hunter2@example.org/x', 'runs']),
    ]);
    expect(debug.code).toBe(3);
    expect(debug.stderr).toMatch(/^\s+at /m);
    expect(secret.code).toBe(2);
    expect(secret.stderr).toContain('admin:***@example.org');
    expect(secret.stderr + secret.stdout).not.toContain('hunter2');
  });
});

describe('lpclust runs', () => {
  beforeAll(() => ensureBuilt());

  it('lists experiments and runs as a tree, shows one run; --json', async () => {
    const cwd = tempDir();
    const store = new FileStore(path.join(cwd, 'mlruns'));
    const exp = await store.getOrCreateExperiment('uc7');
    const mk = async (name: string, start: number, parent?: string): Promise<string> => {
      const r = await store.createRun({
        experimentId: exp.experimentId,
        runName: name,
        userId: 'tester',
        startTime: start,
        tags: parent ? [{ key: 'mlflow.parentRunId', value: parent }] : [],
      });
      return r.runId;
    };
    const t = Date.UTC(2026, 0, 2, 3, 4, 5);
    const parent = await mk('pipeline', t);
    const etl = await mk('etl', t + 1000, parent);
    const cluster = await mk('cluster', t + 2000, parent);
    const sweep = await mk('k=3', t + 2500, cluster);
    const failed = await mk('lonely', t + 100_000);
    await store.logBatch(parent, { params: [{ key: 'model', value: 'kmeans' }, { key: 'k', value: '3' }] });
    await store.logBatch(cluster, {
      metrics: [
        { key: 'DB Index', value: 0.81234, timestamp: t + 3000, step: 2 },
        { key: 'DB Index', value: 0.9, timestamp: t + 2900, step: 3 },
        { key: 'DB Index', value: 0.7, timestamp: t + 3100, step: 4 },
      ],
    });
    const file = path.join(cwd, 'centroids.csv');
    fs.writeFileSync(file, 'a,b\n1,2\n');
    await store.logArtifact(cluster, file, 'model');
    for (const [id, end] of [[etl, 1500], [sweep, 2600], [cluster, 3500], [parent, 65_000]] as const) await store.updateRun(id, 'FINISHED', t + end);
    await store.updateRun(failed, 'FAILED', t + 100_500);

    const [list, json, show, showJson, onlyFailed] = await Promise.all([
      cli(['runs', '--utc'], cwd),
      cli(['runs', '--json'], cwd),
      cli(['runs', 'show', cluster.slice(0, 8), '--utc'], cwd),
      cli(['runs', 'show', cluster, '--json'], cwd),
      cli(['--json', 'runs', '--status', 'failed'], cwd),
    ]);
    expect(list.stderr).toBe('');
    expect(list.code).toBe(0);
    const lines = list.stdout.split('\n');
    expect(list.stdout).toContain('Experiment "uc7"');
    expect(list.stdout).toContain('5 runs');
    const idx = (name: string): number => lines.findIndex((l) => l.includes(name));
    expect(idx('lonely')).toBeLessThan(idx('pipeline'));
    expect(lines[idx('pipeline')]).toMatch(/FINISHED\s+01-02 03:04\s+1m 05s\s+model=kmeans k=3/);
    expect(lines[idx(' etl')]).toContain('├─ etl');
    expect(lines[idx('cluster')]).toContain('└─ cluster');
    expect(lines[idx('k=3  ')] ?? lines[idx('└─ k=3')]).toContain('   └─ k=3');
    expect(lines[idx('cluster')]).toContain('DB=0.7');
    expect(list.stdout).toContain('DB = DB Index');
    expect(lines[idx('lonely')]).toContain('FAILED');

    const view = JSON.parse(json.stdout) as { experiments: Array<{ name: string; runs: Array<{ runId: string; depth: number; parentRunId: string | null; metrics: Record<string, number> }> }> };
    expect(view.experiments.map((e) => e.name)).toEqual(['uc7']);
    expect(view.experiments[0].runs.map((r) => [r.runId, r.depth])).toEqual([
      [failed, 0],
      [parent, 0],
      [etl, 1],
      [cluster, 1],
      [sweep, 2],
    ]);
    expect(view.experiments[0].runs[3].metrics).toEqual({ 'DB Index': 0.7 });

    expect(show.code).toBe(0);
    expect(show.stdout).toContain(`Run ${cluster}  FINISHED`);
    expect(show.stdout).toContain(`parent run:  ${parent}`);
    expect(show.stdout).toMatch(/DB Index\s+0\.7\s+\(step 4, 3 values\)/);
    expect(show.stdout).toMatch(/model\/centroids\.csv\s+8 B/);
    expect(show.stdout).toContain(sweep);
    const detail = JSON.parse(showJson.stdout) as { metrics: Record<string, { value: number; historyLength: number; step: number }>; artifacts: Array<{ path: string }> };
    expect(detail.metrics['DB Index']).toMatchObject({ value: 0.7, historyLength: 3, step: 4 });
    expect(detail.artifacts.map((a) => a.path)).toEqual(['model/centroids.csv']);
    const failedView = JSON.parse(onlyFailed.stdout) as { experiments: Array<{ runs: Array<{ runId: string }> }> };
    expect(failedView.experiments[0].runs.map((r) => r.runId)).toEqual([failed]);
  });

  it('an empty or missing store says so and creates nothing', async () => {
    const cwd = tempDir();
    const r = await cli(['runs'], cwd);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('No runs yet');
    // The default store of a new folder is sqlite:///mlflow.db: reading it creates neither store.
    expect(fs.existsSync(path.join(cwd, 'mlruns'))).toBe(false);
    expect(fs.existsSync(path.join(cwd, 'mlflow.db'))).toBe(false);
  });
});
