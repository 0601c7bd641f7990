/**
 * DTW k-means with DTW barycentre averaging (DBA; Petitjean et al. 2011), with the semantics of
 * tslearn `TimeSeriesKMeans(metric="dtw")`: random initial centres (k distinct rows), `n_init`
 * restarts keeping the lowest inertia, at most `max_iter` (default 5) rounds of "assign every
 * series to the centre at the smallest banded DTW distance, then move each centre by DBA
 * iterations along the warping paths of its members" (at most `maxIterBarycenter`, default 30 as
 * tslearn's `dtw_barycenter_averaging`, which TimeSeriesKMeans calls with its defaults,
 * stopping when the DBA cost changes by < 1e-5), stopping early when the inertia changes by < tol.
 *
 * Distances are banded DTW (Sakoe–Chiba radius, default 1), float64, with the same tie-breaking of
 * warping paths as the reference (diagonal, then (i−1, j), then (i, j−1)). Inertia here is the
 * SUM over series of the squared DTW distance to the assigned centre (tslearn reports the mean).
 * Two deliberate differences: an empty cluster is re-seeded on the farthest series (tslearn
 * abandons the restart), and a last assignment after the final update makes the labels the argmin
 * of the DTW distance to the returned centres (so `predict(X)` equals the fitted labels; tslearn
 * does the same re-assignment but then reports the inertia of the assignment made BEFORE the last
 * update; ours is the inertia of the returned labels and centres, so restarts are compared on the
 * partition they return).
 *
 * From the same explicit initial centres (`init`) the labels, centres, number of rounds and inertia
 * equal tslearn's TimeSeriesKMeans to rounding (test/cluster/dba-tslearn.test.ts, fixtures written
 * by scripts/make-dtw-fixtures.py from tslearn itself).
 */
import { Random } from '../util/random.js';
import { throwIfInterrupted } from '../util/interrupt.js';
import { selectKernel } from '../dtw/kernel.js';
import { ASSIGN_CHUNK_ROWS, assignChunk } from '../dtw/assign.js';
import { envelopes } from '../dtw/bounds.js';
import { usageError } from '../errors.js';
import { checkFitInput, type Rows } from './common.js';

/** Hyper-parameters of {@link DbaKMeans}. */
export interface DbaKMeansOptions {
  /** Number of clusters, ≥ 2. */
  k: number;
  /** Sakoe–Chiba radius in slots. Default 1. */
  radius?: number;
  /** Restarts. Default 10. */
  nInit?: number;
  /** Assignment/update rounds per restart. Default 5. */
  maxIter?: number;
  /** DBA iterations per centre update. Default 30 (tslearn's `dtw_barycenter_averaging` default). */
  maxIterBarycenter?: number;
  /** Stop when the inertia (mean squared DTW, as tslearn) changes by less than this. Default 1e-6. */
  tol?: number;
  /** Seed. Default 0. */
  seed?: number;
  /**
   * Explicit initial centres, k × L row-major (L = the series length given to {@link DbaKMeans.fit}),
   * in the units of the fitted series; like tslearn's `init=<array of shape (k, L, 1)>`, e.g. to
   * reproduce a reference run independently of either side's random generator. Every restart
   * would start from the same centres and end identically, so only one is run: `nInit` and the
   * seed are then unused. Copied, never modified. Default: k distinct random series per restart.
   */
  init?: Float64Array;
}

/** Learned state of {@link DbaKMeans}. */
export interface DbaKMeansState {
  /** Centres (barycentres), k × L, row-major. */
  centres: Float64Array;
  /** Label of each training series. */
  labels: Int32Array;
  /** Σ squared DTW distance to the assigned centre. */
  inertia: number;
  /** Rounds run by the winning restart. */
  nIter: number;
  /** Empty clusters re-seeded from the farthest series, over all restarts. */
  emptyReseeds: number;
}

/**
 * Banded DTW kernel with reusable buffers: distance only (two rows) or the full cost table for a
 * warping path. Series of equal length L.
 */
export class BandedDtw {
  readonly L: number;
  readonly r: number;
  private prev: Float64Array;
  private cur: Float64Array;
  /** Cost table of the band, L × (2r + 1). */
  private acc: Float64Array;

