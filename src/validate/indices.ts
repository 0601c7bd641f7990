/**
 * Cluster-separation indices on Euclidean rows, with scikit-learn's definitions:
 * Davies–Bouldin (`davies_bouldin_score`), Calinski–Harabasz (`calinski_harabasz_score`) and the
 * k-means inertia (`KMeans.inertia_`: sum of squared distances to the assigned centre).
 */
import { inputError } from '../errors.js';
import { clusterMeans, indexClusters, requireClusterCount, requireFinite } from './labels.js';

function rowCount(X: Float32Array | Float64Array, L: number, labels: ArrayLike<number>): number {
  if (!Number.isInteger(L) || L <= 0) throw inputError('E_VALIDATE_SHAPE', `Expected a positive integer row length but received ${L}`);
  const n = X.length / L;
  if (!Number.isInteger(n)) throw inputError('E_VALIDATE_SHAPE', `Expected ${L} values per row but ${X.length} values are not a whole number of rows`);
  if (labels.length !== n) throw inputError('E_VALIDATE_SHAPE', `Expected ${n} labels but received ${labels.length}`);
  requireFinite(X, L);
  return n;
}

/** Squared Euclidean distance between row a of A and row b of B (both with L columns). */
function sqDist(A: Float32Array | Float64Array, a: number, B: Float64Array, b: number, L: number): number {
  let ss = 0;
  const pa = a * L;
  const pb = b * L;
  for (let t = 0; t < L; t++) {
    const d = A[pa + t] - B[pb + t];
    ss += d * d;
  }
  return ss;
}

/** Euclidean distance between row a of A and row b of B. */
function dist(A: Float32Array | Float64Array, a: number, B: Float64Array, b: number, L: number): number {
  return Math.sqrt(sqDist(A, a, B, b, L));
}

/**
 * Davies–Bouldin index (lower is better): the mean over clusters i of maxⱼ≠ᵢ (sᵢ + sⱼ) / dᵢⱼ, with
 * sᵢ the mean distance of cluster i's members to its centroid and dᵢⱼ the distance between
 * centroids. 0 when every sᵢ or every dᵢⱼ is 0 (scikit-learn's convention); a pair of clusters
 * with the same centroid is skipped (scikit-learn divides by ∞).
 * Centroids are always the per-cluster means, as scikit-learn's, whatever centres a model reports.
 * @param X n × L rows, row-major
 * @param labels cluster of each row in 0..k-1; empty clusters are ignored
 * @param k number of cluster ids (default: largest label + 1)
 */
export function daviesBouldin(X: Float32Array | Float64Array, L: number, labels: ArrayLike<number>, k?: number): number {
  rowCount(X, L, labels);
  const idx = indexClusters(labels, k);
  requireClusterCount(idx, 'the Davies–Bouldin index');
  const m = idx.present.length;
  const C = clusterMeans(X, L, idx);
  const s = new Float64Array(m);
  for (let c = 0; c < m; c++) {
    let t = 0;
    for (let p = idx.start[c]; p < idx.start[c + 1]; p++) t += dist(X, idx.order[p], C, c, L);
    s[c] = t / (idx.start[c + 1] - idx.start[c]);
  }
  const dc = new Float64Array(m * m);
  for (let a = 0; a < m; a++) for (let b = a + 1; b < m; b++) dc[a * m + b] = dc[b * m + a] = dist(C, a, C, b, L);
  // scikit-learn: np.allclose(x, 0) i.e. |x| ≤ 1e-8 for all entries.
  const allNear0 = (v: Float64Array): boolean => v.every((x) => Math.abs(x) <= 1e-8);
  if (allNear0(s) || allNear0(dc)) return 0;
  let total = 0;
  for (let a = 0; a < m; a++) {
    let worst = 0;
    for (let b = 0; b < m; b++) {
      if (b === a) continue;
      const d = dc[a * m + b];
      if (d === 0) continue;
      const r = (s[a] + s[b]) / d;
      if (r > worst) worst = r;
    }
    total += worst;
  }
  return total / m;
}

/**
 * Calinski–Harabasz index (variance ratio, higher is better):
 * [Σ_c n_c ‖μ_c − μ‖² / (m − 1)] / [Σᵢ ‖xᵢ − μ_cᵢ‖² / (n − m)], with m non-empty clusters;
 * 1 when the within-cluster dispersion is 0 (scikit-learn's convention).
 * @param X n × L rows, row-major
 * @param labels cluster of each row in 0..k-1; empty clusters are ignored
 */
export function calinskiHarabasz(X: Float32Array | Float64Array, L: number, labels: ArrayLike<number>, k?: number): number {
  const n = rowCount(X, L, labels);
  const idx = indexClusters(labels, k);
  requireClusterCount(idx, 'the Calinski–Harabasz index');
  const m = idx.present.length;
  const C = clusterMeans(X, L, idx);
  const mu = new Float64Array(L);
  for (let i = 0; i < n; i++) for (let t = 0; t < L; t++) mu[t] += X[i * L + t];
  for (let t = 0; t < L; t++) mu[t] /= n;
  let extra = 0;
  let intra = 0;
  for (let c = 0; c < m; c++) {
    let ss = 0;
    for (let t = 0; t < L; t++) {
      const d = C[c * L + t] - mu[t];
      ss += d * d;
    }
    extra += (idx.start[c + 1] - idx.start[c]) * ss;
    for (let p = idx.start[c]; p < idx.start[c + 1]; p++) {
      const r = idx.order[p] * L;
      for (let t = 0; t < L; t++) {
        const d = X[r + t] - C[c * L + t];
        intra += d * d;
      }
    }
  }
  if (intra === 0) return 1;
  return (extra * (n - m)) / (intra * (m - 1));
}

/**
 * Inertia: Σᵢ ‖xᵢ − centre(labelᵢ)‖² (scikit-learn's `KMeans.inertia_` with unit weights).
 * @param X n × L rows, row-major
 * @param labels cluster of each row in 0..k-1
 * @param centres k × L centres, row-major; default: the per-cluster means (then an empty
 *   cluster simply has no centre)
 */
export function inertia(X: Float32Array | Float64Array, L: number, labels: ArrayLike<number>, centres?: Float64Array): number {
  const n = rowCount(X, L, labels);
  if (centres !== undefined) {
    const k = centres.length / L;
    if (!Number.isInteger(k)) throw inputError('E_VALIDATE_SHAPE', `Expected centres with ${L} values per row but received ${centres.length} values`);
    indexClusters(labels, k);
    let total = 0;
    for (let i = 0; i < n; i++) {
      total += sqDist(X, i, centres, labels[i], L);
    }
    return total;
  }
  const idx = indexClusters(labels);
  const C = clusterMeans(X, L, idx);
  let total = 0;
  for (let i = 0; i < n; i++) {
    total += sqDist(X, i, C, idx.compact[i], L);
  }
  return total;
}
