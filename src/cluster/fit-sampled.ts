/**
 * Fitting in sampled mode (`--scale sampled`, see scale.ts): the same models and the same
 * {@link ClusterFit} as {@link fitClustering}, without any n × n matrix. k-medoids (DTW or
 * Euclidean) runs FasterCLARA (clara.ts); k-means, DTW k-means (DBA) and SOM need no matrix and run
 * as in exact mode, DBA with its assignments through the assigner (this machine's threads or the
 * job queue) and its barycentre sums on this machine. Agglomerative builds its tree on a seeded
 * sample, cuts it at k, and every profile
 * outside the sample joins the cluster whose medoid (the sample member with the least summed
 * distance to its cluster's sample members) is nearest under the metric; the medoids are the
 * model's centres, so `predict` assigns new days the same way.
 */
import { usageError } from '../errors.js';
import type { Assigner } from '../dtw/assigner.js';
import { DEFAULT_RADIUS } from '../dtw/settings.js';
import { Random } from '../util/random.js';
import { Agglomerative, type Linkage } from './agglomerative.js';
import { sampleMatrix } from '../dtw/index.js';
import { checkSampleSize, fasterClara, gatherRows } from './clara.js';
import { clusterMedoids, clusterSizes, orderBySize, type Rows } from './common.js';
import { fitClustering, fitDbaOnPool, type ClusterFit, type ClusterSpec } from './fit.js';
import type { KMedoidsInit } from './kmedoids.js';
import type { SampleShare } from './sample-share.js';

/** Fit `spec` without an n × n matrix; `pool` holds these rows (k-medoids scores candidates on it). */
export async function fitSampled(rows: Rows, spec: ClusterSpec, pool: Assigner, o: { sampleSize: number; samples?: number; share?: SampleShare }): Promise<ClusterFit> {
  if (o.share && (o.share.rows.n !== rows.n || o.share.rows.dim !== rows.dim)) throw new RangeError(`Expected a sample share over these ${rows.n} × ${rows.dim} rows but it holds ${o.share.rows.n} × ${o.share.rows.dim}`);
  if (spec.model === 'agglomerative') return agglomerativeSampled(rows, spec, pool, o.sampleSize, o.share);
  // DTW k-means: assignments through the assigner (on the job queue: by row ranges), barycentre
  // sums on this machine (the pool's threads, or this thread beside the queue): the same fit.
  if (spec.model === 'kmeans' && spec.metric === 'dtw') return fitDbaOnPool(rows, spec, pool);
  if (spec.model !== 'kmedoids') {
    return fitClustering(rows, spec);
  }
  if (spec.kmedoidsMethod === 'alternate') throw usageError('E_USAGE_VALUE', '`--kmedoids-method alternate` needs the full matrix; sampled k-medoids runs FasterCLARA (FasterPAM on samples)', { hint: 'drop --kmedoids-method, or use --scale exact' });
  const { k, metric } = spec;
  const seed = spec.seed ?? 0;
  const init = spec.init ?? 'random';
  const kinit: KMedoidsInit = init === 'k-means++' ? 'k-medoids++' : init;
  const radius = metric === 'dtw' ? (spec.radius ?? DEFAULT_RADIUS) : 0;
  const s = await fasterClara(rows, { k, radius, seed, init: kinit, maxIter: spec.maxIter ?? 300, sampleSize: o.sampleSize, ...(o.samples !== undefined ? { samples: o.samples } : {}), ...(o.share ? { share: o.share } : {}) }, pool);
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

/** Agglomerative on a sample, the other profiles by nearest cluster medoid (see the file's header). */
async function agglomerativeSampled(rows: Rows, spec: ClusterSpec, pool: Assigner, sampleSize: number, share?: SampleShare): Promise<ClusterFit> {
  const { n, dim: L } = rows;
  const { k, metric } = spec;
  const seed = spec.seed ?? 0;
  checkSampleSize(sampleSize, n, k);
  const lk: Linkage = spec.linkage ?? (metric === 'dtw' ? 'average' : 'ward');
  if (metric === 'dtw' && lk === 'ward') throw usageError('E_USAGE_LINKAGE', 'Expected `--linkage` average, complete or single with --metric dtw but received `ward` (Ward needs Euclidean geometry)');
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
