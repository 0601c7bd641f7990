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
import { ASSIGN_CHUNK_ROWS, AssignPool, assignChunk } from '../dtw/assign.js';
import type { Assigner } from '../dtw/assigner.js';
import { envelopes } from '../dtw/bounds.js';
import { BandedDtw } from '../dtw/banded.js';
import { DEFAULT_RADIUS } from '../dtw/settings.js';
import { accumulateDba, type DbaSums } from '../dtw/dba-sums.js';
import { usageError } from '../errors.js';
import { checkFitInput, type RowValues, type Rows } from './common.js';

// The banded DTW of DBA and its barycentre sums live with the DTW kernels (the assignment pool's
// worker threads compute them); re-exported here, where they were defined first.
export { BandedDtw } from '../dtw/banded.js';
export { accumulateDba, accumulateDbaChunk, reduceDbaSums, type DbaSums } from '../dtw/dba-sums.js';

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
   * Whether the assignments use the lower bounds (default `auto`, see dtw/assign.ts). Labels,
   * centres and inertia are the same either way.
   */
  prune?: boolean | 'auto';
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
  /** Exact DTW distances the assignments computed over all restarts, and the n·k per assignment they stand for. */
  exactPairs: number;
  candidatePairs: number;
}

/**
 * Nearest centre (banded DTW, float64) of every series; ties go to the lowest centre. The distances
 * come from the nearest-candidate assignment of dtw/assign.ts (native SIMD kernel when the addon
 * loads, else the TypeScript kernel; both equal the reference definition in float64), by chunks of
 * rows; `prune` (default auto) as there.
 */
