/**
 * Validation metrics of a clustering, by the names the old pipeline logged them under. Used by
 * `lpclust validate` and by `lpclust cluster` (the same code), and callable as a library.
 */
import { inputError } from '../errors.js';
import { daviesBouldin, calinskiHarabasz, inertia } from './indices.js';
import { indexClusters, clusterMeans, requireFinite } from './labels.js';
import { distinctiveness, peakScores, PROMINENCE_THRESHOLD, type PeakScores } from './peaks.js';
import { silhouetteEuclidean, silhouettePrecomputed, type SilhouetteResult } from './silhouette.js';
import { silhouetteOnSample, simplifiedSilhouetteEuclidean } from './sampled.js';
import { SCORE_KEYS as K, SCORES, type ScoreDef, type ScoreInput } from './metrics.js';

export { silhouetteEuclidean, silhouettePrecomputed, euclideanDistanceMatrix, type SilhouetteResult } from './silhouette.js';
export { daviesBouldin, calinskiHarabasz, inertia } from './indices.js';
export {
  findPeaks,
  prominence as peakProminence,
  peakVector,
  widenPeaks,
  peakScores,
  distinctiveness,
  PROMINENCE_THRESHOLD,
  type Peaks,
  type PeakScores,
} from './peaks.js';
export { adjustedRandIndex } from './ari.js';
export { silhouetteOnSample, stratifiedSample, simplifiedSilhouette, simplifiedSilhouetteEuclidean, DEFAULT_SILHOUETTE_SAMPLE, type SampledSilhouette } from './sampled.js';
export {
  SCORES,
  SCORE_KEYS,
  HEADLINE_SCORES,
  defaultScore,
  directionOf,
  OLD_PIPELINE_METRICS,
  DEFAULT_MIN_CLUSTER_SHARE,
  scoreDef,
  parseSelect,
  parseMinClusterShare,
  isBetter,
  ineligibleBecause,
  clusterSizeMetrics,
  chooseKCurveKey,
  chooseKScoreKey,
  keySlug,
  type ScoreDef,
  type ScoreInput,
  type Direction,
  type Eligibility,
} from './metrics.js';

/** Input of {@link computeValidation}. */
export interface ValidationInput {
  /** n × L profiles, row-major, already normalised as the model saw them. */
  X: Float32Array | Float64Array;
  /** Slots per profile. */
  L: number;
  /** Cluster of each profile, integers in 0..k-1; length n. */
  labels: Int32Array | ArrayLike<number>;
  /** Number of clusters (ids 0..k-1; empty ones are ignored by the indices). */
  k: number;
  /**
   * k × L centres the model reports (peak scores, distinctiveness and inertia use them);
   * default: per-cluster means of X (the old pipeline's nearest-centroid centres).
   */
  centres?: Float64Array;
  /** The DTW matrix of the same rows (n × n): adds `Silhouette DTW`. */
  dtw?: { matrix: Float32Array | Float64Array };
  /**
   * The exact Euclidean distance matrix of these same rows ({@link euclideanDistanceMatrix}, n × n
   * float64): `Silhouette Score` is then read from it instead of recomputing every distance (a
   * sweep scores many labellings of one dataset). Same value to about 1e-16.
   */
  euclidean?: { matrix: Float64Array };
  /**
   * The Euclidean silhouette of these labels, already computed (on worker threads: see
   * `silhouetteOnThreads`); used as it is for `Silhouette Score` and the per-sample values.
   */
  silhouette?: SilhouetteResult;
  /** Prominence threshold of prominent peaks; default 0.2. */
  minProminence?: number;
  /**
   * Large n (`--scale sampled`): the silhouettes are estimated on a seeded stratified sample of about
   * `size` rows (validate/sampled.ts) and logged with `…_sample_size` and `…_ci95`; `dtwRadius` adds
   * `Silhouette DTW` on the same sample (no DTW matrix needed); the exact simplified silhouette is
   * added as `Simplified Silhouette`. `dtw`, `euclidean` and `silhouette` must then be absent.
   */
  sampled?: { size: number; seed: number; dtwRadius?: number };
  /** The metric registry whose self-computing scores are added (default `SCORES`; tests give their own). */
  scores?: readonly ScoreDef[];
}

