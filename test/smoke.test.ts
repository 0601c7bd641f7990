import { describe, expect, it } from 'vitest';
import { Random } from '../src/util/random.js';
import { dtwNaive } from '../src/dtw/reference.js';

describe('seeded random generator', () => {
  it('repeats with the same seed and differs with another', () => {
    const a = new Random(0);
    const b = new Random(0);
    const c = new Random(1);
    const xs = Array.from({ length: 5 }, () => a.nextUint32());
    expect(Array.from({ length: 5 }, () => b.nextUint32())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.nextUint32())).not.toEqual(xs);
  });
  it('draws uniform floats in [0, 1)', () => {
    const r = new Random(42);
    let sum = 0;
    for (let i = 0; i < 10000; i++) {
      const v = r.next();
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThan(1);
      sum += v;
    }
    expect(sum / 10000).toBeCloseTo(0.5, 1);
  });
});

describe('reference DTW', () => {
  it('pins the hand-checked values of the contract', () => {
    const a = [0, 1, 2, 3, 0, 0, 0];
    const b = [0, 0, 0, 1, 2, 3, 0];
    expect(dtwNaive(a, b, 0)).toBeCloseTo(Math.sqrt(22), 14);
    expect(dtwNaive(a, b, 1)).toBeCloseTo(Math.sqrt(12), 14);
    expect(dtwNaive(a, b, 2)).toBe(0);
  });
});
