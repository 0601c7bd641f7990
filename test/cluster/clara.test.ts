import { describe, expect, it } from 'vitest';
import { Random } from '../../src/util/random.js';
import { dtwBlock } from '../../src/dtw/index.js';
import { AssignPool, assignNearest } from '../../src/dtw/assign.js';
import { envelopes, lbKeogh2, lbKim2 } from '../../src/dtw/bounds.js';
import { dtwNaive } from '../../src/dtw/reference.js';
import { fasterClara, gatherRows } from '../../src/cluster/clara.js';
import { computeValidation } from '../../src/validate/index.js';
import { KMedoids, euclideanMatrix, type Rows } from '../../src/cluster/index.js';
import type { RowValues } from '../../src/cluster/common.js';

/** The same rows as float32 (sampled mode holds its profiles so: cluster/scale.ts). */
function asFloat32(rows: Rows): Rows<RowValues> {
  return { data: Float32Array.from(rows.data), n: rows.n, dim: rows.dim };
}

/** Daily-profile-like rows: a few shifted archetypes plus noise. */
function profiles(n: number, L: number, seed: number): Rows {
  const rng = new Random(seed);
  const data = new Float64Array(n * L);
  for (let i = 0; i < n; i++) {
    const a = rng.int(6);
    const shift = rng.int(3) - 1;
    for (let t = 0; t < L; t++) data[i * L + t] = Math.sin((t + shift + a * 4) / 3.5) * (1 + a / 5) + 0.25 * rng.normal();
  }
  return { data, n, dim: L };
}

/** The full DTW matrix in the rows' precision (float32 rows: the float32 matrix exact mode computes). */
function fullDtw(rows: Rows<RowValues>, radius: number): Float32Array | Float64Array {
  const { n, dim } = rows;
  const D = rows.data instanceof Float32Array ? new Float32Array(n * n) : new Float64Array(n * n);
  dtwBlock(rows.data, dim, { r0: 0, r1: n, c0: 0, c1: n }, radius, D, { upper: true });
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) D[i * n + j] = D[j * n + i];
  return D;
}

describe('lower bounds of banded DTW', () => {
  it('LB_Kim and LB_Keogh never exceed the squared DTW of the same band', () => {
    const rows = profiles(60, 24, 3);
    for (const r of [0, 1, 3]) {
      const env = envelopes(rows.data.subarray(0, 10 * 24), 24, r);
      for (let q = 10; q < 60; q++) {
        for (let c = 0; c < 10; c++) {
          const d = dtwNaive(rows.data.subarray(q * 24, q * 24 + 24), rows.data.subarray(c * 24, c * 24 + 24), r);
          expect(lbKim2(rows.data, q * 24, rows.data, c * 24, 24)).toBeLessThanOrEqual(d * d * (1 + 1e-12));
          expect(lbKeogh2(rows.data, q * 24, env, c)).toBeLessThanOrEqual(d * d * (1 + 1e-12));
        }
      }
    }
  });
});

describe('pruned nearest-medoid assignment', () => {
  it('gives the same nearest and second-nearest medoids and distances as computing every distance, with fewer DTW calls', async () => {
    const rows = profiles(5000, 24, 5);
    // Candidates include exact duplicates, so ties are exercised.
    const M = new Float64Array(14 * 24);
    for (let j = 0; j < 12; j++) M.set(rows.data.subarray(j * 37 * 24, j * 37 * 24 + 24), j * 24);
    M.set(M.subarray(0, 24), 12 * 24);
    M.set(M.subarray(24, 48), 13 * 24);
    for (const radius of [0, 1, 2]) {
      const a = await assignNearest(rows.data, 24, M, radius, { second: true, prune: true });
      const b = await assignNearest(rows.data, 24, M, radius, { second: true, prune: false });
      expect(Array.from(a.n1)).toEqual(Array.from(b.n1));
      expect(Array.from(a.d1)).toEqual(Array.from(b.d1));
      expect(Array.from(a.n2!)).toEqual(Array.from(b.n2!));
      expect(Array.from(a.d2!)).toEqual(Array.from(b.d2!));
      expect(b.exactPairs).toBe(5000 * 14);
      expect(a.exactPairs).toBeLessThan(b.exactPairs / 2);
      // Ties go to the lowest index, as the exact k-medoids does.
      expect(Array.from(a.n1).some((j) => j >= 12)).toBe(false);
    }
    // The TypeScript kernel prunes by default (auto) and agrees with the native kernel unpruned.
    const js = await assignNearest(rows.data, 24, M, 1, { second: true, kernel: 'js' });
    const nat = await assignNearest(rows.data, 24, M, 1, { second: true, prune: false });
    expect(js.exactPairs).toBeLessThan(nat.exactPairs / 2);
    expect(Array.from(js.n1)).toEqual(Array.from(nat.n1));
    expect(Array.from(js.d2!)).toEqual(Array.from(nat.d2!));
    // The distances are the DTW matrix's.
    const c = await assignNearest(rows.data.subarray(0, 50 * 24), 24, M, 1);
    for (let i = 0; i < 50; i++) expect(c.d1[i]).toBe(dtwNaive(rows.data.subarray(i * 24, i * 24 + 24), M.subarray(c.n1[i] * 24, c.n1[i] * 24 + 24), 1));
  });
});

