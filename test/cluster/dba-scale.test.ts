import { describe, expect, it } from 'vitest';
import { Random } from '../../src/util/random.js';
import { AssignPool, ASSIGN_CHUNK_ROWS } from '../../src/dtw/assign.js';
import { DbaKMeans, type DbaKMeansState } from '../../src/cluster/dba.js';
import { fitClustering } from '../../src/cluster/fit.js';
import { fitSampled } from '../../src/cluster/fit-sampled.js';
import type { Rows } from '../../src/cluster/common.js';

const L = 24;

function profiles(n: number, seed: number): Rows {
  const rng = new Random(seed);
  const data = new Float64Array(n * L);
  for (let i = 0; i < n; i++) {
    const a = rng.int(5);
    const shift = rng.int(5) - 2;
    for (let t = 0; t < L; t++) data[i * L + t] = Math.max(0, Math.sin((t + shift + 4 * a) / 3.7) * (1 + a / 4) + 0.2 * rng.normal());
  }
  return { data, n, dim: L };
}

function expectSameState(a: DbaKMeansState, b: DbaKMeansState): void {
  expect(a.candidatePairs).toBe(b.candidatePairs);
  expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
  expect(Array.from(a.centres)).toEqual(Array.from(b.centres));
  expect(a.inertia).toBe(b.inertia);
  expect(a.nIter).toBe(b.nIter);
  expect(a.emptyReseeds).toBe(b.emptyReseeds);
}

describe('DTW k-means (DBA) on worker threads', () => {
  // Three chunks of rows, so that the order in which chunk sums are added matters to the rounding.
  const rows = profiles(2 * ASSIGN_CHUNK_ROWS + 500, 21);
  const options = { k: 4, nInit: 1, maxIter: 2, maxIterBarycenter: 4, seed: 3 };

  it('gives the same centres, labels and inertia on 0, 1 and 2 worker threads as in this thread', async () => {
    const here = new DbaKMeans(options).fit(rows).state!;
    for (const workers of [0, 1, 2]) {
      const pool = new AssignPool(rows.data, L, workers);
      try {
        expectSameState((await new DbaKMeans(options).fitPool(rows, pool)).state!, here);
      } finally {
        await pool.close();
      }
    }
  });

  it('gives identical labels and centres with and without the lower bounds', async () => {
    const small = profiles(1500, 8);
    const pool = new AssignPool(small.data, L, 2);
    try {
      const pruned = (await new DbaKMeans({ ...options, prune: true }).fitPool(small, pool)).state!;
      const full = (await new DbaKMeans({ ...options, prune: false }).fitPool(small, pool)).state!;
      expectSameState(pruned, full);
      expectSameState(new DbaKMeans({ ...options, prune: true }).fit(small).state!, full);
    } finally {
      await pool.close();
    }
  });

  it('is what sampled mode fits for --model kmeans --metric dtw, the same fit as exact mode', async () => {
    const small = profiles(800, 5);
    const spec = { model: 'kmeans' as const, metric: 'dtw' as const, k: 3, seed: 2, nInit: 2, maxIter: 3 };
    const pool = new AssignPool(small.data, L, 2);
    try {
      const sampled = await fitSampled(small, spec, pool, { sampleSize: 200 });
      const exact = fitClustering(small, spec);
      expect(Array.from(sampled.labels)).toEqual(Array.from(exact.labels));
      expect(Array.from(sampled.centres)).toEqual(Array.from(exact.centres));
      const { 'fit/exact_distance_share': share, ...stats } = sampled.stats;
      expect(stats).toEqual(exact.stats);
      expect(share).toBeGreaterThan(0);
      expect(share).toBeLessThan(0.9);
      expect(sampled.params).toEqual(exact.params);
    } finally {
      await pool.close();
    }
  });
});
