/**
 * Silhouette coefficients, as scikit-learn's `silhouette_samples` / `silhouette_score` define them:
 * for sample i in cluster A, a = mean distance to the other members of A, b = the smallest mean
 * distance to the members of another non-empty cluster, s = (b − a) / max(a, b); s = 0 for a
 * sample alone in its cluster (and when a = b = 0).
 */
import { inputError } from '../errors.js';
import { throwIfInterrupted } from '../util/interrupt.js';
import { indexClusters, requireClusterCount, requireFinite, type ClusterIndex } from './labels.js';

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

/**
 * The coefficient of row i from its per-cluster sums, refusing a NaN or infinite distance (which
 * would otherwise make the coefficient silently 0; the scan that names it runs only then).
 */
function rowCoefficient(D: Float32Array | Float64Array, n: number, i: number, sums: Float64Array, own: number, idx: ClusterIndex): number {
  for (let c = 0; c < sums.length; c++) if (!Number.isFinite(sums[c])) throw badDistance(D.subarray(i * n, i * n + n), i);
  return coefficient(sums, own, idx);
}

function badDistance(row: Float32Array | Float64Array, i: number): Error {
  let j = 0;
  while (j < row.length && Number.isFinite(row[j])) j++;
  return inputError('E_VALIDATE_NAN', `Expected finite distances but entry (${i}, ${j}) of the matrix is ${row[j]}`, {
    hint: 'rebuild the DTW matrix with `lpclust dtw`',
  });
}

function summarise(samples: Float64Array): SilhouetteResult {
  let total = 0;
  for (let i = 0; i < samples.length; i++) total += samples[i];
  return { score: total / samples.length, samples };
}

/**
 * Silhouette on a precomputed distance matrix (e.g. the DTW matrix).
 * Reads each row once; the members of a cluster are gathered from the row (40 kB for n = 10,000
 * float32, so it stays in cache) and summed into registers, four rows at a time, which is what
 * makes it fast. Each row's sums are sequential float64 sums.
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
  const sums = new Float64Array(4 * m);
  const samples = new Float64Array(n);
  // Four rows at a time: each member index is loaded once for four rows, and the four row sums
  // are independent add chains (one chain alone is bound by the add latency).
  let i = 0;
  for (; i + 3 < n; i += 4) {
    if ((i & 255) === 0) throwIfInterrupted();
    const b0 = i * n;
    const b1 = b0 + n;
    const b2 = b1 + n;
    const b3 = b2 + n;
    for (let c = 0; c < m; c++) {
      const end = start[c + 1];
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let p = start[c]; p < end; p++) {
        const o = order[p];
        s0 += D[b0 + o];
        s1 += D[b1 + o];
        s2 += D[b2 + o];
        s3 += D[b3 + o];
      }
      sums[c] = s0;
      sums[m + c] = s1;
      sums[2 * m + c] = s2;
      sums[3 * m + c] = s3;
    }
    for (let r = 0; r < 4; r++) samples[i + r] = rowCoefficient(D, n, i + r, sums.subarray(r * m, r * m + m), compact[i + r], idx);
  }
  for (; i < n; i++) {
    const b0 = i * n;
    for (let c = 0; c < m; c++) {
      let s0 = 0;
      for (let p = start[c]; p < start[c + 1]; p++) s0 += D[b0 + order[p]];
      sums[c] = s0;
    }
    samples[i] = rowCoefficient(D, n, i, sums.subarray(0, m), compact[i], idx);
  }
  return summarise(samples);
}

/** Rows per tile of the Euclidean silhouette: a 64 × 64 float64 tile (32 kB) stays in L1/L2. */
const TILE = 64;

/** Exact Euclidean distance between rows a and b of Xs (L columns). */
function rowDistance(Xs: Float64Array, L: number, a: number, b: number): number {
  const xa = a * L;
  const xb = b * L;
  let ss = 0;
  for (let t = 0; t < L; t++) {
    const e = Xs[xa + t] - Xs[xb + t];
    ss += e * e;
  }
  return Math.sqrt(ss);
}

