/**
 * One k-means restart (Lloyd iterations with Hamerly's bounds, then the exact final assignment)
 * and the Hartigan refinement, in TypeScript and through the native addon. Its own module so that
 * both the estimator (kmeans.ts) and the restart workers (kmeans-restarts.ts) import it without an
 * import cycle between the two.
 */
import { throwIfInterrupted } from '../util/interrupt.js';
import { dtwToMany, loadNative, nativeStatus } from '../dtw/index.js';
import { assignEuclidean, nearestCentre, sqDist, type Rows } from './common.js';

/** Learned state of a fitted k-means. */
export interface KMeansState {
  /** Centres, k × dim, row-major. */
  centres: Float64Array;
  /** Label of every training row (0..k-1). */
  labels: Int32Array;
  /** Sum of squared distances to the assigned centres (scikit-learn's inertia). */
  inertia: number;
  /** Iterations of the winning restart. */
  nIter: number;
  /** Empty clusters re-seeded from the farthest row, over all restarts. */
  emptyReseeds: number;
}

/**
 * Nearest and second-nearest centre (Euclidean distances, not squared) of the rows listed in
 * `todo[0..m)`. With the native DTW addon loaded the distances come from its SIMD block kernel at
 * radius 0, which is the Euclidean distance summed slot by slot like {@link sqDist}; otherwise
 * from a plain loop. Results go to labels/upper/lower; returns how many labels changed.
 */
function nearestTwo(
  rows: Rows,
  centres: Float64Array,
  k: number,
  todo: Int32Array,
  m: number,
  scratch: Float64Array,
  labels: Int32Array,
  upper: Float64Array,
  lower: Float64Array,
): number {
  const { data, dim } = rows;
  let changed = 0;
  if (useNative()) {
    for (let q = 0; q < m; q++) scratch.set(data.subarray(todo[q] * dim, todo[q] * dim + dim), q * dim);
    const D = dtwToMany(scratch.subarray(0, m * dim), centres, dim, 0);
    for (let q = 0; q < m; q++) {
      let b1 = Infinity;
      let b2 = Infinity;
      let a = 0;
      const base = q * k;
      for (let j = 0; j < k; j++) {
        const d = D[base + j];
        if (d < b1) {
          b2 = b1;
          b1 = d;
          a = j;
        } else if (d < b2) b2 = d;
      }
      const i = todo[q];
      if (labels[i] !== a) {
        labels[i] = a;
        changed++;
      }
      upper[i] = b1;
      lower[i] = b2;
    }
    return changed;
  }
  for (let q = 0; q < m; q++) {
    const i = todo[q];
    let b1 = Infinity;
    let b2 = Infinity;
    let a = 0;
    for (let j = 0; j < k; j++) {
      const d = sqDist(data, i, centres, j, dim);
      if (d < b1) {
        b2 = b1;
        b1 = d;
        a = j;
      } else if (d < b2) b2 = d;
    }
    if (labels[i] !== a) {
      labels[i] = a;
      changed++;
    }
    upper[i] = Math.sqrt(b1);
    lower[i] = Math.sqrt(b2);
  }
  return changed;
}

let nativeOk: boolean | null = null;
function useNative(): boolean {
  if (nativeOk === null) nativeOk = nativeStatus().loaded;
  return nativeOk;
}

/**
 * One k-means restart from the given centres (modified in place): Lloyd iterations with Hamerly's
 * bounds, which skip rows whose assignment provably cannot change. Exact: the labels are those
 * Lloyd's algorithm would give. Runs in the native addon when it is loaded (the whole restart in
 * one call, same bits as {@link lloydHamerlyJs}), else in TypeScript.
 */
export function lloydHamerly(rows: Rows, centres: Float64Array, k: number, maxIter: number, tolAbs: number): KMeansState {
  const addon = loadNative();
  if (addon?.kmeansLloyd) {
    const labels = new Int32Array(rows.n);
    const [inertia, nIter, emptyReseeds] = addon.kmeansLloyd(rows.data, rows.n, rows.dim, centres, k, maxIter, tolAbs, labels);
    return { centres, labels, inertia, nIter, emptyReseeds };
  }
  return lloydHamerlyJs(rows, centres, k, maxIter, tolAbs);
}

/**
 * {@link lloydHamerly} in TypeScript: the reference the native port (native/kmeans_kernel.cc)
 * follows operation by operation, and the fallback without the addon.
 */
