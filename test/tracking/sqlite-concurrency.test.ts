/**
 * Four processes logging runs into one new `mlflow.db` at once: they race to create the database,
 * its schema and the experiment, then write runs, params, metric histories and artifacts. Nothing
 * may be lost or doubled.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/tracking/sqlite-store.js';
import { ensureBuilt, REPO, tempDir } from './helpers.js';

function run(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('several processes writing one SQLite database at once', () => {
  beforeAll(() => ensureBuilt());

  it('creates the schema and the experiment once and loses nothing', async () => {
    const dir = tempDir();
    const WORKERS = 4;
    const RUNS = 3;
    const STEPS = 25;
    const script = path.join(REPO, 'test', 'tracking', 'fixtures', 'sqlite-writer.mjs');
    const startAt = String(Date.now() + 5000);
    const results = await Promise.all(Array.from({ length: WORKERS }, (_, w) => run([script, dir, String(w), String(RUNS), String(STEPS), startAt])));
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
