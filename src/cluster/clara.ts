/**
 * k-medoids without the N × N matrix: FasterCLARA (Schubert & Rousseeuw 2021). FasterPAM runs on
 * several seeded samples of the rows (each sample's own s × s matrix, s ≈ 80 + 4k or larger); each
 * candidate medoid set is then scored on ALL n rows by its total deviation (Σ distance of every row
 * to its nearest medoid), and the best set is kept. After the first sample, every sample contains the
 * best medoids found so far (as CLARA does), so a later sample can only refine them.
 *
 * The all-n scoring is the nearest-medoid assignment of dtw/assign.ts (native DTW kernel on worker
 * threads; LB_Kim / LB_Keogh pruning, which never changes a result, where it pays). The metric is banded DTW
 * of the given radius; radius 0 is the Euclidean distance (the same as k-medoids' Euclidean matrix).
 *
 * Memory: the rows, a few length-n typed arrays and one s × s float64 matrix; nothing n × n.
 * When the sample is the whole set (s = n) the result equals exact FasterPAM on the full matrix
 * with the same seed (same initial medoids, same swaps, same labels and total deviation).
 */
import { Random } from '../util/random.js';
import { throwIfInterrupted } from '../util/interrupt.js';
import { usageError } from '../errors.js';
import { sampleMatrix } from '../dtw/index.js';
import type { AssignResult } from '../dtw/assign.js';
import type { Assigner } from '../dtw/assigner.js';
import { checkFitInput, emptyMedoidReseed, type RowValues, type Rows } from './common.js';
import { KMedoids, type KMedoidsInit, type KMedoidsState } from './kmedoids.js';
import type { SampleShare } from './sample-share.js';

/** Hyper-parameters of {@link fasterClara}. */
export interface ClaraOptions {
  k: number;
  /** Sakoe–Chiba radius of DTW; 0 = Euclidean distance. */
  radius: number;
  /** Rows per sample (default {@link defaultSampleSize}). */
  sampleSize?: number;
  /** Samples (default 5). */
  samples?: number;
  /** Initialisation of FasterPAM on each sample; default random. */
  init?: KMedoidsInit;
  /** FasterPAM passes; default 300. */
  maxIter?: number;
  /** Seed; default 0. */
  seed?: number;
  /** Whether the all-n scoring uses the lower bounds (default `auto`: see dtw/assign.ts). */
  prune?: boolean | 'auto';
  /** Sample matrices shared with other fits of these rows (choose-k, sweep): the first sample's is computed once. */
  share?: SampleShare;
}

/** What {@link fasterClara} returns: a k-medoids state plus how it was obtained. */
export interface ClaraState extends KMedoidsState {
  /** Rows per sample. */
  sampleSize: number;
  /** Samples drawn (1 when the sample is the whole set). */
  samples: number;
  /** Index of the sample whose medoids won (0-based). */
  bestSample: number;
  /** Exact DTW distances computed while scoring on all n, and the n·k·(samples) they replace. */
  exactPairs: number;
  candidatePairs: number;
}

/** Default number of samples. */
export const DEFAULT_CLARA_SAMPLES = 5;

/**
 * Default sample size: at least 80 + 4k (the size FasterCLARA was shown to work from), raised to
 * 2,000 rows when the memory budget allows (the s × s float64 matrix takes 32 MB then; larger samples
 * give medoids closer to exact FasterPAM's), never more than n.
 * @param budgetBytes memory the sample matrix may take
 */
export function defaultSampleSize(n: number, k: number, budgetBytes = Infinity): number {
  const fits = Math.floor(Math.sqrt(budgetBytes / 8));
  return Math.min(n, Math.max(80 + 4 * k, Math.min(2000, fits)));
}

/**
 * Check a sample size against n and k.
 * @throws LpclustError E_USAGE_SAMPLE_SIZE
 */
export function checkSampleSize(sampleSize: number, n: number, k: number): void {
  if (!Number.isInteger(sampleSize) || sampleSize < 2) throw usageError('E_USAGE_SAMPLE_SIZE', `Expected an integer ≥ 2 for \`--sample-size\` but received \`${sampleSize}\``);
  if (sampleSize > n) throw usageError('E_USAGE_SAMPLE_SIZE', `Expected \`--sample-size\` ≤ the number of profiles (${n}) but received ${sampleSize}`, { hint: `use --sample-size ${n} or less (a sample of all ${n} profiles gives exact FasterPAM's answer)` });
  if (k >= sampleSize) throw usageError('E_USAGE_SAMPLE_SIZE', `Expected k < \`--sample-size\` but k = ${k} and the sample holds ${sampleSize} profiles`, { hint: `raise --sample-size to at least ${80 + 4 * k} (80 + 4k), or lower -k` });
}

