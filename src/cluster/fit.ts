/**
 * One entry point over every model: fit `model × metric` at k and return labels numbered 0.. by
 * decreasing cluster size, the centres the model reports (per-cluster means for models without
 * natural centres), the medoid profile of each cluster for DTW models, and model-specific numbers.
 * What each model does is its registry entry's (registry.ts); this file only puts the result in
 * the common form.
 */
import { assignEuclidean, checkFitInput, clusterMeans, clusterMedoids, clusterSizes, orderBySize, permuteRows, type DistanceMatrix, type Rows } from './common.js';
import { BandedDtw, assignDtw } from './dba.js';
import { runVariantFit, type ClusterFit, type ClusterSpec, type MetricName } from './registry.js';
import { DEFAULT_RADIUS } from '../dtw/settings.js';

// The model vocabulary lives in the registry; re-exported here for the callers that import it from fit.ts.
export { MODELS, METRICS, INITS, fitDbaOnPool } from './registry.js';
export type { ModelName, MetricName, InitName, ClusterSpec, ClusterFit } from './registry.js';

/**
 * Fit a model. `D` (n × n) is required for the variants that need the DTW matrix (k-medoids and
 * agglomerative with `metric: 'dtw'`) and used for the medoid profiles of every DTW model; it is
 * never recomputed here.
 * @throws LpclustError E_USAGE_METRIC for a metric the model does not have (the registry's refusal)
 */
export function fitClustering(rows: Rows, spec: ClusterSpec, D?: DistanceMatrix): ClusterFit {
  const { model, metric, k } = spec;
  checkFitInput(rows, rows.n, k);
  const params: Record<string, string | number> = { model, metric, k, seed: spec.seed ?? 0 };
  const stats: Record<string, number> = {};
  const out = runVariantFit(rows, spec, D, params, stats);
  const kFound = out.k ?? k;
  const ordered = orderBySize(out.labels, kFound);
  const centresAreMeans = out.centres === null;
  const finalCentres = out.centres === null ? clusterMeans(rows, ordered.labels, kFound).centres : permuteRows(out.centres, rows.dim, ordered.order);
  const fit: ClusterFit = {
    labels: ordered.labels,
    k: kFound,
    sizes: clusterSizes(ordered.labels, kFound),
    centres: finalCentres,
    centresAreMeans,
    stats,
    params,
  };
  if (out.linkageMatrix) fit.linkageMatrix = out.linkageMatrix;
  if (metric === 'dtw' && D) fit.medoidRows = clusterMedoids(D, ordered.labels, kFound);
  return fit;
}

/**
 * Assign rows to the nearest centre of a fit under the model's metric: squared Euclidean, or
 * banded DTW (radius as fitted, default 1). For k-means, DTW k-means, k-medoids and SOM this
 * reproduces the fitted labels on the training rows (k-medoids with DTW: when the matrix holds
 * float64 distances of the same kernel); for agglomerative models it is the nearest-centroid rule
 * of the old pipeline (per-cluster means) and can differ from the cut (the registry's `predict`).
 */
export function predictClusters(fit: ClusterFit, rows: Rows): Int32Array {
  const metric = fit.params.metric as MetricName;
  if (metric === 'euclidean') return assignEuclidean(rows, fit.centres, fit.k).labels;
  const radius = typeof fit.params.radius === 'number' ? fit.params.radius : DEFAULT_RADIUS;
  return assignDtw(rows, fit.centres, fit.k, new BandedDtw(rows.dim, radius)).labels;
}