describe('FasterCLARA (k-medoids without the matrix)', () => {
  it('equals exact FasterPAM on the full DTW matrix when the sample is the whole set (float64 rows; float32 rows against the float32 matrix)', async () => {
    const rows64 = profiles(400, 24, 7);
    for (const rows of [rows64, asFloat32(rows64)]) {
      for (const seed of [0, 3]) {
        const exact = new KMedoids({ k: 6, seed }).fit({ n: rows.n, data: fullDtw(rows, 1) }).state!;
        const pool = new AssignPool(rows.data, 24, 1);
        const s = await fasterClara(rows, { k: 6, radius: 1, seed, sampleSize: rows.n }, pool);
        await pool.close();
        expect(Array.from(s.medoids)).toEqual(Array.from(exact.medoids));
        expect(Array.from(s.labels)).toEqual(Array.from(exact.labels));
        expect(s.totalDeviation).toBe(exact.totalDeviation);
        expect(s.samples).toBe(1);
      }
    }
  });

  it('equals exact Euclidean FasterPAM (radius 0) when the sample is the whole set', async () => {
    const rows = profiles(300, 24, 8);
    const exact = new KMedoids({ k: 5, seed: 1, init: 'k-medoids++' }).fit(euclideanMatrix(rows)).state!;
    const pool = new AssignPool(rows.data, 24, 1);
    const s = await fasterClara(rows, { k: 5, radius: 0, seed: 1, init: 'k-medoids++', sampleSize: rows.n }, pool);
    await pool.close();
    expect(Array.from(s.labels)).toEqual(Array.from(exact.labels));
    expect(s.totalDeviation).toBe(exact.totalDeviation);
  });

  it.each(['float64', 'float32'])('gives identical seeded results on 1 and 2 worker threads, pruned or not (%s rows)', async (dtype) => {
    const rows64 = profiles(20000, 24, 9);
    const rows = dtype === 'float32' ? asFloat32(rows64) : rows64;
    const run = async (workers: number, prune: boolean) => {
      const pool = new AssignPool(rows.data, 24, workers);
      try {
        return await fasterClara(rows, { k: 8, radius: 1, seed: 4, sampleSize: 300, samples: 3, prune }, pool);
      } finally {
        await pool.close();
      }
    };
    const one = await run(1, true);
    const two = await run(2, true);
    const unpruned = await run(2, false);
    for (const other of [two, unpruned]) {
      expect(Array.from(other.medoids)).toEqual(Array.from(one.medoids));
      expect(Array.from(other.labels)).toEqual(Array.from(one.labels));
      expect(other.totalDeviation).toBe(one.totalDeviation);
    }
    expect(one.exactPairs).toBeLessThan(unpruned.exactPairs);
  }, 60_000);

  it('is within a few percent of exact FasterPAM on a sample of 80 + 4k', async () => {
    const rows = profiles(1500, 24, 11);
    const exact = new KMedoids({ k: 6, seed: 0 }).fit({ n: rows.n, data: fullDtw(rows, 1) }).state!;
    const pool = new AssignPool(rows.data, 24, 1);
    const s = await fasterClara(rows, { k: 6, radius: 1, seed: 0, sampleSize: 104 }, pool);
    await pool.close();
    expect(s.totalDeviation / exact.totalDeviation).toBeLessThan(1.05);
  });

  it.each(['float64', 'float32'])('allocates nothing of n² elements, fit and validation (a budget smaller than one n × n matrix; %s rows)', async (dtype) => {
    const rows64 = profiles(3000, 24, 12);
    const rows = dtype === 'float32' ? asFloat32(rows64) : rows64;
    const n2 = rows.n * rows.n;
    let largest = 0;
    const saved = { F64: globalThis.Float64Array, F32: globalThis.Float32Array, AB: globalThis.ArrayBuffer };
    const watch = <T extends object>(C: T): T =>
      new Proxy(C, {
        construct(target, args, newTarget) {
          const a = args[0];
          const len = typeof a === 'number' ? a : a && typeof a === 'object' && 'length' in a ? (a as { length: number }).length : a instanceof saved.AB ? (a as ArrayBuffer).byteLength / 8 : 0;
          if (len > largest) largest = len;
          return Reflect.construct(target as unknown as new (...x: unknown[]) => object, args, newTarget);
        },
      });
    globalThis.Float64Array = watch(saved.F64);
    globalThis.Float32Array = watch(saved.F32);
    try {
      const pool = new AssignPool(rows.data, 24, 1);
      const s = await fasterClara(rows, { k: 8, radius: 1, seed: 0, sampleSize: 500 }, pool);
      await pool.close();
      expect(s.labels.length).toBe(rows.n);
      // The validation of sampled mode: exact DB/CH/inertia, silhouettes on a 500-row sample.
      const v = computeValidation({ X: rows.data, L: 24, labels: s.labels, k: 8, centres: gatherRows(rows, s.medoids), sampled: { size: 500, seed: 0, dtwRadius: 1 } });
      expect(v.metrics['Silhouette DTW_sample_size']).toBeGreaterThan(490);
    } finally {
      globalThis.Float64Array = saved.F64;
      globalThis.Float32Array = saved.F32;
    }
    // The instrumentation saw the sample matrix (500²) but nothing near n².
    expect(largest).toBeGreaterThanOrEqual(500 * 500);
    expect(largest).toBeLessThan(n2 / 4);
  });
});

