import { describe, expect, it } from 'vitest';
import { Random } from '../../src/util/random.js';
import { AssignPool, ASSIGN_CHUNK_ROWS } from '../../src/dtw/assign.js';
import type { Assigner } from '../../src/dtw/assigner.js';
import { BandedDtw, DbaKMeans, accumulateDbaChunk, type DbaKMeansState } from '../../src/cluster/dba.js';
import { loadNative } from '../../src/dtw/native.js';
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

describe('DBA barycentre sums', () => {
  it('are bit for bit the same in the native addon as in TypeScript (float64 and float32 rows, radius 0, 1, 3 and full)', () => {
    expect(typeof loadNative()?.dbaAccumulate).toBe('function');
    const rows = profiles(700, 12);
    const rng = new Random(1);
    const k = 5;
    const labels = Int32Array.from({ length: 600 }, () => rng.int(k));
    const centres = new Float64Array(k * L);
    for (let i = 0; i < centres.length; i++) centres[i] = rng.normal();
    const active = Uint8Array.from([1, 0, 1, 1, 1]);
    for (const X of [rows.data, Float32Array.from(rows.data)]) {
      for (const radius of [0, 1, 3, L - 1]) {
        const dtw = new BandedDtw(L, radius);
        const nat = accumulateDbaChunk(X, L, 100, 700, labels, centres, k, active, dtw, true);
        const ts = accumulateDbaChunk(X, L, 100, 700, labels, centres, k, active, dtw, false);
        expect(Array.from(nat.sums)).toEqual(Array.from(ts.sums));
        expect(Array.from(nat.counts)).toEqual(Array.from(ts.counts));
        expect(Array.from(nat.cost)).toEqual(Array.from(ts.cost));
        // The inactive centre gets nothing; the others a path of at least L cells per member.
        expect(nat.cost[1]).toBe(0);
        expect(nat.counts.subarray(L, 2 * L).every((c) => c === 0)).toBe(true);
        expect(nat.cost[0]).toBeGreaterThan(0);
      }
    }
  });
});

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

  it('with an assigner that is not a thread pool (the job queue\'s case) sums the barycentres here in chunk order: the same fit', async () => {
    const here = new DbaKMeans(options).fit(rows).state!;
    const pool = new AssignPool(rows.data, L, 2);
    let calls = 0;
    // Not an AssignPool: only assign() is reachable, as with the QueueAssigner.
    const remote: Assigner = {
      n: pool.n,
      L: pool.L,
      dtype: pool.dtype,
      assign: (M, radius, o) => {
        calls++;
        return pool.assign(M, radius, o);
      },
      close: () => pool.close(),
    };
    try {
      expectSameState((await new DbaKMeans(options).fitPool(rows, remote)).state!, here);
      expect(calls).toBeGreaterThanOrEqual(2);
    } finally {
      await remote.close();
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