/** The rows `idx` of `rows`, as float64 (exactly the stored values, also of float32 rows), length(idx) × L. */
export function gatherRows(rows: Rows<RowValues>, idx: ArrayLike<number>): Float64Array {
  const L = rows.dim;
  const M = new Float64Array(idx.length * L);
  for (let t = 0; t < idx.length; t++) M.set(rows.data.subarray(idx[t] * L, (idx[t] + 1) * L), t * L);
  return M;
}

/**
 * Fit k-medoids by FasterCLARA.
 * @param pool the assignment over these same rows (this machine's worker threads, or the job queue's workers) that scores candidates
 */
export async function fasterClara(rows: Rows<RowValues>, o: ClaraOptions, pool: Assigner): Promise<ClaraState> {
  const { n } = rows;
  const { k, radius } = o;
  checkFitInput(null, n, k);
  if (pool.n !== n || pool.L !== rows.dim) throw new RangeError(`Expected an assignment pool over these ${n} × ${rows.dim} rows but it holds ${pool.n} × ${pool.L}`);
  const s = o.sampleSize ?? defaultSampleSize(n, k);
  checkSampleSize(s, n, k);
  const whole = s === n;
  const samples = whole ? 1 : (o.samples ?? DEFAULT_CLARA_SAMPLES);
  if (!Number.isInteger(samples) || samples < 1) throw usageError('E_USAGE_VALUE', `Expected a positive integer number of samples but received \`${samples}\``);
  const seed = o.seed ?? 0;
  const rng = new Random(seed);
  let best: { medoids: Int32Array; a: AssignResult; total: number; nIter: number; swaps: number; sample: number } | null = null;
  let exactPairs = 0;
  for (let t = 0; t < samples; t++) {
    throwIfInterrupted();
    let idx: Int32Array;
    if (whole) {
      idx = new Int32Array(n);
      for (let i = 0; i < n; i++) idx[i] = i;
    } else {
      // The best medoids so far, then distinct random rows; sorted so the sample's order is the rows' order.
      const chosen = new Set<number>(best ? Array.from(best.medoids) : []);
      for (const r of rng.sample(n, s)) {
        if (chosen.size >= s) break;
        chosen.add(r);
      }
      idx = Int32Array.from(chosen).sort();
    }
    // The first sample is the same rows for every k of this seed and size: its matrix is shared.
    const D = t === 0 && o.share ? o.share.matrix(idx, radius, () => sampleMatrix(rows, idx, radius)) : sampleMatrix(rows, idx, radius);
    const km = new KMedoids({ k, init: o.init ?? 'random', method: 'fasterpam', maxIter: o.maxIter ?? 300, nInit: 1, seed }).fit(D, rng);
    const st = km.state!;
    const medoids = Int32Array.from(st.medoids, (m) => idx[m]);
    const a = await pool.assign(gatherRows(rows, medoids), radius, o.prune === undefined ? {} : { prune: o.prune });
    exactPairs += a.exactPairs;
    let total = 0;
    for (let i = 0; i < n; i++) total += a.d1[i];
    if (!best || total < best.total) best = { medoids, a, total, nIter: st.nIter, swaps: st.swaps, sample: t };
  }
  let { medoids, a, total } = best!;
  // A medoid can lose every row only to an identical medoid (distance 0): re-seed it on the farthest
  // row of a cluster with more than one row, as exact k-medoids does.
  let emptyReseeds = 0;
  for (let guard = 0; guard < k; guard++) {
    const reseed = emptyMedoidReseed(a.n1, a.d1, k);
    if (!reseed) break;
    medoids = Int32Array.from(medoids);
    medoids[reseed.empty] = reseed.row;
    a = await pool.assign(gatherRows(rows, medoids), radius, o.prune === undefined ? {} : { prune: o.prune });
    exactPairs += a.exactPairs;
    total = 0;
    for (let i = 0; i < n; i++) total += a.d1[i];
    emptyReseeds++;
  }
  return {
    medoids,
    labels: a.n1,
    totalDeviation: total,
    nIter: best!.nIter,
    swaps: best!.swaps,
    emptyReseeds,
    sampleSize: s,
    samples,
    bestSample: best!.sample,
    exactPairs,
    candidatePairs: n * k * (samples + emptyReseeds),
  };
}
