import { describe, expect, it } from 'vitest';
import { Random } from '../../src/util/random.js';
import { AssignPool } from '../../src/dtw/assign.js';
import { fitSampled } from '../../src/cluster/fit-sampled.js';
import { SampleShare } from '../../src/cluster/sample-share.js';
import type { ClusterFit, ClusterSpec } from '../../src/cluster/fit.js';
import type { Rows } from '../../src/cluster/common.js';

const L = 24;

function profiles(n: number, seed: number): Rows {
  const rng = new Random(seed);
  const data = new Float64Array(n * L);
  for (let i = 0; i < n; i++) {
    const a = rng.int(5);
    const shift = rng.int(3) - 1;
    for (let t = 0; t < L; t++) data[i * L + t] = 2 + Math.sin((t + shift + a * 5) / 3.5) * (1 + a / 4) + 0.2 * rng.normal();
  }
  return { data, n, dim: L };
}

function expectSameFit(a: ClusterFit, b: ClusterFit): void {
  expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
  expect(Array.from(a.centres)).toEqual(Array.from(b.centres));
  expect(a.stats).toEqual(b.stats);
  expect(a.params).toEqual(b.params);
}

describe('one sample for every k (choose-k, sweep in sampled mode)', () => {
  const rows = profiles(1200, 6);
  const sampleSize = 300;

  it('k-medoids: every k fits exactly what it fits alone, and the first sample matrix is computed once', async () => {
    const pool = new AssignPool(rows.data, L, 1);
    try {
      const share = new SampleShare(rows);
      for (const metric of ['dtw', 'euclidean'] as const) {
        for (let k = 3; k <= 6; k++) {
          const spec: ClusterSpec = { model: 'kmedoids', metric, k, seed: 4 };
          const shared = await fitSampled(rows, spec, pool, { sampleSize, share });
          const alone = await fitSampled(rows, spec, pool, { sampleSize });
          expectSameFit(shared, alone);
        }
      }
      // One matrix per metric (radius 1 and 0); the three other k of each read it.
      expect(share.computed).toBe(2);
      expect(share.reused).toBe(6);
    } finally {
      await pool.close();
    }
  });

  it('agglomerative: the sample tree is built once and cut at every k, with the results of separate fits', async () => {
    const pool = new AssignPool(rows.data, L, 1);
    try {
      const share = new SampleShare(rows);
      for (let k = 3; k <= 6; k++) {
        const spec: ClusterSpec = { model: 'agglomerative', metric: 'dtw', k, seed: 4 };
        expectSameFit(await fitSampled(rows, spec, pool, { sampleSize, share }), await fitSampled(rows, spec, pool, { sampleSize }));
      }
      // The agglomerative sample is FasterCLARA's first sample (same seed, same size): one matrix.
      await fitSampled(rows, { model: 'kmedoids', metric: 'dtw', k: 4, seed: 4 }, pool, { sampleSize, share });
      expect(share.computed).toBe(1);
      expect(share.reused).toBe(4);
    } finally {
      await pool.close();
    }
  });

  it('keeps no more sample matrices than asked and recomputes a dropped one', () => {
    const share = new SampleShare(rows, 1);
    let built = 0;
    const build = () => {
      built++;
      return { n: 2, data: new Float64Array(4) };
    };
    share.matrix(Int32Array.from([1, 2]), 1, build);
    share.matrix(Int32Array.from([1, 2]), 1, build);
    share.matrix(Int32Array.from([1, 3]), 1, build);
    share.matrix(Int32Array.from([1, 2]), 1, build);
    share.matrix(Int32Array.from([1, 2]), 0, build);
    expect(built).toBe(4);
  });
});
