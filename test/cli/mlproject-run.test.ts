/**
 * The MLproject's entry points run as `mlflow run <clone> -e <entry>` runs them, without mlflow:
 * parameters filled in from their defaults (a `path` default made absolute against the caller's
 * directory and checked, as MLflow does; strings shell-quoted), a launcher run opened in a real
 * local store, MLFLOW_RUN_ID / MLFLOW_EXPERIMENT_ID / MLFLOW_TRACKING_URI set, and the command run
 * by bash in the project directory while the caller sits in another one. The stage chain
 * etl_* → harmonization → clustering must work, each launch nesting lpclust's run under its
 * launcher run in the launcher's experiment, and predict must find the model from the launcher id.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/tracking/file-store.js';
import type { Run } from '../../src/tracking/store.js';

interface EntryPoint {
  parameters?: Record<string, { type: string; default?: unknown }>;
  command: string;
}

const REPO = path.resolve('.');
let project = '';
let caller = '';
let store: FileStore;

function shellQuote(v: string): string {
  return /^[A-Za-z0-9_./:=+-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`;
}

/**
 * What `mlflow run <project> -e <entry> [-P k=v] --env-manager local` does: open the launcher run,
 * fill in the command, run it with bash in the project directory with the MLFLOW_* variables, and
 * end the launcher run with the command's outcome.
 */
async function mlflowRun(entry: string, params: Record<string, string> = {}) {
  const exp = await store.getOrCreateExperiment('mlproject');
  const info = await store.createRun({ experimentId: exp.experimentId, runName: `launch ${entry}`, userId: 'tester', startTime: Date.now(), tags: [{ key: 'mlflow.project.entryPoint', value: entry }] });
  const doc = YAML.parse(readFileSync(path.join(project, 'MLproject'), 'utf8')) as { entry_points: Record<string, EntryPoint> };
  const ep = doc.entry_points[entry];
  const values: Record<string, string> = {};
  for (const [name, p] of Object.entries(ep.parameters ?? {})) {
    const raw = params[name] ?? String(p.default);
    if (p.type === 'path') {
      // MLflow: a local `path` value (default or given) is made absolute against the caller's directory and must exist.
      const abs = path.resolve(caller, raw);
      if (!existsSync(abs)) throw new Error(`mlflow run would stop: got value ${raw} for parameter ${name}, but no such file or directory was found`);
      values[name] = abs;
    } else {
      values[name] = raw;
    }
  }
  const command = ep.command.replace(/\{(\w+)\}/g, (_, name: string) => shellQuote(values[name]));
  const r = spawnSync('bash', ['-c', command], {
    cwd: project,
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      MLFLOW_RUN_ID: info.runId,
      MLFLOW_EXPERIMENT_ID: exp.experimentId,
      MLFLOW_TRACKING_URI: `file://${path.join(caller, 'mlruns')}`,
    },
  });
  // MLflow ends its run with the command's outcome.
  await store.updateRun(info.runId, r.status === 0 ? 'FINISHED' : 'FAILED', Date.now());
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, launcher: info.runId, experimentId: exp.experimentId };
}

async function childrenOf(runId: string, experimentId: string): Promise<Run[]> {
  return store.searchRuns({ experimentIds: [experimentId], tags: { 'mlflow.parentRunId': runId } });
}

beforeAll(() => {
  // A clone of the project (its built CLI and sample data) and a caller's directory elsewhere.
  const root = mkdtempSync(path.join(tmpdir(), 'lpclust-mlproject-'));
  project = path.join(root, 'clone');
  caller = path.join(root, 'elsewhere');
  mkdirSync(project);
  mkdirSync(caller);
  copyFileSync(path.join(REPO, 'MLproject'), path.join(project, 'MLproject'));
  copyFileSync(path.join(REPO, 'package.json'), path.join(project, 'package.json'));
  for (const d of ['bin', 'dist', 'data', 'node_modules', 'build']) if (existsSync(path.join(REPO, d))) symlinkSync(path.join(REPO, d), path.join(project, d));
  store = new FileStore(path.join(caller, 'mlruns'));
});

