/**
 * k-medoids on a precomputed distance matrix (the DTW matrix, or Euclidean distances built by
 * `euclideanMatrix` of euclidean.ts): FasterPAM (Schubert & Rousseeuw 2021, eager swaps with O(n) cost per
 * candidate) or `alternate` (Voronoi iteration), initialised by `random` (the old pipeline's),
 * `k-medoids++` or PAM's `BUILD`. Reports the total deviation: the sum of the distances of the rows
 * to their nearest medoid.
 */
import { Random } from '../util/random.js';
import { throwIfInterrupted } from '../util/interrupt.js';
// The Euclidean matrix helpers live in euclidean.ts; re-exported for the callers that import them from here.
export { euclideanMatrix, euclideanMatrixRows, EUCLIDEAN_MATRIX_UNIT_ROWS } from './euclidean.js';
import { checkFitInput, emptyMedoidReseed, type DistanceMatrix } from './common.js';

/** Swap strategy of {@link KMedoids}. */
export type KMedoidsMethod = 'fasterpam' | 'alternate';
/** Initialisation of {@link KMedoids}. */
export type KMedoidsInit = 'random' | 'k-medoids++' | 'build';

/** Hyper-parameters of {@link KMedoids}. */
export interface KMedoidsOptions {
  /** Number of clusters, ≥ 2. */
  k: number;
  /** Default `fasterpam`. */
  method?: KMedoidsMethod;
  /** Default `random` (as the old pipeline). */
  init?: KMedoidsInit;
  /** Passes over the candidates (FasterPAM) or Voronoi iterations (alternate). Default 300. */
  maxIter?: number;
  /** Restarts from new random initial medoids, the lowest total deviation wins; BUILD is deterministic so runs once. Default 1. */
  nInit?: number;
  /** Seed. Default 0. */
  seed?: number;
}

/** Learned state of a fitted {@link KMedoids}. */
export interface KMedoidsState {
  /** Row index of each medoid, length k. */
  medoids: Int32Array;
  /** Label of every row (index into `medoids`). */
  labels: Int32Array;
  /** Σ distance of each row to its medoid. */
  totalDeviation: number;
  /** Passes (fasterpam) or iterations (alternate) of the winning run. */
  nIter: number;
  /** Swaps done (fasterpam) in the winning run. */
  swaps: number;
  /** Empty clusters re-seeded from the farthest row. */
  emptyReseeds: number;
}

/** k-medoids estimator over a distance matrix. */
export class KMedoids {
  readonly k: number;
  readonly method: KMedoidsMethod;
  readonly init: KMedoidsInit;
  readonly maxIter: number;
  readonly nInit: number;
  readonly seed: number;
  /** Set by {@link fit}. */
  state: KMedoidsState | null = null;

  constructor(options: KMedoidsOptions) {
    this.k = options.k;
    this.method = options.method ?? 'fasterpam';
    this.init = options.init ?? 'random';
    this.maxIter = options.maxIter ?? 300;
    this.nInit = options.nInit ?? 1;
    this.seed = options.seed ?? 0;
  }

  /** Fit on an n × n distance matrix. */
  fit(D: DistanceMatrix, rng: Random = new Random(this.seed)): this {
    checkFitInput(null, D.n, this.k);
    const runs = this.init === 'build' ? 1 : this.nInit;
    let best: KMedoidsState | null = null;
    for (let r = 0; r < runs; r++) {
      const m0 = this.init === 'random' ? rng.sample(D.n, this.k) : this.init === 'build' ? buildInit(D, this.k) : kmedoidsPlusPlus(D, this.k, rng);
      const res = this.method === 'fasterpam' ? fasterPam(D, m0, this.maxIter) : alternate(D, m0, this.maxIter);
      if (!best || res.totalDeviation < best.totalDeviation) best = res;
    }
    this.state = best!;
    return this;
  }

  /**
   * Assign rows given their distances to the medoids (`n × k`, row-major), as `fit` does.
   * For new profiles, compute the distances to the medoid profiles with the model's metric.
   */
  predictFromDistances(toMedoids: Float64Array, k = this.k): Int32Array {
    const n = toMedoids.length / k;
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      let b = Infinity;
      for (let j = 0; j < k; j++) {
        const d = toMedoids[i * k + j];
        if (d < b) {
          b = d;
          out[i] = j;
        }
      }
    }
    return out;
  }
}

/**
 * PAM BUILD: the most central row, then greedily the row that lowers the total deviation most.
 * The gain of every candidate, Σ_o max(0, d1(o) − d(c, o)), is kept up to date incrementally: when
 * a new medoid lowers d1(o) for some rows o, only those rows' distances (rows of the symmetric
 * matrix) are read, instead of the whole matrix at every step.
 */