/** Upper triangle (j > i) of the diagonal tile [i0, i1)²; T is TILE × TILE, row-major. */
function diagonalTile(Xs: Float64Array, L: number, i0: number, i1: number, T: Float64Array): void {
  for (let i = i0; i < i1; i++) {
    const trow = (i - i0) * TILE;
    for (let j = i0; j <= i; j++) T[trow + j - i0] = 0;
    for (let j = i + 1; j < i1; j++) T[trow + j - i0] = rowDistance(Xs, L, i, j);
  }
}

/**
 * Distances of the tile [i0, i1) × [j0, j1) into T (TILE × TILE, row-major). The kernel takes
 * two rows by four columns: eight independent add chains (a single sum is bound by the add
 * latency, not by arithmetic) and six loads per slot for eight differences.
 */
function fullTile(Xs: Float64Array, L: number, i0: number, i1: number, j0: number, j1: number, T: Float64Array): void {
  let i = i0;
  for (; i + 1 < i1; i += 2) {
    const xi = i * L;
    const yi = xi + L;
    const tr = (i - i0) * TILE - j0;
    const ur = tr + TILE;
    let j = j0;
    for (; j + 3 < j1; j += 4) {
      const a = j * L;
      const b = a + L;
      const c = b + L;
      const d = c + L;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0, r0 = 0, r1 = 0, r2 = 0, r3 = 0;
      for (let t = 0; t < L; t++) {
        const x = Xs[xi + t];
        const y = Xs[yi + t];
        const A = Xs[a + t];
        const B = Xs[b + t];
        const C = Xs[c + t];
        const D = Xs[d + t];
        let e = x - A;
        s0 += e * e;
        e = x - B;
        s1 += e * e;
        e = x - C;
        s2 += e * e;
        e = x - D;
        s3 += e * e;
        e = y - A;
        r0 += e * e;
        e = y - B;
        r1 += e * e;
        e = y - C;
        r2 += e * e;
        e = y - D;
        r3 += e * e;
      }
      T[tr + j] = Math.sqrt(s0);
      T[tr + j + 1] = Math.sqrt(s1);
      T[tr + j + 2] = Math.sqrt(s2);
      T[tr + j + 3] = Math.sqrt(s3);
      T[ur + j] = Math.sqrt(r0);
      T[ur + j + 1] = Math.sqrt(r1);
      T[ur + j + 2] = Math.sqrt(r2);
      T[ur + j + 3] = Math.sqrt(r3);
    }
    for (; j < j1; j++) {
      T[tr + j] = rowDistance(Xs, L, i, j);
      T[ur + j] = rowDistance(Xs, L, i + 1, j);
    }
  }
  for (; i < i1; i++) {
    const tr = (i - i0) * TILE - j0;
    for (let j = j0; j < j1; j++) T[tr + j] = rowDistance(Xs, L, i, j);
  }
}

/**
 * The n × n matrix of exact Euclidean distances between rows (√Σ(xᵢ − yᵢ)², summed over the slots
 * in order), both triangles and a zero diagonal: the very distances {@link silhouetteEuclidean}
 * computes, so that `silhouettePrecomputed(euclideanDistanceMatrix(X, L), n, labels)` gives the
 * same silhouette (to the rounding of the sums' order, about 1e-16) for every labelling of X at a
 * fraction of the cost. Worth it when many labellings of the same rows are scored (a sweep).
 * @param X n × L values, row-major
 * @param L slots per row
 * @returns n × n float64, row-major (8·n² bytes: 3.2 GB at n = 20,000)
 */
export function euclideanDistanceMatrix(X: Float64Array, L: number): Float64Array {
  const n = X.length / L;
  if (!Number.isInteger(n)) throw inputError('E_VALIDATE_SHAPE', `Expected ${L} values per row but ${X.length} values are not a whole number of rows`);
  requireFinite(X, L);
  const out = new Float64Array(n * n);
  for (let i0 = 0; i0 < n; i0 += EUCLIDEAN_TILE_ROWS) {
    throwIfInterrupted();
    euclideanDistanceTileRow(X, L, out, i0);
  }
  return out;
}

/** Rows per unit of work of {@link euclideanDistanceTileRow}. */
export const EUCLIDEAN_TILE_ROWS = TILE;

