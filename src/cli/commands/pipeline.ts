/**
 * `lpclust pipeline`: every stage (ETL per source → harmonization → DTW → clustering with
 * validation and plots) as one parent run with a nested run per stage. Options come from flags,
 * `LPCLUST_PIPELINE_*` variables, the `"pipeline"` section of `lpclust.config.json`, then defaults;
 * with nothing configured it runs on the bundled sample data in `data/`.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import { describeSettings, parsers, readConfigFile, resolveSettings, valuesOf, type SettingSpec } from '../../config.js';
import { NORMALIZATIONS, type Normalization } from '../../profiles/normalize.js';
import { INITS, METRICS, MODELS, type InitName, type MetricName, type ModelName } from '../../cluster/fit.js';
import { LINKAGES, type Linkage } from '../../cluster/agglomerative.js';
import { configuredSources, flagSources, type PipelineSources } from '../../pipeline/sources.js';
import { SOURCE_FLAGS } from '../../etl/sources.js';
import { log } from '../../util/log.js';
import { DEFAULT_MIN_CLUSTER_SHARE, parseMinClusterShare, parseSelect, SCORES } from '../../validate/metrics.js';
import { capWorkers, contextFor } from '../context.js';
import { parseSampleSize, parseScale, SCALE_HELP } from '../scale-options.js';
import { parseMemoryBudget, type ScaleChoice } from '../../cluster/scale-choice.js';

const optionalInt =
  (name: string, min: number) =>
  (raw: unknown, where: string): number | undefined => {
    const v = typeof raw === 'number' ? raw : Number(raw);
    if (typeof raw === 'string' && raw.trim() === '') throw usageError('E_USAGE_VALUE', `Expected an integer ≥ ${min} for \`${name}\` (${where}) but received ""`);
    if (!Number.isInteger(v) || v < min) throw usageError('E_USAGE_VALUE', `Expected an integer ≥ ${min} for \`${name}\` (${where}) but received ${JSON.stringify(raw)}`);
    return v;
  };

const optionalString =
  (name: string) =>
  (raw: unknown, where: string): string | undefined =>
    parsers.string(name)(raw, where);

function kRangeParser(raw: unknown, where: string): [number, number] {
  const m = /^\s*(\d+)\s*\.\.\s*(\d+)\s*$/.exec(String(raw));
  const a = m ? Number(m[1]) : NaN;
  const b = m ? Number(m[2]) : NaN;
  if (!m || a < 2 || b < a) throw usageError('E_USAGE_VALUE', `Expected a range a..b with 2 ≤ a ≤ b for \`--k-range\` (${where}) but received ${JSON.stringify(raw)}`);
  return [a, b];
}

function resolutionParser(raw: unknown, where: string): number {
  const v = optionalInt('resolution', 1)(raw, where)!;
  if (1440 % v !== 0) throw usageError('E_USAGE_VALUE', `Expected a number of minutes that divides a day (15, 30, 60...) for \`--resolution\` (${where}) but received ${JSON.stringify(raw)}`);
  return v;
}

function timezoneParser(raw: unknown, where: string): string {
  const z = parsers.string('timezone')(raw, where);
  try {
    new Intl.DateTimeFormat('en', { timeZone: z });
  } catch {
    throw usageError('E_USAGE_VALUE', `Expected an IANA time zone (UTC, Europe/Rome...) for \`--timezone\` (${where}) but received ${JSON.stringify(raw)}`);
  }
  return z;
}

/**
 * The settings of `lpclust pipeline` (and the shared ones of `lpclust sweep`): flag name, variable,
 * `"pipeline"` config key, default. Sources are the config's `pipeline.sources` object.
 */
