/**
 * Shared pieces of the clustering models: data shapes, precomputed distance matrices, argument
 * checks, nearest-centre assignment and relabelling by decreasing size.
 */
import { inputError, usageError } from '../errors.js';

/**
 * Element types of profiles held for a run: float64 (exact mode), or float32 (sampled mode's one
 * shared copy, see cluster/scale.ts: half the memory, and the precision the DTW kernels accumulate
 * in for the float32 matrix anyway).
 */
export type RowValues = Float32Array | Float64Array;

/**
 * Rows to cluster: `n` rows of `dim` values, row-major (`data.length === n * dim`). Float64 by
 * default; the sampled-mode paths also take float32 rows (`Rows<RowValues>`).
 */
export interface Rows<T extends RowValues = Float64Array> {
  /** Values, n × dim, row-major. */
  data: T;
  /** Number of rows. */
  n: number;
  /** Values per row (slots). */
  dim: number;
}

/**
 * A full, symmetric n × n distance matrix, row-major, zero diagonal (for example the DTW matrix
 * read from `dtw.npy`). float32 is kept as float32: nothing copies the matrix.
 */
export interface DistanceMatrix {
  /** Number of rows (and columns). */
  n: number;
  /** n × n distances, row-major. */
  data: Float32Array | Float64Array;
}

/**
 * The profiles where only float64 ones can be (exact mode): float32 profiles are
 * sampled mode's (cluster/scale.ts), so meeting one here is a wiring mistake, not a user's.
 */
export function float64Profiles(X: RowValues): Float64Array {
  if (!(X instanceof Float64Array)) throw new RangeError('Expected float64 profiles here (exact mode) but received float32');
  return X;
}

/** Make a {@link Rows} view over a row-major array. */
export function rowsOf(data: Float64Array, dim: number): Rows {
  return { data, n: Math.floor(data.length / dim), dim };
}

/**
 * Check k and the data before fitting: 2 ≤ k ≤ n, no NaN or infinite value.
 * @throws LpclustError E_USAGE_K, E_INPUT_NAN
 */
export function checkFitInput(rows: Rows<RowValues> | null, n: number, k: number): void {
  if (!Number.isInteger(k) || k < 2) {
    throw usageError('E_USAGE_K', `Expected an integer k ≥ 2 (or 0 to choose k) but received \`${k}\``);
  }
  if (k > n) {
    throw usageError('E_USAGE_K', `Expected k ≤ the number of rows (${n}) but received k = ${k}`, {
      hint: 'lower -k or cluster more rows',
    });
  }
  if (rows) {
    const { data, dim } = rows;
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) {
        throw inputError('E_INPUT_NAN', `Expected finite values but row ${Math.floor(i / dim) + 1}, slot ${(i % dim) + 1} is ${data[i]}`, {
          hint: 'drop or fill missing values before clustering (lpclust harmonize drops incomplete rows)',
        });
      }
    }
  }
}

/** Check that a distance matrix is n × n, finite and non-negative (samples the diagonal and a few cells). */
export function checkDistanceMatrix(D: DistanceMatrix, n: number): void {
  if (D.n !== n || D.data.length !== n * n) {
    throw inputError('E_INPUT_MATRIX_SIZE', `Expected a ${n} × ${n} distance matrix but received ${D.n} × ${D.data.length / Math.max(D.n, 1)}`, {
      hint: 'rebuild the matrix from the same data with `lpclust dtw`',
    });
  }
  for (let i = 0; i < n; i++) {
    const row = i * n;
    for (let j = 0; j < n; j++) {
      const v = D.data[row + j];
      if (!(v >= 0) || v === Infinity) {
        throw inputError('E_INPUT_MATRIX_VALUE', `Expected finite non-negative distances but cell (${i}, ${j}) of the matrix is ${v}`);
      }
    }
  }
}

/** Squared Euclidean distance between row `i` of `a` and row `j` of `b` (both `dim` wide). */
export function sqDist(a: Float64Array, i: number, b: Float64Array, j: number, dim: number): number {
  let s = 0;
  const ai = i * dim;
  const bj = j * dim;
  for (let t = 0; t < dim; t++) {
    const d = a[ai + t] - b[bj + t];
    s += d * d;
  }
  return s;
}

/**
 * Nearest centre of every row by squared Euclidean distance (ties: lowest centre index).
 * @param centres k × dim, row-major
 * @returns labels (length n) and the squared distance of each row to its centre
 */
export function assignEuclidean(rows: Rows, centres: Float64Array, k: number): { labels: Int32Array; dist2: Float64Array } {
  const { data, n, dim } = rows;
  const labels = new Int32Array(n);
  const dist2 = new Float64Array(n);
  for (let i = 0; i < n; i++) labels[i] = nearestCentre(data, i, centres, k, dim, dist2);
  return { labels, dist2 };
}

