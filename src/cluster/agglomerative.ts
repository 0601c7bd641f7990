/**
 * Agglomerative clustering with SciPy's semantics: `linkage` (Ward, average, complete by the
 * nearest-neighbour chain with Lance–Williams updates on a condensed matrix; single by Prim's
 * minimum spanning tree), the linkage matrix in SciPy's format, and `fcluster(Z, k, 'maxclust')`.
 *
 * Memory is one condensed distance matrix, n(n−1)/2 float64 (400 MB at n = 10,000); time O(n²).
 */
import { throwIfInterrupted } from '../util/interrupt.js';
import { checkFitInput, type DistanceMatrix, type Rows } from './common.js';
import { FULL_MATRIX_MAX_ROWS, fullEuclidean, pdistEuclidean, type Condensed } from './euclidean.js';

// Moved to euclidean.ts; re-exported for the callers that import them from here.
export { FULL_MATRIX_MAX_ROWS, fullEuclidean, pdistEuclidean, type Condensed } from './euclidean.js';

/** Linkage criteria. */
export type Linkage = 'ward' | 'average' | 'complete' | 'single';

/** All linkages, for option parsing. */
export const LINKAGES: readonly Linkage[] = ['ward', 'average', 'complete', 'single'];


/** Condensed copy (float64) of a full square matrix such as the DTW matrix. */
export function condense(D: DistanceMatrix): Condensed {
  const n = D.n;
  const out = new Float64Array((n * (n - 1)) / 2);
  let p = 0;
  for (let i = 0; i < n; i++) {
    const row = i * n;
    for (let j = i + 1; j < n; j++) out[p++] = D.data[row + j];
  }
  return { n, data: out };
}

/**
 * Hierarchical clustering, SciPy `linkage(y, method)` on a condensed matrix (consumed: it is
 * overwritten by the updates). Returns the linkage matrix Z, (n−1) × 4 row-major
 * `[a, b, distance, size]`, rows sorted by distance (stable), clusters numbered as SciPy does
 * (leaves 0..n−1, the cluster formed at row i is n + i).
 */
export function linkage(y: Condensed, method: Linkage): Float64Array {
  const n = y.n;
  const raw = method === 'single' ? mstSingle(y) : nnChain(y, method);
  return labelLinkage(raw, n);
}

function rowOffsets(n: number): Float64Array {
  // off[i] + j gives the condensed index of (i, j), i < j.
  const off = new Float64Array(n);
  for (let i = 0; i < n; i++) off[i] = i * n - (i * (i + 1)) / 2 - i - 1;
  return off;
}

/** Nearest-neighbour chain (Murtagh; Müllner 2011) for reducible linkages; unsorted merges with leaf-or-slot ids. */
function nnChain(y: Condensed, method: Exclude<Linkage, 'single'>): Float64Array {
  const n = y.n;
  const D = y.data;
  const off = rowOffsets(n);
  const idx = (a: number, b: number): number => (a < b ? off[a] + b : off[b] + a);
  const Z = new Float64Array((n - 1) * 4);
  const size = new Float64Array(n).fill(1);
  const chain = new Int32Array(n);
  let chainLen = 0;
  for (let k = 0; k < n - 1; k++) {
    if ((k & 255) === 0) throwIfInterrupted();
    if (chainLen === 0) {
      for (let i = 0; i < n; i++) {
        if (size[i] > 0) {
          chain[0] = i;
          chainLen = 1;
          break;
        }
      }
    }
    let x = 0;
    let yy = 0;
    let curMin = Infinity;
    for (;;) {
      x = chain[chainLen - 1];
      if (chainLen > 1) {
        yy = chain[chainLen - 2];
        curMin = D[idx(x, yy)];
      } else curMin = Infinity;
      // Scan x's row: columns below x are strided, above contiguous.
      for (let i = 0; i < x; i++) {
        if (size[i] === 0) continue;
        const d = D[off[i] + x];
        if (d < curMin) {
          curMin = d;
          yy = i;
        }
      }
      const ox = off[x];
      for (let i = x + 1; i < n; i++) {
        if (size[i] === 0) continue;
        const d = D[ox + i];
        if (d < curMin) {
          curMin = d;
          yy = i;
        }
      }
      if (chainLen > 1 && yy === chain[chainLen - 2]) break;
      chain[chainLen++] = yy;
    }
    chainLen -= 2;
    if (x > yy) {
      const t = x;
      x = yy;
      yy = t;
    }
    const nx = size[x];
    const ny = size[yy];
    Z[k * 4] = x;
    Z[k * 4 + 1] = yy;
    Z[k * 4 + 2] = curMin;
    Z[k * 4 + 3] = nx + ny;
    size[x] = 0;
    size[yy] = nx + ny;
    // Lance–Williams: the merged cluster lives in slot yy.
    for (let i = 0; i < n; i++) {
      const ni = size[i];
      if (ni === 0 || i === yy) continue;
      const ix = idx(i, x);
      const iy = idx(i, yy);
      const dx = D[ix];
      const dy = D[iy];
      let v: number;
      if (method === 'average') v = (nx * dx + ny * dy) / (nx + ny);
      else if (method === 'complete') v = dx > dy ? dx : dy;
      else {
        const t = 1.0 / (nx + ny + ni);
        v = Math.sqrt((ni + nx) * t * dx * dx + (ni + ny) * t * dy * dy - ni * t * curMin * curMin);
      }
      D[iy] = v;
    }
  }
  return Z;
}