export const PIPELINE_SETTINGS = {
  model: { name: 'model', env: ['LPCLUST_PIPELINE_MODEL'], parse: parsers.oneOf('model', MODELS), default: 'kmeans', doc: `clustering model: ${MODELS.join('|')}` } as SettingSpec<ModelName>,
  metric: { name: 'metric', env: ['LPCLUST_PIPELINE_METRIC'], parse: parsers.oneOf('metric', METRICS), default: 'euclidean', doc: `distance: ${METRICS.join('|')}` } as SettingSpec<MetricName>,
  k: { name: 'k', env: ['LPCLUST_PIPELINE_K'], parse: (r: unknown, w: string) => optionalInt('k', 0)(r, w)!, default: 12, doc: 'number of clusters (0 = choose k by silhouette over --k-range)' } as SettingSpec<number>,
  kRange: { name: 'kRange', env: [], parse: kRangeParser, default: [3, 29], doc: 'k range searched with -k 0' } as SettingSpec<[number, number]>,
  select: { name: 'select', env: [], parse: (r: unknown, w: string) => parseSelect(String(r), `--select (${w})`).key, default: undefined, doc: 'score ranking k (-k 0) or configurations (sweep), with its direction; default: the silhouette of the metric' } as SettingSpec<string | undefined>,
  minClusterShare: { name: 'minClusterShare', env: [], parse: (r: unknown, w: string) => parseMinClusterShare(r, `--min-cluster-share (${w})`), default: DEFAULT_MIN_CLUSTER_SHARE, doc: 'a k (-k 0) or configuration (sweep) is ranked only when every cluster holds at least this share of the days; 0 = off' } as SettingSpec<number>,
  resolution: { name: 'resolution', env: ['LPCLUST_PIPELINE_RESOLUTION'], parse: resolutionParser, default: 60, doc: 'minutes per slot (15, 30, 60)' } as SettingSpec<number>,
  timezone: { name: 'timezone', env: ['LPCLUST_PIPELINE_TIMEZONE'], parse: timezoneParser, default: 'UTC', doc: 'IANA zone of days and slot labels' } as SettingSpec<string>,
  seed: { name: 'seed', env: [], parse: (r: unknown, w: string) => optionalInt('seed', 0)(r, w)!, default: 0, doc: 'random seed' } as SettingSpec<number>,
  nInit: { name: 'nInit', env: [], parse: optionalInt('n-init', 1), default: undefined, doc: 'restarts keeping the best (model default)' } as SettingSpec<number | undefined>,
  linkage: { name: 'linkage', env: [], parse: parsers.oneOf('linkage', LINKAGES), default: undefined, doc: `agglomerative linkage: ${LINKAGES.join('|')}` } as SettingSpec<Linkage | undefined>,
  init: { name: 'init', env: [], parse: parsers.oneOf('init', INITS), default: undefined, doc: `initialisation: ${INITS.join('|')}` } as SettingSpec<InitName | undefined>,
  normalize: { name: 'normalize', env: [], parse: parsers.oneOf('normalize', NORMALIZATIONS), default: 'l2', doc: `row normalisation: ${NORMALIZATIONS.join('|')}` } as SettingSpec<Normalization>,
  radius: { name: 'radius', env: [], parse: (r: unknown, w: string) => optionalInt('radius', 0)(r, w)!, default: 1, doc: 'Sakoe–Chiba radius of DTW, in slots' } as SettingSpec<number>,
  workers: { name: 'workers', env: ['LPCLUST_WORKERS'], parse: optionalInt('workers', 1), default: undefined, doc: 'DTW worker threads (default all cores)' } as SettingSpec<number | undefined>,
  silhouetteDtw: { name: 'silhouetteDtw', env: [], parse: parsers.boolean('silhouetteDtw'), default: false, doc: 'compute the DTW matrix for Euclidean models too (adds Silhouette DTW)' } as SettingSpec<boolean>,
  dropZeroDays: { name: 'dropZeroDays', env: [], parse: parsers.boolean('dropZeroDays'), default: true, doc: 'drop all-zero days in harmonization (they have no L2 norm)' } as SettingSpec<boolean>,
  reuse: { name: 'reuse', env: ['LPCLUST_REUSE'], parse: parsers.boolean('reuse'), default: false, doc: 'reuse the outputs of identical earlier stage runs' } as SettingSpec<boolean>,
  outDir: { name: 'outDir', env: ['LPCLUST_OUT_DIR'], parse: parsers.string('outDir'), default: 'outputs', doc: 'base output directory; each run writes to <outDir>/<run id>/' } as SettingSpec<string>,
  meters: { name: 'meters', env: [], parse: optionalString('meters'), default: undefined, doc: 'meter description CSV (default: the sample data\'s when no source is configured)' } as SettingSpec<string | undefined>,
  rules: { name: 'rules', env: [], parse: optionalString('rules'), default: undefined, doc: 'rules YAML (default: the sample data\'s when no source is configured)' } as SettingSpec<string | undefined>,
  scale: { name: 'scale', env: ['LPCLUST_SCALE'], parse: (r: unknown, w: string) => parseScale(r, `--scale (${w})`), default: 'auto', doc: SCALE_HELP.scale } as SettingSpec<ScaleChoice>,
  memoryBudget: { name: 'memoryBudget', env: ['LPCLUST_MEMORY_BUDGET'], parse: (r: unknown, w: string) => parseMemoryBudget(String(r), `--memory-budget (${w})`), default: undefined, doc: SCALE_HELP.memoryBudget } as SettingSpec<number | undefined>,
  sampleSize: { name: 'sampleSize', env: [], parse: (r: unknown, w: string) => parseSampleSize(r, `--sample-size (${w})`), default: undefined, doc: SCALE_HELP.sampleSize } as SettingSpec<number | undefined>,
  plots: { name: 'plots', env: [], parse: parsers.boolean('plots'), default: true, doc: 'render the clustering plots' } as SettingSpec<boolean>,
} as const;

/** The pipeline's settings, resolved. */
export type PipelineSettings = { [K in keyof typeof PIPELINE_SETTINGS]: (typeof PIPELINE_SETTINGS)[K]['default'] };

/** Sources from flags or the config's `pipeline.sources` (read by the library, see pipeline/sources.ts). */
export { configuredSources } from '../../pipeline/sources.js';

