/**
 * Drift between two distributions over the same clusters: the population stability index (PSI)
 * and the Jensen–Shannon distance. Inputs are shares (or counts) per cluster, length k.
 */

/**
 * Floor applied to a share of 0 before PSI's logarithm (PSI is infinite when a cluster is empty on
 * one side only). 1e-4 is the floor the usual PSI scorecard recipes use; the shares are not
 * renormalised after flooring.
 */
export const PSI_FLOOR = 1e-4;

function normalised(p: ArrayLike<number>): Float64Array {
  let s = 0;
  for (let i = 0; i < p.length; i++) s += p[i];
  const out = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) out[i] = s > 0 ? p[i] / s : NaN;
  return out;
}

/**
 * Population stability index Σ (actual − expected) · ln(actual / expected), shares floored at
 * {@link PSI_FLOOR}. Common reading: < 0.1 stable, 0.1–0.25 moderate shift, > 0.25 large shift.
 * @param expected reference shares or counts (training), length k
 * @param actual recent shares or counts, length k
 */
export function psi(expected: ArrayLike<number>, actual: ArrayLike<number>): number {
  if (expected.length !== actual.length) throw new RangeError(`Expected distributions of the same length but received ${expected.length} and ${actual.length}`);
  const e = normalised(expected);
  const a = normalised(actual);
  let s = 0;
  for (let i = 0; i < e.length; i++) {
    const ei = Math.max(e[i], PSI_FLOOR);
    const ai = Math.max(a[i], PSI_FLOOR);
    s += (ai - ei) * Math.log(ai / ei);
  }
  return s;
}

/**
 * Jensen–Shannon distance with base-2 logarithms: the square root of the JS divergence, in [0, 1]
 * (0 = same shares, 1 = disjoint). Both inputs are normalised to sum 1 first, and 0·log 0 = 0, so
 * it equals SciPy's `scipy.spatial.distance.jensenshannon(p, q, base=2)`.
 */
export function jsDistance(p: ArrayLike<number>, q: ArrayLike<number>): number {
  if (p.length !== q.length) throw new RangeError(`Expected distributions of the same length but received ${p.length} and ${q.length}`);
  const a = normalised(p);
  const b = normalised(q);
  let div = 0;
  for (let i = 0; i < a.length; i++) {
    const m = (a[i] + b[i]) / 2;
    if (a[i] > 0) div += a[i] * Math.log2(a[i] / m);
    if (b[i] > 0) div += b[i] * Math.log2(b[i] / m);
  }
  // Rounding can leave a hair below 0 for equal inputs.
  return Math.sqrt(Math.max(0, div / 2));
}
