import { spawn } from 'node:child_process';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/tracking/file-store.js';
import { ensureBuilt, leftovers, REPO, tempDir } from './helpers.js';

function run(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
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
