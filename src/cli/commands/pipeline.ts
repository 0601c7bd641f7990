/**
 * `lpclust pipeline`: every stage (ETL per source → harmonization → DTW → clustering with
 * validation and plots) as one parent run with a nested run per stage. Options come from flags,
 * `LPCLUST_PIPELINE_*` variables, the `"pipeline"` section of `lpclust.config.json`, then defaults;
 * with nothing configured it runs on the bundled sample data in `data/`.
 */
import path from 'node:path';
import type { Command } from 'commander';
import type { Normalization } from '../../profiles/normalize.js';
import type { InitName, MetricName, ModelName } from '../../cluster/fit.js';
import type { Linkage } from '../../cluster/agglomerative.js';
import type { ScaleChoice } from '../../cluster/scale-choice.js';
import { configuredSources, flagSources, type PipelineSources } from '../../pipeline/sources.js';
import { log } from '../../util/log.js';
import { capWorkers, contextFor } from '../context.js';
import { addOptions, isSet, resolvedOptions } from '../options.js';

/**
 * The settings of `lpclust pipeline` (and the shared ones of `lpclust sweep`), parsed: each from
 * its flag, `LPCLUST_*` variable, the `"pipeline"` section of the config file or its default (the
 * option table, src/cli/options.ts). Sources are the config's `pipeline.sources` object.
 */
export interface PipelineSettings {
  model: ModelName;
  metric: MetricName;
  k: number;
  kRange: [number, number];
  select?: string;
  minClusterShare: number;
  resolution: number;
  timezone: string;
  seed: number;
  nInit?: number;
  linkage?: Linkage;
  init?: InitName;
  normalize: Normalization;
  radius: number;
  workers?: number;
  silhouetteDtw: boolean;
  dropZeroDays: boolean;
  reuse: boolean;
  outDir: string;
  meters?: string;
  rules?: string;
  scale: ScaleChoice;
  memoryBudget?: number;
  sampleSize?: number;
  plots: boolean;
}

/** Sources from flags or the config's `pipeline.sources` (read by the library, see pipeline/sources.ts). */
export { configuredSources } from '../../pipeline/sources.js';

/** Sources, meters and rules: configured ones, else the bundled sample data. */
export async function pipelineInputs(cmd: Command, flags: Record<string, unknown>, s: Pick<PipelineSettings, 'meters' | 'rules'>): Promise<{ sources: PipelineSources; meters?: string; rules?: string; sample: boolean }> {
  const o = cmd.optsWithGlobals() as Record<string, unknown>;
  const conf = configuredSources(flags, o.config as string | undefined);
  if (conf) return { sources: conf.sources, meters: s.meters, rules: s.rules, sample: false };
  const { sampleData } = await import('../../pipeline/pipeline.js');
  const sample = sampleData();
  return { sources: sample.sources, meters: s.meters ?? sample.meters, rules: s.rules ?? sample.rules, sample: true };
}

/**
 * With `--in`: no sources, and the meters and rules files only when given as flags (runPipeline
 * refuses them then: they belong to the stages `--in` skips); the configured sources and the
 * config's meters and rules are not used.
 */
function directInputs(flags: Record<string, unknown>): { sources: PipelineSources; meters?: string; rules?: string; sample: false } {
  const sources = flagSources(flags);
  return { sources, ...(typeof flags.meters === 'string' ? { meters: flags.meters } : {}), ...(typeof flags.rules === 'string' ? { rules: flags.rules } : {}), sample: false };
}

