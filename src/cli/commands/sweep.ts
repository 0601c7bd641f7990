/**
 * `lpclust sweep`: every configuration of models × metrics × k (× seeds) on one harmonized dataset
 * and one DTW matrix, as a parent run with a nested run per configuration; summary table, charts
 * of the metrics against k, the best configuration and the label stability across seeds.
 */
import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import { METRICS, MODELS, type MetricName, type ModelName } from '../../cluster/fit.js';
import { log } from '../../util/log.js';
import { DEFAULT_MIN_CLUSTER_SHARE, SCORES } from '../../validate/metrics.js';
import { capWorkers, contextFor } from '../context.js';
import { SCALE_HELP } from '../scale-options.js';
import { pipelineInputs, resolvePipelineSettings } from './pipeline.js';
import { SOURCE_FLAGS } from '../../etl/sources.js';
import { flagSources } from '../../pipeline/sources.js';

function list<T extends string>(raw: string, allowed: readonly T[], flag: string): T[] {
  const items = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw usageError('E_USAGE_VALUE', `Expected a comma-separated list of ${allowed.join('|')} for \`${flag}\` but received \`${raw}\``);
  for (const i of items) {
    if (!(allowed as readonly string[]).includes(i)) throw usageError('E_USAGE_VALUE', `Expected ${allowed.join('|')} in \`${flag}\` but received \`${i}\``);
  }
  return [...new Set(items)] as T[];
}

/** `3..20` or a single `12`. */
export function parseKRange(raw: string, flag = '-k'): [number, number] {
  const m = /^\s*(\d+)\s*(?:\.\.\s*(\d+)\s*)?$/.exec(raw);
  const a = m ? Number(m[1]) : NaN;
  const b = m ? Number(m[2] ?? m[1]) : NaN;
  if (!m || a < 2 || b < a) throw usageError('E_USAGE_VALUE', `Expected a k range a..b with 2 ≤ a ≤ b (or one k ≥ 2) for \`${flag}\` but received \`${raw}\``);
  return [a, b];
}

function seedsList(raw: string): number[] {
  const items = raw.split(',').map((s) => s.trim());
  const out = items.map(Number);
  if (items.some((s) => !/^\d+$/.test(s))) throw usageError('E_USAGE_VALUE', `Expected a comma-separated list of non-negative integers for \`--seeds\` but received \`${raw}\``);
  return [...new Set(out)];
}

interface SweepFlags extends Record<string, unknown> {
  models: string;
  metrics: string;
  k: string;
  seeds: string;
  select?: string;
  minClusterShare?: string;
  in?: string;
  queue?: string;
  sharedDir?: string;
}

/** Register `lpclust sweep`. */
export function register(program: Command): void {
  const cmd = program
    .command('sweep')
    .description('cluster every configuration (models × metrics × k × seeds) on one dataset and one DTW matrix; summary table, charts against k, best configuration, seed stability')
    .option('--models <list>', `comma-separated models: ${MODELS.join(',')}`, MODELS.join(','))
    .option('--metrics <list>', `comma-separated distances: ${METRICS.join(',')}`, METRICS.join(','))
    .option('-k, --k <a..b>', 'k range (inclusive), or one k', '3..20')
    .option('--seeds <list>', 'comma-separated seeds; several add the label stability across seeds (adjusted Rand index)', '0')
    .option('--select <score>', `score naming the best configuration, with its direction (default "Silhouette DTW" when the DTW matrix is computed, else "Silhouette Score"); one of ${SCORES.map((x) => `"${x.key}" (${x.better})`).join(', ')}`)
    .option('--min-cluster-share <share>', `a configuration is ranked only when every cluster holds at least this share of the days, for each seed (default ${DEFAULT_MIN_CLUSTER_SHARE}; 0 = off)`)
    .option('--in <csv>', 'harmonized profiles CSV instead of running the ETL and harmonization stages');
  // The sources' flags come from the source registry (etl/sources.ts).
  for (const f of SOURCE_FLAGS) cmd.option(f.flags, f.help);
  cmd
    .option('--meters <csv>', 'meter description CSV')
    .option('--rules <yaml>', 'rules file')
    .option('--resolution <minutes>', 'minutes per slot: 15, 30, 60 (default 60)')
    .option('--timezone <iana>', 'time zone of days and slot labels (default UTC)')
    .option('--silhouette-dtw', 'compute the DTW matrix even with --metrics euclidean (Silhouette DTW for every configuration)')
    .option('--normalize <method>', 'row normalisation: l2|zscore|none (default l2)')
    .option('--radius <r>', 'Sakoe–Chiba radius of DTW, in slots (default 1)')
    .option('--n-init <n>', 'restarts keeping the best (model default)')
    .option('--workers <n>', 'worker threads for the DTW matrix and for the configurations, which run side by side (default: all cores)')
    .option('--reuse', 'reuse the dataset and DTW stages of earlier identical runs')
    .option('--scale <mode>', `${SCALE_HELP.scale} (default auto); decided once for the sweep (sampled: configurations run one at a time)`)
    .option('--memory-budget <size>', SCALE_HELP.memoryBudget)
    .option('--sample-size <n>', SCALE_HELP.sampleSize)
    .option('--out-dir <dir>', 'base output directory; this sweep writes to <dir>/<run id>/ (default outputs)')
    .option('--register-model <name>', 'register the model of the best configuration (its run must be the only one of that configuration: one seed) as a new version of this registered model (created when missing); see lpclust models')
    .option('--queue <url>', 'hand the work to `lpclust worker` processes on a Redis job queue (redis://… or rediss://…): the DTW matrix as tile jobs and each exact configuration as a job; in sampled mode the configurations run here and their assignments go out as row-range jobs')
    .option('--shared-dir <dir>', 'with --queue: a directory every worker sees; --out-dir and --in must be inside it', '.')
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
  lpclust sweep --models kmeans,kmedoids,agglomerative,som --metrics euclidean,dtw -k 3..20
  lpclust sweep --models kmeans,som --metrics euclidean -k 3..12 --seeds 0,1,2 --select "Silhouette Score"
  lpclust sweep --in harmonized.csv --models kmedoids --metrics dtw -k 4..16 --select "DB Index" --json
  lpclust sweep --in /mnt/shared/harmonized.csv --out-dir /mnt/shared/outputs --queue redis://queue:6379/0 --shared-dir /mnt/shared`,
    )
    .action(async (flags: SweepFlags, cmd: Command) => {
      const { runSweep, sweepSummary } = await import('../../pipeline/sweep.js');
      const ctx = contextFor(cmd);
      const models = list<ModelName>(flags.models, MODELS, '--models');
      const metrics = list<MetricName>(flags.metrics, METRICS, '--metrics');
      const kRange = parseKRange(flags.k);
      const seeds = seedsList(flags.seeds);
      if (flags.in !== undefined && Object.keys(flagSources(flags)).length > 0) throw usageError('E_USAGE_OPTION', 'Expected either `--in <csv>` or source options, not both');
      // Shared settings (resolution, radius, ...) as the pipeline resolves them; model/metric/k are the sweep's own.
      const s = resolvePipelineSettings(cmd, { ...flags, model: undefined, metric: undefined, k: undefined });
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
          workers: capWorkers(s.workers),
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
