/**
 * The computing part of one clustering configuration — the fit and its validation metrics — apart
 * from reading files and logging, so that it can run in the calling thread or on a worker thread of
 * a {@link ClusterPool} (the sweep runs many configurations of one dataset at once).
 */
import os from 'node:os';
import { fitClustering, type ClusterFit, type ClusterSpec } from '../cluster/fit.js';
import { sharesOf } from '../cluster/registry.js';
import type { DistanceMatrix } from '../cluster/common.js';
import { computeValidation, type SilhouetteResult, type ValidationResult } from '../validate/index.js';

/** One dataset as the models see it; on a pool, every array lives on a SharedArrayBuffer. */
export interface ClusterData {
  /** n × L normalised profiles, row-major. */
  X: Float64Array;
  n: number;
  L: number;
  /** The DTW matrix (n × n) of these rows: DTW models and `Silhouette DTW`. */
  dtw?: DistanceMatrix;
  /** The exact Euclidean distances (n × n float64, `euclideanDistanceMatrix`): `Silhouette Score` read, not recomputed. */
  euclidean?: Float64Array;
  /** The matrix Euclidean k-medoids fits on (`euclideanMatrix` of the rows), computed once. */
  kmedoidsEuclidean?: DistanceMatrix;
}

/** What one configuration computes. */
export interface ClusterWorkResult {
  fit: ClusterFit;
  validation: ValidationResult;
  /** Seconds of the fit alone (not the validation, not any waiting). */
  seconds: number;
}

/** Fit `spec` on `data`; `seconds` is the fit alone. */
export function fitWork(data: ClusterData, spec: ClusterSpec): { fit: ClusterFit; seconds: number } {
  const rows = { data: data.X, n: data.n, dim: data.L };
  const kmedoidsMatrix = sharesOf(spec) === 'euclidean-matrix' ? data.kmedoidsEuclidean : undefined;
  const t0 = performance.now();
  const fit = fitClustering(rows, { ...spec, ...(kmedoidsMatrix ? { precomputedEuclidean: kmedoidsMatrix } : {}) }, data.dtw);
  return { fit, seconds: (performance.now() - t0) / 1000 };
}

/**
 * The validation metrics of a fit against the centres the model reports (the same numbers as
 * `lpclust validate`).
 * @param silhouette the Euclidean silhouette of `fit.labels` when already computed (on worker threads)
 */
export function validateWork(data: ClusterData, fit: ClusterFit, silhouette?: SilhouetteResult): ValidationResult {
  return computeValidation({
    X: data.X,
    L: data.L,
    labels: fit.labels,
    k: fit.k,
    centres: fit.centres,
    ...(data.dtw ? { dtw: { matrix: data.dtw.data } } : {}),
    ...(data.euclidean ? { euclidean: { matrix: data.euclidean } } : {}),
    ...(silhouette ? { silhouette } : {}),
  });
}

/** Fit `spec` on `data` and validate the fit: {@link fitWork} then {@link validateWork}. */
export function runClusterWork(data: ClusterData, spec: ClusterSpec): ClusterWorkResult {
  const { fit, seconds } = fitWork(data, spec);
  return { fit, seconds, validation: validateWork(data, fit) };
}

/**
 * Whether `bytes` more of memory are affordable for a matrix kept to save work: at most half of
 * what the system has available now. Callers fall back to recomputing (slower, O(n) memory).
 */
export function affordable(bytes: number): boolean {
  return bytes <= os.freemem() / 2;
}