/**
 * The same nearest-neighbour chain on a full symmetric n × n float64 matrix (consumed): rows are
 * contiguous, so the nearest-neighbour scans and the Lance–Williams updates stream through memory
 * instead of striding through the condensed triangle. Only the active clusters are scanned, in
 * increasing index order, so ties resolve exactly as in the condensed version (and SciPy).
 */
function nnChainFull(D: Float64Array, n: number, method: Exclude<Linkage, 'single'>): Float64Array {
  const Z = new Float64Array((n - 1) * 4);
  const size = new Float64Array(n).fill(1);
  const active = new Int32Array(n);
  for (let i = 0; i < n; i++) active[i] = i;
  let nActive = n;
  const chain = new Int32Array(n);
  let chainLen = 0;
  const removeActive = (x: number): void => {
    // Binary search: `active` stays sorted.
    let lo = 0;
    let hi = nActive - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (active[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    active.copyWithin(lo, lo + 1, nActive);
    nActive--;
  };
  for (let k = 0; k < n - 1; k++) {
    if ((k & 255) === 0) throwIfInterrupted();
    if (chainLen === 0) {
      chain[0] = active[0];
      chainLen = 1;
    }
    let x = 0;
    let yy = 0;
    let curMin = Infinity;
    for (;;) {
      x = chain[chainLen - 1];
      const row = x * n;
      if (chainLen > 1) {
        yy = chain[chainLen - 2];
        curMin = D[row + yy];
      } else curMin = Infinity;
      for (let a = 0; a < nActive; a++) {
        const i = active[a];
        if (i === x) continue;
        const d = D[row + i];
        if (d < curMin) {
          curMin = d;
          yy = i;
        }
      }
      if (chainLen > 1 && yy === chain[chainLen - 2]) break;
      chain[chainLen++] = yy;
    }
    chainLen -= 2;
    if (x > yy) {
      const t = x;
      x = yy;
      yy = t;
    }
    const nx = size[x];
    const ny = size[yy];
    Z[k * 4] = x;
    Z[k * 4 + 1] = yy;
    Z[k * 4 + 2] = curMin;
    Z[k * 4 + 3] = nx + ny;
    size[x] = 0;
    size[yy] = nx + ny;
    removeActive(x);
    const rx = x * n;
    const ry = yy * n;
    for (let a = 0; a < nActive; a++) {
      const i = active[a];
      if (i === yy) continue;
      const ni = size[i];
      const dx = D[rx + i];
      const dy = D[ry + i];
      let v: number;
      if (method === 'average') v = (nx * dx + ny * dy) / (nx + ny);
      else if (method === 'complete') v = dx > dy ? dx : dy;
      else {
        const t = 1.0 / (nx + ny + ni);
        v = Math.sqrt((ni + nx) * t * dx * dx + (ni + ny) * t * dy * dy - ni * t * curMin * curMin);
      }
      D[ry + i] = v;
      D[i * n + yy] = v;
    }
  }
  return Z;
}

/**
 * Linkage from a full symmetric n × n float64 matrix (consumed), same result as {@link linkage}
 * on its condensed form.
 */
export function linkageFull(D: Float64Array, n: number, method: Linkage): Float64Array {
  if (method === 'single') {
    return labelLinkage(mstSingle(condense({ n, data: D })), n);
  }
  return labelLinkage(nnChainFull(D, n, method), n);
}

/** Single linkage by Prim's minimum spanning tree, O(n²) time, O(n) extra memory. */
function mstSingle(y: Condensed): Float64Array {
  const n = y.n;
  const D = y.data;
  const off = rowOffsets(n);
  const Z = new Float64Array((n - 1) * 4);
  const merged = new Uint8Array(n);
  const best = new Float64Array(n).fill(Infinity);
  let x = 0;
  for (let k = 0; k < n - 1; k++) {
    if ((k & 255) === 0) throwIfInterrupted();
    merged[x] = 1;
    let curMin = Infinity;
    let yy = -1;
    for (let i = 0; i < n; i++) {
      if (merged[i]) continue;
      const d = i < x ? D[off[i] + x] : D[off[x] + i];
      if (d < best[i]) best[i] = d;
      if (best[i] < curMin || yy < 0) {
        curMin = best[i];
        yy = i;
      }
    }
    // As SciPy: the edge is recorded between the last added point and the new one; union–find
    // labelling after sorting gives the single-linkage tree.
    Z[k * 4] = x;
    Z[k * 4 + 1] = yy;
    Z[k * 4 + 2] = curMin;
    x = yy;
  }
  return Z;
}

/** Sort merges by distance (stable) and renumber clusters the SciPy way with a union–find. */
function labelLinkage(raw: Float64Array, n: number): Float64Array {
  const m = n - 1;
  const order = Int32Array.from({ length: m }, (_, i) => i).sort((a, b) => raw[a * 4 + 2] - raw[b * 4 + 2] || a - b);
  const parent = new Int32Array(2 * n - 1);
  for (let i = 0; i < parent.length; i++) parent[i] = i;
  const size = new Float64Array(2 * n - 1).fill(1);
  const find = (x: number): number => {
    let r = x;
    while (parent[r] !== r) r = parent[r];
    while (parent[x] !== r) {
      const p = parent[x];
      parent[x] = r;
      x = p;
    }
    return r;
  };
  const Z = new Float64Array(m * 4);
  let next = n;
  for (let r = 0; r < m; r++) {
    const i = order[r];
    let a = find(raw[i * 4]);
    let b = find(raw[i * 4 + 1]);
    if (a > b) {
      const t = a;
      a = b;
      b = t;
    }
    Z[r * 4] = a;
    Z[r * 4 + 1] = b;
    Z[r * 4 + 2] = raw[i * 4 + 2];
    Z[r * 4 + 3] = size[a] + size[b];
    parent[a] = next;
    parent[b] = next;
    size[next] = size[a] + size[b];
    next++;
  }
  return Z;
}

/**
 * Flat clusters with at most k members, SciPy `fcluster(Z, k, 'maxclust')`: the smallest merge
 * height t such that merging every node whose height is ≤ t leaves ≤ k clusters. With ties in the
 * heights this can give fewer than k clusters, exactly as SciPy.
 * @param Z sorted linkage matrix from {@link linkage}
 * @returns labels 0.. in order of first appearance by row
 */
export function fclusterMaxclust(Z: Float64Array, n: number, k: number): Int32Array {
  const m = n - 1;
  // Max height below each node (equal to the node's height for the monotone linkages here, but
  // computed as SciPy's `maxdists` so that rounding never breaks monotonicity).
  const md = new Float64Array(m);
  for (let r = 0; r < m; r++) {
    let h = Z[r * 4 + 2];
    for (const c of [Z[r * 4], Z[r * 4 + 1]]) if (c >= n && md[c - n] > h) h = md[c - n];
    md[r] = h;
  }
  const sorted = Float64Array.from(md).sort();
  // count(t) = n − #{nodes with md ≤ t}; find the smallest md value giving ≤ k clusters.
  let thresh = -Infinity;
  if (k < n) {
    const need = n - k; // merges that must be done
    thresh = sorted[need - 1];
  }
  const parent = new Int32Array(2 * n - 1);
  for (let i = 0; i < parent.length; i++) parent[i] = i;
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]];
      x = parent[x];
    }
    return x;
  };
  for (let r = 0; r < m; r++) {
    if (md[r] > thresh) continue;
    parent[find(Z[r * 4])] = n + r;
    parent[find(Z[r * 4 + 1])] = n + r;
  }
  const labels = new Int32Array(n);
  const map = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const root = find(i);
    let l = map.get(root);
    if (l === undefined) {
      l = map.size;
      map.set(root, l);
    }
    labels[i] = l;
  }
  return labels;
}

