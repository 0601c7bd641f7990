/**
 * The centre grid's quantile bands by selection (plot/centers.ts): the same values, bit for bit,
 * as interpolating on a sorted copy, on arrays with ties, repeats, one value, and adversarial orders.
 */
import { describe, expect, it } from 'vitest';
import { quantilesInPlace } from '../../src/plot/centers.js';
import { Random } from '../../src/util/random.js';

function bySorting(a: Float64Array, qs: readonly number[]): number[] {
  const s = Float64Array.from(a).sort();
  return qs.map((q) => {
    const pos = (s.length - 1) * q;
    const lo = Math.floor(pos);
    const hi = Math.min(s.length - 1, lo + 1);
    return s[lo] + (s[hi] - s[lo]) * (pos - lo);
  });
}

describe('quantilesInPlace', () => {
  it('gives exactly the sorted-copy quantiles', () => {
    const rng = new Random(3);
    const qs = [0, 0.1, 0.25, 0.5, 0.9, 1];
    for (const n of [1, 2, 3, 7, 10, 11, 100, 1001, 20000]) {
      for (const kind of ['uniform', 'ties', 'sorted', 'reversed', 'constant', 'organ']) {
        const a = new Float64Array(n);
        for (let i = 0; i < n; i++) {
          a[i] = kind === 'uniform' ? rng.normal() : kind === 'ties' ? rng.int(5) / 4 : kind === 'sorted' ? i : kind === 'reversed' ? n - i : kind === 'constant' ? 0.25 : Math.abs(i - n / 2);
        }
        const want = bySorting(a, qs);
        const got = quantilesInPlace(Float64Array.from(a), qs);
        expect(got.map((v) => Object.is(v, -0) ? 0 : v), `${kind} n=${n}`).toEqual(want.map((v) => Object.is(v, -0) ? 0 : v));
      }
    }
  });

  it('keeps the values of the array (a permutation)', () => {
    const a = Float64Array.from({ length: 5000 }, (_, i) => (i * 7919) % 5003);
    const b = Float64Array.from(a);
    quantilesInPlace(b, [0.1, 0.5, 0.9]);
    expect(Array.from(b).sort((x, y) => x - y)).toEqual(Array.from(a).sort((x, y) => x - y));
  });
});
