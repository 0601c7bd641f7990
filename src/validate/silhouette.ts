/**
 * Silhouette coefficients, as scikit-learn's `silhouette_samples` / `silhouette_score` define them:
 * for sample i in cluster A, a = mean distance to the other members of A, b = the smallest mean
 * distance to the members of another non-empty cluster, s = (b − a) / max(a, b); s = 0 for a
 * sample alone in its cluster (and when a = b = 0).
 */
import { inputError } from '../errors.js';
import { throwIfInterrupted } from '../util/interrupt.js';
import { indexClusters, requireClusterCount, type ClusterIndex } from './labels.js';

/** Silhouette of a labelling. */
export interface SilhouetteResult {
  /** Mean of the per-sample coefficients (scikit-learn's `silhouette_score`). */
  score: number;
  /** Coefficient of every sample, in [−1, 1]; length n (scikit-learn's `silhouette_samples`). */
  samples: Float64Array;
}

/** Turn per-cluster distance sums of sample i into its coefficient (scikit-learn's arithmetic). */
function coefficient(sums: Float64Array, own: number, idx: ClusterIndex): number {
  const m = idx.present.length;
  const ownSize = idx.start[own + 1] - idx.start[own];
  if (ownSize <= 1) return 0;
  const a = sums[own] / (ownSize - 1);
  let b = Infinity;
  for (let c = 0; c < m; c++) {
    if (c === own) continue;
    const v = sums[c] / (idx.start[c + 1] - idx.start[c]);
    if (v < b) b = v;
  }
  const den = a > b ? a : b;
  const s = (b - a) / den;
  return Number.isNaN(s) ? 0 : s;
}

function summarise(samples: Float64Array): SilhouetteResult {
  let total = 0;
  for (let i = 0; i < samples.length; i++) total += samples[i];
  return { score: total / samples.length, samples };
}

/**
 * Silhouette on a precomputed distance matrix (e.g. the DTW matrix).
 * Reads each row once; the members of a cluster are gathered from the row (40 kB for n = 10,000
 * float32, so it stays in cache) and summed into a register, which is what makes it fast.
 * @param D n × n distances, row-major, zero diagonal (float32 or float64)
 * @param n number of samples
 * @param labels cluster of each sample, integers in 0..k-1; length n
 * @param k number of cluster ids (default: largest label + 1); empty clusters are ignored
 * With a float32 matrix the sums are still accumulated in float64, so the result is the exact
 * silhouette of the float32 distances; scikit-learn rounds its sums to float32 there (agreement
 * then to about 1e-6).
 * @throws LpclustError for a matrix of the wrong size, a non-zero diagonal, or fewer than 2 or
 *   more than n − 1 non-empty clusters (scikit-learn refuses those too)
 */
export function silhouettePrecomputed(
  D: Float32Array | Float64Array,
  n: number,
  labels: ArrayLike<number>,
  k?: number,
): SilhouetteResult {
  if (D.length !== n * n) throw inputError('E_VALIDATE_SHAPE', `Expected a ${n} × ${n} distance matrix (${n * n} values) but received ${D.length} values`);
  if (labels.length !== n) throw inputError('E_VALIDATE_SHAPE', `Expected ${n} labels but received ${labels.length}`);
  const idx = indexClusters(labels, k);
  requireClusterCount(idx, 'the silhouette');
  // scikit-learn's tolerance: |diagonal| ≤ 100 machine epsilons of the matrix's type.
  const atol = 100 * (D instanceof Float32Array ? 2 ** -23 : 2 ** -52);
  for (let i = 0; i < n; i++) {
    const d = D[i * n + i];
    if (!(Math.abs(d) <= atol)) {
      throw inputError('E_VALIDATE_DIAGONAL', `Expected a distance matrix with a zero diagonal but entry (${i}, ${i}) is ${d}`, {
        hint: 'give the DTW matrix written by `lpclust dtw` for the same data',
      });
    }
  }
  const m = idx.present.length;
  const { order, start, compact } = idx;
  const sums = new Float64Array(m);
  const samples = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    if ((i & 255) === 0) throwIfInterrupted();
    const row = D.subarray(i * n, i * n + n);
    for (let c = 0; c < m; c++) {
      const end = start[c + 1];
      let p = start[c];
      // Four accumulators break the add dependency chain; order differs from NumPy's only in
      // rounding (relative 1e-15).
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (; p + 3 < end; p += 4) {
        s0 += row[order[p]];
        s1 += row[order[p + 1]];
        s2 += row[order[p + 2]];
        s3 += row[order[p + 3]];
      }
      for (; p < end; p++) s0 += row[order[p]];
      sums[c] = s0 + s1 + (s2 + s3);
    }
    samples[i] = coefficient(sums, compact[i], idx);
  }
  return summarise(samples);
}

/**
 * Silhouette with Euclidean distances between rows, computed exactly (√Σ(xᵢ − yᵢ)², not the
 * ‖x‖² − 2x·y + ‖y‖² shortcut), each pair once.
 * @param X n × L values, row-major
 * @param L slots per row
 * @param labels cluster of each sample, integers in 0..k-1; length n
 * @param k number of cluster ids (default: largest label + 1); empty clusters are ignored
 */
export function silhouetteEuclidean(X: Float64Array, L: number, labels: ArrayLike<number>, k?: number): SilhouetteResult {
  const n = X.length / L;
  if (!Number.isInteger(n)) throw inputError('E_VALIDATE_SHAPE', `Expected ${L} values per row but ${X.length} values are not a whole number of rows`);
  if (labels.length !== n) throw inputError('E_VALIDATE_SHAPE', `Expected ${n} labels but received ${labels.length}`);
  const idx = indexClusters(labels, k);
  requireClusterCount(idx, 'the silhouette');
  const m = idx.present.length;
  const { compact } = idx;
  // acc[i*m + c]: sum of distances from i to the members of compact cluster c. Each pair (i, j),
  // i < j, is computed once and added to both rows; blocks of rows keep both ends in cache.
  const acc = new Float64Array(n * m);
  const B = 64;
  for (let i0 = 0; i0 < n; i0 += B) {
    throwIfInterrupted();
    const i1 = Math.min(n, i0 + B);
    for (let j0 = i0; j0 < n; j0 += B) {
      const j1 = Math.min(n, j0 + B);
      for (let i = i0; i < i1; i++) {
        const xi = i * L;
        const ci = compact[i];
        const ai = i * m;
        let jStart = j0;
        if (jStart <= i) jStart = i + 1;
        for (let j = jStart; j < j1; j++) {
          const xj = j * L;
          let ss = 0;
          for (let t = 0; t < L; t++) {
            const d = X[xi + t] - X[xj + t];
            ss += d * d;
          }
          const dist = Math.sqrt(ss);
          acc[ai + compact[j]] += dist;
          acc[j * m + ci] += dist;
        }
      }
    }
  }
  const samples = new Float64Array(n);
  for (let i = 0; i < n; i++) samples[i] = coefficient(acc.subarray(i * m, i * m + m), compact[i], idx);
  return summarise(samples);
}
