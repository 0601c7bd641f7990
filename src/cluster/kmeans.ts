/**
 * Euclidean k-means (scikit-learn `KMeans` semantics): Lloyd iterations accelerated with Hamerly's
 * bounds (one upper bound to the own centre, one lower bound to every other centre), `n_init`
 * restarts keeping the lowest inertia, random or greedy k-means++ initialisation.
 *
 * Inertia is scikit-learn's: the sum over rows of the squared Euclidean distance to the assigned
 * centre. Convergence follows scikit-learn too: stop when no label changes, or when the total
 * squared centre shift is ≤ tol · mean per-column variance; a last exact assignment then makes
 * labels the argmin of the distance to the returned centres.
 */
import { Random } from '../util/random.js';
import { throwIfInterrupted } from '../util/interrupt.js';
import { assignEuclidean, checkFitInput, sqDist, type Rows } from './common.js';
import { hartiganRefine, type KMeansState } from './kmeans-lloyd.js';
import { defaultKMeansThreads, runRestarts } from './kmeans-restarts.js';

/** How k-means picks its first centres. */
export type KMeansInit = 'random' | 'k-means++';

/** Hyper-parameters of {@link KMeans}. */
export interface KMeansOptions {
  /** Number of clusters, ≥ 2. */
  k: number;
  /** `random` (k distinct rows; the old pipeline's) or `k-means++` (greedy, 2 + ⌊ln k⌋ trials). Default random. */
  init?: KMeansInit;
  /** Restarts; the lowest inertia wins. Default 10. */
  nInit?: number;
  /** Iterations per restart. Default 300. */
  maxIter?: number;
  /** Relative tolerance on the centre shift (scikit-learn's `tol`). Default 1e-4. */
  tol?: number;
  /** Seed of the one generator of this fit. Default 0. */
  seed?: number;
  /**
   * Threads running the restarts, the calling one included (the result does not depend on it).
   * Default: on the main thread, one per core up to nInit once the data are large enough to gain
   * from it; 1 on a worker thread (a sweep already runs one configuration per thread).
   */
  workers?: number;
  /**
   * After the restarts, refine the best partition with Hartigan single-row moves (each move lowers
   * the inertia strictly; a Hartigan-stable partition is also a Lloyd fixed point), so the result
   * is never worse than plain Lloyd from the same starts. Default true.
   */
  refine?: boolean;
}


/** Euclidean k-means estimator: `fit` learns {@link KMeansState}, `predict` assigns new rows. */
export class KMeans {
  readonly k: number;
  readonly init: KMeansInit;
  readonly nInit: number;
  readonly maxIter: number;
  readonly tol: number;
  readonly seed: number;
  readonly refine: boolean;
  readonly workers: number | undefined;
  /** Set by {@link fit}. */
  state: KMeansState | null = null;

  constructor(options: KMeansOptions) {
    this.k = options.k;
    this.init = options.init ?? 'random';
    this.nInit = options.nInit ?? 10;
    this.maxIter = options.maxIter ?? 300;
    this.tol = options.tol ?? 1e-4;
    this.seed = options.seed ?? 0;
    this.refine = options.refine ?? true;
    this.workers = options.workers;
  }

