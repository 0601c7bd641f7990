/**
 * Clustering models of lpclust (pure: typed arrays in, results out). Estimators keep their
 * hyper-parameters apart from the learned `state`; `predict` assigns rows to the nearest centre
 * under the model's metric. {@link fitClustering} runs any `model × metric`; {@link chooseK}
 * picks k by silhouette.
 */
export {
  rowsOf,
  checkFitInput,
  checkDistanceMatrix,
  assignEuclidean,
  clusterMeans as clusterMeanProfiles,
  clusterMedoids,
  clusterSizes,
  orderBySize,
  type Rows,
  type DistanceMatrix,
} from './common.js';
export { KMeans, kmeansPlusPlus, randomInit, meanColumnVariance, type KMeansOptions, type KMeansInit } from './kmeans.js';
export { lloydHamerly, lloydHamerlyJs, hartiganRefine, type KMeansState } from './kmeans-lloyd.js';
export { DbaKMeans, BandedDtw, assignDtw, type DbaKMeansOptions, type DbaKMeansState } from './dba.js';
export {
  KMedoids,
  fasterPam,
  alternate,
  buildInit,
  kmedoidsPlusPlus,
  euclideanMatrix,
  euclideanMatrixRows,
  EUCLIDEAN_MATRIX_UNIT_ROWS,
  type KMedoidsOptions,
  type KMedoidsState,
  type KMedoidsMethod,
  type KMedoidsInit,
} from './kmedoids.js';
export {
  Agglomerative,
  linkage,
  linkageFull,
  fullEuclidean,
  FULL_MATRIX_MAX_ROWS,
  fclusterMaxclust,
  pdistEuclidean,
  condense,
  LINKAGES,
  type Linkage,
  type Condensed,
  type AgglomerativeOptions,
  type AgglomerativeState,
} from './agglomerative.js';
export { Som, type SomOptions, type SomState } from './som.js';
export {
  fitClustering,
  predictClusters,
  MODELS,
  METRICS,
  INITS,
  type ModelName,
  type MetricName,
  type InitName,
  type ClusterSpec,
  type ClusterFit,
} from './fit.js';
export {
  MODEL_REGISTRY,
  modelEntry,
  modelVariant,
  supportsMetric,
  metricsOf,
  sharesOf,
  unsupportedMetricError,
  type ModelEntry,
  type MetricVariant,
  type SampledVariant,
  type VariantDefaults,
} from './registry.js';
export { chooseK, DEFAULT_K_RANGE, type ChooseKResult, type ChooseKOptions, type KScore } from './choosek.js';
export { fasterClara, defaultSampleSize, checkSampleSize, gatherRows, DEFAULT_CLARA_SAMPLES, type ClaraOptions, type ClaraState } from './clara.js';
export { fitSampled } from './fit-sampled.js';
export {
  planScale,
  exactMatrixNeeds,
  sampledBytes,
  defaultMemoryBudget,
  EXACT_SILHOUETTE_MAX_ROWS,
  SCALES,
  formatBytes,
  parseMemoryBudget,
  type ScaleChoice,
  type ScalePlan,
  type ScaleInput,
} from './scale.js';
