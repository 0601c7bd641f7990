/**
 * The clustering worker pool: the same results as the calling thread, errors that keep their
 * kind and code across the thread boundary, dying workers (replaced, then the pool gives up
 * instead of restarting them for ever), and Ctrl-C failing what is pending.
 */
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { ClusterPool, sharedCopy, silhouetteOnThreads, THREADED_SILHOUETTE_MIN_ROWS } from '../../src/pipeline/cluster-pool.js';
import { runClusterStage } from '../../src/pipeline/cluster.js';
import { slotLabels, writeProfiles } from '../../src/io/profiles.js';
import { normalizeRows } from '../../src/profiles/normalize.js';
import { tempStore } from './helpers.js';
import { runClusterWork } from '../../src/pipeline/cluster-work.js';
import { EUCLIDEAN_MATRIX_UNIT_ROWS, euclideanMatrix, euclideanMatrixRows } from '../../src/cluster/kmedoids.js';
import { fullEuclidean } from '../../src/cluster/agglomerative.js';
import { euclideanDistanceMatrix, silhouetteEuclidean, silhouettePrecomputed } from '../../src/validate/index.js';
import { InterruptedError, isLpclustError } from '../../src/errors.js';
import { markInterrupted } from '../../src/util/interrupt.js';
import { Random } from '../../src/util/random.js';

function profiles(n: number, L: number, seed: number): Float64Array {
  const rng = new Random(seed);
  const X = sharedCopy(new Float64Array(n * L));
  for (let i = 0; i < n; i++) for (let t = 0; t < L; t++) X[i * L + t] = Math.sin((t + (i % 5) * 3) / 4) + 0.3 * rng.normal();
  return X;
}

describe("k-medoids' float32 Euclidean matrix by units", () => {
  it('holds the float64 distances rounded to float32, whatever the order the units run in', () => {
    const n = 300;
    const L = 24;
    const X = profiles(n, L, 9);
    const rows = { data: X, n, dim: L };
    const out = new Float32Array(n * n);
    const starts = Array.from({ length: Math.ceil(n / EUCLIDEAN_MATRIX_UNIT_ROWS) }, (_, u) => u * EUCLIDEAN_MATRIX_UNIT_ROWS).reverse();
    for (const r0 of starts) euclideanMatrixRows(rows, out, r0);
    expect(out).toEqual(Float32Array.from(fullEuclidean(rows)));
  });
});

