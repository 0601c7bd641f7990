/**
 * Data suite (real data, `npm run test:data`): UCR ItalyPowerDemand (1,096 days × 24 hourly values of Italian power demand, two
 * classes: Oct–Mar vs Apr–Sep). k = 2, labels compared with the season classes by the adjusted
 * Rand index. The values are printed for the closing note; the bounds only catch regressions.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { adjustedRandIndex } from '../../src/validate/index.js';
import { normalizeRows } from '../../src/profiles/normalize.js';
import { fitClustering, type DistanceMatrix, type Rows } from '../../src/cluster/index.js';
import { dtwDistance } from '../../src/dtw/index.js';
import { dataset } from '../support/datasets.js';

function load(): { rows: Rows; classes: Int32Array } {
  const lines = ['ItalyPowerDemand_TRAIN.tsv', 'ItalyPowerDemand_TEST.tsv'].flatMap((f) => readFileSync(dataset('ucr-ItalyPowerDemand', f), 'utf8').trim().split('\n'));
  const n = lines.length;
  const raw = new Float64Array(n * 24);
  const classes = new Int32Array(n);
  lines.forEach((l, i) => {
    const v = l.split('\t').map(Number);
    classes[i] = v[0];
    // The UCR series are already z-normalised per day: used as they are (--normalize none).
    for (let t = 0; t < 24; t++) raw[i * 24 + t] = v[t + 1];
  });
  return { rows: { data: normalizeRows(raw, 24, 'none'), n, dim: 24 }, classes };
}

describe('ItalyPowerDemand, k = 2: adjusted Rand index against the season labels', () => {
  const { rows, classes } = load();
  const n = rows.n;
  const D = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++) {
      const v = dtwDistance(rows.data.subarray(i * 24, i * 24 + 24), rows.data.subarray(j * 24, j * 24 + 24), 1);
      D[i * n + j] = v;
      D[j * n + i] = v;
    }
  const matrix: DistanceMatrix = { n, data: D };
  const cases = [
    ['kmeans', 'euclidean', {}],
    ['kmeans', 'dtw', {}],
    ['kmedoids', 'euclidean', {}],
    ['kmedoids', 'dtw', {}],
    ['agglomerative', 'euclidean', { linkage: 'ward' }],
    ['agglomerative', 'dtw', { linkage: 'average' }],
    ['som', 'euclidean', {}],
  ] as const;
  it(`${n} days: ARI of every model (printed); the models agree on the main split of the days`, () => {
    const report: string[] = [];
    let reference: Int32Array | null = null;
    for (const [model, metric, extra] of cases) {
      const fit = fitClustering(rows, { model, metric, k: 2, seed: 0, ...extra }, matrix);
      const ari = adjustedRandIndex(fit.labels, classes);
      report.push(`${model}/${metric}${'linkage' in extra ? '/' + extra.linkage : ''}: ARI ${ari.toFixed(4)} sizes ${Array.from(fit.sizes).join('+')}`);
      // At k = 2 every model splits the days by shape (about 900 + 200 days), not by season: the
      // season ARI is near 0 for all of them, so the check is that the models find the same split.
      expect(Number.isFinite(ari)).toBe(true);
      if (reference === null) reference = fit.labels;
      else expect(adjustedRandIndex(fit.labels, reference), `${model}/${metric} vs kmeans/euclidean`).toBeGreaterThan(0.5);
    }
    console.log(report.join('\n'));
  });
});