/** Resolve the pipeline settings of a command from its flags (commander names = setting names). */
export function resolvePipelineSettings(cmd: Command, flags: Record<string, unknown>): PipelineSettings {
  const o = cmd.optsWithGlobals() as Record<string, unknown>;
  const picked: Record<string, unknown> = {};
  for (const spec of Object.values(PIPELINE_SETTINGS)) picked[spec.name] = flags[spec.name];
  const resolved = resolveSettings(PIPELINE_SETTINGS, { flags: picked, env: process.env, cwd: process.cwd(), configFile: o.config as string | undefined }, 'pipeline', ['sources']);
  for (const line of describeSettings(resolved, PIPELINE_SETTINGS)) log.debug(`pipeline setting ${line}`);
  const values = valuesOf(resolved) as PipelineSettings;
  // Paths in the config file are relative to the config file's folder, like its sources.
  const cfg = readConfigFile({ cwd: process.cwd(), configFile: o.config as string | undefined });
  const base = cfg.file ? path.dirname(cfg.file) : process.cwd();
  for (const key of ['meters', 'rules', 'outDir'] as const) {
    const v = values[key];
    if (resolved[key].source === 'config' && typeof v === 'string') (values as Record<string, unknown>)[key] = path.resolve(base, v);
  }
  return values;
}

/** Sources, meters and rules: configured ones, else the bundled sample data. */
export async function pipelineInputs(cmd: Command, flags: Record<string, unknown>, s: PipelineSettings): Promise<{ sources: PipelineSources; meters?: string; rules?: string; sample: boolean }> {
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
    .description('run every stage (ETL per source → harmonize → DTW → cluster + validate + plots) as one parent run with a child run per stage')
    .option('--model <name>', `model: ${MODELS.join('|')} (default kmeans)`)
    .option('--metric <name>', `distance: ${METRICS.join('|')} (default euclidean)`)
    .option('-k, --k <k>', 'number of clusters; 0 chooses k by silhouette over --k-range (default 12)')
    .option('--k-range <a..b>', 'k range searched with -k 0 (default 3..29)')
    .option('--select <score>', `with -k 0: the score choosing k, with its direction (default: the silhouette of --metric); one of ${SCORES.map((x) => `"${x.key}"`).join(', ')}`)
    .option('--min-cluster-share <share>', `with -k 0: a k is only ranked when every cluster holds at least this share of the days (default ${DEFAULT_MIN_CLUSTER_SHARE}; 0 = off)`)
    .option('--resolution <minutes>', 'minutes per slot: 15, 30, 60 (default 60)')
    .option('--timezone <iana>', 'time zone of days and slot labels (default UTC)')
    .option('--in <csv>', 'a harmonized profiles CSV (id,date,HH:MM...) to cluster: skips the ETL and harmonization stages (instead of the sources)');
  // The sources' flags come from the source registry (etl/sources.ts).
  for (const f of SOURCE_FLAGS) cmd.option(f.flags, f.help);
  cmd
    .option('--meters <csv>', 'meter description CSV')
    .option('--rules <yaml>', 'rules file')
    .option('--reuse', 'reuse the outputs of earlier FINISHED stage runs with the same params, inputs and version')
    .option('--out-dir <dir>', 'base output directory; this run writes to <dir>/<run id>/ (default outputs)')
    .option('--seed <n>', 'random seed (default 0)')
    .option('--n-init <n>', 'restarts keeping the best (model default)')
    .option('--linkage <name>', `agglomerative linkage: ${LINKAGES.join('|')}`)
    .option('--init <name>', `initialisation: ${INITS.join('|')}`)
    .option('--normalize <method>', `row normalisation: ${NORMALIZATIONS.join('|')} (default l2)`)
    .option('--radius <r>', 'Sakoe–Chiba radius of DTW, in slots (default 1)')
    .option('--workers <n>', 'worker threads for the DTW matrix and the Euclidean silhouette (default: all cores)')
    .option('--silhouette-dtw', 'with --metric euclidean: also compute the DTW matrix, for Silhouette DTW')
    .option('--no-plots', 'do not render the plots')
    .option('--register-model <name>', 'register the model of the clustering run as a new version of this registered model (created when missing); lpclust models shows it, predict --model models:/<name>@<alias> loads it')
    .option('--scale <mode>', `${SCALE_HELP.scale} (default auto)`)
    .option('--memory-budget <size>', SCALE_HELP.memoryBudget)
    .option('--sample-size <n>', SCALE_HELP.sampleSize)
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
    .action(async (flags: Record<string, unknown> & { in?: string }, cmd: Command) => {
      const { pipelineSummary, runPipeline } = await import('../../pipeline/pipeline.js');
      const ctx = contextFor(cmd);
      if (flags.plots === true) delete flags.plots; // commander's --no-plots default: not a flag value
      const s = resolvePipelineSettings(cmd, flags);
      const inputs = flags.in !== undefined ? directInputs(flags) : await pipelineInputs(cmd, flags, s);
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
          ...(flags.in === undefined || flags.resolution !== undefined ? { resolution: s.resolution } : {}),
          timezone: s.timezone,
          dropZeroDays: s.dropZeroDays,
          silhouetteDtw: s.silhouetteDtw,
          seed: s.seed,
          nInit: s.nInit,
          linkage: s.linkage,
          init: s.init,
          normalize: s.normalize,
          radius: s.radius,
          workers: capWorkers(s.workers),
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
