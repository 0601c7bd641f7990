/**
 * The radius travels in one form per medium (src/dtw/settings.ts): full DTW (`Infinity` in memory)
 * is the param `none` in every stage's MLflow params, `null` in the matrix sidecar and the model
 * artifact, and a finite radius is the integer everywhere.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { slotLabels, writeProfiles } from '../../src/io/profiles.js';
import { runClusterStage } from '../../src/pipeline/cluster.js';
import { runDtwStage } from '../../src/pipeline/dtw.js';
import { Random } from '../../src/util/random.js';
import { tempStore } from '../pipeline/helpers.js';

const L = 24;

async function profilesCsv(dir: string): Promise<string> {
  const rng = new Random(5);
  const n = 40;
  const values = new Float64Array(n * L);
  for (let i = 0; i < n; i++) for (let t = 0; t < L; t++) values[i * L + t] = 100 + 40 * Math.sin((t + (i % 4) * 5) / 3) + 5 * rng.normal();
  const csv = path.join(dir, 'profiles.csv');
  await writeProfiles(csv, {
    ids: Array.from({ length: n }, (_, i) => `M${i % 10}`),
    dates: Array.from({ length: n }, (_, i) => `2021-01-${String(1 + Math.floor(i / 10)).padStart(2, '0')}`),
    slots: slotLabels(60),
    values,
    n,
    length: L,
  });
  return csv;
}

describe('radius forms through the stages', () => {
  for (const [radius, param, json] of [
    [Infinity, 'none', null],
    [2, '2', 2],
  ] as const) {
    it(`radius ${radius}: param ${param}, sidecar and model artifact ${json}`, async () => {
      const { dir, store } = await tempStore('lpclust-radius-forms-');
      const csv = await profilesCsv(dir);
      const out = path.join(dir, 'dtw.npy');
      const dtw = await runDtwStage({ in: csv, out, radius, workers: 1 }, { store, experimentName: 'radius' });
      expect((await store.getRun(dtw.runId)).data.params.radius).toBe(param);
      expect(JSON.parse(readFileSync(`${out}.json`, 'utf8')).radius).toBe(json);

      const outDir = path.join(dir, 'cluster');
      const res = await runClusterStage({ in: csv, model: 'kmedoids', metric: 'dtw', k: 3, dtw: out, radius, outDir, plots: false, workers: 1 }, { store, experimentName: 'radius' });
      expect((await store.getRun(res.runId)).data.params.radius).toBe(param);
      const model = JSON.parse(readFileSync(path.join(outDir, 'model', 'lpclust-model.json'), 'utf8'));
      expect(model.dtw.radius).toBe(json);
    });
  }
});
