/**
 * Fitting in sampled mode (`--scale sampled`, see scale.ts): the same models and the same
 * {@link ClusterFit} as {@link fitClustering}, without any n × n matrix. Each model's registry
 * entry says how (registry.ts, `sampled`): k-medoids (DTW or Euclidean) runs FasterCLARA;
 * agglomerative builds its tree on a seeded sample and assigns every other profile to its nearest
 * cluster medoid; DTW k-means (DBA) assigns through the assigner (this machine's threads or the job
 * queue); k-means and SOM need no matrix and run as in exact mode.
 */
import type { Assigner } from '../dtw/assigner.js';
import type { RowValues, Rows } from './common.js';
import { fitClustering } from './fit.js';
import { modelVariant, type ClusterFit, type ClusterSpec, type SampledFitOptions } from './registry.js';

/** Fit `spec` without an n × n matrix; `pool` holds these rows (k-medoids scores candidates on it). */
export async function fitSampled(rows: Rows<RowValues>, spec: ClusterSpec, pool: Assigner, o: SampledFitOptions): Promise<ClusterFit> {
  if (o.share && (o.share.rows.n !== rows.n || o.share.rows.dim !== rows.dim)) throw new RangeError(`Expected a sample share over these ${rows.n} × ${rows.dim} rows but it holds ${o.share.rows.n} × ${o.share.rows.dim}`);
  const sampled = modelVariant(spec.model, spec.metric).sampled;
  if (sampled.fit) return sampled.fit(rows, spec, pool, o);
  // The exact fit of a model without a sampled one (k-means, SOM) reads float64 rows: sampled mode
  // holds its profiles as float64 (sampledFloat32 is false for it).
  if (!(rows.data instanceof Float64Array)) throw new RangeError(`Expected float64 rows for the exact fit of ${spec.model} ${spec.metric} in sampled mode but received float32`);
  return fitClustering(rows as Rows, spec);
}