/**
 * One unit of {@link euclideanDistanceMatrix}: the distances between rows [i0, i0 + 64) and every
 * row j ≥ i0, written to both triangles of `out` (n × n). Units write disjoint cells, so worker
 * threads can fill one shared matrix in parallel; the values do not depend on who computes what.
 * @param i0 a multiple of {@link EUCLIDEAN_TILE_ROWS}
 */
export function euclideanDistanceTileRow(X: Float64Array, L: number, out: Float64Array, i0: number): void {
  const n = X.length / L;
  if (out.length !== n * n || i0 % TILE !== 0 || i0 < 0 || i0 >= n) throw new RangeError(`Expected an ${n} × ${n} output and a tile row start below ${n}, multiple of ${TILE}, but received ${out.length} cells and ${i0}`);
  const T = new Float64Array(TILE * TILE);
  const i1 = Math.min(n, i0 + TILE);
  for (let j0 = i0; j0 < n; j0 += TILE) {
    const j1 = Math.min(n, j0 + TILE);
    if (j0 === i0) diagonalTile(X, L, i0, i1, T);
    else fullTile(X, L, i0, i1, j0, j1, T);
    for (let i = i0; i < i1; i++) {
      const trow = (i - i0) * TILE - j0;
      for (let j = j0 === i0 ? i + 1 : j0; j < j1; j++) {
        const v = T[trow + j];
        out[i * n + j] = v;
        out[j * n + i] = v;
      }
    }
  }
}

/**
 * The rows of a labelling laid out for the Euclidean silhouette: copied in cluster order, so that
 * every tile of distances splits into contiguous per-cluster runs. Plain data (typed arrays and
 * numbers) that can be posted to worker threads; see {@link silhouetteEuclideanPartial}.
 */
export interface SilhouetteLayout {
  /** n × L rows in cluster order. */
  Xs: Float64Array;
  L: number;
  n: number;
  /** Number of non-empty clusters. */
  m: number;
  /** Compact cluster of each sorted position; length n. */
  cl: Int32Array;
  /** Sorted positions of cluster c are start[c]..start[c + 1] − 1; length m + 1. */
  start: Int32Array;
}

/**
 * The Euclidean silhouette's work is split into this many partial sums, whatever the number of
 * threads, and the partials are added in a fixed order: the result is the same on one thread or
 * many, to the last bit.
 */
export const SILHOUETTE_PARTIALS = 8;

/** Check the input and lay the rows out in cluster order (see {@link SilhouetteLayout}). */
export function silhouetteLayout(X: Float64Array, L: number, labels: ArrayLike<number>, k?: number, shared = false): { layout: SilhouetteLayout; idx: ClusterIndex } {
  const n = X.length / L;
  if (!Number.isInteger(n)) throw inputError('E_VALIDATE_SHAPE', `Expected ${L} values per row but ${X.length} values are not a whole number of rows`);
  if (labels.length !== n) throw inputError('E_VALIDATE_SHAPE', `Expected ${n} labels but received ${labels.length}`);
  requireFinite(X, L);
  const idx = indexClusters(labels, k);
  requireClusterCount(idx, 'the silhouette');
  const m = idx.present.length;
  const { order, start } = idx;
  const Xs = new Float64Array(shared ? new SharedArrayBuffer(8 * n * L) : new ArrayBuffer(8 * n * L));
  const cl = new Int32Array(n);
  for (let c = 0; c < m; c++) {
    for (let p = start[c]; p < start[c + 1]; p++) {
      Xs.set(X.subarray(order[p] * L, order[p] * L + L), p * L);
      cl[p] = c;
    }
  }
  return { layout: { Xs, L, n, m, cl, start: Int32Array.from(start) }, idx };
}

/**
 * One of the {@link SILHOUETTE_PARTIALS} partial sums: the contribution of the 64-row tile rows
 * u with u mod parts = part (each pair of rows once, mirrored by symmetry).
 * @returns acc, n × m: acc[p·m + c] = this part's sum of distances from sorted row p to cluster c
 */