export function lloydHamerlyJs(rows: Rows, centres: Float64Array, k: number, maxIter: number, tolAbs: number): KMeansState {
  const { data, n, dim } = rows;
  const labels = new Int32Array(n);
  const upper = new Float64Array(n); // ≥ distance to own centre
  const lower = new Float64Array(n); // ≤ distance to any other centre
  const half = new Float64Array(k); // half the distance from each centre to its nearest other centre
  const sums = new Float64Array(k * dim);
  const sizes = new Int32Array(k);
  const next = new Float64Array(k * dim);
  const shift = new Float64Array(k);
  let emptyReseeds = 0;
  let nIter = 0;

  // Full first assignment.
  const todo = new Int32Array(n);
  const scratch = new Float64Array(n * dim);
  for (let i = 0; i < n; i++) todo[i] = i;
  labels.fill(-1);
  nearestTwo(rows, centres, k, todo, n, scratch, labels, upper, lower);
  let changed = n;
  // Whether the bounds no longer describe the labels (a re-seed moved rows), and whether the
  // centres moved after the bounds were last brought up to date (shift then holds the moves).
  let stale = false;
  let moved = false;
  for (let it = 0; it < maxIter; it++) {
    nIter = it + 1;
    // M-step: means of the current labels.
    sums.fill(0);
    sizes.fill(0);
    for (let i = 0; i < n; i++) {
      const c = labels[i];
      sizes[c]++;
      const base = c * dim;
      const ri = i * dim;
      for (let t = 0; t < dim; t++) sums[base + t] += data[ri + t];
    }
    let reseeded = false;
    for (let c = 0; c < k; c++) {
      if (sizes[c] > 0) continue;
      // Empty cluster: move its centre onto the row farthest from its own centre (in a cluster of ≥ 2).
      let far = -1;
      let farD = -1;
      for (let i = 0; i < n; i++) {
        if (sizes[labels[i]] < 2) continue;
        const d = sqDist(data, i, centres, labels[i], dim);
        if (d > farD) {
          farD = d;
          far = i;
        }
      }
      const old = labels[far];
      sizes[old]--;
      for (let t = 0; t < dim; t++) sums[old * dim + t] -= data[far * dim + t];
      labels[far] = c;
      sizes[c] = 1;
      for (let t = 0; t < dim; t++) sums[c * dim + t] = data[far * dim + t];
      emptyReseeds++;
      reseeded = true;
    }
    let shiftTot = 0;
    let maxShift = 0;
    let maxShiftIdx = 0;
    let secondShift = 0;
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let t = 0; t < dim; t++) {
        const v = sums[c * dim + t] / sizes[c];
        next[c * dim + t] = v;
        const d = v - centres[c * dim + t];
        s += d * d;
      }
      shiftTot += s;
      shift[c] = Math.sqrt(s);
      if (shift[c] > maxShift) {
        secondShift = maxShift;
        maxShift = shift[c];
        maxShiftIdx = c;
      } else if (shift[c] > secondShift) secondShift = shift[c];
    }
    centres.set(next);
    moved = true;
    stale = reseeded;
    if (changed === 0 && !reseeded) break; // strict convergence: centres did not move
    if (shiftTot <= tolAbs) break;
    moved = false;
    stale = false;
    throwIfInterrupted();
    // Bounds follow the centres.
    if (reseeded) {
      for (let i = 0; i < n; i++) {
        upper[i] = Infinity;
        lower[i] = 0;
      }
    } else {
      for (let i = 0; i < n; i++) {
        upper[i] += shift[labels[i]];
        lower[i] -= labels[i] === maxShiftIdx ? secondShift : maxShift;
      }
    }
    halfGaps(centres, k, dim, half);
    // E-step with bounds: rows whose bounds cannot exclude a change get a full search.
    let m = 0;
    for (let i = 0; i < n; i++) {
      const a = labels[i];
      const bound = half[a] > lower[i] ? half[a] : lower[i];
      if (upper[i] <= bound) continue;
      upper[i] = Math.sqrt(sqDist(data, i, centres, a, dim));
      if (upper[i] <= bound) continue;
      todo[m++] = i;
    }
    changed = m > 0 ? nearestTwo(rows, centres, k, todo, m, scratch, labels, upper, lower) : 0;
  }
  // Final exact assignment to the returned centres, and scikit-learn's inertia.
  const fin = finalAssignment(rows, centres, k, stale ? null : { labels, lower, shift: moved ? shift : null, half });
  let inertia = 0;
  for (let i = 0; i < n; i++) inertia += fin.dist2[i];
  return { centres, labels: fin.labels, inertia, nIter, emptyReseeds };
}

/** Half the distance from each centre to its nearest other centre, into `half` (length k). */
function halfGaps(centres: Float64Array, k: number, dim: number, half: Float64Array): void {
  for (let c = 0; c < k; c++) {
    let m = Infinity;
    for (let c2 = 0; c2 < k; c2++) {
      if (c2 === c) continue;
      const d = sqDist(centres, c, centres, c2, dim);
      if (d < m) m = d;
    }
    half[c] = Math.sqrt(m) / 2;
  }
}

/** Relative margin by which bounds must exclude every other centre before a row's search is skipped. */
const BOUND_MARGIN = 1e-9;

/**
 * The labels {@link assignEuclidean} gives (nearest centre, ties to the lowest index) and each row's
 * squared distance to it, using Hamerly's bounds where they hold: a row whose own centre is closer
 * than every other by a relative margin of 1e-9 (far above the rounding the bounds gather) keeps
 * its label, since no other centre can then tie or win; only the others are searched in full.
 * @param bounds the restart's labels and lower bounds, for the centres before the shift `shift` (or for
 *   these centres when `shift` is null); `half` is scratch. null: search every row.
 */
