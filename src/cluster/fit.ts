/**
 * One entry point over every model: fit `model × metric` at k and return labels numbered 0.. by
 * decreasing cluster size, the centres the model reports (per-cluster means for models without
 * natural centres), the medoid profile of each cluster for DTW models, and model-specific numbers.
 */
import { usageError } from '../errors.js';
import { Random } from '../util/random.js';
import { Agglomerative, type Linkage } from './agglomerative.js';
import {
  assignEuclidean,
  checkFitInput,
  clusterMeans,
  clusterMedoids,
  clusterSizes,
  orderBySize,
  permuteRows,
  type DistanceMatrix,
  type Rows,
} from './common.js';
import { BandedDtw, DbaKMeans, assignDtw } from './dba.js';
import type { Assigner } from '../dtw/assigner.js';
import { DEFAULT_RADIUS } from '../dtw/settings.js';
import { KMeans, type KMeansInit } from './kmeans.js';
import { KMedoids, euclideanMatrix, type KMedoidsInit, type KMedoidsMethod } from './kmedoids.js';
import { Som } from './som.js';

/** Models of `lpclust cluster`. */
export type ModelName = 'kmeans' | 'kmedoids' | 'agglomerative' | 'som';
/** All models, for option parsing. */
export const MODELS: readonly ModelName[] = ['kmeans', 'kmedoids', 'agglomerative', 'som'];
/** Distance of a model. */
export type MetricName = 'euclidean' | 'dtw';
/** All metrics, for option parsing. */
export const METRICS: readonly MetricName[] = ['euclidean', 'dtw'];
/** Initialisations accepted by `--init` (k-means: random, k-means++; k-medoids: random, k-means++ = k-medoids++, build). */
export type InitName = 'random' | 'k-means++' | 'build';
/** All inits, for option parsing. */
export const INITS: readonly InitName[] = ['random', 'k-means++', 'build'];

/** Hyper-parameters of {@link fitClustering}. */
export interface ClusterSpec {
  model: ModelName;
  metric: MetricName;
  /** Number of clusters, 2 ≤ k ≤ n. */
  k: number;
  /** Agglomerative linkage; default ward (Euclidean) or average (DTW). */
  linkage?: Linkage;
  /** Initialisation; default random (the old pipeline's). */
  init?: InitName;
  /** Restarts: k-means and DBA default 10; k-medoids default 1. */
  nInit?: number;
  /** Iteration cap: k-means 300, DBA 5, k-medoids 300, SOM epochs 10. */
  maxIter?: number;
  /** k-medoids swap method; default fasterpam. */
  kmedoidsMethod?: KMedoidsMethod;
  /** Sakoe–Chiba radius of DTW k-means; default 1. */
  radius?: number;
  /** Seed; default 0. */
  seed?: number;
  /**
   * Agglomerative only: a linkage matrix computed earlier on these same rows with the same metric
   * and linkage (a previous fit's `linkageMatrix`); it is cut at k instead of rebuilding the tree.
   */
  precomputedLinkage?: Float64Array;
  /**
   * k-medoids with `metric: 'euclidean'` only: the matrix {@link euclideanMatrix} returns for these
   * same rows, computed once by the caller (a sweep fits many k on one dataset) instead of at every fit.
   */
  precomputedEuclidean?: DistanceMatrix;
}

/** What {@link fitClustering} returns (cluster ids already ordered by decreasing size). */
export interface ClusterFit {
  /** Cluster of every row, 0..k−1, 0 = largest. */
  labels: Int32Array;
  /** Number of clusters found (k, or fewer for an agglomerative cut at tied heights, as SciPy). */
  k: number;
  /** Cluster sizes, decreasing. */
  sizes: Int32Array;
  /** Centres, k × dim: the model's own (k-means, DBA, k-medoids medoids, SOM weights) or per-cluster means. */
  centres: Float64Array;
  /** True when `centres` are per-cluster means (the model has no natural centres). */
  centresAreMeans: boolean;
  /** For DTW models: row index of each cluster's medoid under the DTW matrix. */
  medoidRows?: Int32Array;
  /** Linkage matrix of agglomerative models (SciPy format, (n−1) × 4). */
  linkageMatrix?: Float64Array;
  /** Model numbers by their logged keys (`fit/inertia`, `fit/total_deviation`, `fit/iterations`, `fit/empty_clusters_reseeded`...; see validate/metrics.ts). */
  stats: Record<string, number>;
  /** Hyper-parameters actually used (defaults filled in), for params and the model artifact. */
  params: Record<string, string | number>;
}

