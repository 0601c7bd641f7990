/**
 * The model registry: one entry per clustering model, and in it one variant per metric the model
 * has. Everything that differs between models is said here once — the metrics a model supports
 * (and the refusal for the others), its hyper-parameters with their defaults per metric, what a
 * fit precomputes that other fits of the same rows can share (k-medoids' Euclidean matrix, an
 * agglomerative tree cut at many k), whether it needs the DTW matrix, its cost class for the
 * sweep's ordering, how it runs at large n (`--scale sampled`), what its model artifact records
 * and how predict reproduces its labels — next to its `fit`. `fitClustering` (fit.ts), choose-k,
 * the sweep, its worker pool, the scale planner, the model artifact and the CLI help read it, so
 * a new model is an estimator file plus an entry here (test/cluster/registry-contract.test.ts then
 * checks it over every metric it declares).
 */
import { usageError, type LpclustError } from '../errors.js';
import type { Assigner } from '../dtw/assigner.js';
import { sampleMatrix } from '../dtw/index.js';
import { DEFAULT_RADIUS } from '../dtw/settings.js';
import { Random } from '../util/random.js';
import { Agglomerative, type Linkage } from './agglomerative.js';
import { checkFitInput, clusterMedoids, clusterSizes, orderBySize, permuteRows, type DistanceMatrix, type RowValues, type Rows } from './common.js';
import { checkSampleSize, fasterClara, gatherRows } from './clara.js';
import { DbaKMeans } from './dba.js';
import { euclideanMatrix } from './euclidean.js';
import { KMeans, type KMeansInit } from './kmeans.js';
import { KMedoids, type KMedoidsInit, type KMedoidsMethod } from './kmedoids.js';
import type { SampleShare } from './sample-share.js';
import { Som } from './som.js';

/** Models of `lpclust cluster` (the registry's names; {@link MODELS} lists them in order). */
export type ModelName = 'kmeans' | 'kmedoids' | 'agglomerative' | 'som';
/** Distance of a model. */
export type MetricName = 'euclidean' | 'dtw';
/** All metrics, for option parsing. */
export const METRICS: readonly MetricName[] = ['euclidean', 'dtw'];
/** Initialisations accepted by `--init` (k-means: random, k-means++; k-medoids: random, k-means++ = k-medoids++, build). */
export type InitName = 'random' | 'k-means++' | 'build';
/** All inits, for option parsing. */
export const INITS: readonly InitName[] = ['random', 'k-means++', 'build'];

/** Hyper-parameters of a fit (`fitClustering`); unset ones take the variant's {@link VariantDefaults}. */
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
   * k-medoids with `metric: 'euclidean'` only: the matrix `euclideanMatrix` returns for these
   * same rows, computed once by the caller (a sweep fits many k on one dataset) instead of at every fit.
   */
  precomputedEuclidean?: DistanceMatrix;
}

/** What a fit returns (cluster ids already ordered by decreasing size). */
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

/** What a variant's exact `fit` is given: the rows, the spec, and the run's generator, params and stats to fill. */
export interface FitCall {
  rows: Rows;
  spec: ClusterSpec;
  /** The fit's one seeded generator (`new Random(seed)`). */
  rng: Random;
  seed: number;
  /** `spec.init` or the variant's default. */
  init: InitName;
  /** The n × n DTW matrix (present when the variant `needsDtwMatrix`). */
  D?: DistanceMatrix;
  /** Logged params, `{ model, metric, k, seed }` already in; the fit adds its own in its order. */
  params: Record<string, string | number>;
  /** Logged model numbers (`fit/…`); the fit adds its own. */
  stats: Record<string, number>;
}

/** What a variant's exact `fit` returns; `fitClustering` orders the clusters by size and fills the rest. */
export interface FitOutput {
  /** Cluster of every row, 0..k−1 in the model's own numbering. */
  labels: Int32Array;
  /** k × dim centres in the same numbering, or null when the model has none (per-cluster means are used). */
  centres: Float64Array | null;
  /** Clusters found when fewer than k (agglomerative cut at tied heights); default k. */
  k?: number;
  linkageMatrix?: Float64Array;
}

/** Options of a sampled fit (`fitSampled`): the sample size from the scale plan, and the sweep's shared samples. */
export interface SampledFitOptions {
  sampleSize: number;
  /** FasterCLARA: number of samples (default 5). */
  samples?: number;
  share?: SampleShare;
}