/** Hyper-parameters of {@link Agglomerative}. */
export interface AgglomerativeOptions {
  /** Number of clusters to cut at, ≥ 2. */
  k: number;
  /** Default `ward` (Euclidean only). */
  linkage?: Linkage;
}

/** Learned state of {@link Agglomerative}. */
export interface AgglomerativeState {
  /** SciPy linkage matrix, (n−1) × 4 row-major. */
  Z: Float64Array;
  /** Labels of the cut (0.. by first appearance); may hold fewer than k clusters when heights tie, as SciPy. */
  labels: Int32Array;
  /** Number of clusters of the cut. */
  nClusters: number;
}

/** Agglomerative clustering estimator (no natural centres: predict by nearest per-cluster mean, see the stage). */
export class Agglomerative {
  readonly k: number;
  readonly linkage: Linkage;
  /** Set by a fit. */
  state: AgglomerativeState | null = null;

  constructor(options: AgglomerativeOptions) {
    this.k = options.k;
    this.linkage = options.linkage ?? 'ward';
  }

  /** Fit on Euclidean rows (any linkage). */
  fitRows(rows: Rows): this {
    checkFitInput(rows, rows.n, this.k);
    if (rows.n <= FULL_MATRIX_MAX_ROWS && this.linkage !== 'single') return this.fitFull(fullEuclidean(rows), rows.n);
    return this.fitCondensed(pdistEuclidean(rows));
  }

