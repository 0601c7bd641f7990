/**
 * A self-organising map of k nodes on a line (k × 1), trained online with a Gaussian neighbourhood
 * on the node index and asymptotically decaying learning rate and radius (σ(t) = σ₀ / (1 + 2t/T),
 * the usual MiniSom schedule). Labels are the best-matching unit (nearest node weight, Euclidean).
 */
import { Random } from '../util/random.js';
import { throwIfInterrupted } from '../util/interrupt.js';
import { assignEuclidean, checkFitInput, sqDist, type Rows } from './common.js';

/** Hyper-parameters of {@link Som}. */
export interface SomOptions {
  /** Number of nodes (clusters), ≥ 2. */
  k: number;
  /** Passes over the data, each in a new random order. Default 10. */
  epochs?: number;
  /** Initial learning rate. Default 0.5. */
  learningRate?: number;
  /** Initial neighbourhood radius in nodes. Default max(1, k / 4). */
  sigma?: number;
  /** Seed. Default 0. */
  seed?: number;
}

/** Learned state of {@link Som}. */
export interface SomState {
  /** Node weights (the centres), k × dim. */
  weights: Float64Array;
  /** Best-matching unit of every training row. */
  labels: Int32Array;
  /** Σ squared distance to the best-matching unit. */
  quantizationError2: number;
  /** Nodes that won no row and were re-seeded on the farthest row. */
  emptyReseeds: number;
}

/** k × 1 self-organising map estimator. */
export class Som {
  readonly k: number;
  readonly epochs: number;
  readonly learningRate: number;
  readonly sigma: number;
  readonly seed: number;
  /** Set by {@link fit}. */
  state: SomState | null = null;

  constructor(options: SomOptions) {
    this.k = options.k;
    this.epochs = options.epochs ?? 10;
    this.learningRate = options.learningRate ?? 0.5;
    this.sigma = options.sigma ?? Math.max(1, options.k / 4);
    this.seed = options.seed ?? 0;
  }

  /** Train on n × dim rows. */
  fit(rows: Rows, rng: Random = new Random(this.seed)): this {
    checkFitInput(rows, rows.n, this.k);
    const { data, n, dim } = rows;
    const k = this.k;
    const w = new Float64Array(k * dim);
    const init = rng.sample(n, k);
    for (let j = 0; j < k; j++) w.set(data.subarray(init[j] * dim, init[j] * dim + dim), j * dim);
    const T = this.epochs * n;
    const half = T / 2;
    const order = new Int32Array(n);
    const h = new Float64Array(k);
    let t = 0;
    for (let e = 0; e < this.epochs; e++) {
      throwIfInterrupted();
      for (let i = 0; i < n; i++) order[i] = i;
      rng.shuffle(order);
      for (let s = 0; s < n; s++, t++) {
        const i = order[s];
        let bmu = 0;
        let best = Infinity;
        for (let j = 0; j < k; j++) {
          const d = sqDist(data, i, w, j, dim);
          if (d < best) {
            best = d;
            bmu = j;
          }
        }
        const decay = 1 / (1 + t / half);
        const lr = this.learningRate * decay;
        const sig = this.sigma * decay;
        const inv = 1 / (2 * sig * sig);
        for (let j = 0; j < k; j++) h[j] = lr * Math.exp(-(j - bmu) * (j - bmu) * inv);
        const ri = i * dim;
        for (let j = 0; j < k; j++) {
          const hj = h[j];
          if (hj < 1e-12) continue;
          const base = j * dim;
          for (let q = 0; q < dim; q++) w[base + q] += hj * (data[ri + q] - w[base + q]);
        }
      }
    }
    let { labels, dist2 } = assignEuclidean(rows, w, k);
    let emptyReseeds = 0;
    for (let guard = 0; guard < k; guard++) {
      const sizes = new Int32Array(k);
      for (let i = 0; i < n; i++) sizes[labels[i]]++;
      const empty = sizes.indexOf(0);
      if (empty < 0) break;
      let far = -1;
      for (let i = 0; i < n; i++) if (sizes[labels[i]] > 1 && (far < 0 || dist2[i] > dist2[far])) far = i;
      w.set(data.subarray(far * dim, far * dim + dim), empty * dim);
      ({ labels, dist2 } = assignEuclidean(rows, w, k));
      emptyReseeds++;
    }
    let q = 0;
    for (let i = 0; i < n; i++) q += dist2[i];
    this.state = { weights: w, labels, quantizationError2: q, emptyReseeds };
    return this;
  }

  /** Best-matching unit of each row. */
  predict(rows: Rows): Int32Array {
    if (!this.state) throw new Error('Som.predict called before fit');
    return assignEuclidean(rows, this.state.weights, this.k).labels;
  }
}
