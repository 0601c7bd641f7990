/**
 * The metric keys lpclust logs, in one place: the validation scores by the old pipeline's names
 * (kept exactly, so that users can compare with their old runs), lpclust's own additional keys
 * grouped under a `/` prefix (the MLflow UI's chart view makes a section per prefix), and for
 * every score that can rank configurations its direction (higher or lower is better).
 *
 * Keys of a clustering run:
 * - scores, flat: `DB Index`, `Silhouette Score`, `Silhouette DTW`, the seven peak scores (the old
 *   pipeline's names), `Calinski-Harabasz`, `Inertia`, `Distinctiveness`;
 * - `cluster_size/<c>`: days in cluster c (c = 0 the largest), one key per cluster;
 *   `cluster_share/min`, `cluster_share/max`: the smallest and largest cluster's share of the days (0–1);
 * - `fit/…`: the model's own numbers (`fit/inertia`, `fit/dtw_inertia`, `fit/total_deviation`,
 *   `fit/iterations`, `fit/swaps`, `fit/empty_clusters_reseeded`, `fit/quantization_error`);
 * - `model/predict_agreement`: share of training days predict assigns to their fitted cluster;
 * - `seconds/fit`: seconds of the fit alone;
 * - with `-k 0`: `choose_k/<score>_by_k` (the curve, step = k), `choose_k/k` (the chosen k),
 *   `choose_k/<score>` (the score at the chosen k), `choose_k/eligible_k` (how many k passed the
 *   eligibility rule).
 */
import { usageError } from '../errors.js';

/** Which way a score is better. */
export type Direction = 'higher' | 'lower';

/**
 * The logged keys of the validation scores, by one name each in code: everything that reads or
 * writes a score names it through these (or through its {@link ScoreDef}), never by a string of its own.
 */
export const SCORE_KEYS = {
  silhouette: 'Silhouette Score',
  silhouetteDtw: 'Silhouette DTW',
  dbIndex: 'DB Index',
  calinskiHarabasz: 'Calinski-Harabasz',
  inertia: 'Inertia',
  distinctiveness: 'Distinctiveness',
  /** Sampled mode: the exact centre-based silhouettes. */
  simplifiedSilhouette: 'Simplified Silhouette',
  simplifiedSilhouetteDtw: 'Simplified Silhouette DTW',
} as const;

/** What a registered score's `compute` is given: the labelling and the centres the model reports. */
export interface ScoreInput {
  /** n × L rows, row-major, normalised as the model saw them. */
  X: Float32Array | Float64Array;
  L: number;
  /** Cluster of each row, 0..k−1; length n. */
  labels: ArrayLike<number>;
  k: number;
  /** k × L centres (the model's own, or per-cluster means). */
  centres: Float64Array;
}

/** One entry of the metric registry: a score that can rank configurations (`--select`). */
export interface ScoreDef {
  /** The logged MLflow key (the old pipeline's name where it had one). */
  key: string;
  /** Its identifier: the whole key's lower-case `_` form (`silhouette_dtw`, `fit_inertia`), which `--select` also accepts. */
  name: string;
  better: Direction;
  /** Only with DTW distances (the DTW matrix, or in sampled mode DTW on a sample). */
  needsDtw?: boolean;
  /** One line for `--help` and the README. */
  about: string;
  /** Shown first in summaries (the pipeline's closing lines, the sweep's table and charts), in this order. */
  headline?: number;
  /**
   * How to compute it from a labelling, for scores computed on their own: `computeValidation`
   * logs every registered score that has one (exact and sampled mode), after the built-in ones.
   * The built-in scores (silhouettes, the indices, inertia, peak scores) leave it out: they share
   * passes over the data (the silhouette's distances, the peak detection) inside `computeValidation`.
   */
  compute?: (v: ScoreInput) => number;
}

/** A registry entry from its key (the name is derived, so the two never disagree). */
function score(key: string, better: Direction, about: string, more: Pick<ScoreDef, 'needsDtw' | 'headline' | 'compute'> = {}): ScoreDef {
  return { key, name: key.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, ''), better, about, ...more };
}

/**
 * The metric registry: every score `--select` accepts, with its direction. Scores that always
 * improve with k (inertia, total deviation) are listed because a user may compare configurations
 * of one k with them, but they cannot choose k.
 */