  constructor(L: number, radius: number) {
    this.L = L;
    this.r = Math.max(0, Math.min(Math.floor(radius), L - 1));
    this.prev = new Float64Array(L + 1);
    this.cur = new Float64Array(L + 1);
    this.acc = new Float64Array(L * (2 * this.r + 1));
  }

  /** Squared DTW distance between a[aOff..aOff+L) and b[bOff..bOff+L). */
  dist2(a: Float64Array, aOff: number, b: Float64Array, bOff: number): number {
    const L = this.L;
    const r = this.r;
    let prev = this.prev;
    let cur = this.cur;
    // Column j lives at index j + 1; index 0 is the "column −1" border (+∞).
    // Row 0 can only come from the left: a running sum.
    const a0 = a[aOff];
    const jhi0 = r < L - 1 ? r : L - 1;
    let run = 0;
    prev[0] = Infinity;
    for (let j = 0; j <= jhi0; j++) {
      const d = a0 - b[bOff + j];
      run += d * d;
      prev[j + 1] = run;
    }
    if (jhi0 + 2 <= L) prev[jhi0 + 2] = Infinity;
    for (let i = 1; i < L; i++) {
      const jlo = i - r > 0 ? i - r : 0;
      const jhi = i + r < L - 1 ? i + r : L - 1;
      const ai = a[aOff + i];
      cur[jlo] = Infinity;
      for (let j = jlo; j <= jhi; j++) {
        const d = ai - b[bOff + j];
        let best = prev[j]; // (i−1, j−1)
        const up = prev[j + 1]; // (i−1, j)
        const left = cur[j]; // (i, j−1)
        if (up < best) best = up;
        if (left < best) best = left;
        cur[j + 1] = d * d + best;
      }
      // The next row reads column jhi + 1 of this one, outside this row's band: +∞.
      if (jhi + 2 <= L) cur[jhi + 2] = Infinity;
      const t = prev;
      prev = cur;
      cur = t;
    }
    this.prev = prev;
    this.cur = cur;
    return prev[L];
  }

  /**
   * DBA accumulation: align series a (at aOff) to the centre c (at cOff) and add a's values into
   * `sums[j]` / `counts[j]` for every centre index j on the warping path.
   * @returns the squared DTW distance
   */
  accumulate(a: Float64Array, aOff: number, c: Float64Array, cOff: number, sums: Float64Array, counts: Float64Array): number {
    const L = this.L;
    const r = this.r;
    const W = 2 * r + 1;
    // Band storage: cell (i, j) at i·W + (j − i + r); cells outside the band or the table read +∞.
    const acc = this.acc;
    acc.fill(Infinity, 0, L * W);
    for (let i = 0; i < L; i++) {
      const jlo = i - r > 0 ? i - r : 0;
      const jhi = i + r < L - 1 ? i + r : L - 1;
      const ai = a[aOff + i];
      const row = i * W;
      for (let j = jlo; j <= jhi; j++) {
        const q = j - i + r;
        const d = ai - c[cOff + j];
        let best: number;
        if (i === 0 && j === 0) best = 0;
        else {
          best = Infinity;
          if (i > 0) {
            const diag = acc[row - W + q]; // (i−1, j−1)
            if (j > 0 && diag < best) best = diag;
            if (q + 1 < W) {
              const up = acc[row - W + q + 1]; // (i−1, j)
              if (up < best) best = up;
            }
          }
          if (j > jlo) {
            const left = acc[row + q - 1]; // (i, j−1)
            if (left < best) best = left;
          }
        }
        acc[row + q] = d * d + best;
      }
    }
    // Backtrack inside the band: (i−1, j−1) keeps the band offset q, (i−1, j) is q + 1, (i, j−1) is q − 1.
    let i = L - 1;
    let j = L - 1;
    sums[j] += a[aOff + i];
    counts[j] += 1;
    while (i > 0 || j > 0) {
      if (i === 0) j--;
      else if (j === 0) i--;
      else {
        const q = j - i + r;
        const diag = acc[(i - 1) * W + q];
        const up = q + 1 < W ? acc[(i - 1) * W + q + 1] : Infinity;
        const left = q > 0 ? acc[i * W + q - 1] : Infinity;
        if (diag <= up && diag <= left) {
          i--;
          j--;
        } else if (up <= left) i--;
        else j--;
      }
      sums[j] += a[aOff + i];
      counts[j] += 1;
    }
    return acc[(L - 1) * W + r];
  }
}

