/**
 * Choosing k: fit the model for every k of a range and keep the k with the highest silhouette
 * that fits the metric (Euclidean silhouette, or the silhouette on the DTW matrix); ties go to
 * the smallest k. As the old pipeline's `k = 0`, over 3..29 by default.
 */
import { usageError } from '../errors.js';
import { throwIfInterrupted } from '../util/interrupt.js';
import { silhouetteEuclidean, silhouettePrecomputed } from '../validate/index.js';
import type { DistanceMatrix, Rows } from './common.js';
import { fitClustering, type ClusterFit, type ClusterSpec } from './fit.js';
import { euclideanMatrix } from './kmedoids.js';

/** Default k range of `-k 0` (the old pipeline's). */
export const DEFAULT_K_RANGE: readonly [number, number] = [3, 29];

/** Result of {@link chooseK}. */
export interface ChooseKResult {
  /** The chosen k. */
  k: number;
  /** The fit at the chosen k. */
  fit: ClusterFit;
  /** Silhouette of every k tried, in increasing k. */
  scores: Array<{ k: number; silhouette: number }>;
  /** `Silhouette Score` (Euclidean) or `Silhouette DTW`. */
  criterion: string;
}

/**
 * Fit every k in [kMin, kMax] (clipped to n − 1) and keep the best silhouette. What does not depend
 * on k is done once: an agglomerative tree is built at the first k and cut at the others, and
 * Euclidean k-medoids computes its distance matrix once.
 * @param onScore called after each k (for logging a metric with step = k)
 * @param options.euclidean the exact Euclidean distances of the rows (`euclideanDistanceMatrix`,
 *   n × n float64): the Euclidean silhouettes are read from it instead of recomputed at every k
 */
export async function chooseK(
  rows: Rows,
  spec: Omit<ClusterSpec, 'k'>,
  range: readonly [number, number] = DEFAULT_K_RANGE,
  D?: DistanceMatrix,
  onScore?: (k: number, silhouette: number) => void | Promise<void>,
  options: { euclidean?: Float64Array } = {},
): Promise<ChooseKResult> {
  const [kMin, kMaxAsked] = range;
  const kMax = Math.min(kMaxAsked, rows.n - 1);
  if (!Number.isInteger(kMin) || kMin < 2 || kMax < kMin) {
    throw usageError('E_USAGE_K_RANGE', `Expected a k range a..b with 2 ≤ a ≤ b < rows (${rows.n}) but received ${kMin}..${kMaxAsked}`);
  }
  const useDtw = spec.metric === 'dtw';
  if (useDtw && !D) throw usageError('E_USAGE_DTW_MATRIX', 'Choosing k with --metric dtw needs the DTW matrix');
  const scores: Array<{ k: number; silhouette: number }> = [];
  let best: { k: number; fit: ClusterFit; s: number } | null = null;
  if (options.euclidean && options.euclidean.length !== rows.n * rows.n) throw new RangeError(`Expected a ${rows.n} × ${rows.n} Euclidean matrix but received ${options.euclidean.length} cells`);
  const precomputedEuclidean = spec.model === 'kmedoids' && spec.metric === 'euclidean' && kMax > kMin ? euclideanMatrix(rows) : undefined;
  let tree: Float64Array | undefined;
  for (let k = kMin; k <= kMax; k++) {
    throwIfInterrupted();
    const fit = fitClustering(rows, { ...spec, k, ...(tree ? { precomputedLinkage: tree } : {}), ...(precomputedEuclidean ? { precomputedEuclidean } : {}) }, D);
    if (spec.model === 'agglomerative') tree ??= fit.linkageMatrix;
    let s: number;
    if (fit.k < 2) s = -1;
    else if (useDtw) s = silhouettePrecomputed(D!.data, rows.n, fit.labels, fit.k).score;
    else s = options.euclidean ? silhouettePrecomputed(options.euclidean, rows.n, fit.labels, fit.k).score : silhouetteEuclidean(rows.data, rows.dim, fit.labels, fit.k).score;
    scores.push({ k, silhouette: s });
    if (onScore) await onScore(k, s);
    if (!best || s > best.s) best = { k, fit, s };
  }
  return { k: best!.k, fit: best!.fit, scores, criterion: useDtw ? 'Silhouette DTW' : 'Silhouette Score' };
}