describe('MLproject entry points as `mlflow run` runs them', () => {
  it('no entry point has a `path` parameter whose default exists only inside the project', () => {
    const doc = YAML.parse(readFileSync('MLproject', 'utf8')) as { entry_points: Record<string, EntryPoint> };
    for (const [name, ep] of Object.entries(doc.entry_points)) {
      for (const [p, spec] of Object.entries(ep.parameters ?? {})) {
        if (spec.type === 'path') expect(path.isAbsolute(String(spec.default)), `${name}.${p}`).toBe(true);
      }
    }
  });

  it('etl_oldmongo, etl_sql, etl_newmongo → harmonization → clustering from another directory, nested under each launcher run; predict from the launcher id', async () => {
    const stages: Array<[string, string]> = [
      ['etl_oldmongo', 'etl_oldmongo'],
      ['etl_sql', 'etl_sql'],
      ['etl_newmongo', 'etl_newmongo'],
      ['harmonization', 'harmonization'],
      ['clustering', 'kmeans euclidean k=12'],
    ];
    let clusteringLauncher = '';
    for (const [entry, runName] of stages) {
      const r = await mlflowRun(entry);
      expect(r.status, `${entry}: ${r.stderr}`).toBe(0);
      const kids = await childrenOf(r.launcher, r.experimentId);
      expect(kids.map((k) => k.info.runName), entry).toEqual([runName]);
      expect(kids[0].info.status).toBe('FINISHED');
      // Nothing went to another experiment.
      const others = (await store.listExperiments()).filter((e) => e.experimentId !== r.experimentId);
      for (const e of others) expect(await store.searchRuns({ experimentIds: [e.experimentId] }), e.name).toEqual([]);
      if (entry === 'harmonization') expect(Number(kids[0].data.metrics.zero_rows)).toBe(0);
      if (entry === 'clustering') clusteringLauncher = r.launcher;
    }
    expect(existsSync(path.join(project, 'lpclust-out', 'harmonized.csv'))).toBe(true);
    // The id a user copies from the MLflow UI is the launcher's: predict follows it to the model.
    const p = spawnSync(process.execPath, [path.join(REPO, 'bin/lpclust.js'), '--tracking-uri', `file:${path.join(caller, 'mlruns')}`, '--json', 'predict', '--model', `runs:/${clusteringLauncher.slice(0, 8)}/model`, '--in', path.join(project, 'lpclust-out', 'harmonized.csv'), '--out', path.join(caller, 'pred.csv')], { cwd: caller, encoding: 'utf8' });
    expect(p.status, p.stderr).toBe(0);
    expect(p.stderr).toMatch(/is a parent; using its child/);
    expect(JSON.parse(p.stdout).model.k).toBe(12);
  }, 180_000);

  it('pipeline: lpclust\'s parent run and its stages nest under the launcher run, in its experiment', async () => {
    const r = await mlflowRun('pipeline', { k: '4', out_dir: path.join(caller, 'outputs') });
    expect(r.status, r.stderr).toBe(0);
    const [parent] = await childrenOf(r.launcher, r.experimentId);
    expect(parent.info.runName).toBe('kmeans euclidean k=4 pipeline');
    const stages = (await childrenOf(parent.info.runId, r.experimentId)).map((k) => k.info.runName).sort();
    expect(stages).toContain('harmonization');
    expect(stages).toContain('kmeans euclidean k=4');
  }, 180_000);

  it('a stale MLFLOW_RUN_ID: a clear error and no run', () => {
    const before = spawnSync('find', [path.join(caller, 'mlruns'), '-name', 'meta.yaml'], { encoding: 'utf8' }).stdout.split('\n').length;
    const r = spawnSync(process.execPath, [path.join(REPO, 'bin/lpclust.js'), 'harmonize', '--sql', 'lpclust-out/etl/sql.csv', '--out', path.join(caller, 'h.csv')], {
      cwd: project,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, MLFLOW_RUN_ID: '0'.repeat(32), MLFLOW_TRACKING_URI: `file://${path.join(caller, 'mlruns')}` },
    });
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/MLFLOW_RUN_ID=0{32} \(the run `mlflow run` opened\) names no run in/);
    const after = spawnSync('find', [path.join(caller, 'mlruns'), '-name', 'meta.yaml'], { encoding: 'utf8' }).stdout.split('\n').length;
    expect(after).toBe(before);
  });
});