  /** Fit on a precomputed full matrix (not modified). */
  fitMatrix(D: DistanceMatrix): this {
    checkFitInput(null, D.n, this.k);
    if (D.n <= FULL_MATRIX_MAX_ROWS && this.linkage !== 'single') return this.fitFull(Float64Array.from(D.data), D.n);
    return this.fitCondensed(condense(D));
  }

  /**
   * Cut a linkage matrix computed earlier on the same data with the same linkage (from a previous
   * fit's `state.Z`): the tree does not depend on k, so a sweep over k builds it once. Z is kept,
   * not copied.
   * @param Z sorted (n−1) × 4 linkage matrix from {@link linkage} / {@link linkageFull}
   * @param n number of rows
   */
  fitLinkage(Z: Float64Array, n: number): this {
    checkFitInput(null, n, this.k);
    if (Z.length !== (n - 1) * 4) throw new RangeError(`Expected a linkage matrix of ${(n - 1) * 4} values for ${n} rows but received ${Z.length}`);
    return this.cut(Z, n);
  }

  private cut(Z: Float64Array, n: number): this {
    const labels = fclusterMaxclust(Z, n, this.k);
    let nClusters = 0;
    for (const l of labels) if (l + 1 > nClusters) nClusters = l + 1;
    this.state = { Z, labels, nClusters };
    return this;
  }

  private fitFull(D: Float64Array, n: number): this {
    return this.cut(linkageFull(D, n, this.linkage), n);
  }

  /** Fit on a condensed matrix (consumed). */
  fitCondensed(y: Condensed): this {
    checkFitInput(null, y.n, this.k);
    return this.cut(linkage(y, this.linkage), y.n);
  }
}
