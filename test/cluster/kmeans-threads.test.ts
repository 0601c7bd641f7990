import { afterAll, describe, expect, it } from 'vitest';
import { Random } from '../../src/util/random.js';
import { KMeans, lloydHamerly, meanColumnVariance, randomInit, type Rows } from '../../src/cluster/index.js';
import { closeKMeansHelpers, helpWithRestarts, type SharedRestarts } from '../../src/cluster/kmeans-restarts.js';

/** Overlapping blobs: restarts end in different local optima, so the pick among them matters. */
function blobs(n: number, dim: number, seed: number): Rows {
  const rng = new Random(seed);
  const data = new Float64Array(n * dim);
  for (let i = 0; i < n; i++) {
    const c = rng.int(7);
    for (let t = 0; t < dim; t++) data[i * dim + t] = Math.sin(c * 1.7 + t * 0.9) * 2 + rng.normal();
  }
  return { data, n, dim };
}

afterAll(async () => {
  await closeKMeansHelpers();
});

describe('k-means restarts on threads', () => {
  const rows = blobs(2500, 12, 5);

  it.each(['random', 'k-means++'] as const)('gives the same labels, centres and inertia with 1, 2 and 3 threads (%s init)', (init) => {
    const fits = [1, 2, 3].map((workers) => new KMeans({ k: 9, nInit: 7, seed: 11, init, workers }).fit(rows).state!);
    for (const f of fits.slice(1)) {
      expect(f.inertia).toBe(fits[0].inertia);
      expect(Array.from(f.labels)).toEqual(Array.from(fits[0].labels));
      expect(Array.from(f.centres)).toEqual(Array.from(fits[0].centres));
      expect(f.nIter).toBe(fits[0].nIter);
      expect(f.emptyReseeds).toBe(fits[0].emptyReseeds);
    }
  });

  it('restart i starts from the i-th centres drawn from the one generator, and the lowest inertia wins', () => {
    const k = 9;
    const tolAbs = 1e-4 * meanColumnVariance(rows);
    const rng = new Random(3);
    const runs = Array.from({ length: 6 }, () => lloydHamerly(rows, randomInit(rows, k, rng), k, 300, tolAbs));
    const best = runs.reduce((a, b) => (b.inertia < a.inertia ? b : a));
    expect(new Set(runs.map((r) => r.inertia.toFixed(6))).size).toBeGreaterThan(1);
    const fit = new KMeans({ k, nInit: 6, seed: 3, refine: false, workers: 2 }).fit(rows).state!;
    expect(fit.inertia).toBe(best.inertia);
    expect(Array.from(fit.labels)).toEqual(Array.from(best.labels));
  });

  it("a helper's results are the calling thread's, bit for bit", () => {
    const k = 6;
    const { n, dim } = rows;
    const kd = k * dim;
    const nInit = 3;
    const rng = new Random(8);
    const inits = new Float64Array(new SharedArrayBuffer(8 * nInit * kd));
    for (let i = 0; i < nInit; i++) inits.set(randomInit(rows, k, rng), i * kd);
    const tolAbs = 1e-4 * meanColumnVariance(rows);
    const job: SharedRestarts = {
      data: rows.data, n, dim, k, maxIter: 300, tolAbs, nInit, inits,
      centres: new Float64Array(nInit * kd),
      labels: new Int32Array(nInit * n),
      numbers: new Float64Array(nInit * 3),
      state: new Int32Array(nInit + 1),
    };
    helpWithRestarts(job);
    expect(Array.from(job.state.subarray(1))).toEqual([2, 2, 2]);
    for (let i = 0; i < nInit; i++) {
      const r = lloydHamerly(rows, inits.slice(i * kd, (i + 1) * kd), k, 300, tolAbs);
      expect(job.numbers[3 * i]).toBe(r.inertia);
      expect(Array.from(job.labels.subarray(i * n, (i + 1) * n))).toEqual(Array.from(r.labels));
      expect(Array.from(job.centres.subarray(i * kd, (i + 1) * kd))).toEqual(Array.from(r.centres));
    }
  });
});