export const SCORES: readonly ScoreDef[] = [
  score(SCORE_KEYS.silhouette, 'higher', 'Euclidean silhouette (−1..1)', { headline: 1 }),
  score(SCORE_KEYS.silhouetteDtw, 'higher', 'silhouette on the DTW matrix (−1..1)', { needsDtw: true, headline: 2 }),
  score(SCORE_KEYS.dbIndex, 'lower', 'Davies–Bouldin index (≥ 0)', { headline: 3 }),
  score(SCORE_KEYS.calinskiHarabasz, 'higher', 'variance ratio (> 0)', { headline: 4 }),
  score(SCORE_KEYS.inertia, 'lower', 'Σ squared Euclidean distance to the centres (falls with k)'),
  score(SCORE_KEYS.distinctiveness, 'higher', 'how different the centres’ peak patterns are'),
  score('Peak Match Score', 'higher', 'share of a day’s peaks its centre has'),
  score('Pr Peak Detection', 'higher', 'prominent peaks detected by the centre'),
  score('Pr Peak Overdetection', 'lower', 'centre peaks the day does not have'),
  score('Pr Peak Performance', 'higher', 'prominent peak agreement'),
  score('Rel Pr P Performance', 'higher', 'prominent peak agreement, ±1 slot'),
  score('Rel Pr P Detection', 'higher', 'prominent peaks detected, ±1 slot'),
  score('Rel Pr P Overdetection', 'lower', 'centre peaks the day lacks, ±1 slot'),
  score('fit/inertia', 'lower', 'k-means objective (falls with k)'),
  score('fit/dtw_inertia', 'lower', 'DTW k-means objective (falls with k)'),
  score('fit/total_deviation', 'lower', 'k-medoids objective (falls with k)'),
  score('fit/quantization_error', 'lower', 'SOM quantisation error (falls with k)'),
];

/**
 * The scores a summary shows first (the pipeline's closing lines, the sweep's summary table and
 * charts), in this order; each is shown only where the run logged it.
 */
export const HEADLINE_SCORES: readonly string[] = SCORES.filter((s) => s.headline !== undefined)
  .sort((a, b) => a.headline! - b.headline!)
  .map((s) => s.key);

/**
 * The score that ranks k and configurations when none is selected: the silhouette of the
 * clustering's own distance (`Silhouette DTW` when DTW distances are there, else `Silhouette Score`).
 */
export function defaultScore(dtw: boolean): ScoreDef {
  return scoreDef(dtw ? SCORE_KEYS.silhouetteDtw : SCORE_KEYS.silhouette)!;
}

/** Direction of a logged key, or undefined for keys that rank nothing (the registry's `better`). */
export function directionOf(key: string): Direction | undefined {
  return scoreDef(key)?.better;
}

/** The old pipeline's metric names: logged exactly as it logged them. */
export const OLD_PIPELINE_METRICS: readonly string[] = [
  'DB Index',
  'Silhouette Score',
  'Silhouette DTW',
  'Peak Match Score',
  'Pr Peak Detection',
  'Pr Peak Overdetection',
  'Pr Peak Performance',
  'Rel Pr P Performance',
  'Rel Pr P Detection',
  'Rel Pr P Overdetection',
];

/** The score named `key`, or undefined. */
export function scoreDef(key: string): ScoreDef | undefined {
  return SCORES.find((s) => s.key === key);
}

/**
 * The score named by a `--select` value, matched exactly or ignoring case, spaces, `-` and `_`
 * (`silhouette_dtw`, `db index`).
 * @throws LpclustError E_USAGE_VALUE naming the scores it accepts
 */
export function parseSelect(raw: string, option = '--select'): ScoreDef {
  const norm = (s: string): string => s.toLowerCase().replace(/[\s_-]+/g, '');
  const hit = scoreDef(raw) ?? SCORES.find((s) => norm(s.key) === norm(raw) || norm(s.name) === norm(raw));
  if (!hit) {
    throw usageError('E_USAGE_VALUE', `Expected a score for \`${option}\` but received \`${raw}\``, {
      hint: `one of: ${SCORES.map((s) => `"${s.key}" (${s.better} is better)`).join(', ')}`,
    });
  }
  return hit;
}

