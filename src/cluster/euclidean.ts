/**
 * Euclidean distance matrices of profile rows, shared by the models that fit on one (k-medoids,
 * agglomerative) and by the sweep's worker pool: SciPy's condensed `pdist`, the full float64 matrix
 * (bit-identical to it), and the float32 matrix above {@link FULL_MATRIX_MAX_ROWS} rows. Kept out of
 * any one model's file so that no model imports another's internals.
 */
import { dtwBlock } from '../dtw/index.js';
import { throwIfInterrupted } from '../util/interrupt.js';
import type { DistanceMatrix, Rows } from './common.js';

/** Largest n for which the agglomerative models use a full float64 matrix (≈ 1.15 GB) instead of the condensed one. */
export const FULL_MATRIX_MAX_ROWS = 12000;

/**
 * A condensed distance matrix as SciPy's `pdist` returns: the upper triangle row by row,
 * cell (i, j), i < j, at `i·n − i(i+1)/2 + j − i − 1`.
 */
export interface Condensed {
  n: number;
  /** n(n−1)/2 distances. */
  data: Float64Array;
}

/** Condensed Euclidean distances of the rows (SciPy `pdist(X, 'euclidean')`). */
export function pdistEuclidean(rows: Rows): Condensed {
  const { data, n, dim } = rows;
  const out = new Float64Array((n * (n - 1)) / 2);
  let p = 0;
  for (let i = 0; i < n; i++) {
    const ri = i * dim;
    for (let j = i + 1; j < n; j++) {
      const rj = j * dim;
      let s = 0;
      for (let t = 0; t < dim; t++) {
        const d = data[ri + t] - data[rj + t];
        s += d * d;
      }
      out[p++] = Math.sqrt(s);
    }
  }
  return { n, data: out };
}

/**
 * Full symmetric n × n float64 Euclidean distances, bit-identical to {@link pdistEuclidean} (and
 * SciPy's `pdist`): the Euclidean distance is DTW with a band of radius 0 (the diagonal path sums
 * the squared differences slot by slot, in the same order), so the DTW stage's block kernel
 * (native SIMD when the addon loads) fills the upper triangle by row blocks; the lower triangle
 * is mirrored in 64 × 64 tiles.
 */
export function fullEuclidean(rows: Rows): Float64Array {
  const { data, n, dim } = rows;
  const out = new Float64Array(n * n);
  const R = 256;
  for (let r0 = 0; r0 < n; r0 += R) {
    throwIfInterrupted();
    const r1 = Math.min(n, r0 + R);
    // Rows [r0, r1) × all columns, written in place; `upper` computes j > i only.
    dtwBlock(data, dim, { r0, r1, c0: 0, c1: n }, 0, out.subarray(r0 * n, r1 * n), { upper: true });
  }
  const T = 64;
  for (let i0 = 0; i0 < n; i0 += T) {
    const i1 = Math.min(n, i0 + T);
    for (let j0 = i0; j0 < n; j0 += T) {
      const j1 = Math.min(n, j0 + T);
      for (let i = i0; i < i1; i++) for (let j = j0 > i + 1 ? j0 : i + 1; j < j1; j++) out[j * n + i] = out[i * n + j];
    }
  }
  return out;
}

/**
 * The full n × n Euclidean distance matrix of the rows: float64 up to 12,000 rows, else float32
 * (1.6 GB at 20,000) rounded from float64 distances. Computed by the DTW block kernel at radius 0
 * (see {@link fullEuclidean}).
 */
export function euclideanMatrix(rows: Rows): DistanceMatrix {
  const { n } = rows;
  if (n <= FULL_MATRIX_MAX_ROWS) return { n, data: fullEuclidean(rows) };
  const out = new Float32Array(n * n);
  const scratch = new Float64Array(EUCLIDEAN_MATRIX_UNIT_ROWS * n);
  for (let r0 = 0; r0 < n; r0 += EUCLIDEAN_MATRIX_UNIT_ROWS) {
    throwIfInterrupted();
    euclideanMatrixRows(rows, out, r0, scratch);
  }
  return { n, data: out };
}

/** Rows per unit of {@link euclideanMatrixRows}. */
export const EUCLIDEAN_MATRIX_UNIT_ROWS = 128;

/**
 * One unit of the float32 {@link euclideanMatrix} (more than 12,000 rows): the distances between
 * rows [r0, r0 + 128) and every later row, rounded to float32 and written to both triangles of
 * `out` (n × n, zero diagonal left as it is); `scratch` (128·n float64) is reused when given. Units write disjoint cells, so worker threads can
 * fill one shared matrix; the values do not depend on who computes what.
 */
export function euclideanMatrixRows(rows: Rows, out: Float32Array, r0: number, scratch?: Float64Array): void {
  const { data, n, dim } = rows;
  const r1 = Math.min(n, r0 + EUCLIDEAN_MATRIX_UNIT_ROWS);
  const block = (scratch ?? new Float64Array(EUCLIDEAN_MATRIX_UNIT_ROWS * n)).subarray(0, (r1 - r0) * n);
  dtwBlock(data, dim, { r0, r1, c0: 0, c1: n }, 0, block, { upper: true });
  for (let i = r0; i < r1; i++) {
    const src = (i - r0) * n;
    for (let j = i + 1; j < n; j++) {
      const v = block[src + j];
      out[i * n + j] = v;
      out[j * n + i] = v;
    }
  }
}
