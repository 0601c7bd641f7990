import { describe, expect, it } from 'vitest';
import { Random } from '../../src/util/random.js';
import { AssignPool, assignNearest, boundMargin, type AssignResult } from '../../src/dtw/assign.js';
import { envelopes } from '../../src/dtw/bounds.js';
import { selectKernel } from '../../src/dtw/kernel.js';
import { dtwNaive } from '../../src/dtw/reference.js';

const L = 24;

/** Load-profile-like rows: shifted archetypes with noise, with exact copies of some rows. */
function rowsWithTies(n: number, seed: number): Float64Array {
  const rng = new Random(seed);
  const X = new Float64Array(n * L);
  for (let i = 0; i < n; i++) {
    const a = rng.int(5);
    const shift = rng.int(5) - 2;
    for (let t = 0; t < L; t++) X[i * L + t] = Math.max(0, Math.sin((t + shift + 4 * a) / 3.7) * (1 + a / 4) + 0.2 * rng.normal());
  }
  // Every 50th row repeats row 7: ties between rows, and with a candidate taken from row 7.
  for (let i = 50; i < n; i += 50) X.copyWithin(i * L, 7 * L, 8 * L);
  return X;
}

/** k candidates from the rows, with duplicate candidates (ties between candidates at every distance). */
function candidates(X: Float64Array, k: number): Float64Array {
  const M = new Float64Array(k * L);
  for (let j = 0; j < k - 2; j++) M.set(X.subarray((7 + 37 * j) * L, (8 + 37 * j) * L), j * L);
  M.copyWithin((k - 2) * L, 0, L); // = candidate 0
  M.copyWithin((k - 1) * L, 3 * L, 4 * L); // = candidate 3
  return M;
}

function expectSame(a: AssignResult, b: AssignResult, second: boolean): void {
  expect(Array.from(a.n1)).toEqual(Array.from(b.n1));
  // toEqual on numbers is Object.is: bit for bit, −0 and +0 apart.
  expect(Array.from(a.d1)).toEqual(Array.from(b.d1));
  if (second) {
    expect(Array.from(a.n2!)).toEqual(Array.from(b.n2!));
    expect(Array.from(a.d2!)).toEqual(Array.from(b.d2!));
  }
}

