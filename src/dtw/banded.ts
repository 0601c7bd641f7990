/**
 * Banded DTW with reusable buffers, in float64 with the reference's tie-breaking of warping paths:
 * the distance and DBA's alignment of a series to a centre (cluster/dba.ts).
 */
import { effectiveRadius } from './settings.js';

/**
 * Banded DTW kernel with reusable buffers: distance only (two rows) or the full cost table for a
 * warping path. Series of equal length L.
 */
export class BandedDtw {
  readonly L: number;
  readonly r: number;
  private prev: Float64Array;
  private cur: Float64Array;
  /** Cost table of the band, L × (2r + 1). */
  private acc: Float64Array;

  constructor(L: number, radius: number) {
    this.L = L;
    this.r = effectiveRadius(radius, L);
    this.prev = new Float64Array(L + 1);
    this.cur = new Float64Array(L + 1);
    this.acc = new Float64Array(L * (2 * this.r + 1));
  }

  /** Squared DTW distance between a[aOff..aOff+L) and b[bOff..bOff+L). */
  dist2(a: ArrayLike<number>, aOff: number, b: ArrayLike<number>, bOff: number): number {
    const L = this.L;
    const r = this.r;
    let prev = this.prev;
    let cur = this.cur;
    // Column j lives at index j + 1; index 0 is the "column −1" border (+∞).
    // Row 0 can only come from the left: a running sum.
    const a0 = a[aOff];
    const jhi0 = r < L - 1 ? r : L - 1;
    let run = 0;
    prev[0] = Infinity;
    for (let j = 0; j <= jhi0; j++) {
      const d = a0 - b[bOff + j];
      run += d * d;
      prev[j + 1] = run;
    }
    if (jhi0 + 2 <= L) prev[jhi0 + 2] = Infinity;
    for (let i = 1; i < L; i++) {
      const jlo = i - r > 0 ? i - r : 0;
      const jhi = i + r < L - 1 ? i + r : L - 1;
      const ai = a[aOff + i];
      cur[jlo] = Infinity;
      for (let j = jlo; j <= jhi; j++) {
        const d = ai - b[bOff + j];
        let best = prev[j]; // (i−1, j−1)
        const up = prev[j + 1]; // (i−1, j)
        const left = cur[j]; // (i, j−1)
        if (up < best) best = up;
        if (left < best) best = left;
        cur[j + 1] = d * d + best;
      }
      // The next row reads column jhi + 1 of this one, outside this row's band: +∞.
      if (jhi + 2 <= L) cur[jhi + 2] = Infinity;
      const t = prev;
      prev = cur;
      cur = t;
    }
    this.prev = prev;
    this.cur = cur;
    return prev[L];
  }

  /**
   * DBA accumulation: align series a (at aOff) to the centre c (at cOff) and add a's values into
   * `sums[sOff + j]` / `counts[sOff + j]` for every centre index j on the warping path.
   * @returns the squared DTW distance
   */
  accumulate(a: ArrayLike<number>, aOff: number, c: ArrayLike<number>, cOff: number, sums: Float64Array, counts: Float64Array, sOff = 0): number {
    const L = this.L;
    const r = this.r;
    const W = 2 * r + 1;
    // Band storage: cell (i, j) at i·W + (j − i + r); cells outside the band or the table read +∞.
    const acc = this.acc;
    acc.fill(Infinity, 0, L * W);
    for (let i = 0; i < L; i++) {
      const jlo = i - r > 0 ? i - r : 0;
      const jhi = i + r < L - 1 ? i + r : L - 1;
      const ai = a[aOff + i];
      const row = i * W;
      for (let j = jlo; j <= jhi; j++) {
        const q = j - i + r;
        const d = ai - c[cOff + j];
        let best: number;
        if (i === 0 && j === 0) best = 0;
        else {
          best = Infinity;
          if (i > 0) {
            const diag = acc[row - W + q]; // (i−1, j−1)
            if (j > 0 && diag < best) best = diag;
            if (q + 1 < W) {
              const up = acc[row - W + q + 1]; // (i−1, j)
              if (up < best) best = up;
            }
          }
          if (j > jlo) {
            const left = acc[row + q - 1]; // (i, j−1)
            if (left < best) best = left;
          }
        }
        acc[row + q] = d * d + best;
      }
    }
    // Backtrack inside the band: (i−1, j−1) keeps the band offset q, (i−1, j) is q + 1, (i, j−1) is q − 1.
    let i = L - 1;
    let j = L - 1;
    sums[sOff + j] += a[aOff + i];
    counts[sOff + j] += 1;
    while (i > 0 || j > 0) {
      if (i === 0) j--;
      else if (j === 0) i--;
      else {
        const q = j - i + r;
        const diag = acc[(i - 1) * W + q];
        const up = q + 1 < W ? acc[(i - 1) * W + q + 1] : Infinity;
        const left = q > 0 ? acc[i * W + q - 1] : Infinity;
        if (diag <= up && diag <= left) {
          i--;
          j--;
        } else if (up <= left) i--;
        else j--;
      }
      sums[sOff + j] += a[aOff + i];
      counts[sOff + j] += 1;
    }
    return acc[(L - 1) * W + r];
  }
}