/** How a variant runs at large n (`--scale sampled`, see scale.ts): never with an n × n matrix. */
export interface SampledVariant {
  /**
   * The sampled fit; absent when the exact fit needs no n × n matrix and runs as it is.
   * `pool` assigns rows to centres (this machine's threads or the job queue) over these rows.
   * The rows are float32 for the DTW models in sampled mode (see {@link sampledFloat32}).
   */
  fit?: (rows: Rows<RowValues>, spec: ClusterSpec, pool: Assigner, o: SampledFitOptions) => Promise<ClusterFit>;
  /** Fits on a sample of `--sample-size` rows (the plan then checks that size against n and k). */
  usesSample: boolean;
  /** Rows of the largest square matrix the sampled fit holds for a sample of `s` rows (0: none). */
  matrixRows: (s: number) => number;
  /** What the sampled fit does, for the run's scale reason (empty when it is the exact fit). */
  describe: (sampleSize: number, n: number) => string;
  /** `--sample-size` lowers its memory (said in the budget error's hint). */
  sampleSizeHint: boolean;
  /**
   * In a sweep, the scale is planned from the other models first: this variant's plan decides only
   * when no other model's does (the sweep's sample size then follows the others').
   */
  planLast?: boolean;
  /** What each profile is assigned to at large n: `medoids` or `centres` (said where the DTW stage is skipped). */
  assignsTo: 'medoids' | 'centres';
}

/** Defaults of a variant's hyper-parameters (what `--help` shows and the fit uses when unset). */
export interface VariantDefaults {
  init?: InitName;
  /** Inits the variant takes (the others are refused with {@link MetricVariant.initRefusal}). */
  inits?: readonly InitName[];
  nInit?: number;
  maxIter?: number;
  /** What `maxIter` counts when it is not iterations (SOM: epochs). */
  maxIterIs?: string;
  linkage?: Linkage;
  /** Linkages the variant takes (the others are refused with {@link linkageRefusal}). */
  linkages?: readonly Linkage[];
}

/** One model × metric. */
export interface MetricVariant {
  /** Name in help and logs when it has its own (`DBA k-means`). */
  label?: string;
  defaults: VariantDefaults;
  /** The refusal of an init outside `defaults.inits` (exact text users see). */
  initRefusal?: (init: InitName) => string;
  /** Exact mode: the fit reads the n × n DTW matrix. */
  needsDtwMatrix: boolean;
  /**
   * What the fit precomputes that other fits of the same rows share: `euclidean-matrix` (computed
   * once and passed as `precomputedEuclidean`), `linkage-tree` (built once, cut at every k, passed
   * as `precomputedLinkage`).
   */
  shares?: 'euclidean-matrix' | 'linkage-tree';
  /**
   * Precision of the DTW distances the fitted labels came from, which predict uses to reproduce
   * them: `float64` (the model assigns in float64) or `matrix` (the DTW matrix's dtype).
   */
  dtwPrecision?: 'float64' | 'matrix';
  /** The exact fit. */
  fit: (c: FitCall) => FitOutput;
  sampled: SampledVariant;
}

/** One registered model. */
export interface ModelEntry {
  name: ModelName;
  /** Name in prose (`k-medoids`). */
  label: string;
  /** One line for help and the README. */
  about: string;
  variants: Partial<Record<MetricName, MetricVariant>>;
  /** Why a metric the model does not have is refused (`SOM has no DTW variant`). */
  lacks?: Partial<Record<MetricName, string>>;
  /**
   * Cost class for the sweep's ordering (longest first): higher runs earlier. `costShared` is the
   * class of a configuration that reuses what another built (an agglomerative cut of a built tree).
   */
  cost: number;
  costShared?: number;
  /**
   * Whether predict on the training days reproduces the fitted labels: `exact`, or `agreement`
   * (the fit's rule is not nearest-centre; the share that agree is logged as
   * `model/predict_agreement`) with the reason.
   */
  predict: { reproduces: 'exact' } | { reproduces: 'agreement'; because: string };
}

/** The linkage of an agglomerative spec, default by metric; Ward with DTW is refused. */
function agglomerativeLinkage(spec: Pick<ClusterSpec, 'linkage' | 'metric'>, v: MetricVariant): Linkage {
  const lk: Linkage = spec.linkage ?? v.defaults.linkage!;
  if (v.defaults.linkages && !v.defaults.linkages.includes(lk)) {
    throw usageError('E_USAGE_LINKAGE', `Expected \`--linkage\` ${v.defaults.linkages.join(', ').replace(/, ([^,]*)$/, ' or $1')} with --metric ${spec.metric} but received \`${lk}\`${lk === 'ward' ? ' (Ward needs Euclidean geometry)' : ''}`);
  }
  return lk;
}

