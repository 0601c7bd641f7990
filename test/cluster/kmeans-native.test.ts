import { describe, expect, it } from 'vitest';
import { Random } from '../../src/util/random.js';
import { hartiganRefine, lloydHamerly, lloydHamerlyJs, meanColumnVariance, randomInit, type Rows } from '../../src/cluster/index.js';
import { loadNative } from '../../src/dtw/index.js';

/** Overlapping blobs, some rows repeated (ties, empty clusters after a bad start). */
function blobs(n: number, dim: number, seed: number, groups: number): Rows {
  const rng = new Random(seed);
  const data = new Float64Array(n * dim);
  for (let i = 0; i < n; i++) {
    if (i > 10 && rng.next() < 0.05) {
      const j = rng.int(i);
      data.copyWithin(i * dim, j * dim, j * dim + dim);
      continue;
    }
    const c = rng.int(groups);
    for (let t = 0; t < dim; t++) data[i * dim + t] = Math.sin(c * 1.7 + t * 0.9) * 2 + rng.normal();
  }
  return { data, n, dim };
}

/** Starting centres piled on two rows: several clusters come out empty and must be re-seeded. */
function crowdedInit(rows: Rows, k: number): Float64Array {
  const c = new Float64Array(k * rows.dim);
  for (let j = 0; j < k; j++) c.set(rows.data.subarray((j % 2) * rows.dim, (j % 2) * rows.dim + rows.dim), j * rows.dim);
  return c;
}

describe('native k-means restart', () => {
  it('the addon is built with the k-means kernel (a stale build would silently fall back)', () => {
    const addon = loadNative();
    expect(addon).not.toBeNull();
    expect(typeof addon!.kmeansLloyd).toBe('function');
    expect(typeof addon!.kmeansHartigan).toBe('function');
  });

  const cases: Array<[string, Rows, number, number, number]> = [
    ['2,000 × 24, k 12', blobs(2000, 24, 1, 9), 12, 300, 1e-4],
    ['1,500 × 96, k 5, tol 0', blobs(1500, 96, 2, 4), 5, 300, 0],
    ['800 × 7, k 20, 3 iterations (stops on max_iter)', blobs(800, 7, 3, 6), 20, 3, 1e-4],
  ];
  it.each(cases)('gives the same bits as the TypeScript restart: %s', (_name, rows, k, maxIter, tol) => {
    const tolAbs = tol * meanColumnVariance(rows);
    const rng = new Random(7);
    for (let rep = 0; rep < 4; rep++) {
      const init = rep === 3 ? crowdedInit(rows, k) : randomInit(rows, k, rng);
      const a = lloydHamerly(rows, init.slice(), k, maxIter, tolAbs);
      const b = lloydHamerlyJs(rows, init.slice(), k, maxIter, tolAbs);
      expect(a.inertia).toBe(b.inertia);
      expect(a.nIter).toBe(b.nIter);
      expect(a.emptyReseeds).toBe(b.emptyReseeds);
      expect(Buffer.from(a.labels.buffer).equals(Buffer.from(b.labels.buffer))).toBe(true);
      expect(Buffer.from(a.centres.buffer).equals(Buffer.from(b.centres.buffer))).toBe(true);
      if (rep === 3) expect(a.emptyReseeds).toBeGreaterThan(0);
    }
  });

  it('refines with the same bits as the TypeScript Hartigan passes', () => {
    const rows = blobs(3000, 24, 4, 8);
    const k = 10;
    const tolAbs = 1e-4 * meanColumnVariance(rows);
    const rng = new Random(9);
    let moved = 0;
    for (let rep = 0; rep < 3; rep++) {
      // A few Lloyd iterations only, so that Hartigan has moves to make.
      const start = lloydHamerlyJs(rows, randomInit(rows, k, rng), k, 2, tolAbs);
      const a = hartiganRefine(rows, start, k, 100, true);
      const b = hartiganRefine(rows, start, k, 100, false);
      expect(a.inertia).toBe(b.inertia);
      expect(Buffer.from(a.labels.buffer).equals(Buffer.from(b.labels.buffer))).toBe(true);
      expect(Buffer.from(a.centres.buffer).equals(Buffer.from(b.centres.buffer))).toBe(true);
      if (a !== start) moved++;
    }
    expect(moved).toBeGreaterThan(0);
  });
});