export function silhouetteEuclideanPartial(layout: SilhouetteLayout, part: number, parts = SILHOUETTE_PARTIALS): Float64Array {
  const { Xs, L, n, m, cl, start } = layout;
  const acc = new Float64Array(n * m);
  const T = new Float64Array(TILE * TILE);
  const colSum = new Float64Array(TILE);
  for (let i0 = part * TILE; i0 < n; i0 += parts * TILE) {
    throwIfInterrupted();
    const i1 = Math.min(n, i0 + TILE);
    for (let j0 = i0; j0 < n; j0 += TILE) {
      const j1 = Math.min(n, j0 + TILE);
      const w = j1 - j0;
      const diagonal = j0 === i0;
      // Distances of the tile (on the diagonal tile, only j > i; the rest is mirrored).
      if (diagonal) diagonalTile(Xs, L, i0, i1, T);
      else fullTile(Xs, L, i0, i1, j0, j1, T);
      if (diagonal) {
        for (let a = 0; a < i1 - i0; a++) for (let b = 0; b < a; b++) T[a * TILE + b] = T[b * TILE + a];
      }
      // Row sums: for each row of the tile, per cluster run of columns.
      for (let i = i0; i < i1; i++) {
        const trow = (i - i0) * TILE;
        let j = j0;
        while (j < j1) {
          const c = cl[j];
          const end = Math.min(j1, start[c + 1]);
          let s = 0;
          for (let q = j; q < end; q++) s += T[trow + q - j0];
          acc[i * m + c] += s;
          j = end;
        }
      }
      if (diagonal) continue;
      // Column sums (the mirrored half): for each column, per cluster run of rows.
      let i = i0;
      while (i < i1) {
        const c = cl[i];
        const end = Math.min(i1, start[c + 1]);
        colSum.fill(0, 0, w);
        for (let r = i; r < end; r++) {
          const trow = (r - i0) * TILE;
          for (let q = 0; q < w; q++) colSum[q] += T[trow + q];
        }
        for (let q = 0; q < w; q++) acc[(j0 + q) * m + c] += colSum[q];
        i = end;
      }
    }
  }
  return acc;
}

/**
 * The coefficients from the partial sums, added in the order given (the order of the parts).
 * @param partials the {@link SILHOUETTE_PARTIALS} results of {@link silhouetteEuclideanPartial}, part 0 first
 */
export function silhouetteFromPartials(layout: SilhouetteLayout, idx: ClusterIndex, partials: Iterable<Float64Array>): SilhouetteResult {
  const { n, m, cl } = layout;
  const acc = new Float64Array(n * m);
  for (const part of partials) for (let q = 0; q < acc.length; q++) acc[q] += part[q];
  const samples = new Float64Array(n);
  for (let p = 0; p < n; p++) samples[idx.order[p]] = coefficient(acc.subarray(p * m, p * m + m), cl[p], idx);
  return summarise(samples);
}

/**
 * Silhouette with Euclidean distances between rows, computed exactly (√Σ(xᵢ − yᵢ)², not the
 * ‖x‖² − 2x·y + ‖y‖² shortcut, which loses digits for close rows), each pair once.
 * Rows are first copied in cluster order, so that every tile of distances splits into contiguous
 * per-cluster runs: the tile is summed along its rows and along its columns (symmetry) without any
 * scattered writes. The work is summed in {@link SILHOUETTE_PARTIALS} parts, the same ones a pool
 * of worker threads computes (`silhouetteEuclideanParallel` in pipeline/), so both give the same bits.
 * @param X n × L values, row-major
 * @param L slots per row
 * @param labels cluster of each sample, integers in 0..k-1; length n
 * @param k number of cluster ids (default: largest label + 1); empty clusters are ignored
 */
export function silhouetteEuclidean(X: Float64Array, L: number, labels: ArrayLike<number>, k?: number): SilhouetteResult {
  const { layout, idx } = silhouetteLayout(X, L, labels, k);
  // A generator: one partial in memory at a time, added in part order as the pool adds them.
  function* parts(): Generator<Float64Array> {
    for (let part = 0; part < SILHOUETTE_PARTIALS; part++) yield silhouetteEuclideanPartial(layout, part);
  }
  return silhouetteFromPartials(layout, idx, parts());
}
