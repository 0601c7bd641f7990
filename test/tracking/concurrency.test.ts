import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/tracking/file-store.js';
import { SqliteStore } from '../../src/tracking/sqlite-store.js';
import { ensureBuilt, leftovers, REPO, tempDir } from './helpers.js';

function run(args: string[], cwd = REPO): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('several processes writing one experiment at once', () => {
  beforeAll(() => ensureBuilt());

  it('creates exactly one experiment and loses nothing', async () => {
    const root = path.join(tempDir(), 'mlruns');
    const WORKERS = 4;
    const RUNS = 3;
    const STEPS = 25;
    const script = path.join(REPO, 'test', 'tracking', 'fixtures', 'writer.mjs');
    // All start on a store that does not exist yet: they also race to create the root and Default.
    const startAt = String(Date.now() + 1500);
    const results = await Promise.all(Array.from({ length: WORKERS }, (_, w) => run([script, root, String(w), String(RUNS), String(STEPS), startAt])));
    for (const r of results) expect(r.stderr).toBe('');
    for (const r of results) expect(r.code).toBe(0);
    const store = new FileStore(root);
    const experiments = await store.listExperiments();
    expect(experiments.filter((e) => e.name === 'shared')).toHaveLength(1);
    expect(experiments.filter((e) => e.name === 'Default')).toHaveLength(1);
    expect(experiments).toHaveLength(2);
    const exp = experiments.find((e) => e.name === 'shared')!;
    const runs = await store.searchRuns({ experimentIds: [exp.experimentId] });
    expect(runs).toHaveLength(WORKERS * RUNS * 2);
    const parents = runs.filter((r) => !r.data.tags['mlflow.parentRunId']);
    expect(parents).toHaveLength(WORKERS * RUNS);
    for (const p of parents) {
      expect(p.info.status).toBe('FINISHED');
      const [w, r] = [p.data.params.worker, p.data.params.run];
      expect(p.info.runName).toBe(`w${w} r${r}`);
      expect(p.data.params.config).toBe(`worker ${w} run ${r}`);
      const loss = await store.getMetricHistory(p.info.runId, 'loss');
      expect(loss.map((m) => m.step)).toEqual(Array.from({ length: STEPS }, (_, s) => s));
      expect(loss.map((m) => m.value)).toEqual(Array.from({ length: STEPS }, (_, s) => 1 / (s + 1)));
      expect((await store.getMetricHistory(p.info.runId, 'eval/acc')).length).toBe(STEPS);
      const children = runs.filter((c) => c.data.tags['mlflow.parentRunId'] === p.info.runId);
      expect(children).toHaveLength(1);
      expect(children[0].info.status).toBe('FINISHED');
      expect(await store.listArtifacts(children[0].info.runId, 'out')).toEqual([{ path: 'out/note.txt', isDir: false, size: `worker ${w} run ${r}`.length }]);
    }
    expect(leftovers(root)).toEqual([]);
  });
});

describe('several processes writing one SQLite database at once', () => {
  beforeAll(() => ensureBuilt());

  // Four processes on one new mlflow.db race to create the database, its schema and the experiment.
  it('creates the schema and the experiment once and loses nothing', async () => {
    const dir = tempDir();
    const WORKERS = 4;
    const RUNS = 3;
    const STEPS = 25;
    const script = path.join(REPO, 'test', 'tracking', 'fixtures', 'writer.mjs');
    // Workers take long to start on a loaded machine: a late start lets them all wait for it.
    const startAt = String(Date.now() + 5000);
    const results = await Promise.all(Array.from({ length: WORKERS }, (_, w) => run([script, 'sqlite:///mlflow.db', String(w), String(RUNS), String(STEPS), startAt], dir)));
    for (const r of results) expect(r.stderr).toBe('');
    for (const r of results) expect(r.code).toBe(0);
    const file = path.join(dir, 'mlflow.db');
    const raw = new Database(file, { readonly: true });
    expect(raw.prepare('SELECT version_num FROM alembic_version').all()).toEqual([{ version_num: 'acf3f17fdcc7' }]);
    expect(raw.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get()).toEqual({ n: 16 });
    // Every value of every history, once: 4 workers × 3 runs × 25 steps × 2 keys.
    expect(raw.prepare('SELECT count(*) AS n FROM metrics').get()).toEqual({ n: WORKERS * RUNS * STEPS * 2 });
    raw.close();
    const store = new SqliteStore('sqlite:///mlflow.db', { cwd: dir });
    const experiments = await store.listExperiments();
    expect(experiments.map((e) => e.name).sort()).toEqual(['Default', 'shared']);
    const exp = experiments.find((e) => e.name === 'shared')!;
    const runs = await store.searchRuns({ experimentIds: [exp.experimentId] });
    expect(runs).toHaveLength(WORKERS * RUNS * 2);
    const parents = runs.filter((r) => !r.data.tags['mlflow.parentRunId']);
    expect(parents).toHaveLength(WORKERS * RUNS);
    for (const p of parents) {
      expect(p.info.status).toBe('FINISHED');
      const [w, r] = [p.data.params.worker, p.data.params.run];
      expect(p.info.runName).toBe(`w${w} r${r}`);
      expect(p.data.params.config).toBe(`worker ${w} run ${r}`);
      expect(p.data.metrics.loss).toBe(1 / STEPS);
      const loss = await store.getMetricHistory(p.info.runId, 'loss');
      expect(loss.map((m) => m.step)).toEqual(Array.from({ length: STEPS }, (_, s) => s));
      expect(loss.map((m) => m.value)).toEqual(Array.from({ length: STEPS }, (_, s) => 1 / (s + 1)));
      const children = runs.filter((c) => c.data.tags['mlflow.parentRunId'] === p.info.runId);
      expect(children).toHaveLength(1);
      expect(children[0].info.status).toBe('FINISHED');
      expect(await store.listArtifacts(children[0].info.runId, 'out')).toEqual([{ path: 'out/note.txt', isDir: false, size: `worker ${w} run ${r}`.length }]);
    }
    store.close();
    // Every process closed the database: the WAL was checkpointed into the file and removed.
    expect(fs.readdirSync(dir).sort()).toEqual(['mlflow.db', 'mlruns']);
  });
});
