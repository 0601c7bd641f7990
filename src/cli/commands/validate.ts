/**
 * `lpclust validate`: the validation metrics of a labelling of profiles, as a tracked run.
 */
import type { Command } from 'commander';
import type { Normalization } from '../../profiles/normalize.js';
import type { ScaleChoice } from '../../cluster/scale-choice.js';
import { capWorkers, contextFor } from '../context.js';
import { addOptions, resolvedOptions } from '../options.js';

/** The options of `lpclust validate`, parsed (src/cli/options.ts). */
interface ValidateFlags {
  in: string;
  labels: string;
  dtw?: string;
  centres?: string;
  normalize: Normalization;
  minProminence: number;
  workers?: number;
  scale: ScaleChoice;
  memoryBudget?: number;
}

/** Register `lpclust validate`. */
export function register(program: Command): void {
  const cmd = program
    .command('validate')
    .description('compute the validation metrics of cluster labels (silhouette, Davies–Bouldin, peak scores...) as a tracked run');
  addOptions(cmd, 'validate')
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
      const { normalize, minProminence } = flags;
      const ctx = contextFor(cmd);
      const store = await ctx.openStore();
      const res = await runValidateStage(
        { in: flags.in, labels: flags.labels, centres: flags.centres, dtw: flags.dtw, normalize, minProminence, ...(flags.workers !== undefined ? { workers: capWorkers(flags.workers, resolvedOptions(cmd).workers?.from)! } : {}), scale: flags.scale, ...(flags.memoryBudget !== undefined ? { memoryBudget: flags.memoryBudget } : {}) },
        { store, experimentName: ctx.globals.experimentName },
      );
      const width = Math.max(...Object.keys(res.metrics).map((k) => k.length));
      const lines = [`validation run ${res.runId}: ${res.outputs.n} profiles, ${res.outputs.k} clusters`];
      for (const [k, v] of Object.entries(res.metrics)) lines.push(`  ${k.padEnd(width)}  ${Number.isInteger(v) ? v : v.toFixed(6)}`);
      lines.push(`  ${'Cluster sizes'.padEnd(width)}  ${res.outputs.clusterSizes.join(' ')}`);
      ctx.print({ runId: res.runId, metrics: res.metrics, clusterSizes: res.outputs.clusterSizes, n: res.outputs.n, k: res.outputs.k }, lines.join('\n'));
    });
}
