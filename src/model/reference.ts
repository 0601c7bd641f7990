/**
 * The training-time reference a model carries for day-ahead monitoring: how the training days
 * spread over the clusters and how far they lie from their assigned centre. `lpclust assign`
 * compares each new day's assignments with it (novel days, drift of the cluster shares).
 */
import type { Prediction } from './predict.js';

/** Version of the {@link TrainingReference} layout (a newer lpclust may add fields). */
export const REFERENCE_VERSION = 1;

/**
 * Stored in the model artifact as `reference` (absent in models written before it existed).
 * Every figure is computed from the model's own prediction of its training rows (the assignment
 * `lpclust assign` makes), not from the fitted labels: for agglomerative and SOM models the two
 * differ, and drift must compare like with like.
 */
export interface TrainingReference {
  version: 1;
  /** Training rows predicted. */
  rows: number;
  /** Share of training rows predicted to each cluster, length k, summing to 1. */
  cluster_shares: number[];
  /**
   * Quantiles of the distance of each training row to its assigned centre (normalised units, the
   * model's metric), computed as numpy's default `percentile` (linear interpolation between order
   * statistics). `p99` is the novelty bound: a new day farther than it is `novel`.
   */
  distance: { mean: number; p50: number; p90: number; p95: number; p99: number; max: number };
  /**
   * IANA zone of the training data's dates and slot labels when the training run knew it (the
   * pipeline does), else null (`lpclust cluster` reads a CSV that does not say).
   */
  timezone: string | null;
}

/**
 * Quantile `q` (0..1) of ascending `sorted` values by linear interpolation between order
 * statistics (numpy's default method, `linear` / Hyndman–Fan type 7). NaN for no values.
 */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/** Quantile `q` (0..1) of unsorted values (copied and sorted). */
export function quantile(values: ArrayLike<number>, q: number): number {
  const s = Float64Array.from(values as ArrayLike<number>).sort();
  return quantileSorted(s, q);
}

/** The reference of a model from its prediction of the training rows. */
export function trainingReference(pred: Prediction, k: number, timezone: string | null = null): TrainingReference {
  const n = pred.labels.length;
  const counts = new Array<number>(k).fill(0);
  for (let i = 0; i < n; i++) counts[pred.labels[i]]++;
  const d = Float64Array.from(pred.distance).sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += d[i];
  return {
    version: REFERENCE_VERSION,
    rows: n,
    cluster_shares: counts.map((c) => (n > 0 ? c / n : 0)),
    distance: {
      mean: n > 0 ? sum / n : NaN,
      p50: quantileSorted(d, 0.5),
      p90: quantileSorted(d, 0.9),
      p95: quantileSorted(d, 0.95),
      p99: quantileSorted(d, 0.99),
      max: n > 0 ? d[n - 1] : NaN,
    },
    timezone,
  };
}