  /**
   * Fit on n × dim rows. The starting centres of every restart are drawn first, in restart order,
   * from `rng` (the one generator of the fit); the restarts then run on {@link workers} threads
   * (see kmeans-restarts.ts). Restart i depends on its starting centres only, and the lowest inertia
   * wins (ties: the lowest restart), so the result is the same whatever the number of threads.
   */
  fit(rows: Rows, rng: Random = new Random(this.seed)): this {
    checkFitInput(rows, rows.n, this.k);
    const tolAbs = this.tol * meanColumnVariance(rows);
    const { n, dim } = rows;
    const kd = this.k * dim;
    const inits = new Float64Array(new SharedArrayBuffer(8 * this.nInit * kd));
    for (let run = 0; run < this.nInit; run++) {
      throwIfInterrupted();
      inits.set(this.init === 'random' ? randomInit(rows, this.k, rng) : kmeansPlusPlus(rows, this.k, rng), run * kd);
    }
    const threads = Math.max(1, Math.min(this.workers ?? defaultKMeansThreads(n, dim, this.k), this.nInit));
    const results = runRestarts({ rows, k: this.k, maxIter: this.maxIter, tolAbs, nInit: this.nInit, inits }, threads);
    let best: KMeansState | null = null;
    let reseeds = 0;
    for (const res of results) {
      reseeds += res.emptyReseeds;
      if (best === null || res.inertia < best.inertia) best = res;
    }
    if (this.refine) best = hartiganRefine(rows, best!, this.k);
    this.state = { ...best!, emptyReseeds: reseeds };
    return this;
  }

  /** Nearest centre of each row (same rule as the fitted labels). */
  predict(rows: Rows): Int32Array {
    if (!this.state) throw new Error('KMeans.predict called before fit');
    return assignEuclidean(rows, this.state.centres, this.k).labels;
  }
}

/** Mean over columns of the per-column (population) variance; scales the tolerance. */
export function meanColumnVariance(rows: Rows): number {
  const { data, n, dim } = rows;
  let total = 0;
  for (let t = 0; t < dim; t++) {
    let m = 0;
    for (let i = 0; i < n; i++) m += data[i * dim + t];
    m /= n;
    let v = 0;
    for (let i = 0; i < n; i++) {
      const d = data[i * dim + t] - m;
      v += d * d;
    }
    total += v / n;
  }
  return total / dim;
}

/** k distinct rows chosen uniformly. */
export function randomInit(rows: Rows, k: number, rng: Random): Float64Array {
  const idx = rng.sample(rows.n, k);
  const c = new Float64Array(k * rows.dim);
  for (let j = 0; j < k; j++) c.set(rows.data.subarray(idx[j] * rows.dim, (idx[j] + 1) * rows.dim), j * rows.dim);
  return c;
}

/**
 * Greedy k-means++ (as scikit-learn): the first centre uniformly, then each next one the best of
 * 2 + ⌊ln k⌋ candidates drawn proportionally to the squared distance to the closest centre.
 */
export function kmeansPlusPlus(rows: Rows, k: number, rng: Random): Float64Array {
  const { data, n, dim } = rows;
  const c = new Float64Array(k * dim);
  const trials = 2 + Math.floor(Math.log(k));
  const first = rng.int(n);
  c.set(data.subarray(first * dim, first * dim + dim), 0);
  const closest = new Float64Array(n);
  let pot = 0;
  for (let i = 0; i < n; i++) {
    closest[i] = sqDist(data, i, c, 0, dim);
    pot += closest[i];
  }
  const cand = new Float64Array(n);
  const bestCand = new Float64Array(n);
  for (let j = 1; j < k; j++) {
    let bestPot = Infinity;
    let bestIdx = 0;
    for (let t = 0; t < trials; t++) {
      // Draw a row with probability proportional to its squared distance (uniform when all are 0).
      let r = rng.next() * pot;
      let pick = n - 1;
      if (pot > 0) {
        for (let i = 0; i < n; i++) {
          r -= closest[i];
          if (r < 0) {
            pick = i;
            break;
          }
        }
      } else pick = rng.int(n);
      let p = 0;
      for (let i = 0; i < n; i++) {
        const d = sqDist(data, i, data, pick, dim);
        cand[i] = d < closest[i] ? d : closest[i];
        p += cand[i];
      }
      if (p < bestPot) {
        bestPot = p;
        bestIdx = pick;
        bestCand.set(cand);
      }
    }
    c.set(data.subarray(bestIdx * dim, bestIdx * dim + dim), j * dim);
    closest.set(bestCand);
    pot = bestPot;
  }
  return c;
}