/** The scalar metrics, by their logged names. `Silhouette DTW` only with a DTW matrix. */
export interface ValidationMetrics extends PeakScores {
  [K.dbIndex]: number;
  [K.silhouette]: number;
  [K.silhouetteDtw]?: number;
  /** Sampled mode: rows the silhouette was estimated on, and the half-width of its 95 % interval. */
  [SIL_SAMPLE_SIZE]?: number;
  [SIL_CI95]?: number;
  [SIL_DTW_SAMPLE_SIZE]?: number;
  [SIL_DTW_CI95]?: number;
  /** Sampled mode: exact simplified (centre-based) silhouette, Euclidean. */
  [K.simplifiedSilhouette]?: number;
  [K.calinskiHarabasz]: number;
  [K.inertia]: number;
  [K.distinctiveness]: number;
  /** Registered scores with their own `compute` (validate/metrics.ts), by their keys. */
  [key: string]: number | undefined;
}

/** Keys of a sampled silhouette's sample size and 95 % half-width: `<score>_sample_size`, `<score>_ci95`. */
const SIL_SAMPLE_SIZE = `${K.silhouette}_sample_size` as const;
const SIL_CI95 = `${K.silhouette}_ci95` as const;
const SIL_DTW_SAMPLE_SIZE = `${K.silhouetteDtw}_sample_size` as const;
const SIL_DTW_CI95 = `${K.silhouetteDtw}_ci95` as const;

/**
 * Adds every registered score that computes itself (`compute` in validate/metrics.ts) to
 * `metrics`, after the built-in ones (whose order the `validation/metrics.json` artifact keeps).
 */
function registeredScores(metrics: ValidationMetrics, v: ScoreInput, scores: readonly ScoreDef[]): void {
  for (const s of scores) if (s.compute) metrics[s.key] = s.compute(v);
}

/** Everything {@link computeValidation} returns. */
export interface ValidationResult {
  /** Scalar metrics by logged name (log them as they are). */
  metrics: ValidationMetrics;
  /** Size of every cluster id 0..k-1; length k (logged as `cluster_size/<c>`: see `clusterSizeMetrics`). */
  clusterSizes: number[];
  /** Per-profile Euclidean silhouette (for the silhouette plot); length n. */
  silhouetteSamples: Float64Array;
  /** Per-profile DTW silhouette, with a DTW matrix; length n. */
  silhouetteDtwSamples?: Float64Array;
  /**
   * Sampled mode: the rows the silhouettes were computed for (ascending) and their labels; the
   * `silhouette…Samples` arrays are then aligned with these rows, not with all n.
   */
  silhouetteSample?: { rows: Int32Array; labels: Int32Array; n: number };
}

/**
 * Compute every validation metric of a labelling.
 * Silhouette, Davies–Bouldin and Calinski–Harabasz equal scikit-learn's (they use the rows and the
 * per-cluster means, never the model's centres); inertia, peak scores and distinctiveness use the
 * centres the model reports (per-cluster means when it reports none). Inertia is Euclidean
 * (Σ‖x − centre‖²), also for DTW models.
 * @throws LpclustError for mismatched shapes, labels outside 0..k-1, NaN values, fewer than 2 or
 *   more than n − 1 non-empty clusters, or a DTW matrix of the wrong size
 */
