/**
 * The plain, obviously-correct DTW of lpclust: the definition every faster kernel is tested
 * against. DTW(a, b) = sqrt(min over warping paths of Σ (a_i − b_j)²), steps (i−1, j−1), (i−1, j),
 * (i, j−1), no step weights, from (0, 0) to (La−1, Lb−1); with a Sakoe–Chiba band of radius r only
 * cells with |i − j| ≤ r are allowed (dtaidistance `window = r + 1`, tslearn `sakoe_chiba_radius = r`).
 * Accumulates in float64.
 */

import { NO_BAND } from './settings.js';

export { NO_BAND };

/**
 * DTW distance between two series by the full double loop (O(La·Lb) memory-free rows).
 * @param a series of length La
 * @param b series of length Lb
 * @param radius Sakoe–Chiba radius r ≥ 0 in slots; `Infinity` for no band
 */
export function dtwNaive(a: ArrayLike<number>, b: ArrayLike<number>, radius: number = NO_BAND): number {
  const La = a.length;
  const Lb = b.length;
  let prev = new Float64Array(Lb).fill(Infinity);
  let cur = new Float64Array(Lb).fill(Infinity);
  for (let i = 0; i < La; i++) {
    cur.fill(Infinity);
    for (let j = 0; j < Lb; j++) {
      if (Math.abs(i - j) > radius) continue;
      const d = a[i] - b[j];
      const cost = d * d;
      let best: number;
      if (i === 0 && j === 0) best = 0;
      else {
        best = Infinity;
        if (i > 0 && j > 0 && prev[j - 1] < best) best = prev[j - 1];
        if (i > 0 && prev[j] < best) best = prev[j];
        if (j > 0 && cur[j - 1] < best) best = cur[j - 1];
      }
      cur[j] = cost + best;
    }
    const t = prev;
    prev = cur;
    cur = t;
  }
  return Math.sqrt(prev[Lb - 1]);
}

/**
 * DTW distance and one optimal warping path (for DTW barycentre averaging).
 * Ties are broken in the order diagonal, then (i−1, j), then (i, j−1), as tslearn does.
 * @returns `distance` and `path` as pairs [i, j] from (0, 0) to (La−1, Lb−1).
 */
export function dtwPathNaive(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  radius: number = NO_BAND,
): { distance: number; path: Array<[number, number]> } {
  const La = a.length;
  const Lb = b.length;
  const acc = new Float64Array(La * Lb).fill(Infinity);
  for (let i = 0; i < La; i++) {
    for (let j = 0; j < Lb; j++) {
      if (Math.abs(i - j) > radius) continue;
      const d = a[i] - b[j];
      let best: number;
      if (i === 0 && j === 0) best = 0;
      else {
        best = Infinity;
        if (i > 0 && j > 0) best = Math.min(best, acc[(i - 1) * Lb + j - 1]);
        if (i > 0) best = Math.min(best, acc[(i - 1) * Lb + j]);
        if (j > 0) best = Math.min(best, acc[i * Lb + j - 1]);
      }
      acc[i * Lb + j] = d * d + best;
    }
  }
  const path: Array<[number, number]> = [[La - 1, Lb - 1]];
  let i = La - 1;
  let j = Lb - 1;
  while (i > 0 || j > 0) {
    if (i === 0) j--;
    else if (j === 0) i--;
    else {
      const diag = acc[(i - 1) * Lb + j - 1];
      const up = acc[(i - 1) * Lb + j];
      const left = acc[i * Lb + j - 1];
      if (diag <= up && diag <= left) {
        i--;
        j--;
      } else if (up <= left) i--;
      else j--;
    }
    path.push([i, j]);
  }
  path.reverse();
  return { distance: Math.sqrt(acc[La * Lb - 1]), path };
}
