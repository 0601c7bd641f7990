/**
 * Banded DTW with reusable buffers, in float64 with the reference's tie-breaking of warping paths:
 * the distance, the warping path, and DBA's alignment of a series to a centre (cluster/dba.ts).
 * The one DTW-with-path of lpclust; the independent check is dtwPathNaive (reference.ts).
 */
import { effectiveRadius } from './settings.js';

/** A warping path: the DTW distance and the aligned index pairs. */
export interface WarpingPath {
  /** DTW distance (square root of the path's summed squared differences). */
  distance: number;
  /** Pairs [i, j] from (0, 0) to (L − 1, L − 1): step t aligns a[i] with b[j]. */
  path: Array<[number, number]>;
}

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
  /** The last backtracked warping path, step t aligning a[pathI[t]] with c[pathJ[t]]; 2L − 1 entries. */
  private pathI: Int32Array;
  private pathJ: Int32Array;

  constructor(L: number, radius: number) {
    this.L = L;
    this.r = effectiveRadius(radius, L);
    this.prev = new Float64Array(L + 1);
    this.cur = new Float64Array(L + 1);
    this.acc = new Float64Array(L * (2 * this.r + 1));
    this.pathI = new Int32Array(Math.max(1, 2 * L - 1));
    this.pathJ = new Int32Array(Math.max(1, 2 * L - 1));
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
   * `sums[sOff + j]` / `counts[sOff + j]` for every centre index j on the warping path, from the
   * path's end back to (0, 0) (the order of the additions is part of DBA's bit-for-bit result).
   * @returns the squared DTW distance
   */
  accumulate(a: ArrayLike<number>, aOff: number, c: ArrayLike<number>, cOff: number, sums: Float64Array, counts: Float64Array, sOff = 0): number {
    const d2 = this.fill(a, aOff, c, cOff);
    const steps = this.backtrack();
    const pi = this.pathI;
    const pj = this.pathJ;
    for (let t = 0; t < steps; t++) {
      sums[sOff + pj[t]] += a[aOff + pi[t]];
      counts[sOff + pj[t]] += 1;
    }
    return d2;
  }

  /**
   * DTW distance and the optimal warping path between two series of length L, the path DBA aligns
   * along (ties broken diagonal, then (i−1, j), then (i, j−1), as dtwPathNaive of reference.ts).
   * @throws RangeError when a or b is not of length L
   */
  warpingPath(a: ArrayLike<number>, b: ArrayLike<number>): WarpingPath {
    if (a.length !== this.L || b.length !== this.L) throw new RangeError(`warpingPath: expected two series of length ${this.L} but received ${a.length} and ${b.length}`);
    const d2 = this.fill(a, 0, b, 0);
    const steps = this.backtrack();
    const path: Array<[number, number]> = [];
    for (let t = steps - 1; t >= 0; t--) path.push([this.pathI[t], this.pathJ[t]]);
    return { distance: Math.sqrt(d2), path };
  }

  /**
   * Fill the band's cost table for a (at aOff) against c (at cOff).
   * @returns the squared DTW distance
   */
  private fill(a: ArrayLike<number>, aOff: number, c: ArrayLike<number>, cOff: number): number {
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
    return acc[(L - 1) * W + r];
  }

  /**
   * Backtrack the table of the last {@link fill} inside the band: (i−1, j−1) keeps the band offset
   * q, (i−1, j) is q + 1, (i, j−1) is q − 1. Writes the path into pathI/pathJ from (L−1, L−1) back
   * to (0, 0).
   * @returns the number of steps (at most 2L − 1)
   */
  private backtrack(): number {
    const L = this.L;
    const r = this.r;
    const W = 2 * r + 1;
    const acc = this.acc;
    const pi = this.pathI;
    const pj = this.pathJ;
    let i = L - 1;
    let j = L - 1;
    let t = 0;
    pi[t] = i;
    pj[t++] = j;
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
      pi[t] = i;
      pj[t++] = j;
    }
    return t;
  }
}