describe('sampled validation', () => {
  it('silhouettes on a stratified sample equal the exact silhouette when the sample is everything, and the interval of a sample covers it', async () => {
    const { silhouetteOnSample } = await import('../../src/validate/sampled.js');
    const { silhouettePrecomputed } = await import('../../src/validate/index.js');
    const rows = profiles(600, 24, 13);
    // A real clustering's labels (the estimate of a and b from the sample is biased for meaningless labels).
    const D = fullDtw(rows, 1);
    const labels = new KMedoids({ k: 4, seed: 0 }).fit({ n: 600, data: D }).state!.labels;
    // Whole set: exact, zero-width interval.
    const whole = silhouetteOnSample(rows.data, 24, labels, 4, 600, 0, 1);
    expect(whole.sampleSize).toBe(600);
    expect(whole.score).toBeCloseTo(silhouettePrecomputed(D, 600, labels, 4).score, 12);
    expect(whole.ci95).toBe(0);
    // A sample: the interval covers the exact value.
    const part = silhouetteOnSample(rows.data, 24, labels, 4, 200, 1, 1);
    expect(part.sampleSize).toBeGreaterThanOrEqual(196);
    expect(part.sampleSize).toBeLessThan(210);
    const exact = silhouettePrecomputed(D, 600, labels, 4).score;
    expect(Math.abs(part.score - exact)).toBeLessThan(3 * part.ci95 + 1e-9);
  });
});

describe('DBA assignment with lower bounds', () => {
  it('gives the same labels and distances pruned and unpruned, and DBA k-means the same fit', async () => {
    const { assignDtw, BandedDtw, DbaKMeans } = await import('../../src/cluster/dba.js');
    const rows = profiles(3000, 24, 21);
    const centres = rows.data.slice(0, 7 * 24);
    for (const r of [1, 3]) {
      const a = assignDtw(rows, centres, 7, new BandedDtw(24, r), { prune: true });
      const b = assignDtw(rows, centres, 7, new BandedDtw(24, r), { prune: false });
      expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
      expect(Array.from(a.dist2)).toEqual(Array.from(b.dist2));
    }
    // The fit's labels equal predict's argmin of the DTW distance (same assignment).
    const m = new DbaKMeans({ k: 5, nInit: 1, maxIter: 3, seed: 2 }).fit(rows);
    const again = assignDtw(rows, m.state!.centres, 5, new BandedDtw(24, 1), { prune: true }).labels;
    expect(Array.from(again)).toEqual(Array.from(m.state!.labels));
  });
});

describe('agglomerative in sampled mode', () => {
  it('equals the exact tree when the sample is the whole set, and assigns the others to the nearest cluster medoid', async () => {
    const { fitSampled } = await import('../../src/cluster/fit-sampled.js');
    const { fitClustering } = await import('../../src/cluster/fit.js');
    const { assignNearest: nearest } = await import('../../src/dtw/assign.js');
    const rows = profiles(500, 24, 31);
    const pool = new AssignPool(rows.data, 24, 1);
    try {
      const exactDtw = fitClustering(rows, { model: 'agglomerative', metric: 'dtw', k: 5 }, { n: 500, data: fullDtw(rows, 1) });
      const whole = await fitSampled(rows, { model: 'agglomerative', metric: 'dtw', k: 5 }, pool, { sampleSize: 500 });
      expect(Array.from(whole.labels)).toEqual(Array.from(exactDtw.labels));
      const exactWard = fitClustering(rows, { model: 'agglomerative', metric: 'euclidean', k: 4 });
      const wholeWard = await fitSampled(rows, { model: 'agglomerative', metric: 'euclidean', k: 4 }, pool, { sampleSize: 500 });
      expect(Array.from(wholeWard.labels)).toEqual(Array.from(exactWard.labels));
      // A sample of 120: profiles outside it take the cluster of their nearest medoid (the centres).
      const part = await fitSampled(rows, { model: 'agglomerative', metric: 'dtw', k: 5, seed: 3 }, pool, { sampleSize: 120 });
      expect(part.params.assignment).toBe('nearest cluster medoid of the sample');
      const near = await nearest(rows.data, 24, part.centres, 1);
      const inSample = new Set(new Random(3).sample(500, 120));
      let checked = 0;
      for (let i = 0; i < 500; i++) {
        if (inSample.has(i)) continue;
        expect(part.labels[i]).toBe(near.n1[i]);
        checked++;
      }
      expect(checked).toBe(380);
    } finally {
      await pool.close();
    }
  });
});
