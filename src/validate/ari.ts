/**
 * Adjusted Rand index between two labellings, as scikit-learn's `adjusted_rand_score` (pair
 * confusion form). Pair counts are exact integers (BigInt), since they reach n⁴ ≈ 10¹⁷ for
 * n = 20,000 and would lose digits as doubles.
 */
import { inputError } from '../errors.js';

/**
 * Adjusted Rand index of two labellings of the same samples: 1 for identical partitions (up to
 * label names), about 0 for independent ones.
 * @param a labels of each sample (any integers); length n
 * @param b labels of each sample (any integers); length n
 */
export function adjustedRandIndex(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  if (b.length !== n) throw inputError('E_VALIDATE_SHAPE', `Expected two labellings of the same length but received ${n} and ${b.length}`);
  const ka = new Map<number, number>();
  const kb = new Map<number, number>();
  const ia = new Int32Array(n);
  const ib = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let x = ka.get(a[i]);
    if (x === undefined) {
      x = ka.size;
      ka.set(a[i], x);
    }
    ia[i] = x;
    let y = kb.get(b[i]);
    if (y === undefined) {
      y = kb.size;
      kb.set(b[i], y);
    }
    ib[i] = y;
  }
  const ra = ka.size;
  const rb = kb.size;
  const table = new Float64Array(ra * rb);
  const sa = new Float64Array(ra);
  const sb = new Float64Array(rb);
  for (let i = 0; i < n; i++) {
    table[ia[i] * rb + ib[i]]++;
    sa[ia[i]]++;
    sb[ib[i]]++;
  }
  let sumSq = 0n;
  for (const v of table) sumSq += BigInt(v) * BigInt(v);
  let sumA = 0n;
  for (const v of sa) sumA += BigInt(v) * BigInt(v);
  let sumB = 0n;
  for (const v of sb) sumB += BigInt(v) * BigInt(v);
  const N = BigInt(n);
  const tp = sumSq - N;
  const fp = sumB - sumSq;
  const fn = sumA - sumSq;
  const tn = N * N - fp - fn - sumSq;
  if (fn === 0n && fp === 0n) return 1;
  return (2 * Number(tp * tn - fn * fp)) / Number((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn));
}