function finalAssignment(
  rows: Rows,
  centres: Float64Array,
  k: number,
  bounds: { labels: Int32Array; lower: Float64Array; shift: Float64Array | null; half: Float64Array } | null,
): { labels: Int32Array; dist2: Float64Array } {
  if (!bounds) return assignEuclidean(rows, centres, k);
  const { data, n, dim } = rows;
  const { lower, shift, half } = bounds;
  const labels = Int32Array.from(bounds.labels);
  const dist2 = new Float64Array(n);
  let maxShift = 0;
  let maxShiftIdx = -1;
  let secondShift = 0;
  if (shift) {
    for (let c = 0; c < k; c++) {
      if (shift[c] > maxShift) {
        secondShift = maxShift;
        maxShift = shift[c];
        maxShiftIdx = c;
      } else if (shift[c] > secondShift) secondShift = shift[c];
    }
  }
  halfGaps(centres, k, dim, half);
  for (let i = 0; i < n; i++) {
    const a = labels[i];
    const own = sqDist(data, i, centres, a, dim);
    const lo = shift ? lower[i] - (a === maxShiftIdx ? secondShift : maxShift) : lower[i];
    const bound = (half[a] > lo ? half[a] : lo) * (1 - BOUND_MARGIN);
    if (Math.sqrt(own) < bound) {
      dist2[i] = own;
      continue;
    }
    labels[i] = nearestCentre(data, i, centres, k, dim, dist2);
  }
  return { labels, dist2 };
}

/**
 * Hartigan refinement: move a row from cluster a to b when that lowers the inertia, i.e. when
 * n_b/(n_b+1)·‖x − c_b‖² < n_a/(n_a−1)·‖x − c_a‖², updating both means at once; repeat until no row
 * moves. Then centres are recomputed exactly from the labels and rows reassigned to the nearest one.
 */
export function hartiganRefine(rows: Rows, start: KMeansState, k: number, maxPasses = 100, native = true): KMeansState {
  const { data, n, dim } = rows;
  const labels = Int32Array.from(start.labels);
  const sizes = new Int32Array(k);
  const centres = new Float64Array(k * dim);
  const addon = native ? loadNative() : null;
  if (addon?.kmeansHartigan) {
    // Passes, means and final assignment in the addon (same bits); the guard stays here.
    const [moves, inertia] = addon.kmeansHartigan(data, n, dim, k, labels, maxPasses, centres);
    if (moves === 0 || !(inertia <= start.inertia)) return start;
    return { centres, labels, inertia, nIter: start.nIter, emptyReseeds: start.emptyReseeds };
  }
  for (let i = 0; i < n; i++) {
    sizes[labels[i]]++;
    for (let t = 0; t < dim; t++) centres[labels[i] * dim + t] += data[i * dim + t];
  }
  for (let c = 0; c < k; c++) for (let t = 0; t < dim; t++) centres[c * dim + t] /= sizes[c] || 1;
  let moves = 0;
  for (let pass = 0; pass < maxPasses; pass++) {
    let moved = 0;
    for (let i = 0; i < n; i++) {
      const a = labels[i];
      const na = sizes[a];
      if (na <= 1) continue;
      const costA = (sqDist(data, i, centres, a, dim) * na) / (na - 1);
      let best = a;
      let bestV = costA;
      for (let b = 0; b < k; b++) {
        if (b === a) continue;
        const nb = sizes[b];
        const v = (sqDist(data, i, centres, b, dim) * nb) / (nb + 1);
        if (v < bestV) {
          bestV = v;
          best = b;
        }
      }
      // Only clear improvements: rounding must not make rows oscillate.
      if (best === a || !(bestV < costA * (1 - 1e-12))) continue;
      const nb = sizes[best];
      for (let t = 0; t < dim; t++) {
        const x = data[i * dim + t];
        centres[a * dim + t] = (centres[a * dim + t] * na - x) / (na - 1);
        centres[best * dim + t] = (centres[best * dim + t] * nb + x) / (nb + 1);
      }
      sizes[a]--;
      sizes[best]++;
      labels[i] = best;
      moved++;
    }
    moves += moved;
    if (moved === 0) break;
  }
  if (moves === 0) return start;
  return finishRefine(rows, start, k, labels, sizes, centres);
}

/** Exact means of the refined labels, the nearest-centre assignment, and the no-worse guard. */
function finishRefine(rows: Rows, start: KMeansState, k: number, labels: Int32Array, sizes: Int32Array, centres: Float64Array): KMeansState {
  const { data, n, dim } = rows;
  centres.fill(0);
  for (let i = 0; i < n; i++) for (let t = 0; t < dim; t++) centres[labels[i] * dim + t] += data[i * dim + t];
  for (let c = 0; c < k; c++) for (let t = 0; t < dim; t++) centres[c * dim + t] /= sizes[c];
  const fin = assignEuclidean(rows, centres, k);
  let inertia = 0;
  for (let i = 0; i < n; i++) inertia += fin.dist2[i];
  // Guard: keep the Lloyd result if rounding made the refinement no better.
  if (!(inertia <= start.inertia)) return start;
  return { centres, labels: fin.labels, inertia, nIter: start.nIter, emptyReseeds: start.emptyReseeds };
}
