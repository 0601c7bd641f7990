/**
 * Exact or sampled: which algorithms a clustering configuration runs at its size (`--scale`,
 * `--memory-budget`). `exact` is the classic path (the n × n matrices: the DTW matrix, k-medoids'
 * Euclidean matrix, the agglomerative tree's distances; exact silhouettes). `sampled` never
 * allocates anything n × n: k-medoids by FasterCLARA (clara.ts), agglomerative on a sample with
 * nearest-medoid assignment (each model's `sampled` in registry.ts), silhouettes on a stratified sample (validate/sampled.ts). `auto` picks exact while the matrices the configuration needs fit the
 * budget and the exact silhouettes stay affordable (at most {@link EXACT_SILHOUETTE_MAX_ROWS} rows:
 * beyond, the n² distance computations of one silhouette take hours), sampled otherwise.
 *
 * The plan is made before anything large is allocated, so an impossible `--scale exact` is refused
 * with the size it would need, and a budget too small for even the sampled path is refused too.
 */
import os from 'node:os';
import { usageError } from '../errors.js';
import { formatBytes, type ScaleChoice } from './scale-choice.js';
import { FULL_MATRIX_MAX_ROWS } from './euclidean.js';
import { checkSampleSize, defaultSampleSize } from './clara.js';
import { modelEntry, modelVariant, sampledFloat32, type MetricName, type ModelName } from './registry.js';

export { SCALES, formatBytes, parseMemoryBudget, type ScaleChoice } from './scale-choice.js';

/** Above this many rows `auto` samples the silhouettes even when every matrix would fit. */
export const EXACT_SILHOUETTE_MAX_ROWS = 100_000;

/** What {@link planScale} needs to know about a configuration. */
export interface ScaleInput {
  /** Profiles and slots per profile. */
  n: number;
  L: number;
  model: ModelName;
  metric: MetricName;
  /** The largest k fitted (k, or the top of the k range). */
  k: number;
  /** Whether the DTW matrix is wanted (DTW metric, `Silhouette DTW` asked for, or a given `--dtw`). */
  wantDtw: boolean;
  choice: ScaleChoice;
  /** Bytes the run may use for its large arrays. */
  budget: number;
  /** Whether `budget` is the default (half the free memory) rather than `--memory-budget`. */
  budgetIsDefault: boolean;
  /** `--sample-size` (k-medoids' FasterCLARA), when given. */
  sampleSize?: number;
  /** Silhouette sample size (default 4,000). */
  silhouetteSample: number;
}

/** The decision. */
export interface ScalePlan {
  mode: 'exact' | 'sampled';
  /** Bytes of the n × n matrices the exact path would hold at once, and what they are. */
  exactBytes: number;
  exactNeeds: string[];
  /** Estimated peak bytes of the sampled path's arrays. */
  sampledBytes: number;
  /** FasterCLARA sample size (k-medoids in sampled mode). */
  sampleSize: number;
  /** Rows of the stratified silhouette sample in sampled mode (its m × m matrix takes at most a quarter of the budget). */
  silhouetteSampleSize: number;
  /** One sentence for the log: which mode and why. */
  reason: string;
  /** The memory budget the plan was made for (bytes). */
  budget: number;
}

/** Default budget: half of the memory the system has free now. */
export function defaultMemoryBudget(): number {
  return Math.floor(os.freemem() / 2);
}

/** The n × n matrices the exact path holds for this configuration (bytes, what). */
export function exactMatrixNeeds(i: Pick<ScaleInput, 'n' | 'model' | 'metric' | 'wantDtw'>): { bytes: number; needs: string[] } {
  const { n } = i;
  const nn = n * n;
  let bytes = 0;
  const needs: string[] = [];
  if (i.wantDtw) {
    bytes += 4 * nn;
    needs.push(`the ${n} × ${n} DTW matrix (float32, ${formatBytes(4 * nn)})`);
  }
  // What the model shares across fits is what it holds n × n (registry.ts).
  const shares = modelVariant(i.model, i.metric).shares;
  const label = modelEntry(i.model).label;
  if (shares === 'euclidean-matrix') {
    const b = (n <= FULL_MATRIX_MAX_ROWS ? 8 : 4) * nn;
    bytes += b;
    needs.push(`the ${n} × ${n} Euclidean matrix of ${label} (${formatBytes(b)})`);
  }
  if (shares === 'linkage-tree') {
    const b = 4 * n * (n - 1);
    bytes += b;
    needs.push(`the ${label} tree's pairwise distances (float64, ${formatBytes(b)})`);
  }
  return { bytes, needs };
}