/**
 * Fit a model. `D` (n × n) is required for `metric: 'dtw'` with k-medoids and agglomerative and
 * used for the medoid profiles of every DTW model; it is never recomputed here.
 */
export function fitClustering(rows: Rows, spec: ClusterSpec, D?: DistanceMatrix): ClusterFit {
  const { model, metric, k } = spec;
  checkFitInput(rows, rows.n, k);
  const seed = spec.seed ?? 0;
  const rng = new Random(seed);
  const init = spec.init ?? 'random';
  const params: Record<string, string | number> = { model, metric, k, seed };
  const stats: Record<string, number> = {};
  let labels: Int32Array;
  let centres: Float64Array | null = null;
  let linkageMatrix: Float64Array | undefined;
  let kFound = k;
  if (metric === 'dtw' && model !== 'kmeans' && !D) {
    throw usageError('E_USAGE_DTW_MATRIX', `The ${model} model with --metric dtw needs the DTW matrix`);
  }
  if (model === 'kmeans' && metric === 'euclidean') {
    if (init === 'build') throw usageError('E_USAGE_INIT', 'Expected `--init` random or k-means++ for kmeans but received `build`');
    const m = new KMeans({ k, init: init as KMeansInit, nInit: spec.nInit ?? 10, maxIter: spec.maxIter ?? 300, seed }).fit(rows, rng);
    const s = m.state!;
    labels = s.labels;
    centres = s.centres;
    Object.assign(params, { init, n_init: m.nInit, max_iter: m.maxIter, tol: m.tol, algorithm: 'lloyd-hamerly' });
    Object.assign(stats, { 'fit/inertia': s.inertia, 'fit/iterations': s.nIter, 'fit/empty_clusters_reseeded': s.emptyReseeds });
  } else if (model === 'kmeans') {
    const m = dbaModel(spec).fit(rows, rng);
    ({ labels, centres } = dbaResult(m, params, stats));
  } else if (model === 'kmedoids') {
    const kinit: KMedoidsInit = init === 'k-means++' ? 'k-medoids++' : init;
    if (spec.precomputedEuclidean && spec.precomputedEuclidean.n !== rows.n) throw new RangeError(`Expected a precomputed ${rows.n} × ${rows.n} Euclidean matrix but received ${spec.precomputedEuclidean.n} × ${spec.precomputedEuclidean.n}`);
    const matrix = metric === 'dtw' ? D! : (spec.precomputedEuclidean ?? euclideanMatrix(rows));
    const m = new KMedoids({ k, init: kinit, method: spec.kmedoidsMethod ?? 'fasterpam', maxIter: spec.maxIter ?? 300, nInit: spec.nInit ?? 1, seed }).fit(matrix, rng);
    const s = m.state!;
    labels = s.labels;
    centres = new Float64Array(k * rows.dim);
    for (let c = 0; c < k; c++) centres.set(rows.data.subarray(s.medoids[c] * rows.dim, (s.medoids[c] + 1) * rows.dim), c * rows.dim);
    if (metric === 'dtw') params.radius = spec.radius ?? DEFAULT_RADIUS;
    Object.assign(params, { init: kinit, method: m.method, n_init: m.init === 'build' ? 1 : m.nInit, max_iter: m.maxIter });
    Object.assign(stats, { 'fit/total_deviation': s.totalDeviation, 'fit/iterations': s.nIter, 'fit/swaps': s.swaps, 'fit/empty_clusters_reseeded': s.emptyReseeds });
  } else if (model === 'agglomerative') {
    const lk: Linkage = spec.linkage ?? (metric === 'dtw' ? 'average' : 'ward');
    if (metric === 'dtw' && lk === 'ward') {
      throw usageError('E_USAGE_LINKAGE', 'Expected `--linkage` average, complete or single with --metric dtw but received `ward` (Ward needs Euclidean geometry)');
    }
    const m = new Agglomerative({ k, linkage: lk });
    if (spec.precomputedLinkage) m.fitLinkage(spec.precomputedLinkage, rows.n);
    else if (metric === 'dtw') m.fitMatrix(D!);
    else m.fitRows(rows);
    const s = m.state!;
    labels = s.labels;
    kFound = s.nClusters;
    linkageMatrix = s.Z;
    params.linkage = lk;
  } else {
    if (metric === 'dtw') throw usageError('E_USAGE_METRIC', 'Expected `--metric euclidean` for the som model but received `dtw`');
    const m = new Som({ k, epochs: spec.maxIter ?? 10, seed }).fit(rows, rng);
    const s = m.state!;
    labels = s.labels;
    centres = s.weights;
    Object.assign(params, { epochs: m.epochs, learning_rate: m.learningRate, sigma: m.sigma, topology: `${k}x1` });
    Object.assign(stats, { 'fit/quantization_error': s.quantizationError2, 'fit/empty_clusters_reseeded': s.emptyReseeds });
  }
  const ordered = orderBySize(labels, kFound);
  const centresAreMeans = centres === null;
  const finalCentres = centres === null ? clusterMeans(rows, ordered.labels, kFound).centres : permuteRows(centres, rows.dim, ordered.order);
  const fit: ClusterFit = {
    labels: ordered.labels,
    k: kFound,
    sizes: clusterSizes(ordered.labels, kFound),
    centres: finalCentres,
    centresAreMeans,
    stats,
    params,
  };
  if (linkageMatrix) fit.linkageMatrix = linkageMatrix;
  if (metric === 'dtw' && D) fit.medoidRows = clusterMedoids(D, ordered.labels, kFound);
  return fit;
}

