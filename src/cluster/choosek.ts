/**
 * Choosing k: fit the model for every k of a range, leave out the k whose clustering fails the
 * eligibility rule (a cluster with less than a minimum share of the days), and keep the best
 * score among the others — by default the silhouette that fits the metric (Euclidean silhouette,
 * or the silhouette on the DTW matrix); ties go to the smallest k. As the old pipeline's `k = 0`,
 * over `DEFAULT_K_RANGE` by default.
 */
import { inputError, usageError } from '../errors.js';
import { throwIfInterrupted } from '../util/interrupt.js';
import { silhouetteEuclidean, silhouettePrecomputed } from '../validate/index.js';
import { DEFAULT_MIN_CLUSTER_SHARE, defaultScore, ineligibleBecause, isBetter, type Direction } from '../validate/metrics.js';
import type { DistanceMatrix, RowValues, Rows } from './common.js';
import { fitClustering, type ClusterFit, type ClusterSpec } from './fit.js';
import { euclideanMatrix } from './euclidean.js';
import { DEFAULT_K_RANGE } from './k-range.js';
import { sharesOf } from './registry.js';

/** The k range searched with `k = 0` (declared in `k-range.ts`). */
export { DEFAULT_K_RANGE };

/** One k tried by {@link chooseK}. */
export interface KScore {
  k: number;
  /** The criterion's value at this k. */
  value: number;
  /** Days per cluster at this k (cluster 0 the largest). */
  sizes: number[];
  /** Why this k was left out of the ranking (eligibility rule), or undefined when ranked. */
  excluded?: string;
}

/** Result of {@link chooseK}. */
export interface ChooseKResult {
  /** The chosen k. */
  k: number;
  /** The fit at the chosen k. */
  fit: ClusterFit;
  /** Every k tried, in increasing k. */
  scores: KScore[];
  /** The criterion's logged key (`Silhouette Score`, `Silhouette DTW`, or the one selected). */
  criterion: string;
  better: Direction;
}

/** Options of {@link chooseK}. */
export interface ChooseKOptions {
  /**
   * The exact Euclidean distances of the rows (`euclideanDistanceMatrix`, n × n float64): the
   * Euclidean silhouettes are read from it instead of recomputed at every k.
   */
  euclidean?: Float64Array;
  /**
   * Rank k by this score instead of the metric's silhouette: its key, direction and how to compute
   * it from a fit (the caller's validation).
   */
  select?: { key: string; better: Direction; score: (fit: ClusterFit) => number };
  /** Eligibility rule: smallest share of the days every cluster must hold (default 0.02; 0 = off). */
  minClusterShare?: number;
  /**
   * Fit each k with this instead of {@link fitClustering} (sampled mode: no matrix; `select` must
   * then say how to score a fit without `D`).
   */
  fit?: (spec: ClusterSpec) => Promise<ClusterFit>;
}

/**
 * Fit every k in [kMin, kMax] (clipped to n − 1) and keep the best eligible score. What does not
 * depend on k is done once: an agglomerative tree is built at the first k and cut at the others,
 * and Euclidean k-medoids computes its distance matrix once.
 * @param onScore called after each k (for logging the curve with step = k)
 * @throws LpclustError E_CHOOSE_K_NONE_ELIGIBLE when no k passes the eligibility rule (with the
 *   smallest share of each k, and how to relax the rule)
 */