/** True when `a` is a better value than `b` under `dir` (NaN is never better). */
export function isBetter(a: number, b: number, dir: Direction): boolean {
  if (!Number.isFinite(a)) return false;
  if (!Number.isFinite(b)) return true;
  return dir === 'lower' ? a < b : a > b;
}

/** A key's lower-case, `_`-separated form: `Silhouette DTW` → `silhouette_dtw`, `fit/inertia` → `inertia`. */
export function keySlug(key: string): string {
  const base = key.includes('/') ? key.slice(key.lastIndexOf('/') + 1) : key;
  return base.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '');
}

/** Key of the choose-k curve of a score (step = k). */
export function chooseKCurveKey(score: string): string {
  return `choose_k/${keySlug(score)}_by_k`;
}

/** Key of a score at the chosen k. */
export function chooseKScoreKey(score: string): string {
  return `choose_k/${keySlug(score)}`;
}

/**
 * The size metrics of a clustering: `cluster_size/<c>` for every cluster (days), and
 * `cluster_share/min` / `cluster_share/max` (shares of all days, 0–1; empty clusters count as 0).
 * @param sizes days per cluster id, length k
 */
export function clusterSizeMetrics(sizes: ArrayLike<number>): Record<string, number> {
  const out: Record<string, number> = {};
  let total = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let c = 0; c < sizes.length; c++) {
    out[`cluster_size/${c}`] = sizes[c];
    total += sizes[c];
    min = Math.min(min, sizes[c]);
    max = Math.max(max, sizes[c]);
  }
  if (total > 0) {
    out['cluster_share/min'] = min / total;
    out['cluster_share/max'] = max / total;
  }
  return out;
}

/**
 * The eligibility rule applied before ranking configurations (the sweep) or values of k (choose-k):
 * a clustering in which a cluster holds less than `minClusterShare` of the days is not ranked.
 * Why: a silhouette rewards one big cluster plus a few outlier days (614, 10 and 9 of 633 days
 * scored best on the sample data), a split that describes nothing.
 */
export interface Eligibility {
  /** Smallest share of the days every cluster must hold (0–1); 0 turns the rule off. */
  minClusterShare: number;
}

/** Default of `--min-cluster-share`: every cluster holds at least 2 % of the days. */
export const DEFAULT_MIN_CLUSTER_SHARE = 0.02;

/**
 * Why a clustering with these cluster sizes is not eligible, or null when it is.
 * @param sizes days per cluster, length k
 */
export function ineligibleBecause(sizes: ArrayLike<number>, rule: Eligibility): string | null {
  let total = 0;
  for (let c = 0; c < sizes.length; c++) total += sizes[c];
  if (!(total > 0) || !(rule.minClusterShare > 0)) return null;
  let small = 0;
  let smallest = Infinity;
  for (let c = 0; c < sizes.length; c++) {
    if (sizes[c] / total < rule.minClusterShare) small++;
    smallest = Math.min(smallest, sizes[c]);
  }
  if (small === 0) return null;
  return `${small} of ${sizes.length} clusters under ${pct(rule.minClusterShare)} of the days (smallest ${smallest} of ${total}, ${pct(smallest / total)})`;
}

function pct(x: number): string {
  const p = 100 * x;
  return `${p >= 10 || Number.isInteger(p) ? p.toFixed(0) : p.toFixed(1)} %`;
}

/**
 * Parse `--min-cluster-share`: a share 0 ≤ s < 1, or a percentage `2%`.
 * @throws LpclustError E_USAGE_VALUE
 */
export function parseMinClusterShare(raw: unknown, where = '--min-cluster-share'): number {
  const s = String(raw).trim();
  const m = /^(\d+(?:\.\d+)?|\.\d+)\s*(%?)$/.exec(s);
  const v = m ? Number(m[1]) / (m[2] ? 100 : 1) : NaN;
  if (!(v >= 0 && v < 1)) {
    throw usageError('E_USAGE_VALUE', `Expected a share 0 ≤ s < 1 (or a percentage such as 2%) for \`${where}\` but received \`${s}\``, {
      option: 'minClusterShare',
      hint: `e.g. \`minClusterShare\` 0.02 (every cluster holds at least 2 % of the days); 0 turns the rule off`,
    });
  }
  return v;
}