/**
 * Nearest centre (banded DTW, float64) of every series; ties go to the lowest centre. The distances
 * come from the nearest-candidate assignment of dtw/assign.ts (native SIMD kernel when the addon
 * loads, else the TypeScript kernel; both equal the reference definition in float64), by chunks of
 * rows; `prune` (default auto) as there.
 */
export function assignDtw(rows: Rows, centres: Float64Array, k: number, dtw: BandedDtw, options: { prune?: boolean | 'auto' } = {}): { labels: Int32Array; dist2: Float64Array } {
  const { data, n, dim } = rows;
  const labels = new Int32Array(n);
  const dist2 = new Float64Array(n);
  // By chunks of rows (no n × k table at 10⁶ profiles); the lower bounds skip centres that cannot
  // win where they pay (the TypeScript kernel), with the same labels and distances either way.
  const M = centres.subarray(0, k * dim);
  const env = envelopes(M, dim, dtw.r);
  const kernel = selectKernel();
  const d1 = new Float64Array(Math.min(n, ASSIGN_CHUNK_ROWS));
  for (let r0 = 0; r0 < n; r0 += ASSIGN_CHUNK_ROWS) {
    const r1 = Math.min(n, r0 + ASSIGN_CHUNK_ROWS);
    assignChunk(data, dim, r0, r1, M, env, kernel, dtw.r, options.prune === undefined ? {} : { prune: options.prune }, { n1: labels.subarray(r0, r1), d1 });
    for (let i = r0; i < r1; i++) dist2[i] = d1[i - r0] * d1[i - r0];
  }
  return { labels, dist2 };
}

/** DBA k-means estimator. */
export class DbaKMeans {
  readonly k: number;
  readonly radius: number;
  readonly nInit: number;
  readonly maxIter: number;
  readonly maxIterBarycenter: number;
  readonly tol: number;
  readonly seed: number;
  /** Explicit initial centres (k × L), or null for random ones; see {@link DbaKMeansOptions.init}. */
  readonly init: Float64Array | null;
  /** Set by {@link fit}. */
  state: DbaKMeansState | null = null;

  constructor(options: DbaKMeansOptions) {
    this.k = options.k;
    this.radius = options.radius ?? 1;
    this.nInit = options.nInit ?? 10;
    this.maxIter = options.maxIter ?? 5;
    this.maxIterBarycenter = options.maxIterBarycenter ?? 30;
    this.tol = options.tol ?? 1e-6;
    this.seed = options.seed ?? 0;
    this.init = options.init ? Float64Array.from(options.init) : null;
  }

  /** Fit on n × L series. */
  fit(rows: Rows, rng: Random = new Random(this.seed)): this {
    checkFitInput(rows, rows.n, this.k);
    if (this.init) checkInitCentres(this.init, this.k, rows.dim);
    const dtw = new BandedDtw(rows.dim, this.radius);
    let best: DbaKMeansState | null = null;
    let reseeds = 0;
    // Restarts from the same explicit centres would all give the same result: run one.
    const runs = this.init ? 1 : this.nInit;
    for (let run = 0; run < runs; run++) {
      throwIfInterrupted();
      const res = this.fitOnce(rows, rng, dtw);
      reseeds += res.emptyReseeds;
      if (!best || res.inertia < best.inertia) best = res;
    }
    this.state = { ...best!, emptyReseeds: reseeds };
    return this;
  }

  /** Labels of new series: nearest centre by banded DTW (the fitted labels follow the same rule). */
  predict(rows: Rows): Int32Array {
    if (!this.state) throw new Error('DbaKMeans.predict called before fit');
    return assignDtw(rows, this.state.centres, this.k, new BandedDtw(rows.dim, this.radius)).labels;
  }

