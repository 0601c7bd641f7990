/**
 * Every model × metric on generated daily profiles of three known shapes (test/support/synthetic.ts:
 * evening peak, daytime plateau, night load; each day with its own level, peaks shifted by up to
 * an hour, 4 % noise), L2-normalised as the pipeline does: at k = 3 each model must find the
 * shapes (adjusted Rand index against them). The same models on the real ItalyPowerDemand days
 * are in italy.data.test.ts (data suite).
 */
import { describe, expect, it } from 'vitest';
import { adjustedRandIndex } from '../../src/validate/index.js';
import { normalizeRows } from '../../src/profiles/normalize.js';
import { fitClustering, type DistanceMatrix, type Rows } from '../../src/cluster/index.js';
import { dtwDistance } from '../../src/dtw/index.js';
import { syntheticDays } from '../support/synthetic.js';

describe('generated days of three shapes, k = 3: every model finds the shapes', () => {
  const { rows: days, classes } = syntheticDays(150, 11, 3);
  const n = days.length;
  const rows: Rows = { data: normalizeRows(Float64Array.from(days.flat()), 24, 'l2'), n, dim: 24 };
  const D = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++) {
      const v = dtwDistance(rows.data.subarray(i * 24, i * 24 + 24), rows.data.subarray(j * 24, j * 24 + 24), 1);
      D[i * n + j] = v;
      D[j * n + i] = v;
    }
  const matrix: DistanceMatrix = { n, data: D };
  const truth = Int32Array.from(classes);
  const cases = [
    ['kmeans', 'euclidean', {}],
    ['kmeans', 'dtw', {}],
    ['kmedoids', 'euclidean', {}],
    ['kmedoids', 'dtw', {}],
    ['agglomerative', 'euclidean', { linkage: 'ward' }],
    ['agglomerative', 'dtw', { linkage: 'average' }],
    ['som', 'euclidean', {}],
  ] as const;
  for (const [model, metric, extra] of cases) {
    it(`${model}/${metric}: ARI ≥ 0.95 against the generated shapes`, () => {
      const fit = fitClustering(rows, { model, metric, k: 3, seed: 0, ...extra }, matrix);
      expect(adjustedRandIndex(fit.labels, truth)).toBeGreaterThanOrEqual(0.95);
    });
  }
});