export function assignDtw(rows: Rows, centres: Float64Array, k: number, dtw: BandedDtw, options: { prune?: boolean | 'auto' } = {}): { labels: Int32Array; dist2: Float64Array; exactPairs: number } {
  const { data, n, dim } = rows;
  const labels = new Int32Array(n);
  const dist2 = new Float64Array(n);
  // By chunks of rows (no n × k table at 10⁶ profiles); the lower bounds skip centres that cannot
  // win where they pay (dtw/assign.ts `prunes`), with the same labels and distances either way.
  const M = centres.subarray(0, k * dim);
  const env = envelopes(M, dim, dtw.r);
  const kernel = selectKernel();
  const d1 = new Float64Array(Math.min(n, ASSIGN_CHUNK_ROWS));
  let exactPairs = 0;
  for (let r0 = 0; r0 < n; r0 += ASSIGN_CHUNK_ROWS) {
    const r1 = Math.min(n, r0 + ASSIGN_CHUNK_ROWS);
    exactPairs += assignChunk(data, dim, r0, r1, M, env, kernel, dtw.r, options.prune === undefined ? {} : { prune: options.prune }, { n1: labels.subarray(r0, r1), d1 });
    for (let i = r0; i < r1; i++) dist2[i] = d1[i - r0] * d1[i - r0];
  }
  return { labels, dist2, exactPairs };
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
  readonly prune: boolean | 'auto' | undefined;
  /** Set by {@link fit}. */
  state: DbaKMeansState | null = null;

  constructor(options: DbaKMeansOptions) {
    this.k = options.k;
    this.radius = options.radius ?? DEFAULT_RADIUS;
    this.nInit = options.nInit ?? 10;
    this.maxIter = options.maxIter ?? 5;
    this.maxIterBarycenter = options.maxIterBarycenter ?? 30;
    this.tol = options.tol ?? 1e-6;
    this.seed = options.seed ?? 0;
    this.init = options.init ? Float64Array.from(options.init) : null;
    this.prune = options.prune;
  }

  /** Fit on n × L series, in this thread. */
  fit(rows: Rows, rng: Random = new Random(this.seed)): this {
    checkFitInput(rows, rows.n, this.k);
    if (this.init) checkInitCentres(this.init, this.k, rows.dim);
    const dtw = new BandedDtw(rows.dim, this.radius);
    const steps = this.restarts(rows, rng);
    let exact = 0;
    let next = steps.next();
    while (!next.done) {
      throwIfInterrupted();
      const step = next.value;
      if (step.kind === 'assign') {
        const a = assignDtw(rows, step.centres, this.k, dtw, this.prune === undefined ? {} : { prune: this.prune });
        exact += a.exactPairs;
        next = steps.next(a);
      } else next = steps.next(accumulateDba(rows.data, rows.dim, step.centres, this.k, step.labels, step.active, dtw, ASSIGN_CHUNK_ROWS));
    }
    this.state = { ...next.value, exactPairs: exact };
    return this;
  }

  /**
   * Fit on the n × L series that `assigner` holds (the same rows as `rows`). The assignments go
   * through the assigner: an {@link AssignPool}'s worker threads, or the job queue's workers by row
   * ranges (queue/assign.ts). The barycentre sums stay on this machine: on the pool's threads when
   * there is one, else in this thread, by the same chunks of rows added in the same order. Same
   * result as {@link fit} in every case, whatever the number of threads or workers.
   */
  async fitPool(rows: Rows<RowValues>, assigner: Assigner, rng: Random = new Random(this.seed)): Promise<this> {
    checkFitInput(rows, rows.n, this.k);
    if (assigner.n !== rows.n || assigner.L !== rows.dim) throw new RangeError(`Expected an assigner over these ${rows.n} × ${rows.dim} rows but it holds ${assigner.n} × ${assigner.L}`);
    if (this.init) checkInitCentres(this.init, this.k, rows.dim);
    const dtw = new BandedDtw(rows.dim, this.radius);
    const r = dtw.r;
    const pool = assigner instanceof AssignPool ? assigner : null;
    const steps = this.restarts(rows, rng);
    let exact = 0;
    let next = steps.next();
    while (!next.done) {
      throwIfInterrupted();
      const step = next.value;
      if (step.kind === 'assign') {
        const a = await assigner.assign(step.centres.subarray(0, this.k * rows.dim), r, this.prune === undefined ? {} : { prune: this.prune });
        exact += a.exactPairs;
        const dist2 = new Float64Array(rows.n);
        for (let i = 0; i < rows.n; i++) dist2[i] = a.d1[i] * a.d1[i];
        next = steps.next({ labels: a.n1, dist2 });
      } else if (pool) {
        next = steps.next(await pool.dbaAccumulate(step.centres, this.k, step.labels, step.active, r));
      } else {
        // No threads here (the rows' assignments are on the queue): the chunked sums of fit.
        next = steps.next(accumulateDba(rows.data, rows.dim, step.centres, this.k, step.labels, step.active, dtw, ASSIGN_CHUNK_ROWS));
      }
    }
    this.state = { ...next.value, exactPairs: exact };
    return this;
  }

  /** Labels of new series: nearest centre by banded DTW (the fitted labels follow the same rule). */
  predict(rows: Rows): Int32Array {
    if (!this.state) throw new Error('DbaKMeans.predict called before fit');
    return assignDtw(rows, this.state.centres, this.k, new BandedDtw(rows.dim, this.radius)).labels;
  }

  /**
   * The whole fit (every restart, the best kept) as a sequence of steps over all rows — assign to
   * the centres, or sum the members along their warping paths — each answered by the caller (this
   * thread in {@link fit}, the assigner and the pool's threads in {@link fitPool}), so both run one algorithm.
   */
  private *restarts(rows: Rows<RowValues>, rng: Random): Generator<DbaStep, DbaKMeansState, DbaAnswer> {
    let best: DbaKMeansState | null = null;
    let reseeds = 0;
    let candidates = 0;
    // Restarts from the same explicit centres would all give the same result: run one.
    const runs = this.init ? 1 : this.nInit;
    for (let run = 0; run < runs; run++) {
      const res = yield* this.fitOnce(rows, rng);
      reseeds += res.emptyReseeds;
      candidates += res.candidatePairs;
      if (!best || res.inertia < best.inertia) best = res;
    }
    return { ...best!, emptyReseeds: reseeds, candidatePairs: candidates };
  }

  private *fitOnce(rows: Rows<RowValues>, rng: Random): Generator<DbaStep, DbaKMeansState, DbaAnswer> {
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
    let assignments = 1;
    for (let it = 0; it < this.maxIter; it++) {
      nIter = it + 1;
      assignments++;
      const { labels, dist2 } = (yield { kind: 'assign', centres }) as Assigned;
      emptyReseeds += reseedEmpty(labels, dist2, k, centres, data, dim);
      let inertia = 0;
      for (let i = 0; i < n; i++) inertia += dist2[i];
      inertia /= n;
      yield* this.updateCentres(labels, centres, dim);
      if (Math.abs(oldInertia - inertia) < this.tol) break;
      oldInertia = inertia;
    }
    // Final assignment so that labels are the argmin of the distance to the returned centres.
    const fin = (yield { kind: 'assign', centres }) as Assigned;
    emptyReseeds += reseedEmpty(fin.labels, fin.dist2, k, centres, data, dim);
    let inertia = 0;
    for (let i = 0; i < n; i++) inertia += fin.dist2[i];
    return { centres, labels: fin.labels, inertia, nIter, emptyReseeds, exactPairs: 0, candidatePairs: assignments * n * k };
  }

  /**
   * DBA: each centre becomes the average of the member values aligned to each of its slots, repeated
   * (at most maxIterBarycenter times per centre, each centre stopping on its own when its mean cost
   * changes by < 1e-5 or rises). All centres still moving are updated in one pass over the rows,
   * which keeps no list of members and no warping path: only k × L sums and counts.
   */
  private *updateCentres(labels: Int32Array, centres: Float64Array, dim: number): Generator<DbaStep, void, DbaAnswer> {
    const k = this.k;
    const sizes = new Int32Array(k);
    for (let i = 0; i < labels.length; i++) sizes[labels[i]]++;
    const active = new Uint8Array(k);
    for (let c = 0; c < k; c++) active[c] = sizes[c] > 0 ? 1 : 0;
    const costPrev = new Float64Array(k).fill(Infinity);
    for (let it = 0; it < this.maxIterBarycenter && active.some((a) => a === 1); it++) {
      const { sums, counts, cost } = (yield { kind: 'accumulate', centres, labels, active: Uint8Array.from(active) }) as DbaSums;
      for (let c = 0; c < k; c++) {
        if (!active[c]) continue;
        for (let t = 0; t < dim; t++) centres[c * dim + t] = sums[c * dim + t] / counts[c * dim + t];
        const mean = cost[c] / sizes[c];
        if (Math.abs(costPrev[c] - mean) < 1e-5 || mean > costPrev[c]) active[c] = 0;
        costPrev[c] = mean;
      }
    }
  }
}

/** What the DBA loop asks of the rows (see {@link DbaKMeans}'s `restarts`). */
type DbaStep = { kind: 'assign'; centres: Float64Array } | { kind: 'accumulate'; centres: Float64Array; labels: Int32Array; active: Uint8Array };
type Assigned = { labels: Int32Array; dist2: Float64Array };
type DbaAnswer = Assigned | DbaSums;

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
function reseedEmpty(labels: Int32Array, dist2: Float64Array, k: number, centres: Float64Array, data: RowValues, dim: number): number {
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