export function computeValidation(input: ValidationInput): ValidationResult {
  const { X, L, k } = input;
  const labels = input.labels;
  const n = X.length / L;
  if (!Number.isInteger(L) || L <= 0 || !Number.isInteger(n)) {
    throw inputError('E_VALIDATE_SHAPE', `Expected ${L} values per row but ${X.length} values are not a whole number of rows`);
  }
  if (labels.length !== n) throw inputError('E_VALIDATE_SHAPE', `Expected ${n} labels (one per profile) but received ${labels.length}`);
  requireFinite(X, L);
  const idx = indexClusters(labels, k);
  let centres = input.centres;
  if (centres !== undefined && centres.length !== k * L) {
    throw inputError('E_VALIDATE_SHAPE', `Expected ${k} × ${L} centres (${k * L} values) but received ${centres.length}`);
  }
  if (centres === undefined) {
    // Means of the non-empty clusters, placed at their cluster ids (empty clusters stay 0 and
    // are left out of distinctiveness below).
    const means = clusterMeans(X, L, idx);
    centres = new Float64Array(k * L);
    for (let c = 0; c < idx.present.length; c++) centres.set(means.subarray(c * L, c * L + L), idx.present[c] * L);
  }
  const nonEmpty = new Float64Array(idx.present.length * L);
  for (let c = 0; c < idx.present.length; c++) nonEmpty.set(centres.subarray(idx.present[c] * L, idx.present[c] * L + L), c * L);
  const minProminence = input.minProminence ?? PROMINENCE_THRESHOLD;

  if (input.euclidean !== undefined && input.euclidean.matrix.length !== n * n) {
    throw inputError('E_VALIDATE_SHAPE', `Expected a ${n} × ${n} Euclidean distance matrix for ${n} profiles but it has ${input.euclidean.matrix.length} values`);
  }
  if (input.silhouette !== undefined && input.silhouette.samples.length !== n) {
    throw inputError('E_VALIDATE_SHAPE', `Expected a silhouette of ${n} samples but received ${input.silhouette.samples.length}`);
  }
  if (input.sampled) return sampledValidation(input, labels, centres, nonEmpty, minProminence, idx.sizes);
  // Float32 profiles exist only in sampled mode (cluster/scale.ts); the exact silhouette reads float64.
  if (!(X instanceof Float64Array) && !input.silhouette && input.euclidean === undefined) throw new RangeError('Expected float64 profiles for the exact validation (float32 ones are validated in sampled mode)');
  const sil = input.silhouette ?? (input.euclidean !== undefined ? silhouettePrecomputed(input.euclidean.matrix, n, labels, k) : silhouetteEuclidean(X as Float64Array, L, labels, k));
  let silDtw: Float64Array | undefined;
  const metrics: ValidationMetrics = {
    [K.dbIndex]: daviesBouldin(X, L, labels, k),
    [K.silhouette]: sil.score,
    [K.calinskiHarabasz]: calinskiHarabasz(X, L, labels, k),
    [K.inertia]: inertia(X, L, labels, centres),
    ...peakScores(X, L, labels, centres, minProminence),
    [K.distinctiveness]: distinctiveness(nonEmpty, L, minProminence),
  };
  registeredScores(metrics, { X, L, labels, k, centres }, input.scores ?? SCORES);
  if (input.dtw !== undefined) {
    const D = input.dtw.matrix;
    if (D.length !== n * n) {
      throw inputError('E_VALIDATE_SHAPE', `Expected a ${n} × ${n} DTW matrix for ${n} profiles but it has ${D.length} values`);
    }
    const r = silhouettePrecomputed(D, n, labels, k);
    metrics[K.silhouetteDtw] = r.score;
    silDtw = r.samples;
  }
  return {
    metrics,
    clusterSizes: Array.from(idx.sizes),
    silhouetteSamples: sil.samples,
    ...(silDtw !== undefined ? { silhouetteDtwSamples: silDtw } : {}),
  };
}

/** {@link computeValidation} at large n: silhouettes on a stratified sample, everything else exact. */
function sampledValidation(input: ValidationInput, labels: ArrayLike<number>, centres: Float64Array, nonEmpty: Float64Array, minProminence: number, sizes: ArrayLike<number>): ValidationResult {
  const { X, L, k } = input;
  const o = input.sampled!;
  if (input.dtw || input.euclidean || input.silhouette) throw new RangeError('Expected no matrix and no precomputed silhouette with `sampled`');
  const sil = silhouetteOnSample(X, L, labels, k, o.size, o.seed, 0);
  const metrics: ValidationMetrics = {
    [K.dbIndex]: daviesBouldin(X, L, labels, k),
    [K.silhouette]: sil.score,
    [SIL_SAMPLE_SIZE]: sil.sampleSize,
    [SIL_CI95]: sil.ci95,
    [K.simplifiedSilhouette]: simplifiedSilhouetteEuclidean(X, L, labels, centres, k),
    [K.calinskiHarabasz]: calinskiHarabasz(X, L, labels, k),
    [K.inertia]: inertia(X, L, labels, centres),
    ...peakScores(X, L, labels, centres, minProminence),
    [K.distinctiveness]: distinctiveness(nonEmpty, L, minProminence),
  };
  registeredScores(metrics, { X, L, labels, k, centres }, input.scores ?? SCORES);
  let silDtw: Float64Array | undefined;
  if (o.dtwRadius !== undefined) {
    const r = silhouetteOnSample(X, L, labels, k, o.size, o.seed, o.dtwRadius);
    metrics[K.silhouetteDtw] = r.score;
    metrics[SIL_DTW_SAMPLE_SIZE] = r.sampleSize;
    metrics[SIL_DTW_CI95] = r.ci95;
    silDtw = r.samples;
  }
  return {
    metrics,
    clusterSizes: Array.from(sizes),
    silhouetteSamples: sil.samples,
    ...(silDtw !== undefined ? { silhouetteDtwSamples: silDtw } : {}),
    silhouetteSample: { rows: sil.rows, labels: sil.labels, n: labels.length },
  };
}