describe('native nearest-candidate assignment with lower bounds', () => {
  const native = selectKernel('native'); // fails (not skips) when the addon is missing
  it('is built into the addon', () => {
    expect(typeof native.assign).toBe('function');
  });

  it('returns exactly what computing every distance returns: float64 and float32, radius 0, 1 and none, ties, first and second', async () => {
    const X64 = rowsWithTies(1500, 4);
    const M = candidates(X64, 12);
    for (const X of [X64, Float32Array.from(X64)]) {
      for (const radius of [0, 1, Infinity]) {
        for (const second of [false, true]) {
          const pruned = await assignNearest(X, L, M, radius, { second, prune: true, kernel: 'native' });
          const full = await assignNearest(X, L, M, radius, { second, prune: false, kernel: 'native' });
          expectSame(pruned, full, second);
          expect(full.exactPairs).toBe(1500 * 12);
          // The bounds rule out most candidates of these well-separated rows.
          expect(pruned.exactPairs).toBeLessThan(full.exactPairs * (radius === Infinity ? 0.75 : 0.5));
          // Ties go to the lowest candidate: the duplicates (10 = 0, 11 = 3) never win, rows equal to
          // candidate 0 (row 7 and its copies) get it at distance 0, their second is its duplicate.
          expect(Array.from(pruned.n1).some((j) => j >= 10)).toBe(false);
          for (const i of [7, 50, 100, 1450]) {
            expect(pruned.n1[i]).toBe(0);
            expect(pruned.d1[i]).toBe(0);
            if (second) {
              expect(pruned.n2![i]).toBe(10);
              expect(pruned.d2![i]).toBe(0);
            }
          }
          // The same distances as the TypeScript kernel computes them (float32 rounded alike).
          const js = await assignNearest(X, L, M, radius, { second, prune: false, kernel: 'js' });
          expectSame(pruned, js, second);
        }
      }
    }
    // The distances are the definition's (float64).
    const a = await assignNearest(X64.subarray(0, 40 * L), L, M, 1, { prune: true, kernel: 'native' });
    for (let i = 0; i < 40; i++) expect(a.d1[i]).toBe(dtwNaive(X64.subarray(i * L, (i + 1) * L), M.subarray(a.n1[i] * L, (a.n1[i] + 1) * L), 1));
  });

  it('agrees with the TypeScript kernel on very short series and quantised values (many exact ties), nearest only and with the second', async () => {
    const rng = new Random(3);
    for (const len of [1, 2, 3, 5]) {
      const X = new Float64Array(400 * len).map(() => Math.round(rng.normal() * 4) / 4);
      const M = new Float64Array(6 * len).map(() => Math.round(rng.normal() * 4) / 4);
      for (const Xt of [X, Float32Array.from(X)]) {
        for (const radius of [0, 1, Infinity]) {
          for (const second of [false, true]) {
            const pruned = await assignNearest(Xt, len, M, radius, { second, prune: true, kernel: 'native' });
            expectSame(pruned, await assignNearest(Xt, len, M, radius, { second, prune: false, kernel: 'js' }), second);
          }
        }
      }
    }
  });

  it('keeps a nearest candidate whose distance is within 0.1 % of its bound: a bound inflated by 1 % would lose it (float64 and float32)', async () => {
    // Radius 0: each row x is compared with candidate 0 = x + e·(0, +1, −1, +1, −1, …, 0), whose
    // segment sums and first/last slots cancel (bound 0, distance e·√(L − 2): pass A computes it
    // first), and candidate 1 = x − c (a constant offset, for which the bound is the distance
    // itself), slightly nearer. Pass B must still compute candidate 1 and keep it.
    const rows = 64;
    const X64 = new Float64Array(rows * L);
    const rng = new Random(11);
    for (let i = 0; i < X64.length; i++) X64[i] = 1 + rng.next();
    for (const X of [X64, Float32Array.from(X64)]) {
      const c = 0.25;
      const e = (c * Math.sqrt(L)) / Math.sqrt(L - 2) / (1 - 1e-3); // candidate 1 nearer by 0.1 %
      for (let i = 0; i < rows; i++) {
        const x = X.subarray(i * L, (i + 1) * L);
        const M = new Float64Array(2 * L);
        for (let t = 0; t < L; t++) {
          M[t] = x[t] + (t === 0 || t === L - 1 ? 0 : t % 2 === 1 ? e : -e);
          M[L + t] = x[t] - c;
        }
        const full = await assignNearest(x, L, M, 0, { prune: false, kernel: 'native' });
        const pruned = await assignNearest(x, L, M, 0, { prune: true, kernel: 'native' });
        expect(full.n1[0]).toBe(1);
        expectSame(pruned, full, false);
        expect(pruned.exactPairs).toBe(2);
        // The same call with the threshold lowered by 1 % (as if every bound were 1 % larger) prunes
        // candidate 1 and answers 0: the data above is sharp enough to catch an inflated bound.
        const native = selectKernel('native');
        const Mt = X instanceof Float32Array ? Float32Array.from(M) : M;
        const env = envelopes(Float64Array.from(Mt), L, 0);
        const n1 = new Int32Array(1);
        const d1 = new Float64Array(1);
        const exact = native.assign!(x, Mt, L, 0, 1, 0, env.upper, env.lower, false, true, boundMargin(x, L) / 1.01, n1, d1, null, null);
        expect([exact, n1[0]]).toEqual([1, 0]);
      }
    }
  });

  it('handles a single candidate and rows spread over worker threads the same way', async () => {
    const X = rowsWithTies(20000, 9);
    const M = candidates(X, 12);
    const one = await assignNearest(X.subarray(0, 300 * L), L, M.subarray(0, L), 1, { second: true, prune: true, kernel: 'native' });
    expect(Array.from(one.n1).every((j) => j === 0)).toBe(true);
    expect(Array.from(one.d2!).every((d) => d === Infinity)).toBe(true);
    const single = await assignNearest(X, L, M, 1, { second: true, prune: true, kernel: 'native' });
    const pool = new AssignPool(Float32Array.from(X), L, 2, 'native');
    try {
      const threaded32 = await pool.assign(M, 1, { second: true, prune: true });
      const single32 = await assignNearest(Float32Array.from(X), L, M, 1, { second: true, prune: false, kernel: 'native' });
      expectSame(threaded32, single32, true);
    } finally {
      await pool.close();
    }
    const threaded = await assignNearest(X, L, M, 1, { second: true, prune: true, workers: 2, kernel: 'native' });
    expectSame(threaded, single, true);
    expect(threaded.exactPairs).toBe(single.exactPairs);
  });

  it('prunes by default where it pays: float64 and float32 profiles, nearest candidate only', async () => {
    const X = rowsWithTies(600, 2);
    const M = candidates(X, 12);
    for (const Xt of [X, Float32Array.from(X)]) {
      expect((await assignNearest(Xt, L, M, 1, { kernel: 'native' })).exactPairs).toBeLessThan(600 * 12);
      expect((await assignNearest(Xt, L, M, 1, { second: true, kernel: 'native' })).exactPairs).toBe(600 * 12);
    }
  });
});