export function buildInit(D: DistanceMatrix, k: number): Int32Array {
  const { n, data } = D;
  const medoids = new Int32Array(k);
  const d1 = new Float64Array(n);
  let best = Infinity;
  for (let i = 0; i < n; i++) {
    let s = 0;
    const row = i * n;
    for (let j = 0; j < n; j++) s += data[row + j];
    if (s < best) {
      best = s;
      medoids[0] = i;
    }
  }
  for (let j = 0; j < n; j++) d1[j] = data[medoids[0] * n + j];
  const isMedoid = new Uint8Array(n);
  isMedoid[medoids[0]] = 1;
  const gain = new Float64Array(n);
  const recomputeAll = (): void => {
    for (let c = 0; c < n; c++) {
      const row = c * n;
      let g = 0;
      for (let o = 0; o < n; o++) {
        const v = d1[o] - data[row + o];
        if (v > 0) g += v;
      }
      gain[c] = g;
    }
  };
  recomputeAll();
  const changed = new Int32Array(n);
  const oldD1 = new Float64Array(n);
  for (let m = 1; m < k; m++) {
    throwIfInterrupted();
    let bestGain = -1;
    let bestC = 0;
    for (let c = 0; c < n; c++) {
      if (!isMedoid[c] && gain[c] > bestGain) {
        bestGain = gain[c];
        bestC = c;
      }
    }
    medoids[m] = bestC;
    isMedoid[bestC] = 1;
    if (m === k - 1) break;
    const row = bestC * n;
    let nc = 0;
    for (let o = 0; o < n; o++) {
      const d = data[row + o];
      if (d < d1[o]) {
        changed[nc++] = o;
        oldD1[o] = d1[o];
        d1[o] = d;
      }
    }
    if (nc > n / 2) {
      recomputeAll();
      continue;
    }
    // By symmetry, d(c, o) for all c is row o: update every gain from the changed rows only.
    for (let q = 0; q < nc; q++) {
      const o = changed[q];
      const ro = o * n;
      const before = oldD1[o];
      const after = d1[o];
      for (let c = 0; c < n; c++) {
        const dc = data[ro + c];
        if (dc >= before) continue; // contributed 0 before and after
        gain[c] -= before - dc - (after > dc ? after - dc : 0);
      }
    }
  }
  return medoids;
}

/** k-medoids++: the first medoid uniformly, the next ones with probability ∝ squared distance to the closest medoid. */
export function kmedoidsPlusPlus(D: DistanceMatrix, k: number, rng: Random): Int32Array {
  const { n, data } = D;
  const medoids = new Int32Array(k);
  medoids[0] = rng.int(n);
  const w = new Float64Array(n);
  for (let o = 0; o < n; o++) w[o] = data[medoids[0] * n + o] ** 2;
  for (let m = 1; m < k; m++) {
    let tot = 0;
    for (let o = 0; o < n; o++) tot += w[o];
    let pick = -1;
    if (tot > 0) {
      let r = rng.next() * tot;
      for (let o = 0; o < n; o++) {
        r -= w[o];
        if (r < 0 && w[o] > 0) {
          pick = o;
          break;
        }
      }
    }
    if (pick < 0) {
      // All remaining rows coincide with medoids: any non-medoid will do.
      do pick = rng.int(n);
      while (medoids.subarray(0, m).includes(pick));
    }
    medoids[m] = pick;
    for (let o = 0; o < n; o++) {
      const d = data[pick * n + o] ** 2;
      if (d < w[o]) w[o] = d;
    }
  }
  return medoids;
}

/** Nearest and second-nearest medoid of every row. */
class Nearest {
  readonly n1: Int32Array;
  readonly n2: Int32Array;
  readonly d1: Float64Array;
  readonly d2: Float64Array;
  constructor(n: number) {
    this.n1 = new Int32Array(n);
    this.n2 = new Int32Array(n);
    this.d1 = new Float64Array(n);
    this.d2 = new Float64Array(n);
  }
  /** Recompute row o against all medoids (ties: lowest medoid index). */
  update(D: DistanceMatrix, medoids: Int32Array, o: number): void {
    const { n, data } = D;
    let b1 = Infinity;
    let b2 = Infinity;
    let i1 = 0;
    let i2 = 0;
    for (let j = 0; j < medoids.length; j++) {
      const d = data[medoids[j] * n + o];
      if (d < b1) {
        b2 = b1;
        i2 = i1;
        b1 = d;
        i1 = j;
      } else if (d < b2) {
        b2 = d;
        i2 = j;
      }
    }
    this.n1[o] = i1;
    this.d1[o] = b1;
    this.n2[o] = i2;
    this.d2[o] = b2;
  }
}

