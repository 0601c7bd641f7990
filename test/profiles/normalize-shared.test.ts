/**
 * normalizeRows onto shared memory (the sampled path's one copy of the profiles, read in place by
 * the assignment workers): the same values as the plain result, on a SharedArrayBuffer.
 */
import { describe, expect, it } from 'vitest';
import { normalizeRows } from '../../src/profiles/normalize.js';
import { Random } from '../../src/util/random.js';

describe('normalizeRows({ shared: true })', () => {
  it('gives the plain result bit for bit, on a SharedArrayBuffer, for every method', () => {
    const rng = new Random(4);
    const values = Float64Array.from({ length: 50 * 24 }, () => 1 + rng.next() * 100);
    for (const method of ['l2', 'zscore', 'none'] as const) {
      const plain = normalizeRows(values, 24, method);
      const shared = normalizeRows(values, 24, method, undefined, { shared: true });
      expect(plain.buffer instanceof SharedArrayBuffer).toBe(false);
      expect(shared.buffer instanceof SharedArrayBuffer, method).toBe(true);
      expect(Buffer.from(shared.buffer).equals(Buffer.from(plain.buffer)), method).toBe(true);
    }
  });
});