/**
 * The nearest of k centres to row i of `data` by squared Euclidean distance (ties: lowest index);
 * its squared distance goes to `dist2[i]`.
 */
export function nearestCentre(data: Float64Array, i: number, centres: Float64Array, k: number, dim: number, dist2: Float64Array): number {
  let best = Infinity;
  let bj = 0;
  for (let j = 0; j < k; j++) {
    const d = sqDist(data, i, centres, j, dim);
    if (d < best) {
      best = d;
      bj = j;
    }
  }
  dist2[i] = best;
  return bj;
}

/** Per-cluster means, k × dim (a zero row for an empty cluster), and the cluster sizes. */
export function clusterMeans(rows: Rows, labels: Int32Array, k: number): { centres: Float64Array; sizes: Int32Array } {
  const { data, n, dim } = rows;
  const centres = new Float64Array(k * dim);
  const sizes = new Int32Array(k);
  for (let i = 0; i < n; i++) {
    const c = labels[i];
    sizes[c]++;
    const base = c * dim;
    const ri = i * dim;
    for (let t = 0; t < dim; t++) centres[base + t] += data[ri + t];
  }
  for (let c = 0; c < k; c++) {
    if (sizes[c] === 0) continue;
    const base = c * dim;
    for (let t = 0; t < dim; t++) centres[base + t] /= sizes[c];
  }
  return { centres, sizes };
}

/**
 * The medoid of each cluster under a distance matrix: the member with the smallest sum of
 * distances to the other members (ties: lowest row). -1 for an empty cluster.
 */
export function clusterMedoids(D: DistanceMatrix, labels: Int32Array, k: number): Int32Array {
  const n = D.n;
  const members: number[][] = Array.from({ length: k }, () => []);
  for (let i = 0; i < n; i++) members[labels[i]].push(i);
  const medoids = new Int32Array(k).fill(-1);
  for (let c = 0; c < k; c++) {
    const m = members[c];
    let best = Infinity;
    for (const i of m) {
      let s = 0;
      const row = i * n;
      for (const j of m) s += D.data[row + j];
      if (s < best) {
        best = s;
        medoids[c] = i;
      }
    }
  }
  return medoids;
}

/** Sizes of clusters 0..k-1. */
export function clusterSizes(labels: Int32Array, k: number): Int32Array {
  const sizes = new Int32Array(k);
  for (let i = 0; i < labels.length; i++) sizes[labels[i]]++;
  return sizes;
}

/**
 * Renumber clusters 0.. by decreasing size (ties: by the smallest row index in the cluster), as the
 * labels CSV contract asks.
 * @returns `order[newId] = oldId`, `rank[oldId] = newId` and the relabelled labels
 */
export function orderBySize(labels: Int32Array, k: number): { labels: Int32Array; order: Int32Array; rank: Int32Array } {
  const sizes = clusterSizes(labels, k);
  const first = new Int32Array(k).fill(0x7fffffff);
  for (let i = labels.length - 1; i >= 0; i--) first[labels[i]] = i;
  const order = Int32Array.from({ length: k }, (_, i) => i).sort((a, b) => sizes[b] - sizes[a] || first[a] - first[b]);
  const rank = new Int32Array(k);
  for (let r = 0; r < k; r++) rank[order[r]] = r;
  const out = new Int32Array(labels.length);
  for (let i = 0; i < labels.length; i++) out[i] = rank[labels[i]];
  return { labels: out, order, rank };
}

/** Reorder the rows of a k × dim array by `order` (new row r = old row order[r]). */
export function permuteRows(a: Float64Array, dim: number, order: Int32Array): Float64Array {
  const out = new Float64Array(order.length * dim);
  for (let r = 0; r < order.length; r++) out.set(a.subarray(order[r] * dim, order[r] * dim + dim), r * dim);
  return out;
}

/**
 * A medoid that lost every row (only an identical medoid, at distance 0, can take them) and the row
 * to re-seed it on: the farthest from its medoid among clusters of more than one row (ties: the
 * lowest row). null when no cluster is empty.
 * @param nearest index (0..k-1) of each row's nearest medoid
 * @param dist each row's distance to it
 */
export function emptyMedoidReseed(nearest: Int32Array, dist: Float64Array, k: number): { empty: number; row: number } | null {
  const n = nearest.length;
  const sizes = clusterSizes(nearest, k);
  const empty = sizes.indexOf(0);
  if (empty < 0) return null;
  let far = -1;
  for (let i = 0; i < n; i++) if (sizes[nearest[i]] > 1 && (far < 0 || dist[i] > dist[far])) far = i;
  return { empty, row: far };
}
