/**
 * Lower bounds of banded DTW, used to skip exact DTW computations whose result cannot matter
 * (the nearest-medoid assignment of many profiles, assign.ts). Both bound the SQUARED banded DTW
 * distance (the sum of squared differences along the best warping path) from below:
 *
 * - LB_Kim (the first/last-point form valid for equal-length series under a band): every warping
 *   path starts at (0, 0) and ends at (L−1, L−1), so those two cells' costs are on it.
 * - LB_Keogh (Keogh & Ratanamahatana 2005): every slot i of the query is matched to some slot j of
 *   the candidate with |i − j| ≤ radius, whose value lies inside the candidate's envelope
 *   [lower_i, upper_i] over that window; the squared distance of q_i to the envelope is therefore at
 *   most the cost paid for slot i.
 *
 * The envelope is that of the candidate (the medoid or centre), computed once per candidate and
 * reused for every query row.
 */
import { effectiveRadius } from './settings.js';

/** Upper and lower envelopes of k series (k × L each, row-major). */
export interface Envelopes {
  upper: Float64Array;
  lower: Float64Array;
  /** Series length. */
  L: number;
  /** Sakoe–Chiba radius the envelopes were built for (already clamped to [0, L − 1]). */
  radius: number;
}

/**
 * Envelopes of the series `C` (k × L, row-major) for a band of `radius` slots:
 * upper[c, i] = max C[c, i−r .. i+r], lower[c, i] = min of the same window (clipped to [0, L)).
 */
export function envelopes(C: Float64Array, L: number, radius: number): Envelopes {
  const r = effectiveRadius(radius, L);
  const k = C.length / L;
  const upper = new Float64Array(k * L);
  const lower = new Float64Array(k * L);
  for (let c = 0; c < k; c++) {
    const o = c * L;
    for (let i = 0; i < L; i++) {
      const lo = i - r > 0 ? i - r : 0;
      const hi = i + r < L - 1 ? i + r : L - 1;
      let u = -Infinity;
      let l = Infinity;
      for (let j = lo; j <= hi; j++) {
        const v = C[o + j];
        if (v > u) u = v;
        if (v < l) l = v;
      }
      upper[o + i] = u;
      lower[o + i] = l;
    }
  }
  return { upper, lower, L, radius: r };
}

/**
 * LB_Kim (first and last points) of the squared DTW between q (at qOff) and c (at cOff), both of length L.
 */
export function lbKim2(q: ArrayLike<number>, qOff: number, c: ArrayLike<number>, cOff: number, L: number): number {
  const a = q[qOff] - c[cOff];
  if (L === 1) return a * a;
  const b = q[qOff + L - 1] - c[cOff + L - 1];
  return a * a + b * b;
}

/**
 * LB_Keogh of the squared DTW between the query q (at qOff) and candidate `c` of `env`. Stops early
 * and returns the partial sum (still a lower bound, already ≥ `cutoff`) once it exceeds `cutoff`.
 */
export function lbKeogh2(q: ArrayLike<number>, qOff: number, env: Envelopes, c: number, cutoff = Infinity): number {
  const { upper, lower, L } = env;
  const o = c * L;
  let s = 0;
  for (let i = 0; i < L; i++) {
    const v = q[qOff + i];
    const u = upper[o + i];
    if (v > u) {
      const d = v - u;
      s += d * d;
    } else {
      const l = lower[o + i];
      if (v < l) {
        const d = l - v;
        s += d * d;
      }
    }
    if (s > cutoff) return s;
  }
  return s;
}