  private fitOnce(rows: Rows, rng: Random, dtw: BandedDtw): DbaKMeansState {
    const { data, n, dim } = rows;
    const k = this.k;
    const centres = new Float64Array(k * dim);
    if (this.init) centres.set(this.init);
    else {
      const idx = rng.sample(n, k);
      for (let j = 0; j < k; j++) centres.set(data.subarray(idx[j] * dim, idx[j] * dim + dim), j * dim);
    }
    let emptyReseeds = 0;
    let oldInertia = Infinity;
    let nIter = 0;
    for (let it = 0; it < this.maxIter; it++) {
      nIter = it + 1;
      const { labels, dist2 } = assignDtw(rows, centres, k, dtw);
      emptyReseeds += reseedEmpty(labels, dist2, k, centres, data, dim);
      let inertia = 0;
      for (let i = 0; i < n; i++) inertia += dist2[i];
      inertia /= n;
      this.updateCentres(rows, labels, centres, dtw);
      if (Math.abs(oldInertia - inertia) < this.tol) break;
      oldInertia = inertia;
    }
    // Final assignment so that labels are the argmin of the distance to the returned centres.
    const fin = assignDtw(rows, centres, k, dtw);
    emptyReseeds += reseedEmpty(fin.labels, fin.dist2, k, centres, data, dim);
    let inertia = 0;
    for (let i = 0; i < n; i++) inertia += fin.dist2[i];
    return { centres, labels: fin.labels, inertia, nIter, emptyReseeds };
  }

  /** DBA: each centre becomes the average of the member values aligned to each of its slots, repeated. */
  private updateCentres(rows: Rows, labels: Int32Array, centres: Float64Array, dtw: BandedDtw): void {
    const { data, n, dim } = rows;
    const k = this.k;
    const members: number[][] = Array.from({ length: k }, () => []);
    for (let i = 0; i < n; i++) members[labels[i]].push(i);
    const sums = new Float64Array(dim);
    const counts = new Float64Array(dim);
    for (let c = 0; c < k; c++) {
      const m = members[c];
      if (m.length === 0) continue;
      let costPrev = Infinity;
      for (let it = 0; it < this.maxIterBarycenter; it++) {
        sums.fill(0);
        counts.fill(0);
        let cost = 0;
        for (const i of m) cost += dtw.accumulate(data, i * dim, centres, c * dim, sums, counts);
        cost /= m.length;
        for (let t = 0; t < dim; t++) centres[c * dim + t] = sums[t] / counts[t];
        if (Math.abs(costPrev - cost) < 1e-5 || cost > costPrev) break;
        costPrev = cost;
      }
    }
  }
}

/**
 * Check explicit initial centres: k × L values, all finite.
 * @throws LpclustError E_USAGE_INIT
 */
function checkInitCentres(init: Float64Array, k: number, L: number): void {
  if (init.length !== k * L) {
    throw usageError('E_USAGE_INIT', `Expected ${k} × ${L} = ${k * L} initial centre values but received ${init.length}`, {
      hint: 'pass k centres of the series length, row-major',
    });
  }
  for (let i = 0; i < init.length; i++) {
    if (!Number.isFinite(init[i])) {
      throw usageError('E_USAGE_INIT', `Expected finite initial centres but centre ${Math.floor(i / L) + 1}, slot ${(i % L) + 1} is ${init[i]}`);
    }
  }
}

/**
 * Re-seed each empty cluster on the series farthest from its centre (in a cluster of ≥ 2 series);
 * updates labels, dist2 and centres in place. @returns how many clusters were re-seeded
 */
function reseedEmpty(labels: Int32Array, dist2: Float64Array, k: number, centres: Float64Array, data: Float64Array, dim: number): number {
  const sizes = new Int32Array(k);
  for (let i = 0; i < labels.length; i++) sizes[labels[i]]++;
  let count = 0;
  for (let c = 0; c < k; c++) {
    if (sizes[c] > 0) continue;
    let far = -1;
    for (let i = 0; i < labels.length; i++) if (sizes[labels[i]] > 1 && (far < 0 || dist2[i] > dist2[far])) far = i;
    sizes[labels[far]]--;
    labels[far] = c;
    sizes[c] = 1;
    dist2[far] = 0;
    centres.set(data.subarray(far * dim, far * dim + dim), c * dim);
    count++;
  }
  return count;
}