/**
 * Estimated peak bytes of the sampled path: the raw rows as read (n·L float64, released after
 * normalisation) and the normalised ones shared with the worker threads (n·L float32 for the DTW
 * models with a sampled fit of their own, float64 for the others: `float32`), ids and dates (≈ 120
 * bytes a row as JS strings), the per-row labels, distances and second-nearest bookkeeping (≈ 40
 * bytes a row), the FasterCLARA sample matrix (s² float64 at most) and the silhouette sample's
 * matrix (m² float64 at most).
 */
export function sampledBytes(n: number, L: number, sampleSize: number, silhouetteSample: number, float32 = false): number {
  const m = Math.min(n, silhouetteSample);
  return (8 + (float32 ? 4 : 8)) * n * L + 160 * n + 8 * sampleSize * sampleSize + 8 * m * m;
}

/**
 * Decide exact or sampled.
 * @throws LpclustError E_USAGE_SCALE (`--scale exact` whose matrices exceed the budget),
 *   E_USAGE_SAMPLE_SIZE, E_USAGE_MEMORY_BUDGET (too small even for sampled)
 */
export function planScale(i: ScaleInput): ScalePlan {
  const { bytes: exactBytes, needs: exactNeeds } = exactMatrixNeeds(i);
  const budgetText = `${formatBytes(i.budget)}${i.budgetIsDefault ? ' (half the free memory)' : ''}`;
  const sampleSize = i.sampleSize ?? defaultSampleSize(i.n, i.k, i.budget / 8);
  const silhouetteSampleSize = Math.max(2, Math.min(i.n, i.silhouetteSample, Math.floor(Math.sqrt(i.budget / 4 / 8))));
  const sampled = modelVariant(i.model, i.metric).sampled;
  const sBytes = sampledBytes(i.n, i.L, sampled.matrixRows(sampleSize), silhouetteSampleSize, sampledFloat32([i]));
  const fits = exactBytes <= i.budget;
  const plan = (mode: 'exact' | 'sampled', reason: string): ScalePlan => ({ mode, exactBytes, exactNeeds, sampledBytes: sBytes, sampleSize, silhouetteSampleSize, reason, budget: i.budget });
  if (i.choice === 'exact') {
    if (!fits) {
      throw usageError('E_USAGE_SCALE', `\`--scale exact\` needs ${formatBytes(exactBytes)} for ${exactNeeds.join(' and ')}, more than the memory budget of ${budgetText}`, {
        hint: `use --scale sampled (or auto), which needs about ${formatBytes(sBytes)}, or raise --memory-budget to at least ${formatBytes(exactBytes)} if the machine has it`,
      });
    }
    return plan('exact', `exact: asked for with --scale exact${exactBytes > 0 ? ` (${formatBytes(exactBytes)} of n × n matrices within the budget of ${budgetText})` : ''}`);
  }
  if (i.choice === 'auto') {
    if (fits && i.n <= EXACT_SILHOUETTE_MAX_ROWS) {
      return plan('exact', `exact (--scale auto): ${exactBytes > 0 ? `${exactNeeds.join(' and ')} fit the memory budget of ${budgetText}` : `no n × n matrix is needed and ${i.n} profiles keep exact silhouettes affordable`}`);
    }
  }
  if (sampled.usesSample) checkSampleSize(sampleSize, i.n, i.k);
  if (sBytes > i.budget) {
    throw usageError('E_USAGE_MEMORY_BUDGET', `the memory budget of ${budgetText} is too small even for the sampled method, which needs about ${formatBytes(sBytes)} for ${i.n} profiles of ${i.L} slots`, {
      hint: `raise --memory-budget to at least ${formatBytes(sBytes)}${sampled.sampleSizeHint ? ', or lower --sample-size' : ''}`,
    });
  }
  const why =
    i.choice === 'sampled'
      ? 'asked for with --scale sampled'
      : !fits
        ? `${exactNeeds.join(' and ')}${exactNeeds.length > 1 ? ` (${formatBytes(exactBytes)} in all)` : ''}: more than the memory budget of ${budgetText}`
        : `${i.n} profiles are more than ${EXACT_SILHOUETTE_MAX_ROWS} (exact silhouettes would compare every pair)`;
  const what = sampled.describe(sampleSize, i.n);
  return plan('sampled', `sampled${i.choice === 'auto' ? ' (--scale auto)' : ''}: ${why}; ${what}${silhouetteSampleSize < i.n ? `silhouettes on a stratified sample of about ${silhouetteSampleSize} profiles; nothing n × n is allocated` : `silhouettes on all ${i.n} profiles (the budget allows their ${i.n} × ${i.n} matrix)`}`);
}
