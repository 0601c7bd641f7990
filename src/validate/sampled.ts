/**
 * Silhouettes at large n without the n × n matrix (`--scale sampled`).
 *
 * - The silhouette is estimated on a seeded STRATIFIED sample: every non-empty cluster contributes
 *   rows in proportion to its size (at least 2 when it has them), and the silhouette of each sampled
 *   row is computed against the sampled rows only (the same definition as scikit-learn's
 *   `silhouette_score(sample_size=…)`, which samples uniformly). The estimate is the size-weighted
 *   mean of the per-cluster sample means, with a 95 % confidence half-width from the per-cluster
 *   sample variances (normal approximation, finite-population correction); with the whole set as the
 *   sample it is the exact silhouette and the half-width is 0.
 * - The simplified silhouette (Hruschka et al. 2004; "medoid-based silhouette") is exact and O(n·k):
 *   a(i) is the distance of row i to its own cluster's centre (medoid), b(i) the distance to the
 *   nearest other centre, s(i) = (b − a) / max(a, b).
 */
import { Random } from '../util/random.js';
import { sampleMatrix } from '../dtw/index.js';
import { silhouettePrecomputed } from './silhouette.js';

/** A silhouette estimated on a sample. */
export interface SampledSilhouette {
  /** Estimated mean silhouette over all n rows. */
  score: number;
  /** Half-width of its 95 % confidence interval. */
  ci95: number;
  /** Rows in the sample. */
  sampleSize: number;
  /** The sampled rows (ascending). */
  rows: Int32Array;
  /** Their labels and silhouettes, aligned with `rows` (for the plot). */
  labels: Int32Array;
  samples: Float64Array;
}

/** Default silhouette sample size (m² distances: 16 million at 4,000, a few seconds of DTW). */
export const DEFAULT_SILHOUETTE_SAMPLE = 4000;

/**
 * A seeded stratified sample of about `m` rows: cluster c gets round(m·n_c / n) rows, at least
 * min(2, n_c), at most n_c. Returned ascending.
 */
export function stratifiedSample(labels: ArrayLike<number>, k: number, m: number, seed: number): Int32Array {
  const n = labels.length;
  const members: number[][] = Array.from({ length: k }, () => []);
  for (let i = 0; i < n; i++) members[labels[i]].push(i);
  const rng = new Random(seed);
  const out: number[] = [];
  for (let c = 0; c < k; c++) {
    const mem = members[c];
    if (mem.length === 0) continue;
    const want = Math.min(mem.length, Math.max(Math.min(2, mem.length), Math.round((m * mem.length) / n)));
    if (want === mem.length) {
      for (const i of mem) out.push(i);
      continue;
    }
    for (const t of rng.sample(mem.length, want)) out.push(mem[t]);
  }
  return Int32Array.from(out).sort();
}

/**
 * The silhouette of `labels` estimated on a stratified sample of about `m` rows, under banded DTW of
 * `radius` (0 = Euclidean distance).
 */
export function silhouetteOnSample(X: Float32Array | Float64Array, L: number, labels: ArrayLike<number>, k: number, m: number, seed: number, radius: number): SampledSilhouette {
  const n = labels.length;
  const rows = stratifiedSample(labels, k, Math.min(m, n), seed);
  const s = rows.length;
  const lab = new Int32Array(s);
  for (let t = 0; t < s; t++) lab[t] = labels[rows[t]];
  const D = sampleMatrix({ data: X, n, dim: L }, rows, radius);
  const r = silhouettePrecomputed(D.data, s, lab, k);
  // Per-cluster population sizes, sample sizes, means and variances.
  const N = new Float64Array(k);
  for (let i = 0; i < n; i++) N[labels[i]]++;
  const cnt = new Float64Array(k);
  const sum = new Float64Array(k);
  const sum2 = new Float64Array(k);
  for (let t = 0; t < s; t++) {
    cnt[lab[t]]++;
    sum[lab[t]] += r.samples[t];
    sum2[lab[t]] += r.samples[t] * r.samples[t];
  }
  let score = 0;
  let variance = 0;
  for (let c = 0; c < k; c++) {
    if (cnt[c] === 0) continue;
    const w = N[c] / n;
    const mean = sum[c] / cnt[c];
    score += w * mean;
    if (cnt[c] > 1 && cnt[c] < N[c]) {
      const v = Math.max(0, (sum2[c] - cnt[c] * mean * mean) / (cnt[c] - 1));
      variance += ((w * w * v) / cnt[c]) * (1 - cnt[c] / N[c]);
    }
  }
  return { score, ci95: 1.96 * Math.sqrt(variance), sampleSize: s, rows, labels: lab, samples: r.samples };
}

/**
 * Mean simplified silhouette from each row's distance to its own centre (`a`) and to the nearest
 * other centre (`b`); a row with a = b = 0 counts 0.
 */
export function simplifiedSilhouette(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const m = a[i] > b[i] ? a[i] : b[i];
    if (m > 0) s += (b[i] - a[i]) / m;
  }
  return s / a.length;
}

/**
 * Simplified silhouette under the Euclidean distance to the k × L `centres`, exact, O(n·k·L).
 * @param labels cluster of every row (0..k−1)
 */
export function simplifiedSilhouetteEuclidean(X: Float32Array | Float64Array, L: number, labels: ArrayLike<number>, centres: Float64Array, k: number): number {
  const n = labels.length;
  const a = new Float64Array(n);
  const b = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let own = 0;
    let other = Infinity;
    for (let c = 0; c < k; c++) {
      let d = 0;
      for (let t = 0; t < L; t++) {
        const v = X[i * L + t] - centres[c * L + t];
        d += v * v;
      }
      d = Math.sqrt(d);
      if (c === labels[i]) own = d;
      else if (d < other) other = d;
    }
    a[i] = own;
    b[i] = other;
  }
  return simplifiedSilhouette(a, b);
}