export async function chooseK(
  rows: Rows<RowValues>,
  spec: Omit<ClusterSpec, 'k'>,
  range: readonly [number, number] = DEFAULT_K_RANGE,
  D?: DistanceMatrix,
  onScore?: (s: KScore) => void | Promise<void>,
  options: ChooseKOptions = {},
): Promise<ChooseKResult> {
  const [kMin, kMaxAsked] = range;
  const kMax = Math.min(kMaxAsked, rows.n - 1);
  if (!Number.isInteger(kMin) || kMin < 2 || kMax < kMin) {
    throw usageError('E_USAGE_K_RANGE', `Expected a k range a..b with 2 ≤ a ≤ b < rows (${rows.n}) but received ${kMin}..${kMaxAsked}`);
  }
  const useDtw = spec.metric === 'dtw';
  if (useDtw && !D && !(options.fit && options.select)) throw usageError('E_USAGE_DTW_MATRIX', 'Choosing k with --metric dtw needs the DTW matrix');
  if (options.euclidean && options.euclidean.length !== rows.n * rows.n) throw new RangeError(`Expected a ${rows.n} × ${rows.n} Euclidean matrix but received ${options.euclidean.length} cells`);
  // Float32 rows are sampled mode's, which fits through `options.fit`: the exact fits read float64.
  const exactRows = (): Rows => {
    if (!(rows.data instanceof Float64Array)) throw new RangeError('Expected float64 rows for the exact fits of choose-k but received float32');
    return rows as Rows;
  };
  const rule = { minClusterShare: options.minClusterShare ?? DEFAULT_MIN_CLUSTER_SHARE };
  const criterion = options.select?.key ?? defaultScore(useDtw).key;
  const better: Direction = options.select?.better ?? defaultScore(useDtw).better;
  const silhouette = (fit: ClusterFit): number => {
    if (fit.k < 2) return -1;
    if (useDtw) return silhouettePrecomputed(D!.data, rows.n, fit.labels, fit.k).score;
    return options.euclidean ? silhouettePrecomputed(options.euclidean, rows.n, fit.labels, fit.k).score : silhouetteEuclidean(exactRows().data, rows.dim, fit.labels, fit.k).score;
  };
  const score = options.select?.score ?? silhouette;
  const scores: KScore[] = [];
  let best: { k: number; fit: ClusterFit; value: number } | null = null;
  // What the model shares across fits of these rows is computed once (registry.ts: `shares`).
  const shares = sharesOf(spec);
  const precomputedEuclidean = !options.fit && shares === 'euclidean-matrix' && kMax > kMin ? euclideanMatrix(exactRows()) : undefined;
  let tree: Float64Array | undefined;
  for (let k = kMin; k <= kMax; k++) {
    throwIfInterrupted();
    const fit = options.fit ? await options.fit({ ...spec, k }) : fitClustering(exactRows(), { ...spec, k, ...(tree ? { precomputedLinkage: tree } : {}), ...(precomputedEuclidean ? { precomputedEuclidean } : {}) }, D);
    if (shares === 'linkage-tree') tree ??= fit.linkageMatrix;
    const value = score(fit);
    const sizes = Array.from(fit.sizes);
    const why = ineligibleBecause(sizes, rule);
    const s: KScore = { k, value, sizes, ...(why ? { excluded: why } : {}) };
    scores.push(s);
    if (onScore) await onScore(s);
    if (!why && (!best || isBetter(value, best.value, better))) best = { k, fit, value };
  }
  if (!best) {
    // The k closest to passing: the one whose smallest cluster is the largest.
    const total = scores[0].sizes.reduce((a, b) => a + b, 0);
    const closest = scores.reduce((a, b) => (Math.min(...b.sizes) > Math.min(...a.sizes) ? b : a));
    const smallest = Math.min(...closest.sizes);
    throw inputError('E_CHOOSE_K_NONE_ELIGIBLE', `no k in ${kMin}..${kMax} gives clusters that each hold at least ${(100 * rule.minClusterShare).toFixed(1)} % of the days: the closest, k = ${closest.k}, has a cluster of ${smallest} of ${total} days (${((100 * smallest) / total).toFixed(1)} %)`, {
      hint: 'lower --min-cluster-share (0 turns the rule off), narrow --k-range to smaller k, or give a fixed -k',
    });
  }
  return { k: best.k, fit: best.fit, scores, criterion, better };
}