/** The DTW k-means (DBA) estimator of a spec (tslearn semantics: random initial centres only). */
function dbaModel(spec: ClusterSpec): DbaKMeans {
  const v = KMEANS_DTW;
  const init = spec.init ?? v.defaults.init!;
  if (!v.defaults.inits!.includes(init)) throw usageError('E_USAGE_INIT', v.initRefusal!(init));
  return new DbaKMeans({ k: spec.k, nInit: spec.nInit ?? v.defaults.nInit!, maxIter: spec.maxIter ?? v.defaults.maxIter!, radius: spec.radius ?? DEFAULT_RADIUS, seed: spec.seed ?? 0 });
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
 * fit as the exact one for the spec, without any n × n matrix, whatever the number of threads or workers.
 */
export async function fitDbaOnPool(rows: Rows<RowValues>, spec: ClusterSpec, pool: Assigner): Promise<ClusterFit> {
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

/** k-medoids on the full matrix (the DTW matrix, or the rows' Euclidean matrix). */
function fitKMedoids({ rows, spec, rng, seed, init, D, params, stats }: FitCall): FitOutput {
  const { k, metric } = spec;
  const v = KMEDOIDS.variants[metric]!;
  const kinit: KMedoidsInit = init === 'k-means++' ? 'k-medoids++' : init;
  if (spec.precomputedEuclidean && spec.precomputedEuclidean.n !== rows.n) throw new RangeError(`Expected a precomputed ${rows.n} × ${rows.n} Euclidean matrix but received ${spec.precomputedEuclidean.n} × ${spec.precomputedEuclidean.n}`);
  const matrix = metric === 'dtw' ? D! : (spec.precomputedEuclidean ?? euclideanMatrix(rows));
  const m = new KMedoids({ k, init: kinit, method: spec.kmedoidsMethod ?? 'fasterpam', maxIter: spec.maxIter ?? v.defaults.maxIter!, nInit: spec.nInit ?? v.defaults.nInit!, seed }).fit(matrix, rng);
  const s = m.state!;
  const centres = new Float64Array(k * rows.dim);
  for (let c = 0; c < k; c++) centres.set(rows.data.subarray(s.medoids[c] * rows.dim, (s.medoids[c] + 1) * rows.dim), c * rows.dim);
  if (metric === 'dtw') params.radius = spec.radius ?? DEFAULT_RADIUS;
  Object.assign(params, { init: kinit, method: m.method, n_init: m.init === 'build' ? 1 : m.nInit, max_iter: m.maxIter });
  Object.assign(stats, { 'fit/total_deviation': s.totalDeviation, 'fit/iterations': s.nIter, 'fit/swaps': s.swaps, 'fit/empty_clusters_reseeded': s.emptyReseeds });
  return { labels: s.labels, centres };
}

/** k-medoids at large n: FasterCLARA (FasterPAM on samples, medoids scored on every row through `pool`). */
async function fitKMedoidsSampled(rows: Rows<RowValues>, spec: ClusterSpec, pool: Assigner, o: SampledFitOptions): Promise<ClusterFit> {
  if (spec.kmedoidsMethod === 'alternate') throw usageError('E_USAGE_VALUE', '`--kmedoids-method alternate` needs the full matrix; sampled k-medoids runs FasterCLARA (FasterPAM on samples)', { hint: 'drop --kmedoids-method, or use --scale exact' });
  const { k, metric } = spec;
  const v = KMEDOIDS.variants[metric]!;
  const seed = spec.seed ?? 0;
  const init = spec.init ?? v.defaults.init!;
  const kinit: KMedoidsInit = init === 'k-means++' ? 'k-medoids++' : init;
  const radius = metric === 'dtw' ? (spec.radius ?? DEFAULT_RADIUS) : 0;
  const maxIter = spec.maxIter ?? v.defaults.maxIter!;
  const s = await fasterClara(rows, { k, radius, seed, init: kinit, maxIter, sampleSize: o.sampleSize, ...(o.samples !== undefined ? { samples: o.samples } : {}), ...(o.share ? { share: o.share } : {}) }, pool);
  const ordered = orderBySize(s.labels, k);
  const L = rows.dim;
  const medoidRows = Int32Array.from(ordered.order, (c) => s.medoids[c]);
  const centres = new Float64Array(k * L);
  for (let c = 0; c < k; c++) centres.set(rows.data.subarray(medoidRows[c] * L, (medoidRows[c] + 1) * L), c * L);
  const params: Record<string, string | number> = { model: 'kmedoids', metric, k, seed };
  if (metric === 'dtw') params.radius = radius;
  Object.assign(params, { init: kinit, method: 'fasterclara', n_init: 1, max_iter: maxIter, sample_size: s.sampleSize, samples: s.samples });
  const fit: ClusterFit = {
    labels: ordered.labels,
    k,
    sizes: clusterSizes(ordered.labels, k),
    centres,
    centresAreMeans: false,
    stats: {
      'fit/total_deviation': s.totalDeviation,
      'fit/iterations': s.nIter,
      'fit/swaps': s.swaps,
      'fit/empty_clusters_reseeded': s.emptyReseeds,
      'fit/best_sample': s.bestSample,
      'fit/exact_distance_share': s.exactPairs / s.candidatePairs,
    },
    params,
  };
  // medoids.csv names each DTW cluster's medoid row, as exact mode does.
  if (metric === 'dtw') fit.medoidRows = medoidRows;
  return fit;
}

/** Agglomerative: the tree on the rows (Ward, Euclidean) or on the DTW matrix, or a given tree, cut at k. */
function fitAgglomerative({ rows, spec, D, params }: FitCall): FitOutput {
  const lk = agglomerativeLinkage(spec, AGGLOMERATIVE.variants[spec.metric]!);
  const m = new Agglomerative({ k: spec.k, linkage: lk });
  if (spec.precomputedLinkage) m.fitLinkage(spec.precomputedLinkage, rows.n);
  else if (spec.metric === 'dtw') m.fitMatrix(D!);
  else m.fitRows(rows);
  const s = m.state!;
  params.linkage = lk;
  return { labels: s.labels, centres: null, k: s.nClusters, linkageMatrix: s.Z };
}

/**
 * Agglomerative at large n: the tree on a seeded sample, cut at k; every profile outside the sample
 * joins the cluster whose medoid (the sample member with the least summed distance to its
 * cluster's sample members) is nearest under the metric. The medoids are the model's centres, so
 * predict assigns new days the same way.
 */
async function fitAgglomerativeSampled(rows: Rows<RowValues>, spec: ClusterSpec, pool: Assigner, o: SampledFitOptions): Promise<ClusterFit> {
  const { n, dim: L } = rows;
  const { k, metric } = spec;
  const { sampleSize, share } = o;
  const seed = spec.seed ?? 0;
  checkSampleSize(sampleSize, n, k);
  const lk = agglomerativeLinkage(spec, AGGLOMERATIVE.variants[metric]!);
  const radius = metric === 'dtw' ? (spec.radius ?? DEFAULT_RADIUS) : 0;
  const idx = new Random(seed).sample(n, sampleSize).sort();
  const S = { data: gatherRows(rows, idx), n: sampleSize, dim: L };
  const D = share ? share.matrix(idx, radius, () => sampleMatrix(rows, idx, radius)) : sampleMatrix(rows, idx, radius);
  // The tree does not depend on k: built once per sample (with a share), cut at k.
  const build = (): Float64Array => {
    const t = new Agglomerative({ k, linkage: lk });
    // Ward on the rows (its Lance–Williams update needs Euclidean geometry); the others on the sample's matrix.
    if (metric === 'euclidean') t.fitRows(S);
    else t.fitMatrix({ n: sampleSize, data: Float64Array.from(D.data) });
    return t.state!.Z;
  };
  const Z = share ? share.tree(idx, `${metric} ${radius} ${lk}`, build) : build();
  const st = new Agglomerative({ k, linkage: lk }).fitLinkage(Z, sampleSize).state!;
  const kFound = st.nClusters;
  const medoidsInSample = clusterMedoids(D, st.labels, kFound);
  const medoidRows = Int32Array.from(medoidsInSample, (m) => idx[m]);
  const a = await pool.assign(gatherRows(rows, medoidRows), radius);
  const labels = Int32Array.from(a.n1);
  // Sample members keep the tree's cut.
  for (let t = 0; t < sampleSize; t++) labels[idx[t]] = st.labels[t];
  const ordered = orderBySize(labels, kFound);
  const orderedMedoids = Int32Array.from(ordered.order, (c) => medoidRows[c]);
  const params: Record<string, string | number> = { model: 'agglomerative', metric, k, seed, linkage: lk, sample_size: sampleSize, assignment: 'nearest cluster medoid of the sample' };
  if (metric === 'dtw') params.radius = radius;
  const fit: ClusterFit = {
    labels: ordered.labels,
    k: kFound,
    sizes: clusterSizes(ordered.labels, kFound),
    centres: gatherRows(rows, orderedMedoids),
    centresAreMeans: false,
    stats: {},
    params,
  };
  if (metric === 'dtw') fit.medoidRows = orderedMedoids;
  return fit;
}

/** Sampled mode of a model that needs no n × n matrix: its exact fit, as it is. */
const NO_MATRIX: SampledVariant = { usesSample: false, matrixRows: () => 0, describe: () => '', sampleSizeHint: false, assignsTo: 'centres' };

const KMEANS_DTW: MetricVariant = {
  label: 'DBA k-means',
  defaults: { init: 'random', inits: ['random'], nInit: 10, maxIter: 5 },
  initRefusal: (init) => `Expected \`--init random\` for DTW k-means (tslearn semantics) but received \`${init}\``,
  needsDtwMatrix: false,
  dtwPrecision: 'float64',
  fit: ({ rows, spec, rng, params, stats }) => dbaResult(dbaModel(spec).fit(rows, rng), params, stats),
  // Assignments through the assigner (on the job queue: by row ranges), barycentre sums here: the same fit.
  sampled: { ...NO_MATRIX, fit: (rows, spec, pool) => fitDbaOnPool(rows, spec, pool) },
};

const KMEANS: ModelEntry = {
  name: 'kmeans',
  label: 'k-means',
  about: 'k-means (Lloyd–Hamerly, Euclidean) or DBA k-means (DTW barycentres)',
  variants: {
    euclidean: {
      defaults: { init: 'random', inits: ['random', 'k-means++'], nInit: 10, maxIter: 300 },
      initRefusal: (init) => `Expected \`--init\` random or k-means++ for kmeans but received \`${init}\``,
      needsDtwMatrix: false,
      fit: ({ rows, spec, rng, seed, init, params, stats }) => {
        const d = KMEANS.variants.euclidean!.defaults;
        const m = new KMeans({ k: spec.k, init: init as KMeansInit, nInit: spec.nInit ?? d.nInit!, maxIter: spec.maxIter ?? d.maxIter!, seed }).fit(rows, rng);
        const s = m.state!;
        Object.assign(params, { init, n_init: m.nInit, max_iter: m.maxIter, tol: m.tol, algorithm: 'lloyd-hamerly' });
        Object.assign(stats, { 'fit/inertia': s.inertia, 'fit/iterations': s.nIter, 'fit/empty_clusters_reseeded': s.emptyReseeds });
        return { labels: s.labels, centres: s.centres };
      },
      sampled: NO_MATRIX,
    },
    dtw: KMEANS_DTW,
  },
  cost: 1,
  predict: { reproduces: 'exact' },
};

/** k-medoids' sampled variant (FasterCLARA), the same for both metrics. */
const CLARA: SampledVariant = {
  fit: fitKMedoidsSampled,
  usesSample: true,
  matrixRows: (s) => s,
  describe: (s, n) => `k-medoids by FasterCLARA (samples of ${s} profiles, medoids scored on all ${n}), `,
  sampleSizeHint: true,
  assignsTo: 'medoids',
};

const KMEDOIDS: ModelEntry = {
  name: 'kmedoids',
  label: 'k-medoids',
  about: 'k-medoids (FasterPAM or alternate) on the Euclidean or the DTW matrix; FasterCLARA at large n',
  variants: {
    euclidean: { defaults: { init: 'random', inits: INITS, nInit: 1, maxIter: 300 }, needsDtwMatrix: false, shares: 'euclidean-matrix', fit: fitKMedoids, sampled: CLARA },
    dtw: { defaults: { init: 'random', inits: INITS, nInit: 1, maxIter: 300 }, needsDtwMatrix: true, dtwPrecision: 'matrix', fit: fitKMedoids, sampled: CLARA },
  },
  cost: 2,
  predict: { reproduces: 'exact' },
};

/** Agglomerative's sampled variant (the tree on a sample), the same for both metrics. */
const TREE_ON_SAMPLE: SampledVariant = {
  fit: fitAgglomerativeSampled,
  usesSample: true,
  // The sample's matrix plus the tree's working copy of it.
  matrixRows: (s) => Math.ceil(s * Math.SQRT2),
  describe: (s) => `the agglomerative tree on a seeded sample of ${s} profiles, every other profile joining its nearest cluster medoid, `,
  sampleSizeHint: false,
  planLast: true,
  assignsTo: 'medoids',
};

const AGGLOMERATIVE: ModelEntry = {
  name: 'agglomerative',
  label: 'agglomerative',
  about: 'agglomerative clustering (SciPy linkage: ward, average, complete, single) cut at k',
  variants: {
    euclidean: { defaults: { linkage: 'ward', linkages: ['ward', 'average', 'complete', 'single'] }, needsDtwMatrix: false, shares: 'linkage-tree', fit: fitAgglomerative, sampled: TREE_ON_SAMPLE },
    dtw: { defaults: { linkage: 'average', linkages: ['average', 'complete', 'single'] }, needsDtwMatrix: true, shares: 'linkage-tree', dtwPrecision: 'matrix', fit: fitAgglomerative, sampled: TREE_ON_SAMPLE },
  },
  // The configuration that builds a tree runs first; the cuts of a built tree last.
  cost: 3,
  costShared: 0,
  predict: { reproduces: 'agreement', because: 'the labels are a cut of the tree, while predict assigns each day to the nearest cluster mean (DTW: medoid)' },
};

const SOM: ModelEntry = {
  name: 'som',
  label: 'SOM',
  about: 'self-organising map (k × 1 grid, Euclidean)',
  variants: {
    euclidean: {
      defaults: { maxIter: 10, maxIterIs: 'epochs' },
      needsDtwMatrix: false,
      fit: ({ rows, spec, rng, seed, params, stats }) => {
        const { k } = spec;
        const m = new Som({ k, epochs: spec.maxIter ?? SOM.variants.euclidean!.defaults.maxIter!, seed }).fit(rows, rng);
        const s = m.state!;
        Object.assign(params, { epochs: m.epochs, learning_rate: m.learningRate, sigma: m.sigma, topology: `${k}x1` });
        Object.assign(stats, { 'fit/quantization_error': s.quantizationError2, 'fit/empty_clusters_reseeded': s.emptyReseeds });
        return { labels: s.labels, centres: s.weights };
      },
      sampled: NO_MATRIX,
    },
  },
  lacks: { dtw: 'SOM has no DTW variant' },
  cost: 1,
  predict: { reproduces: 'exact' },
};

/** Every model, in the order of `--model`'s choices and of `lpclust sweep --models`' default. */
export const MODEL_REGISTRY: readonly ModelEntry[] = [KMEANS, KMEDOIDS, AGGLOMERATIVE, SOM];

/** All models, for option parsing. */
export const MODELS: readonly ModelName[] = MODEL_REGISTRY.map((e) => e.name);

/** The entry of a model. @throws LpclustError E_USAGE_VALUE for a name that is not registered */
export function modelEntry(model: ModelName): ModelEntry {
  const e = MODEL_REGISTRY.find((x) => x.name === model);
  if (!e) throw usageError('E_USAGE_VALUE', `Expected a model (${MODELS.join('|')}) but received \`${model}\``);
  return e;
}

/** Whether the model has a variant for the metric. */
export function supportsMetric(model: ModelName, metric: MetricName): boolean {
  return modelEntry(model).variants[metric] !== undefined;
}

/** The metrics a model has, in {@link METRICS}' order. */
export function metricsOf(model: ModelName): MetricName[] {
  return METRICS.filter((m) => supportsMetric(model, m));
}

/** Short form of why a model × metric does not exist (`som has no dtw variant`): the sweep's warning and skip tag. */
export function missingVariant(model: ModelName, metric: MetricName): string {
  return `${model} has no ${metric} variant`;
}

/** The refusal of a model × metric the model does not have (E_USAGE_METRIC, exit 2). */
export function unsupportedMetricError(model: ModelName, metric: MetricName): LpclustError {
  const e = modelEntry(model);
  const have = metricsOf(model);
  return usageError('E_USAGE_METRIC', `Expected \`--metric ${have.join('|')}\` for the ${model} model but received \`${metric}\` (${e.lacks?.[metric] ?? missingVariant(model, metric)})`);
}

/** The variant of a model × metric. @throws LpclustError E_USAGE_METRIC when the model lacks the metric ({@link unsupportedMetricError}) */
export function modelVariant(model: ModelName, metric: MetricName): MetricVariant {
  const v = modelEntry(model).variants[metric];
  if (!v) throw unsupportedMetricError(model, metric);
  return v;
}

/**
 * Whether sampled mode holds the profiles of these configurations as one float32 array (half the
 * memory of float64: 10⁶ days of 24 slots are 96 MB): when each is a DTW model with a sampled fit of
 * its own (k-medoids, agglomerative, DBA k-means), whose DTW distances then accumulate in float32 as
 * the exact mode's float32 DTW matrix does, and whose model records that precision for `predict`.
 * Not for Euclidean models (their artifact has no precision: `predict` compares in float64, as
 * their fit must), nor k-means and SOM (their sampled mode is their exact fit on float64 rows). The
 * job queue's assignment jobs carry the rows as they are held (queue/assign.ts).
 */
export function sampledFloat32(configs: ReadonlyArray<Pick<ClusterSpec, 'model' | 'metric'>>): boolean {
  return configs.length > 0 && configs.every((c) => c.metric === 'dtw' && modelVariant(c.model, c.metric).sampled.fit !== undefined);
}

/** What a model × metric precomputes for other fits of the same rows (undefined: nothing, or the model lacks the metric). */
export function sharesOf(spec: Pick<ClusterSpec, 'model' | 'metric'>): MetricVariant['shares'] {
  return modelEntry(spec.model).variants[spec.metric]?.shares;
}

/**
 * The exact fit of a model × metric: the variant's `fit` with the defaults filled in, its clusters
 * still in the model's own numbering ({@link FitCall}). `fitClustering` wraps it.
 * @throws LpclustError E_USAGE_METRIC, E_USAGE_DTW_MATRIX (a DTW variant that needs `D` without it), E_USAGE_INIT
 */
export function runVariantFit(rows: Rows, spec: ClusterSpec, D: DistanceMatrix | undefined, params: Record<string, string | number>, stats: Record<string, number>): FitOutput {
  const v = modelVariant(spec.model, spec.metric);
  if (v.needsDtwMatrix && !D) throw usageError('E_USAGE_DTW_MATRIX', `The ${spec.model} model with --metric ${spec.metric} needs the DTW matrix`);
  const seed = spec.seed ?? 0;
  const init = spec.init ?? v.defaults.init ?? 'random';
  if (v.defaults.inits && !v.defaults.inits.includes(init)) throw usageError('E_USAGE_INIT', v.initRefusal!(init));
  return v.fit({ rows, spec, rng: new Random(seed), seed, init, ...(D ? { D } : {}), params, stats });
}

/**
 * Default of a hyper-parameter per model as `--help` says it: `kmeans 300, kmeans dtw 5, …` —
 * one value per model when its metrics agree (variants without the parameter left out).
 */
export function defaultsHelp(param: 'nInit' | 'maxIter'): string {
  const parts: string[] = [];
  const show = (d: VariantDefaults): string => `${d[param]}${param === 'maxIter' && d.maxIterIs ? ` ${d.maxIterIs}` : ''}`;
  for (const e of MODEL_REGISTRY) {
    const have = METRICS.filter((m) => e.variants[m]?.defaults[param] !== undefined);
    const values = new Set(have.map((m) => show(e.variants[m]!.defaults)));
    if (values.size === 1) parts.push(`${e.name} ${[...values][0]}`);
    else for (const m of have) parts.push(`${e.name}${m === 'euclidean' ? '' : ` ${m}`} ${show(e.variants[m]!.defaults)}`);
  }
  return parts.join(', ');
}

/** `--metric`'s help: the metrics, and what a model × metric means where it has its own name or does not exist (`kmeans + dtw = DBA k-means; SOM has no DTW variant`). */
export function metricsHelp(): string {
  const named = MODEL_REGISTRY.flatMap((e) => METRICS.filter((m) => e.variants[m]?.label).map((m) => `${e.name} + ${m} = ${e.variants[m]!.label}`));
  const lacking = MODEL_REGISTRY.flatMap((e) => Object.values(e.lacks ?? {}));
  const notes = [...named, ...lacking];
  return `${METRICS.join('|')}${notes.length > 0 ? ` (${notes.join('; ')})` : ''}`;
}
