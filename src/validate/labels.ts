/**
 * Checks and bookkeeping shared by the validation metrics: labels must be integers in 0..k-1, and
 * metrics are computed over the clusters that actually have members (as scikit-learn does, which
 * only sees the labels present).
 */
import { inputError } from '../errors.js';

/** The non-empty clusters of a labelling, with their members grouped together. */
export interface ClusterIndex {
  /** Number of samples. */
  n: number;
  /** Number of cluster ids (labels are in 0..k-1); some may be empty. */
  k: number;
  /** Size of every cluster id 0..k-1 (0 for an empty cluster); length k. */
  sizes: Int32Array;
  /** The ids of the non-empty clusters, ascending; length m. */
  present: Int32Array;
  /** Compact label of each sample: the position of its cluster in `present`; length n. */
  compact: Int32Array;
  /** Sample indices grouped by compact cluster (ascending inside a group); length n. */
  order: Int32Array;
  /** Group c of `order` is `order[start[c] .. start[c+1])`; length m + 1. */
  start: Int32Array;
}

/** Largest label + 1, for labels that carry no k. */
export function labelCount(labels: ArrayLike<number>): number {
  let max = -1;
  for (let i = 0; i < labels.length; i++) if (labels[i] > max) max = labels[i];
  return max + 1;
}

/**
 * Check labels (integers in 0..k-1, one per sample) and group the samples by cluster.
 * @param labels cluster of each sample; length n
 * @param k number of cluster ids; defaults to the largest label + 1
 * @throws LpclustError `E_VALIDATE_LABELS` for a negative, fractional or too large label
 */
export function indexClusters(labels: ArrayLike<number>, k: number = labelCount(labels)): ClusterIndex {
  const n = labels.length;
  if (!Number.isInteger(k) || k < 0) throw inputError('E_VALIDATE_LABELS', `Expected a non-negative integer k but received ${k}`);
  const sizes = new Int32Array(k);
  for (let i = 0; i < n; i++) {
    const c = labels[i];
    if (!Number.isInteger(c) || c < 0 || c >= k) {
      throw inputError('E_VALIDATE_LABELS', `Expected a cluster label in 0..${k - 1} for sample ${i} but found ${c}`);
    }
    sizes[c]++;
  }
  let m = 0;
  for (let c = 0; c < k; c++) if (sizes[c] > 0) m++;
  const present = new Int32Array(m);
  const toCompact = new Int32Array(k).fill(-1);
  for (let c = 0, p = 0; c < k; c++) {
    if (sizes[c] > 0) {
      present[p] = c;
      toCompact[c] = p++;
    }
  }
  const start = new Int32Array(m + 1);
  for (let p = 0; p < m; p++) start[p + 1] = start[p] + sizes[present[p]];
  const fill = start.slice(0, m);
  const compact = new Int32Array(n);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const p = toCompact[labels[i]];
    compact[i] = p;
    order[fill[p]++] = i;
  }
  return { n, k, sizes, present, compact, order, start };
}

/**
 * Scikit-learn's condition for silhouette, Davies–Bouldin and Calinski–Harabasz: at least 2 and at
 * most n − 1 non-empty clusters.
 */
export function requireClusterCount(idx: ClusterIndex, metric: string): void {
  const m = idx.present.length;
  if (m < 2 || m > idx.n - 1) {
    throw inputError('E_VALIDATE_CLUSTERS', `${metric} needs between 2 and n − 1 = ${idx.n - 1} non-empty clusters but the labels have ${m}`, {
      hint: 'choose k with 2 ≤ k < number of profiles',
    });
  }
}

/** Per-cluster means of rows: m × L row-major, one row per non-empty cluster (in `present` order). */
export function clusterMeans(X: Float32Array | Float64Array, L: number, idx: ClusterIndex): Float64Array {
  const m = idx.present.length;
  const out = new Float64Array(m * L);
  for (let c = 0; c < m; c++) {
    const base = c * L;
    for (let p = idx.start[c]; p < idx.start[c + 1]; p++) {
      const r = idx.order[p] * L;
      for (let j = 0; j < L; j++) out[base + j] += X[r + j];
    }
    const size = idx.start[c + 1] - idx.start[c];
    for (let j = 0; j < L; j++) out[base + j] /= size;
  }
  return out;
}

/**
 * Refuse NaN and infinite values, which would otherwise turn into silent zeros or NaN metrics.
 * @param X n × L values, row-major
 * @throws LpclustError `E_VALIDATE_NAN` naming the profile (1-based) and slot
 */
export function requireFinite(X: Float32Array | Float64Array, L: number): void {
  for (let i = 0; i < X.length; i++) {
    if (!Number.isFinite(X[i])) {
      throw inputError('E_VALIDATE_NAN', `Expected finite values but profile ${Math.floor(i / L) + 1}, slot ${(i % L) + 1} is ${X[i]}`);
    }
  }
}