describe('ClusterPool', () => {
  const n = 301; // several 64-row units and a ragged last one
  const L = 24;
  const X = profiles(n, L, 4);

  it('fits, validates and builds the shared matrices exactly as the calling thread does', async () => {
    const pool = new ClusterPool(2);
    try {
      const E = await pool.euclideanDistances(X, L);
      expect(E.buffer).toBeInstanceOf(SharedArrayBuffer);
      expect(E).toEqual(euclideanDistanceMatrix(X, L));
      const K = await pool.kmedoidsMatrix(X, L);
      expect(K.data).toEqual(euclideanMatrix({ data: X, n, dim: L }).data);
      const data = { X, n, L, euclidean: E, kmedoidsEuclidean: K };
      for (const spec of [
        { model: 'kmeans', metric: 'euclidean', k: 4, seed: 3, nInit: 2 },
        { model: 'kmedoids', metric: 'euclidean', k: 5, seed: 1 },
        { model: 'agglomerative', metric: 'euclidean', k: 3 },
        { model: 'agglomerative', metric: 'euclidean', k: 6 },
      ] as const) {
        const [remote, local] = [await pool.fit(data, spec), runClusterWork(data, spec)];
        expect(Array.from(remote.fit.labels)).toEqual(Array.from(local.fit.labels));
        expect(remote.fit.centres).toEqual(local.fit.centres);
        expect(remote.validation.metrics).toEqual(local.validation.metrics);
      }
    } finally {
      await pool.close();
    }
  });

  it('scores the Euclidean silhouette on threads to the same bits as on one thread', async () => {
    const big = profiles(1301, L, 6); // 21 units of 64 rows: every one of the 8 partial sums has work
    const labels = Int32Array.from({ length: 1301 }, (_, i) => (i * 7) % 5);
    const pool = new ClusterPool(3);
    try {
      const threaded = await pool.silhouetteEuclidean(big, L, labels, 5);
      const alone = silhouetteEuclidean(big, L, labels, 5);
      expect(threaded.score).toBe(alone.score);
      expect(threaded.samples).toEqual(alone.samples);
      // And it agrees with the silhouette read from the exact distance matrix.
      expect(Math.abs(threaded.score - silhouettePrecomputed(euclideanDistanceMatrix(big, L), 1301, labels, 5).score)).toBeLessThan(1e-15);
    } finally {
      await pool.close();
    }
    // Below the size where threads pay, silhouetteOnThreads stays on this thread: same value.
    expect((await silhouetteOnThreads(big, L, labels, 5, 4)).score).toBe(silhouetteEuclidean(big, L, labels, 5).score);
  });

  it('the clustering stage scores large data on threads: the same metrics as on one thread', async () => {
    const { dir, store } = await tempStore('lpclust-pool-stage-');
    const N = THREADED_SILHOUETTE_MIN_ROWS + 137;
    const values = profiles(N, L, 8).map((v) => 100 + 30 * v);
    const csv = path.join(dir, 'big.csv');
    await writeProfiles(csv, { ids: Array.from({ length: N }, (_, i) => `M${i % 97}`), dates: Array.from({ length: N }, (_, i) => new Date(Date.UTC(2021, 0, 1 + Math.floor(i / 97))).toISOString().slice(0, 10)), slots: slotLabels(60), values, n: N, length: L });
    const run = (workers: number) => runClusterStage({ in: csv, model: 'kmeans', metric: 'euclidean', k: 4, nInit: 1, workers, plots: false, outDir: path.join(dir, `w${workers}`) }, { store, experimentName: 'pool-stage' });
    const [one, two] = [await run(1), await run(2)];
    const { 'seconds/fit': _a, ...m1 } = one.metrics;
    const { 'seconds/fit': _b, ...m2 } = two.metrics;
    expect(m2).toEqual(m1);
    expect(m1['Silhouette Score']).toBe(silhouetteEuclidean(normalizeRows(values, L, 'l2'), L, one.outputs.fit.labels, 4).score);
  });

  it('rebuilds an LpclustError from the worker with its kind, code and message', async () => {
    const pool = new ClusterPool(1);
    try {
      const e = await pool.fit({ X, n, L, dtw: { n, data: euclideanMatrix({ data: X, n, dim: L }).data } }, { model: 'agglomerative', metric: 'dtw', k: 3, linkage: 'ward' }).catch((x: unknown) => x);
      expect(isLpclustError(e)).toBe(true);
      expect(e).toMatchObject({ kind: 'usage', code: 'E_USAGE_LINKAGE' });
      expect((e as Error).message).toMatch(/Ward needs Euclidean geometry/);
      // The pool still works after a task's error.
      expect((await pool.fit({ X, n, L }, { model: 'som', metric: 'euclidean', k: 3 })).fit.k).toBe(3);
    } finally {
      await pool.close();
    }
  });

  for (const mode of ['exit', 'load'] as const) {
    it(`gives up after three workers in a row die without answering (${mode === 'exit' ? 'exit on a task' : 'cannot load'})`, async () => {
      const t0 = Date.now();
      const pool = new ClusterPool(1, { entry: { script: new URL('../support/dying-worker.mjs', import.meta.url), eval: false, workerData: { mode } } });
      try {
        const results = await Promise.allSettled(Array.from({ length: 6 }, () => pool.fit({ X, n, L }, { model: 'som', metric: 'euclidean', k: 3 })));
        expect(results.every((r) => r.status === 'rejected')).toBe(true);
        const reasons = results.map((r) => ((r as PromiseRejectedResult).reason as Error).message);
        expect(reasons.some((m) => /a clustering worker thread stopped/.test(m))).toBe(true);
        expect(reasons.some((m) => /3 clustering worker threads in a row stopped without answering/.test(m))).toBe(true);
        await expect(pool.fit({ X, n, L }, { model: 'som', metric: 'euclidean', k: 3 })).rejects.toThrow(/in a row/);
        expect(Date.now() - t0).toBeLessThan(20_000);
      } finally {
        await pool.close();
      }
    });
  }

  // Last: the interrupt flag stays set for the rest of this file's process.
  it('on Ctrl-C stops the workers and fails the running and queued tasks with InterruptedError', async () => {
    const pool = new ClusterPool(1);
    const big = profiles(3000, L, 5);
    const running = pool.fit({ X: big, n: 3000, L }, { model: 'agglomerative', metric: 'euclidean', k: 3, linkage: 'average' });
    const queued = pool.fit({ X, n, L }, { model: 'som', metric: 'euclidean', k: 3 });
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    markInterrupted('SIGINT');
    await expect(running).rejects.toBeInstanceOf(InterruptedError);
    await expect(queued).rejects.toBeInstanceOf(InterruptedError);
    expect(Date.now() - t0).toBeLessThan(2_000);
    await expect(pool.fit({ X, n, L }, { model: 'som', metric: 'euclidean', k: 3 })).rejects.toBeInstanceOf(Error);
  });
});