function finish(D: DistanceMatrix, medoids: Int32Array, near: Nearest, nIter: number, swaps: number): KMedoidsState {
  const n = D.n;
  const k = medoids.length;
  let emptyReseeds = 0;
  // A medoid can lose all its rows only to an identical medoid (distance 0): re-seed it on the farthest row.
  for (let guard = 0; guard < k; guard++) {
    const reseed = emptyMedoidReseed(near.n1, near.d1, k);
    if (!reseed) break;
    medoids[reseed.empty] = reseed.row;
    for (let o = 0; o < n; o++) near.update(D, medoids, o);
    emptyReseeds++;
  }
  let total = 0;
  for (let o = 0; o < n; o++) total += near.d1[o];
  return { medoids, labels: Int32Array.from(near.n1), totalDeviation: total, nIter, swaps, emptyReseeds };
}

/**
 * FasterPAM: for each candidate row in turn, the best medoid to replace is found in O(n + k) from
 * the removal losses; an improving swap is applied at once. Stops after a full pass without swap.
 */
export function fasterPam(D: DistanceMatrix, init: Int32Array, maxIter: number): KMedoidsState {
  const { n, data } = D;
  const k = init.length;
  const medoids = Int32Array.from(init);
  const near = new Nearest(n);
  for (let o = 0; o < n; o++) near.update(D, medoids, o);
  const { n1, n2, d1, d2 } = near;
  const isMedoid = new Uint8Array(n);
  for (const m of medoids) isMedoid[m] = 1;
  const loss = new Float64Array(k);
  const delta = new Float64Array(k);
  const removalLoss = (): void => {
    loss.fill(0);
    for (let o = 0; o < n; o++) loss[n1[o]] += d2[o] - d1[o];
  };
  removalLoss();
  let swaps = 0;
  let lastSwap = -1;
  let pass = 0;
  let xc = 0;
  let steps = 0;
  for (pass = 0; pass < maxIter; ) {
    if (xc === lastSwap) break; // a full cycle without improvement
    if (!isMedoid[xc]) {
      delta.set(loss);
      let acc = 0;
      const row = xc * n;
      for (let o = 0; o < n; o++) {
        const doj = data[row + o];
        const a = d1[o];
        if (doj < a) {
          acc += doj - a;
          delta[n1[o]] += a - d2[o]; // the removal loss of n1(o) no longer applies to o
        } else if (doj < d2[o]) {
          delta[n1[o]] += doj - d2[o];
        }
      }
      let bi = 0;
      for (let i = 1; i < k; i++) if (delta[i] < delta[bi]) bi = i;
      // Relative guard so that rounding noise never triggers an endless cycle of zero-gain swaps.
      if (delta[bi] + acc < -1e-12 * (Math.abs(acc) + 1e-300)) {
        isMedoid[medoids[bi]] = 0;
        isMedoid[xc] = 1;
        medoids[bi] = xc;
        for (let o = 0; o < n; o++) {
          const doj = data[row + o];
          if (n1[o] === bi) {
            if (doj < d2[o]) d1[o] = doj;
            else near.update(D, medoids, o);
          } else if (doj < d1[o]) {
            n2[o] = n1[o];
            d2[o] = d1[o];
            n1[o] = bi;
            d1[o] = doj;
          } else if (doj < d2[o]) {
            n2[o] = bi;
            d2[o] = doj;
          } else if (n2[o] === bi) near.update(D, medoids, o);
        }
        removalLoss();
        swaps++;
        lastSwap = xc;
      }
    }
    xc++;
    steps++;
    if (xc === n) {
      xc = 0;
      pass++;
      throwIfInterrupted();
      if (lastSwap < 0) break; // first pass without any swap
    }
  }
  return finish(D, medoids, near, pass + (steps % n > 0 ? 1 : 0), swaps);
}

/** Voronoi iteration: assign to the nearest medoid, move each medoid to its cluster's most central member, repeat. */
export function alternate(D: DistanceMatrix, init: Int32Array, maxIter: number): KMedoidsState {
  const { n, data } = D;
  const k = init.length;
  const medoids = Int32Array.from(init);
  const near = new Nearest(n);
  let it = 0;
  for (it = 1; it <= maxIter; it++) {
    throwIfInterrupted();
    for (let o = 0; o < n; o++) near.update(D, medoids, o);
    const members: number[][] = Array.from({ length: k }, () => []);
    for (let o = 0; o < n; o++) members[near.n1[o]].push(o);
    let changed = false;
    for (let c = 0; c < k; c++) {
      const m = members[c];
      let best = 0;
      for (const j of m) best += data[medoids[c] * n + j];
      let bestI = medoids[c];
      for (const i of m) {
        let s = 0;
        const row = i * n;
        for (const j of m) {
          s += data[row + j];
          if (s >= best) break;
        }
        if (s < best) {
          best = s;
          bestI = i;
        }
      }
      if (bestI !== medoids[c]) {
        medoids[c] = bestI;
        changed = true;
      }
    }
    if (!changed) break;
  }
  for (let o = 0; o < n; o++) near.update(D, medoids, o);
  return finish(D, medoids, near, Math.min(it, maxIter), 0);
}
