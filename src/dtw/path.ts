/**
 * DTW with its warping path, for DTW barycentre averaging (DBA). Banded like the kernels and
 * accumulated in float64; the distance equals {@link dtwNaive} and the path is the one
 * {@link dtwPathNaive} returns (ties broken diagonal, then (i−1, j), then (i, j−1)).
 */
import { effectiveRadius } from './settings.js';

/** A warping path as parallel index arrays: step t aligns a[i[t]] with b[j[t]]. */
export interface WarpingPath {
  /** DTW distance (square root of the path's summed squared differences). */
  distance: number;
  /** Pairs [i, j] from (0, 0) to (La − 1, Lb − 1). */
  path: Array<[number, number]>;
}

/**
 * DTW distance and one optimal warping path between `a` (length La) and `b` (length Lb).
 * Memory La × Lb float64 (fine for daily profiles, L ≤ a few hundred).
 * @param radius Sakoe–Chiba radius (|i − j| ≤ radius); `Infinity` (default) for full DTW.
 *   With La ≠ Lb a radius smaller than |La − Lb| has no path: a RangeError.
 */
export function dtwPath(a: ArrayLike<number>, b: ArrayLike<number>, radius = Infinity): WarpingPath {
  const La = a.length;
  const Lb = b.length;
  if (La === 0 || Lb === 0) throw new RangeError('dtwPath: empty series');
  const r = La === Lb ? effectiveRadius(radius, La) : radius;
  if (Math.abs(La - Lb) > r) throw new RangeError(`dtwPath: radius ${radius} is smaller than the length difference ${Math.abs(La - Lb)}`);
  const acc = new Float64Array(La * Lb).fill(Infinity);
  for (let i = 0; i < La; i++) {
    const jlo = Math.max(0, Math.ceil(i - r));
    const jhi = Math.min(Lb - 1, Math.floor(i + r));
    const ai = a[i];
    for (let j = jlo; j <= jhi; j++) {
      const d = ai - b[j];
      let best: number;
      if (i === 0 && j === 0) best = 0;
      else {
        best = Infinity;
        if (i > 0 && j > 0 && acc[(i - 1) * Lb + j - 1] < best) best = acc[(i - 1) * Lb + j - 1];
        if (i > 0 && acc[(i - 1) * Lb + j] < best) best = acc[(i - 1) * Lb + j];
        if (j > 0 && acc[i * Lb + j - 1] < best) best = acc[i * Lb + j - 1];
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