/** Register `lpclust pipeline`. */
export function register(program: Command): void {
  const cmd = program
    .command('pipeline')
    .description('run every stage (ETL per source → harmonize → DTW → cluster + validate + plots) as one parent run with a child run per stage');
  // The sources' flags come from the source registry (etl/sources.ts), through the option table.
  addOptions(cmd, 'pipeline')
    .addHelpText(
      'after',
      `
Without sources (flags or "pipeline.sources" in lpclust.config.json) it runs on the bundled
sample data in data/ (its meters.csv and rules.yaml). With --in it clusters a harmonized CSV
(written by lpclust harmonize or a pipeline run) and skips the ETL and harmonization stages.
The DTW stage runs when --metric is dtw or --silhouette-dtw is given; its matrix is computed
once and handed to clustering. In sampled mode (--scale, large inputs) there is no matrix: the
stage is skipped (the parent's tag lpclust.skipped.dtw says so) and clustering computes DTW
only within its samples and to the medoids or centres. Outputs go to
<out-dir>/<parent run id>/ (never overwritten); \`lpclust runs\` shows the run tree.
Settings: flags > LPCLUST_PIPELINE_* variables > lpclust.config.json "pipeline" > defaults
(see lpclust.config.example.json; database URIs with passwords only through variables).

Examples:
  lpclust pipeline --model kmeans -k 12
  lpclust pipeline --model kmedoids --metric dtw -k 8 --reuse
  lpclust pipeline --model agglomerative --metric dtw -k 0 --k-range 3..12
  lpclust pipeline --in harmonized.csv --model kmedoids --metric dtw -k 12
  lpclust pipeline --model som -k 9 --config uc7.config.json --out-dir runs --json`,
    )
    .action(async (flags: PipelineSettings & Record<string, unknown> & { in?: string; registerModel?: string }, cmd: Command) => {
      const { pipelineSummary, runPipeline } = await import('../../pipeline/pipeline.js');
      const ctx = contextFor(cmd);
      const s = flags;
      // With --in only meters and rules given as flags count (runPipeline refuses them: they belong to the skipped stages).
      const asFlag = (name: 'meters' | 'rules'): string | undefined => (resolvedOptions(cmd)[name]?.source === 'flag' ? flags[name] : undefined);
      const inputs = flags.in !== undefined ? directInputs({ ...flags, meters: asFlag('meters'), rules: asFlag('rules') }) : await pipelineInputs(cmd, flags, s);
      if (inputs.sample) log.info('no source configured: running on the bundled sample data (data/)');
      const store = await ctx.openStore();
      const { checkRegistration, registerRunModel, registeredJson, registrationLine } = await import('../../model/register.js');
      // Checked before the run starts: a bad name or a store without a registry should not cost a run.
      if (flags.registerModel !== undefined) checkRegistration(store, String(flags.registerModel));
      const res = await runPipeline(
        {
          model: s.model,
          metric: s.metric,
          k: s.k,
          kRange: s.kRange,
          ...(s.select !== undefined ? { select: s.select } : {}),
          minClusterShare: s.minClusterShare,
          sources: inputs.sources,
          ...(flags.in !== undefined ? { input: path.resolve(flags.in) } : {}),
          meters: inputs.meters,
          rules: inputs.rules,
          // With --in the file's columns give the resolution: a --resolution flag is checked against them.
          ...(flags.in === undefined || isSet(cmd, 'resolution') ? { resolution: s.resolution } : {}),
          timezone: s.timezone,
          dropZeroDays: s.dropZeroDays,
          silhouetteDtw: s.silhouetteDtw,
          seed: s.seed,
          nInit: s.nInit,
          linkage: s.linkage,
          init: s.init,
          normalize: s.normalize,
          radius: s.radius,
          workers: capWorkers(s.workers, resolvedOptions(cmd).workers?.from),
          reuse: s.reuse,
          outDir: s.outDir,
          plots: s.plots,
          scale: s.scale,
          ...(s.memoryBudget !== undefined ? { memoryBudget: s.memoryBudget } : {}),
          ...(s.sampleSize !== undefined ? { sampleSize: s.sampleSize } : {}),
        },
        { store, experimentName: ctx.globals.experimentName },
      );
      const registered = flags.registerModel !== undefined ? await registerRunModel(store, res.runId, String(flags.registerModel)) : undefined;
      const summary = pipelineSummary(res) + (registered ? `\n${registrationLine(registered)}` : '');
      ctx.print({ runId: res.runId, ...(registered ? { registered: registeredJson(registered) } : {}), metrics: res.metrics, outDir: res.outputs.outDir, stages: res.outputs.stages, cluster: res.outputs.cluster }, summary);
    });
}
