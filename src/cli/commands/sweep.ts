/**
 * `lpclust sweep`: every configuration of models × metrics × k (× seeds) on one harmonized dataset
 * and one DTW matrix, as a parent run with a nested run per configuration; summary table, charts
 * of the metrics against k, the best configuration and the label stability across seeds.
 */
import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import type { MetricName, ModelName } from '../../cluster/fit.js';
import { log } from '../../util/log.js';
import { capWorkers, contextFor } from '../context.js';
import { addOptions, resolvedOptions } from '../options.js';
import { pipelineInputs, type PipelineSettings } from './pipeline.js';
import { flagSources } from '../../pipeline/sources.js';

/** The options of `lpclust sweep`, parsed (src/cli/options.ts); the shared ones as the pipeline's. */
interface SweepFlags extends Omit<PipelineSettings, 'model' | 'metric' | 'k'>, Record<string, unknown> {
  models: ModelName[];
  metrics: MetricName[];
  /** `-k N` as the range N..N; `-k a..b` (deprecated) as a..b. */
  k?: { range: [number, number]; deprecated: boolean };
  seeds: number[];
  in?: string;
  queue?: string;
  sharedDir: string;
  registerModel?: string;
}

/** Register `lpclust sweep`. */
export function register(program: Command): void {
  const cmd = program
    .command('sweep')
    .description('cluster every configuration (models × metrics × k × seeds) on one dataset and one DTW matrix; summary table, charts against k, best configuration, seed stability');
  addOptions(cmd, 'sweep')
    .addHelpText(
      'after',
      `
The dataset (ETL + harmonization, or --in) and the DTW matrix are made once and shared by every
configuration. Euclidean configurations get Silhouette DTW too when the matrix exists. So are,
when they fit in half the free memory, the pairwise Euclidean distances (8·n² bytes) that every
silhouette reads, and each agglomerative tree, built once and cut at every k. Configurations run
side by side on --workers threads over that one shared copy; results do not depend on their number. Writes
summary.csv (every metric of every configuration), stability.csv (with several seeds) and
plots/<model>_<metric>.png|svg (metrics against k) into <out-dir>/<run id>/, also as artifacts
of the parent run. A failing configuration is a FAILED child and row; the sweep goes on.

How the best is chosen: first the eligibility rule — a configuration in which a cluster holds
less than --min-cluster-share of the days (default 2 %; for every seed) is listed but not ranked,
with the reason; then the mean over seeds of --select in its direction (DB Index: lower is
better). Tags on the parent: lpclust.best ("<model> <metric> k=<k>") and lpclust.best_run_id.

Examples:
  lpclust sweep --models kmeans,kmedoids,agglomerative,som --metrics euclidean,dtw --k-range 3..20
  lpclust sweep --models kmeans,som --metrics euclidean --k-range 3..12 --seeds 0,1,2 --select "Silhouette Score"
  lpclust sweep --in harmonized.csv --models kmedoids --metrics dtw --k-range 4..16 --select "DB Index" --json
  lpclust sweep --in /mnt/shared/harmonized.csv --out-dir /mnt/shared/outputs --queue redis://queue:6379/0 --shared-dir /mnt/shared`,
    )
    .action(async (flags: SweepFlags, cmd: Command) => {
      const { runSweep, sweepSummary } = await import('../../pipeline/sweep.js');
      const ctx = contextFor(cmd);
      const { models, metrics, seeds } = flags;
      const kRange = sweepKRange(flags, cmd);
      if (flags.in !== undefined && Object.keys(flagSources(flags)).length > 0) throw usageError('E_USAGE_OPTION', 'Expected either `--in <csv>` or source options, not both');
      // Shared settings (resolution, radius, ...) as the pipeline's; model/metric/k are the sweep's own.
      const s = flags;
      const inputs = flags.in === undefined ? await pipelineInputs(cmd, flags, s) : undefined;
      if (inputs?.sample) log.info('no source configured: running on the bundled sample data (data/)');
      const { parseQueueUrl } = await import('../../queue/connection.js');
      const queue = flags.queue === undefined ? undefined : parseQueueUrl(flags.queue);
      const store = await ctx.openStore();
      const { checkRegistration, registerRunModel, registeredJson, registrationLine } = await import('../../model/register.js');
      // Checked before the run starts: a bad name or a store without a registry should not cost a run.
      if (flags.registerModel !== undefined) checkRegistration(store, String(flags.registerModel));
      if (flags.registerModel !== undefined && seeds.length > 1) {
        throw usageError('E_USAGE_OPTION', `Expected one seed with \`--register-model\` but received ${seeds.length} (--seeds ${flags.seeds}): the best configuration would have one run per seed, and one model is registered`, {
          hint: 'run the sweep with one seed, or register the run of your choice afterwards with `lpclust cluster ... --register-model`',
        });
      }
      const res = await runSweep(
        {
          models,
          metrics,
          kRange,
          seeds,
          ...(s.select !== undefined ? { select: s.select } : {}),
          minClusterShare: s.minClusterShare,
          in: flags.in,
          sources: inputs?.sources,
          meters: inputs?.meters,
          rules: inputs?.rules,
          resolution: s.resolution,
          timezone: s.timezone,
          dropZeroDays: s.dropZeroDays,
          silhouetteDtw: s.silhouetteDtw,
          normalize: s.normalize,
          radius: s.radius,
          workers: capWorkers(s.workers, resolvedOptions(cmd).workers?.from),
          nInit: s.nInit,
          reuse: s.reuse,
          outDir: s.outDir,
          ...(queue ? { queue, sharedDir: flags.sharedDir } : {}),
          scale: s.scale,
          ...(s.memoryBudget !== undefined ? { memoryBudget: s.memoryBudget } : {}),
          ...(s.sampleSize !== undefined ? { sampleSize: s.sampleSize } : {}),
        },
        { store, experimentName: ctx.globals.experimentName },
      );
      const registered = flags.registerModel !== undefined ? await registerRunModel(store, res.runId, String(flags.registerModel)) : undefined;
      const o = res.outputs;
      ctx.print(
        { runId: res.runId, ...(registered ? { registered: registeredJson(registered) } : {}), metrics: res.metrics, outDir: o.outDir, select: o.select, better: o.better, minClusterShare: o.minClusterShare, best: o.best ?? null, summaryCsv: o.summaryCsv, rows: o.rows, stability: o.stability, plots: o.plots, seconds: o.seconds },
        sweepSummary(res) + (registered ? `\n${registrationLine(registered)}` : ''),
      );
    });
}

/**
 * The sweep's k range: `--k-range a..b`, or `-k N` (one k, as in every command). `-k a..b` of
 * earlier releases still works for one release, with a deprecation warning.
 */
function sweepKRange(flags: SweepFlags, cmd: Command): [number, number] {
  if (flags.k === undefined) return flags.kRange;
  if (resolvedOptions(cmd).kRange?.source === 'flag') throw usageError('E_USAGE_OPTION', 'Expected either `-k` or `--k-range`, not both', { hint: '-k N sweeps one k; --k-range a..b sweeps a range' });
  const { range, deprecated } = flags.k;
  if (deprecated) log.warn(`\`-k ${range[0]}..${range[1]}\` is deprecated (-k means one k in every command; this form goes in the next release): use \`--k-range ${range[0]}..${range[1]}\``);
  return range;
}
