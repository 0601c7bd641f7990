/**
 * Fitting in sampled mode (`--scale sampled`, see scale.ts): the same models and the same
 * {@link ClusterFit} as {@link fitClustering}, without any n × n matrix. k-medoids (DTW or
 * Euclidean) runs FasterCLARA (clara.ts); k-means, DTW k-means (DBA) and SOM need no matrix and run
 * as in exact mode. Agglomerative has no sampled variant (planScale refuses it first).
 */
import { usageError } from '../errors.js';
import type { AssignPool } from '../dtw/assign.js';
import { fasterClara } from './clara.js';
import { clusterSizes, orderBySize, type Rows } from './common.js';
import { fitClustering, type ClusterFit, type ClusterSpec } from './fit.js';
import type { KMedoidsInit } from './kmedoids.js';

/** Fit `spec` without an n × n matrix; `pool` holds these rows (k-medoids scores candidates on it). */
export async function fitSampled(rows: Rows, spec: ClusterSpec, pool: AssignPool, o: { sampleSize: number; samples?: number }): Promise<ClusterFit> {
  if (spec.model === 'agglomerative') throw usageError('E_USAGE_SCALE', 'the agglomerative model has no sampled variant yet', { hint: 'use --scale exact, or --model kmedoids' });
  if (spec.model !== 'kmedoids') {
    return fitClustering(rows, spec);
  }
  if (spec.kmedoidsMethod === 'alternate') throw usageError('E_USAGE_VALUE', '`--kmedoids-method alternate` needs the full matrix; sampled k-medoids runs FasterCLARA (FasterPAM on samples)', { hint: 'drop --kmedoids-method, or use --scale exact' });
  const { k, metric } = spec;
  const seed = spec.seed ?? 0;
  const init = spec.init ?? 'random';
  const kinit: KMedoidsInit = init === 'k-means++' ? 'k-medoids++' : init;
  const radius = metric === 'dtw' ? (spec.radius ?? 1) : 0;
  const s = await fasterClara(rows, { k, radius, seed, init: kinit, maxIter: spec.maxIter ?? 300, sampleSize: o.sampleSize, ...(o.samples !== undefined ? { samples: o.samples } : {}) }, pool);
  const ordered = orderBySize(s.labels, k);
  const L = rows.dim;
  const medoidRows = Int32Array.from(ordered.order, (c) => s.medoids[c]);
  const centres = new Float64Array(k * L);
  for (let c = 0; c < k; c++) centres.set(rows.data.subarray(medoidRows[c] * L, (medoidRows[c] + 1) * L), c * L);
  const params: Record<string, string | number> = { model: 'kmedoids', metric, k, seed };
  if (metric === 'dtw') params.radius = radius;
  Object.assign(params, { init: kinit, method: 'fasterclara', n_init: 1, max_iter: spec.maxIter ?? 300, sample_size: s.sampleSize, samples: s.samples });
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