/** The DTW k-means (DBA) estimator of a spec (tslearn semantics: random initial centres only). */
function dbaModel(spec: ClusterSpec): DbaKMeans {
  const init = spec.init ?? 'random';
  if (init !== 'random') throw usageError('E_USAGE_INIT', `Expected \`--init random\` for DTW k-means (tslearn semantics) but received \`${init}\``);
  return new DbaKMeans({ k: spec.k, nInit: spec.nInit ?? 10, maxIter: spec.maxIter ?? 5, radius: spec.radius ?? DEFAULT_RADIUS, seed: spec.seed ?? 0 });
}

/** Labels and centres of a fitted DBA model; its params and stats added to `params` / `stats`. */
function dbaResult(m: DbaKMeans, params: Record<string, string | number>, stats: Record<string, number>): { labels: Int32Array; centres: Float64Array } {
  const s = m.state!;
  Object.assign(params, { init: 'random', n_init: m.nInit, max_iter: m.maxIter, max_iter_barycenter: m.maxIterBarycenter, radius: m.radius, algorithm: 'dba' });
  Object.assign(stats, { 'fit/dtw_inertia': s.inertia, 'fit/iterations': s.nIter, 'fit/empty_clusters_reseeded': s.emptyReseeds });
  return { labels: s.labels, centres: s.centres };
}

/**
 * DTW k-means (DBA) with its assignments on `pool` (this machine's threads or the job queue's
 * workers, over these rows) and its barycentre sums on this machine (DbaKMeans.fitPool): the same
 * fit as {@link fitClustering} gives for the spec, without any n × n matrix, whatever the number of
 * threads or workers.
 */
export async function fitDbaOnPool(rows: Rows, spec: ClusterSpec, pool: Assigner): Promise<ClusterFit> {
  checkFitInput(rows, rows.n, spec.k);
  const params: Record<string, string | number> = { model: 'kmeans', metric: 'dtw', k: spec.k, seed: spec.seed ?? 0 };
  const stats: Record<string, number> = {};
  const m = await dbaModel(spec).fitPool(rows, pool, new Random(spec.seed ?? 0));
  const { labels, centres } = dbaResult(m, params, stats);
  // What the lower bounds saved (sampled mode only: exact-mode runs log what they always logged).
  stats['fit/exact_distance_share'] = m.state!.exactPairs / m.state!.candidatePairs;
  const ordered = orderBySize(labels, spec.k);
  return { labels: ordered.labels, k: spec.k, sizes: clusterSizes(ordered.labels, spec.k), centres: permuteRows(centres, rows.dim, ordered.order), centresAreMeans: false, stats, params };
}

/**
 * Assign rows to the nearest centre of a fit under the model's metric: squared Euclidean, or
 * banded DTW (radius as fitted, default 1). For k-means, DTW k-means, k-medoids and SOM this
 * reproduces the fitted labels on the training rows (k-medoids with DTW: when the matrix holds
 * float64 distances of the same kernel); for agglomerative models it is the nearest-centroid rule
 * of the old pipeline (per-cluster means) and can differ from the cut.
 */
export function predictClusters(fit: ClusterFit, rows: Rows): Int32Array {
  const metric = fit.params.metric as MetricName;
  if (metric === 'euclidean') return assignEuclidean(rows, fit.centres, fit.k).labels;
  const radius = typeof fit.params.radius === 'number' ? fit.params.radius : DEFAULT_RADIUS;
  return assignDtw(rows, fit.centres, fit.k, new BandedDtw(rows.dim, radius)).labels;
}
