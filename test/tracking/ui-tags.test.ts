/**
 * The tags the MLflow UI reads, in a FileStore run: run name (tag and meta.yaml), source (the UI
 * shows what follows its last `/`, so it holds `lpclust <command>` and no path), source type,
 * user, git commit, parent; and the description `mlflow.note.content` of top-level runs only: the
 * command line (passwords masked), status, key figures, nested runs. Spawns bin/lpclust.js
 * (`npm run build` first).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/tracking/file-store.js';
import { withRun } from '../../src/tracking/run.js';
import { syntheticDays } from '../support/synthetic.js';
import { BIN, ensureBuilt, tempDir } from './helpers.js';

let dir = '';
let head = '';

function tags(runDir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fs.readdirSync(path.join(runDir, 'tags'))) out[f] = fs.readFileSync(path.join(runDir, 'tags', f), 'utf8');
  return out;
}

beforeAll(() => {
  ensureBuilt();
  // A working folder that is a git checkout: the run records its commit, as MLflow does for a script's repository.
  dir = tempDir('lpclust-ui-tags-');
  const git = (...args: string[]): string => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.org', ...args], { cwd: dir, encoding: 'utf8' }).trim();
  git('init', '-q');
  const slots = Array.from({ length: 24 }, (_, h) => `${String(h).padStart(2, '0')}:00`);
  const { rows, classes } = syntheticDays(40, 3, 3);
  let csv = `id,date,${slots.join(',')}\n`;
  rows.forEach((v, i) => {
    csv += `M${classes[i]},${new Date(Date.UTC(2022, 0, 1) + i * 86400000).toISOString().slice(0, 10)},${v.map((x) => (x * 100 + 50).toFixed(2)).join(',')}\n`;
  });
  fs.mkdirSync(path.join(dir, 'my data'));
  fs.writeFileSync(path.join(dir, 'my data', 'days.csv'), csv);
  git('add', '.');
  git('commit', '-q', '-m', 'data');
  head = git('rev-parse', 'HEAD');
}, 60_000);

describe('tags the MLflow UI reads', () => {
  it('a CLI run: name, source without paths, type, user, git commit, and a description with the masked command line and key figures', () => {
    const r = spawnSync(process.execPath, [BIN, '--tracking-uri', 'file:./mlruns', '--json', 'cluster', '--in', 'my data/days.csv', '-k', '3', '--out-dir', 'out'], { cwd: dir, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const runId = (JSON.parse(r.stdout) as { runId: string }).runId;
    const root = path.join(dir, 'mlruns');
    const exp = fs.readdirSync(root).find((e) => fs.existsSync(path.join(root, e, runId)))!;
    const runDir = path.join(root, exp, runId);
    const t = tags(runDir);
    const meta = YAML.parse(fs.readFileSync(path.join(runDir, 'meta.yaml'), 'utf8')) as Record<string, unknown>;
    expect(t['mlflow.runName']).toBe('kmeans euclidean k=3');
    expect(meta.run_name).toBe(t['mlflow.runName']);
    expect(t['mlflow.source.name']).toBe('lpclust cluster');
    expect(t['mlflow.source.type']).toBe('LOCAL');
    expect(t['mlflow.user']).toBe(meta.user_id);
    expect(t['mlflow.user']).not.toBe('');
    expect(t['mlflow.source.git.commit']).toBe(head);
    expect(t['mlflow.parentRunId']).toBeUndefined();
    const note = t['mlflow.note.content'];
    expect(note).toContain("```\nlpclust --tracking-uri file:./mlruns --json cluster --in 'my data/days.csv' -k 3 --out-dir out\n```");
    expect(note).toContain('**FINISHED**');
    expect(note).toMatch(/\| Silhouette Score \| 0\.\d+ \|/);
    expect(note).toMatch(/\| DB Index \| \d/);
    expect(note).not.toContain('nested runs');
    // The data it read, as the run's dataset input (test/tracking/datasets.test.ts checks the layout).
    const inputs = fs.readdirSync(path.join(runDir, 'inputs'));
    expect(inputs).toHaveLength(1);
    const link = YAML.parse(fs.readFileSync(path.join(runDir, 'inputs', inputs[0], 'meta.yaml'), 'utf8')) as { source_id: string; tags: Record<string, string> };
    expect(link.tags['mlflow.data.context']).toBe('training');
    const sha256 = execFileSync('sha256sum', [path.join(dir, 'my data', 'days.csv')], { encoding: 'utf8' }).split(' ')[0];
    expect(link.tags['lpclust.data.sha256']).toBe(sha256);
    const dataset = YAML.parse(fs.readFileSync(path.join(root, exp, 'datasets', link.source_id, 'meta.yaml'), 'utf8')) as Record<string, string>;
    expect(dataset).toMatchObject({ name: 'days', digest: sha256.slice(0, 8), source_type: 'local', source: JSON.stringify({ uri: path.join(dir, 'my data', 'days.csv') }).replace(/":"/g, '": "') });
    expect(JSON.parse(dataset.profile)).toEqual({ num_rows: 40, num_elements: 960, meters: 3, days: 40 });
    expect(JSON.parse(dataset.schema).mlflow_colspec).toHaveLength(24);
  });

  it('the description is once per parent run: nested runs have none; the parent counts them; a failed run says why; passwords are masked', async () => {
    const store = new FileStore(path.join(tempDir(), 'mlruns'));
    let parentId = '';
    let childId = '';
    await withRun({ store, experimentName: 'e', runName: 'pipeline', commandLine: 'lpclust etl sql --uri postgres://reader:hunter2-pw@db/x' }, async (parent) => {
      parentId = parent.runId;
      await parent.logMetrics({ 'Silhouette Score': 0.5 });
      await withRun({ store, experimentName: 'e', runName: 'cluster', parentRunId: parent.runId }, async (child) => {
        childId = child.runId;
      });
    });
    const parent = await store.getRun(parentId);
    const child = await store.getRun(childId);
    expect(child.data.tags['mlflow.note.content']).toBeUndefined();
    expect(child.data.tags['mlflow.parentRunId']).toBe(parentId);
    const note = parent.data.tags['mlflow.note.content'];
    expect(note).toContain('lpclust etl sql --uri postgres://reader:***@db/x');
    expect(note).not.toContain('hunter2');
    expect(note).toContain('| Silhouette Score | 0.5 |');
    expect(note).toContain('| nested runs | 1 |');

    let failedId = '';
    await expect(
      withRun({ store, experimentName: 'e', runName: 'bad', commandLine: 'lpclust cluster --in x.csv' }, async (run) => {
        failedId = run.runId;
        throw new Error('x.csv: no | profiles');
      }),
    ).rejects.toThrow();
    const failed = await store.getRun(failedId);
    expect(failed.info.status).toBe('FAILED');
    expect(failed.data.tags['mlflow.note.content']).toContain('**FAILED**: x.csv: no \\| profiles');
  });
});
