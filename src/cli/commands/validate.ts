/**
 * `lpclust validate`: the validation metrics of a labelling of profiles, as a tracked run.
 */
import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import { NORMALIZATIONS, type Normalization } from '../../profiles/normalize.js';
import { capWorkers, contextFor } from '../context.js';
import { parseScale, SCALE_HELP } from '../scale-options.js';
import { parseMemoryBudget } from '../../cluster/scale-choice.js';

interface ValidateFlags {
  in: string;
  labels: string;
  dtw?: string;
  centres?: string;
  normalize: string;
  minProminence: string;
  workers?: string;
  scale?: string;
  memoryBudget?: string;
}

function parseWorkers(raw: string): number {
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 1) throw usageError('E_USAGE_OPTION', `Expected a positive integer for \`--workers\` but received \`${raw}\``);
  return v;
}

function parseNormalize(raw: string): Normalization {
  if (!(NORMALIZATIONS as readonly string[]).includes(raw)) {
    throw usageError('E_USAGE_VALUE', `Expected ${NORMALIZATIONS.join('|')} for \`--normalize\` but received \`${raw}\``);
  }
  return raw as Normalization;
}

function parseProminence(raw: string): number {
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v) || v < 0) {
    throw usageError('E_USAGE_VALUE', `Expected a non-negative number for \`--min-prominence\` but received \`${raw}\``);
  }
  return v;
}

/** Register `lpclust validate`. */
export function register(program: Command): void {
  program
    .command('validate')
    .description('compute the validation metrics of cluster labels (silhouette, Davies–Bouldin, peak scores...) as a tracked run')
    .requiredOption('--in <csv>', 'harmonized profiles CSV (id,date,HH:MM...)')
    .requiredOption('--labels <csv>', 'labels CSV (id,date,cluster) of exactly the rows of --in, in order')
    .option('--centres <csv>', "the model's centres.csv (from `lpclust cluster`): inertia and peak scores against them, as cluster computed (default: per-cluster means)")
    .option('--dtw <npy>', 'DTW matrix of the same rows (from `lpclust dtw`): adds Silhouette DTW')
    .option('--normalize <method>', `row normalisation before the metrics: ${NORMALIZATIONS.join('|')}`, 'l2')
    .option('--min-prominence <p>', 'prominence threshold of prominent peaks, on normalised profiles', '0.2')
    .option('--workers <n>', 'worker threads for the Euclidean silhouette (default: all cores)')
    .option('--scale <mode>', `${SCALE_HELP.scale}; sampled: silhouettes on a stratified sample (Silhouette DTW from the matrix's radius, the matrix is not loaded)`, 'auto')
    .option('--memory-budget <size>', SCALE_HELP.memoryBudget)
    .addHelpText(
      'after',
      `
Metrics (logged under these names): DB Index, Silhouette Score, Silhouette DTW (with --dtw),
Calinski-Harabasz, Inertia, Peak Match Score, Pr Peak Detection, Pr Peak Overdetection,
Pr Peak Performance, Rel Pr P Performance, Rel Pr P Detection, Rel Pr P Overdetection,
Distinctiveness, cluster_size/<c> (days in cluster c) and cluster_share/min, cluster_share/max.
In sampled mode (large n) also Silhouette Score_sample_size, Silhouette Score_ci95 (and the same
for Silhouette DTW) and Simplified Silhouette; validation/silhouette.csv then lists the sample.

Examples:
  lpclust validate --in harmonized.csv --labels out/labels.csv
  lpclust validate --in harmonized.csv --labels out/labels.csv --dtw dtw.npy --json
  lpclust validate --in harmonized.csv --labels out/labels.csv --centres out/centres.csv
  lpclust --experiment-name uc7 validate --in harmonized.csv --labels labels.csv --normalize zscore`,
    )
    .action(async (flags: ValidateFlags, cmd: Command) => {
      const { runValidateStage } = await import('../../pipeline/validate.js');
      const normalize = parseNormalize(flags.normalize);
      const minProminence = parseProminence(flags.minProminence);
      const ctx = contextFor(cmd);
      const store = await ctx.openStore();
      const res = await runValidateStage(
        { in: flags.in, labels: flags.labels, centres: flags.centres, dtw: flags.dtw, normalize, minProminence, ...(flags.workers !== undefined ? { workers: capWorkers(parseWorkers(flags.workers))! } : {}), scale: parseScale(flags.scale ?? 'auto'), ...(flags.memoryBudget !== undefined ? { memoryBudget: parseMemoryBudget(flags.memoryBudget) } : {}) },
        { store, experimentName: ctx.globals.experimentName },
      );
      const width = Math.max(...Object.keys(res.metrics).map((k) => k.length));
      const lines = [`validation run ${res.runId}: ${res.outputs.n} profiles, ${res.outputs.k} clusters`];
      for (const [k, v] of Object.entries(res.metrics)) lines.push(`  ${k.padEnd(width)}  ${Number.isInteger(v) ? v : v.toFixed(6)}`);
      lines.push(`  ${'Cluster sizes'.padEnd(width)}  ${res.outputs.clusterSizes.join(' ')}`);
      ctx.print({ runId: res.runId, metrics: res.metrics, clusterSizes: res.outputs.clusterSizes, n: res.outputs.n, k: res.outputs.k }, lines.join('\n'));
    });
}
