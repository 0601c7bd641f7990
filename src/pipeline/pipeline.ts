/**
 * The whole pipeline as one tracked parent run with a nested child run per stage:
 * `etl_<source>` per configured source of the registry (etl/sources.ts: `etl_oldmongo`, `etl_sql`,
 * `etl_newmongo`, `etl_generic`) →
 * `harmonization` → `dtw` (when the metric is DTW or `silhouetteDtw` is asked for; computed once
 * and handed to clustering) → clustering (with validation and plots). Stages hand over through
 * files in the run's own output directory `<outDir>/<parent run id>/`, which are also logged as
 * artifacts of the stage runs. With `reuse`, a stage whose key matches a previous FINISHED run
 * copies that run's outputs instead of running (see reuse.ts).
 */
import { createReadStream, existsSync } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { usageError } from '../errors.js';
import { envValue } from '../config.js';
import type { Normalization } from '../profiles/normalize.js';
import { readProfiles, readProfilesHeader, resolutionOf } from '../io/profiles.js';
import { checkInputPath, checkOutputDir, mkdirOutput } from '../io/preflight.js';
import { newMongoExportSource } from '../etl/newmongo.js';
import type { CleanOptions } from '../etl/types.js';
import { SOURCE_NAMES, SOURCES, sourceFlagList, sourceNaming, type ResolvedSource, type SourceName } from '../etl/sources.js';
import { checkSourceInputs, givenSources, type PipelineSources } from './sources.js';
import type { InitName, MetricName, ModelName } from '../cluster/fit.js';
import type { Linkage } from '../cluster/agglomerative.js';
import { DEFAULT_K_RANGE } from '../cluster/k-range.js';
import { modelVariant } from '../cluster/registry.js';
import { withRun, type ActiveRun } from '../tracking/run.js';
import type { TrackingStore } from '../tracking/store.js';
import { log } from '../util/log.js';
import { runEtlStage, runNewMongoLoadStage } from './etl.js';
import { runHarmonizeStage } from './harmonize.js';
import { runDtwStage } from './dtw.js';
import { runClusterStage } from './cluster.js';
import { findReusable, LPCLUST_VERSION, pathDigest, recordOutputs, REUSE_TAGS, stageKey } from './reuse.js';
import type { StageResult, StageTracking } from './types.js';
import { DEFAULT_MIN_CLUSTER_SHARE, HEADLINE_SCORES, SCORE_KEYS } from '../validate/metrics.js';
import { defaultMemoryBudget, formatBytes, planScale, type ScaleChoice } from '../cluster/scale.js';
import { datasetName, logProfilesFileInput } from './datasets.js';
import { DEFAULT_SILHOUETTE_SAMPLE } from '../validate/sampled.js';
import type { QueueUrl } from '../queue/connection.js';
import { DEFAULT_RADIUS, radiusParam } from '../dtw/settings.js';

/** The ETL sources, in the order they run (the source registry's, etl/sources.ts). */
export const PIPELINE_SOURCES: readonly SourceName[] = SOURCE_NAMES;
/** One ETL source of the pipeline. */
export type PipelineSource = SourceName;
export type { PipelineSources, ResolvedSource };
export { checkSourceInputs };

/** The bundled sample data (relative to the lpclust install), used when no source is configured. */
export function sampleData(): { sources: PipelineSources; meters: string; rules: string } {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'data');
  return {
    sources: { oldmongo: { input: path.join(root, 'oldmongo') }, sql: { input: path.join(root, 'sql') }, newmongo: { export: path.join(root, 'newmongo', 'newmongo.jsonl') } },
    meters: path.join(root, 'meters.csv'),
    rules: path.join(root, 'rules.yaml'),
  };
}

/** Options of {@link runPipeline}. */
export interface PipelineOptions {
  model: ModelName;
  metric: MetricName;
  /** Clusters; 0 chooses k over `kRange` (by `select`, among the k passing `minClusterShare`). */
  k: number;
  kRange?: readonly [number, number];
  /** With k = 0: the score choosing k (default the silhouette of the metric). */
  select?: string;
  /** With k = 0: smallest share of the days every cluster must hold for its k to be ranked (default 0.02). */
  minClusterShare?: number;
  sources: PipelineSources;
  /**
   * A harmonized profiles CSV (`id,date,HH:MM...`, `--in`) to cluster instead of the sources: the
   * ETL and harmonization stages are skipped (tagged `lpclust.skipped.<stage>`) and the file is
   * logged as the parent's dataset input; `sources`, `meters` and `rules` must then be empty, and
   * `resolution`, when given, must be the file's.
   */
  input?: string;
  /** Meter description CSV. */
  meters?: string;
  /** Rules YAML. */
  rules?: string;
  /** Minutes per slot (default 60). */
  resolution?: number;
  /** IANA zone of days and slots (default UTC). */
  timezone?: string;
  /** Drop all-zero days in harmonization (default true: they have no L2 norm). */
  dropZeroDays?: boolean;
  /** Compute the DTW matrix also for Euclidean models, for `Silhouette DTW` (default false). */
  silhouetteDtw?: boolean;
  seed?: number;
  nInit?: number;
  linkage?: Linkage;
  init?: InitName;
  normalize?: Normalization;
  /** Sakoe–Chiba radius of DTW, slots (default 1). */
  radius?: number;
  /** DTW worker threads (default all cores). */
  workers?: number;
  /** Reuse the outputs of matching FINISHED stage runs. */
  reuse?: boolean;
  /** Base output directory; the run writes to `<outDir>/<parent run id>/` (default `outputs`). */
  outDir?: string;
  /** Render the clustering plots (default true). */
  plots?: boolean;
  /** Exact, sampled or auto (default): see cluster/scale.ts; decided once the harmonized profiles are counted, before the DTW stage. */
  scale?: ScaleChoice;
  /** Bytes the n × n matrices may take (default half the free memory). */
  memoryBudget?: number;
  /** Sampled k-medoids: rows per FasterCLARA sample. */
  sampleSize?: number;
}

/** One stage of a pipeline run. */
export interface PipelineStageInfo {
  stage: string;
  runId?: string;
  /** Run whose outputs were reused. */
  reusedFrom?: string;
  /** Why the stage did not run (source not configured). */
  skipped?: string;
}

/** Outputs of {@link runPipeline}. */
export interface PipelineOutputs {
  /** `<outDir>/<parent run id>` (absolute). */
  outDir: string;
  stages: PipelineStageInfo[];
  harmonized: string;
  dtw?: string;
  cluster: { outDir: string; labels: string; k: number; n: number; clusterSizes: number[]; plots: string[] };
}

/** The parent run's name: `<model> <metric> k=<k> pipeline`. */
export function pipelineRunName(o: Pick<PipelineOptions, 'model' | 'metric' | 'k'>): string {
  return `${o.model} ${o.metric} k=${o.k === 0 ? 'auto' : o.k} pipeline`;
}

/** The shared context of the stage helper (the parent run and what the children need). */
export interface StageCtx {
  store: TrackingStore;
  experimentName: string;
  parent: ActiveRun;
  reuse: boolean;
  stages: PipelineStageInfo[];
}

/** How one stage is keyed, run and reused. */
export interface StageSpec<T> {
  stage: string;
  /** Run name of the child (also of a reusing child). */
  runName: string;
  /** Params that determine the outputs (no output paths). */
  params: Record<string, string | number | boolean>;
  /** Input files/dirs whose sha256 enter the key; null = not reusable (live source). */
  inputs: Record<string, string> | null;
  /** Outputs by name: new local path and artifact path in the stage run (files). */
  outputs: Record<string, { path: string; artifact?: string }>;
  run: (tracking: StageTracking) => Promise<StageResult<T>>;
  /** Artifact directory of each output when a reusing child logs it again (default: stage name). */
  artifactDir?: (name: string) => string;
}

/** What the stage helper returns: the metrics, and the result when the stage really ran. */
export interface StageDone<T> {
  runId: string;
  metrics: Record<string, number>;
  result?: StageResult<T>;
  reusedFrom?: string;
}

/**
 * Run one stage as a child of `ctx.parent`, or, with `ctx.reuse`, reuse a matching earlier run:
 * tags `lpclust.stage`, `lpclust.stage_key`, `lpclust.version` (and `lpclust.reused_from`) on the
 * child, `lpclust.child.<stage>` on the parent; the outputs' digests are recorded for later reuse.
 */
export async function runStage<T>(ctx: StageCtx, spec: StageSpec<T>): Promise<StageDone<T>> {
  let key: string | undefined;
  if (spec.inputs) {
    const digests: Record<string, string> = {};
    for (const [name, p] of Object.entries(spec.inputs)) digests[name] = await pathDigest(p);
    key = stageKey({ stage: spec.stage, params: spec.params, inputs: digests });
  }
  const tags: Record<string, string> = { [REUSE_TAGS.stage]: spec.stage, [REUSE_TAGS.version]: LPCLUST_VERSION, ...(key ? { [REUSE_TAGS.stageKey]: key } : {}) };
  const tracking: StageTracking = { store: ctx.store, experimentName: ctx.experimentName, parentRunId: ctx.parent.runId, tags };
  let done: StageDone<T> | undefined;
  try {
    if (ctx.reuse && key) {
      const targets = Object.fromEntries(Object.entries(spec.outputs).map(([n, o]) => [n, o.path]));
      const hit = await findReusable(ctx.store, ctx.experimentName, spec.stage, key, targets);
      if (hit) {
        const from = hit.run.info.runId;
        log.info(`${spec.stage}: reusing the outputs of run ${from}`);
        const metrics = hit.run.data.metrics;
        const runId = await withRun({ ...tracking, runName: spec.runName, tags: { ...tags, [REUSE_TAGS.reusedFrom]: from } }, async (run) => {
          await run.logParams({ ...spec.params, reused_from: from });
          await run.logMetrics(metrics);
          for (const [name, o] of Object.entries(spec.outputs)) {
            await run.logArtifact(o.path, spec.artifactDir ? spec.artifactDir(name) : spec.stage);
          }
          await recordOutputs(ctx.store, run.runId, spec.outputs);
          return run.runId;
        });
        done = { runId, metrics, reusedFrom: from };
      }
    }
    if (!done) {
      const result = await spec.run(tracking);
      if (key) await recordOutputs(ctx.store, result.runId, spec.outputs);
      done = { runId: result.runId, metrics: result.metrics, result };
    }
  } catch (e) {
    // The child is already FAILED/KILLED by its own withRun; name it on the parent too.
    await ctx.parent.setTags({ 'lpclust.failed_stage': spec.stage });
    throw e;
  }
  ctx.stages.push({ stage: spec.stage, runId: done.runId, ...(done.reusedFrom ? { reusedFrom: done.reusedFrom } : {}) });
  await ctx.parent.setTags({ [`lpclust.child.${spec.stage}`]: done.runId, ...(done.reusedFrom ? { [`lpclust.reused.${spec.stage}`]: done.reusedFrom } : {}) });
  return done;
}

function fromEnv(name: string, what: string): string {
  const v = envValue(name);
  if (v === undefined) throw usageError('E_USAGE_OPTION', `${what}: the environment variable ${name} (named in the config) is not set`, { hint: `export ${name}=... or put it in .env` });
  return v;
}

/**
 * Run the pipeline as one parent run (see the module comment). Parent params: model, metric, k,
 * k_range, resolution, timezone, normalize, radius, seed, sources, meters, rules, reuse, out_dir,
 * silhouette_dtw; metrics: the clustering run's (validation) metrics; tags: `lpclust.child.<stage>`
 * = child run id per stage, `lpclust.skipped.<stage>` for an unconfigured source,
 * `lpclust.reused.<stage>` when reused, `lpclust.failed_stage` on failure.
 */
export async function runPipeline(o: PipelineOptions, tracking: Omit<StageTracking, 'parentRunId'>): Promise<StageResult<PipelineOutputs>> {
  const resolution = o.resolution ?? 60;
  const timezone = o.timezone ?? 'UTC';
  const normalize = o.normalize ?? 'l2';
  const radius = o.radius ?? DEFAULT_RADIUS;
  const seed = o.seed ?? 0;
  const dropZeroDays = o.dropZeroDays ?? true;
  if (o.k !== 0 && (!Number.isInteger(o.k) || o.k < 2)) throw usageError('E_USAGE_K', `Expected an integer k ≥ 2 (or 0 to choose k) for \`-k\` but received \`${o.k}\``);
  modelVariant(o.model, o.metric); // refuses a metric the model does not have (the registry's message)
  // Every input and the output location are checked before the parent run exists (a usage
  // mistake leaves no FAILED run); params then hold absolute paths.
  const direct = o.input === undefined ? undefined : await checkDirectInput(o);
  const resolved = direct ? [] : await resolveSources(o.sources, timezone);
  if (!direct) checkSourceInputs(o.sources);
  const meters = o.meters === undefined ? undefined : checkInputPath(o.meters, '--meters');
  const rules = o.rules === undefined ? undefined : checkInputPath(o.rules, '--rules');
  // Choosing k by the DTW silhouette needs the matrix, as --silhouette-dtw does.
  const wantDtw = o.metric === 'dtw' || (o.silhouetteDtw ?? false) || (o.k === 0 && o.select === SCORE_KEYS.silhouetteDtw);
  const base = checkOutputDir(o.outDir ?? 'outputs', '--out-dir');

  return withRun({ store: tracking.store, experimentName: tracking.experimentName, runName: pipelineRunName(o), tags: { ...(tracking.tags ?? {}), 'lpclust.pipeline': 'pipeline' } }, async (parent) => {
    const runDir = path.join(base, parent.runId);
    if (existsSync(runDir)) throw usageError('E_OUTPUT_EXISTS', `${runDir} already exists; outputs are never overwritten`);
    await mkdirOutput(runDir, '--out-dir');
    await parent.logParams({
      model: o.model,
      metric: o.metric,
      k: o.k,
      k_range: o.k === 0 && o.kRange ? `${o.kRange[0]}..${o.kRange[1]}` : undefined,
      select: o.k === 0 ? o.select : undefined,
      min_cluster_share: o.k === 0 ? (o.minClusterShare ?? DEFAULT_MIN_CLUSTER_SHARE) : undefined,
      // With --in the file's slot columns give the resolution.
      resolution: direct ? resolutionOf(direct.slots) : resolution,
      timezone,
      normalize,
      radius: radiusParam(radius),
      seed,
      n_init: o.nInit,
      linkage: o.linkage,
      init: o.init,
      drop_zero_days: direct ? undefined : dropZeroDays,
      silhouette_dtw: wantDtw,
      in: direct?.file,
      sources: direct ? undefined : resolved.filter(([, r]) => r).map(([s]) => s).join(','),
      meters: direct ? undefined : (meters ?? ''),
      rules: direct ? undefined : (rules ?? ''),
      reuse: o.reuse ?? false,
      out_dir: runDir,
      lpclust_version: LPCLUST_VERSION,
    });
    await parent.setTags({ 'lpclust.out_dir': runDir });
    const ctx: StageCtx = { store: tracking.store, experimentName: tracking.experimentName, parent, reuse: o.reuse ?? false, stages: [] };

    let harmonized: string;
    let shape: { n: number; L: number };
    if (direct) {
      harmonized = direct.file;
      const why = 'the input is the harmonized CSV given with --in';
      for (const stage of [...PIPELINE_SOURCES.filter((s) => SOURCES[s].alwaysListed).map((s) => sourceNaming(s).etlRun), 'harmonization']) {
        ctx.stages.push({ stage, skipped: why });
        await parent.setTags({ [`lpclust.skipped.${stage}`]: why });
      }
      const scan = await scanProfiles(harmonized);
      shape = scan;
      await logProfilesFileInput(parent, datasetName(harmonized), harmonized, { slots: direct.slots, rows: scan.n, meters: scan.meters, days: scan.days }, 'training');
      log.info(`${harmonized}: ${scan.n} profiles of ${scan.meters} meter(s) over ${scan.days} day(s); ETL and harmonization skipped (--in)`);
    } else {
      harmonized = await runDatasetStages(ctx, { resolved, meters, rules, resolution, timezone, dropZeroDays }, runDir);
      // Exact or sampled, before the DTW stage would compute an n × n matrix that cannot be held.
      shape = await countProfiles(harmonized);
    }
    const plan = planScale({
      n: shape.n,
      L: shape.L,
      model: o.model,
      metric: o.metric,
      k: o.k === 0 ? (o.kRange ?? DEFAULT_K_RANGE)[1] : o.k,
      wantDtw,
      choice: o.scale ?? 'auto',
      budget: o.memoryBudget ?? defaultMemoryBudget(),
      budgetIsDefault: o.memoryBudget === undefined,
      ...(o.sampleSize !== undefined ? { sampleSize: o.sampleSize } : {}),
      silhouetteSample: DEFAULT_SILHOUETTE_SAMPLE,
    });
    await parent.logParams({ scale: plan.mode });
    await parent.setTags({ 'lpclust.scale': plan.mode });
    const dtwFile = wantDtw && plan.mode === 'exact' ? await runDtwOnce(ctx, harmonized, runDir, { radius, normalize, workers: o.workers }) : undefined;
    if (wantDtw && plan.mode === 'sampled') {
      // The stage would write the n × n matrix; what replaces it is said where a user looks.
      const targets = `${o.k === 0 ? 'candidate' : o.k} ${modelVariant(o.model, o.metric).sampled.assignsTo}`;
      const why = `sampled mode: no ${shape.n} × ${shape.n} matrix, which would take ${formatBytes(4 * shape.n * shape.n)}; the clustering run computes DTW only where it needs it: within its samples and from every profile to the ${targets}`;
      ctx.stages.push({ stage: 'dtw', skipped: why });
      await parent.setTags({ 'lpclust.skipped.dtw': why });
      log.info(`dtw stage skipped: ${why}`);
    }

    // 4. Clustering with validation and plots.
    const clusterDir = path.join(runDir, 'cluster');
    const clusterParams: Record<string, string | number | boolean> = { model: o.model, metric: o.metric, k: o.k, normalize, radius: radiusParam(radius), seed, dtw: wantDtw };
    if (o.k === 0) {
      clusterParams.k_range = `${(o.kRange ?? DEFAULT_K_RANGE).join('..')}`;
      if (o.select !== undefined) clusterParams.select = o.select;
      clusterParams.min_cluster_share = o.minClusterShare ?? DEFAULT_MIN_CLUSTER_SHARE;
    }
    if (o.nInit !== undefined) clusterParams.n_init = o.nInit;
    if (o.linkage) clusterParams.linkage = o.linkage;
    if (o.init) clusterParams.init = o.init;
    clusterParams.plots = o.plots ?? true;
    clusterParams.scale = plan.mode;
    if (o.sampleSize !== undefined) clusterParams.sample_size = o.sampleSize;
    const cInputs: Record<string, string> = { harmonized };
    if (dtwFile) cInputs.dtw = dtwFile;
    const clusterDone = await runStage(ctx, {
      stage: 'clustering',
      runName: `${o.model} ${o.metric} k=${o.k === 0 ? 'auto' : o.k}`,
      params: clusterParams,
      inputs: cInputs,
      outputs: { cluster: { path: clusterDir } },
      artifactDir: () => 'cluster',
      run: async (t) => {
        return runClusterStage(
          { in: harmonized, model: o.model, metric: o.metric, k: o.k, kRange: o.kRange, select: o.select, minClusterShare: o.minClusterShare, dtw: dtwFile, radius, linkage: o.linkage, init: o.init, nInit: o.nInit, seed, normalize, timezone, outDir: clusterDir, workers: o.workers, plots: o.plots ?? true, scale: plan.mode, scaleReason: plan.reason, ...(o.memoryBudget !== undefined ? { memoryBudget: o.memoryBudget } : {}), ...(o.sampleSize !== undefined ? { sampleSize: o.sampleSize } : {}) },
          t,
        );
      },
    });

    // The parent: final metrics (the clustering run's), a summary of the stages.
    const metrics = clusterDone.metrics;
    await parent.logMetrics(metrics);
    await parent.logJson({ stages: ctx.stages }, 'pipeline/stages.json');
    const labels = path.join(clusterDir, 'labels.csv');
    const plotsDir = path.join(clusterDir, 'plots');
    const plots = existsSync(plotsDir) ? (await fsp.readdir(plotsDir)).map((f) => path.join(plotsDir, f)).sort() : [];
    const sizes = (await readClusterSizes(path.join(clusterDir, 'centres.csv'))) ?? [];
    if (o.k === 0 && sizes.length > 0) {
      // As the clustering run does: once k is chosen, the name says which.
      await parent.logParams({ k_chosen: sizes.length });
      await parent.setTags({ 'mlflow.runName': pipelineRunName({ ...o, k: sizes.length }) });
    }
    return {
      runId: parent.runId,
      metrics,
      outputs: {
        outDir: runDir,
        stages: ctx.stages,
        harmonized,
        ...(dtwFile ? { dtw: dtwFile } : {}),
        cluster: { outDir: clusterDir, labels, k: sizes.length, n: sizes.reduce((a, b) => a + b, 0), clusterSizes: sizes, plots },
      },
    };
  });
}

/** What {@link runDatasetStages} needs. */
export interface DatasetOptions {
  /** The sources, resolved ({@link resolveSources}). */
  resolved: ReadonlyArray<readonly [PipelineSource, ResolvedSource | null]>;
  meters?: string;
  rules?: string;
  resolution: number;
  timezone: string;
  dropZeroDays: boolean;
}

/**
 * Resolve the configured sources through the registry (null = not configured); throws when none
 * is. `timezone` is the run's (the default zone of a generic CSV's naive timestamps).
 */
export async function resolveSources(sources: PipelineSources, timezone = 'UTC'): Promise<Array<readonly [PipelineSource, ResolvedSource | null]>> {
  const ctx = { env: fromEnv, timezone };
  const resolved: Array<readonly [PipelineSource, ResolvedSource | null]> = [];
  for (const s of PIPELINE_SOURCES) {
    const c = sources[s];
    resolved.push([s, c ? await (SOURCES[s].resolve as (c: unknown, x: typeof ctx) => Promise<ResolvedSource | null>)(c, ctx) : null]);
  }
  if (resolved.every(([, r]) => r === null)) {
    throw usageError('E_USAGE_OPTION', `the pipeline has no source: configure at least one of ${PIPELINE_SOURCES.join(', ')}`, { hint: 'see lpclust.config.example.json' });
  }
  return resolved;
}

/**
 * The ETL children (one per configured source; a source not configured is tagged
 * `lpclust.skipped.etl_<source>` on the parent) and the harmonization child. Returns the
 * harmonized CSV, `<runDir>/harmonized.csv`.
 */
export async function runDatasetStages(ctx: StageCtx, o: DatasetOptions, runDir: string): Promise<string> {
  const parent = ctx.parent;
  const keyInputsCommon: Record<string, string> = {};
  if (o.meters) keyInputsCommon.meters = o.meters;
  if (o.rules) keyInputsCommon.rules = o.rules;
  const clean: Partial<Record<PipelineSource, string>> = {};
  for (const [source, r] of o.resolved) {
    const stage = sourceNaming(source).etlRun;
    if (!r) {
      // An added source (not one of the reference pipeline's) is listed only when configured.
      if (!SOURCES[source].alwaysListed) continue;
      ctx.stages.push({ stage, skipped: 'not configured' });
      await parent.setTags({ [`lpclust.skipped.${stage}`]: 'not configured' });
      continue;
    }
    const out = path.join(runDir, sourceNaming(source).cleanCsv);
    const cleanOpts: Partial<CleanOptions> = { ...r.cleanDefaults, resolutionMinutes: o.resolution, timeZone: o.timezone };
    let reader = r.reader;
    let extraTags: Record<string, string> = {};
    if (r.live) {
      // Live new Mongo: the load_newmongo child dumps the documents, then etl reads that file.
      const rawOut = path.join(runDir, 'raw_newmongo.csv');
      const load = await runNewMongoLoadStage({ query: r.live, rawOut }, { store: ctx.store, experimentName: ctx.experimentName, parentRunId: parent.runId, tags: { [REUSE_TAGS.stage]: 'load_newmongo' } });
      ctx.stages.push({ stage: 'load_newmongo', runId: load.runId });
      await parent.setTags({ 'lpclust.child.load_newmongo': load.runId });
      reader = newMongoExportSource(rawOut);
      extraTags = { load_newmongo_run_id: load.runId };
    }
    await runStage(ctx, {
      stage,
      runName: stage,
      params: { source, resolution: o.resolution, timezone: o.timezone, ...r.params },
      inputs: r.inputs ? { ...r.inputs, ...keyInputsCommon } : null,
      outputs: { clean: { path: out, artifact: `clean/${path.basename(out)}` } },
      artifactDir: () => 'clean',
      run: (t) => runEtlStage({ reader: reader!, runName: stage, out, metersFile: o.meters, rulesFile: o.rules, clean: cleanOpts, params: r.params }, { ...t, tags: { ...t.tags, ...extraTags } }),
    });
    clean[source] = out;
  }

  const harmonized = path.join(runDir, 'harmonized.csv');
  const hInputs: Record<string, string> = {};
  for (const s of PIPELINE_SOURCES) if (clean[s]) hInputs[s] = clean[s]!;
  if (o.rules) hInputs.rules = o.rules;
  await runStage(ctx, {
    stage: 'harmonization',
    runName: 'harmonization',
    params: { sources: Object.keys(clean).join(','), drop_zero_days: o.dropZeroDays },
    inputs: hInputs,
    outputs: { harmonized: { path: harmonized, artifact: 'harmonized/harmonized.csv' } },
    artifactDir: () => 'harmonized',
    run: (t) => runHarmonizeStage({ sources: clean, rulesFile: o.rules, out: harmonized, dropZeroDays: o.dropZeroDays }, t),
  });
  return harmonized;
}

/** What the pipeline's `--in` file is: its absolute path and slot labels (header checked). */
interface DirectInput {
  file: string;
  slots: string[];
}

/**
 * Check a `--in` harmonized CSV before the parent run exists: it can be read, its header is a
 * profiles header, and no source, meters or rules file is given with it (they would be ignored).
 */
async function checkDirectInput(o: PipelineOptions): Promise<DirectInput> {
  const given = givenSources(o.sources);
  if (given.length > 0) throw usageError('E_USAGE_OPTION', `--in ${o.input} replaces the sources, but ${given.join(', ')} ${given.length > 1 ? 'are' : 'is'} given too`, { hint: `give either --in (a harmonized CSV) or sources (${sourceFlagList()}, or pipeline.sources in the config)` });
  for (const [key, v] of [['--meters', o.meters], ['--rules', o.rules]] as const) {
    if (v !== undefined) throw usageError('E_USAGE_OPTION', `${key} applies to the ETL and harmonization stages, which --in skips`, { hint: `drop ${key}, or run the pipeline on the sources instead of --in` });
  }
  const file = checkInputPath(o.input!, '--in');
  const slots = await readProfilesHeader(file);
  if (o.resolution !== undefined && o.resolution !== resolutionOf(slots)) {
    throw usageError('E_USAGE_OPTION', `--resolution ${o.resolution} but ${file} has ${slots.length} slots a day (${resolutionOf(slots)} minutes each)`, { hint: `drop --resolution (with --in the file's columns give it), or give a file at ${o.resolution} minutes` });
  }
  return { file, slots };
}

/**
 * Rows, slots, distinct meters and days of a profiles CSV, by streaming its lines (only the first
 * two fields of a row are looked at; the values are parsed by the stage that reads the file).
 */
export async function scanProfiles(file: string): Promise<{ n: number; L: number; meters: number; days: number }> {
  let n = -1;
  let L = 0;
  let partial = '';
  const meters = new Set<string>();
  const days = new Set<string>();
  const row = (text: string, start: number, end: number): void => {
    if (end > start && text.charCodeAt(end - 1) === 13) end--;
    if (end <= start) return;
    if (n < 0) L = text.slice(start, end).split(',').length - 2;
    else {
      const c1 = text.indexOf(',', start);
      const c2 = c1 < 0 ? -1 : text.indexOf(',', c1 + 1);
      if (c2 > 0 && c2 < end) {
        // A quoted id holding a comma is rare; counting it by its raw text is enough for a count.
        meters.add(text.slice(start, c1));
        days.add(text.slice(c1 + 1, c2));
      }
    }
    n++;
  };
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
    const text = partial + (chunk as string);
    let start = 0;
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', start)) {
      row(text, start, i);
      start = i + 1;
    }
    partial = text.slice(start);
  }
  row(partial, 0, partial.length);
  return { n: Math.max(0, n), L: Math.max(1, L), meters: meters.size, days: days.size };
}

/** Rows and slots of a harmonized profiles CSV, by streaming its lines (no values parsed). */
export async function countProfiles(file: string): Promise<{ n: number; L: number }> {
  let n = -1;
  let L = 0;
  let partial = '';
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
    const text = partial + (chunk as string);
    let start = 0;
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', start)) {
      if (n < 0) L = text.slice(start, i).split(',').length - 2;
      if (i > start) n++;
      start = i + 1;
    }
    partial = text.slice(start);
  }
  if (partial.trim() !== '') {
    if (n < 0) L = partial.split(',').length - 2;
    n++;
  }
  return { n: Math.max(0, n), L: Math.max(1, L) };
}

/** The DTW child: the matrix of the harmonized profiles, computed once into `<runDir>/dtw.npy`. */
export async function runDtwOnce(ctx: StageCtx, harmonized: string, runDir: string, o: { radius: number; normalize: Normalization; workers?: number; queue?: QueueUrl; sharedDir?: string }): Promise<string> {
  const matrixFile = path.join(runDir, 'dtw.npy');
  await runStage(ctx, {
    stage: 'dtw',
    runName: 'dtw',
    params: { radius: radiusParam(o.radius), normalize: o.normalize, dtype: 'float32' },
    inputs: { harmonized },
    outputs: { matrix: { path: matrixFile, artifact: 'dtw/dtw.npy' }, sidecar: { path: `${matrixFile}.json`, artifact: 'dtw/dtw.npy.json' } },
    artifactDir: () => 'dtw',
    run: async (t) => {
      const st = await readProfiles(harmonized);
      // Small matrices travel with the run (reusable from the artifact); big ones stay on disk.
      // With a queue the tiles are computed by `lpclust worker` processes (the same bytes).
      return runDtwStage({ in: harmonized, out: matrixFile, radius: o.radius, normalize: o.normalize, workers: o.workers, logMatrix: st.n <= 4096, ...(o.queue ? { queue: o.queue, sharedDir: o.sharedDir } : {}) }, t);
    },
  });
  return matrixFile;
}

/** Cluster sizes from centres.csv (`cluster,size,...`), or null. */
async function readClusterSizes(file: string): Promise<number[] | null> {
  if (!existsSync(file)) return null;
  const lines = (await fsp.readFile(file, 'utf8')).trim().split('\n').slice(1);
  return lines.map((l) => Number(l.split(',')[1]));
}

/** A short human summary of a pipeline run. */
export function pipelineSummary(r: StageResult<PipelineOutputs>): string {
  const lines = [`pipeline run ${r.runId} → ${r.outputs.outDir}`];
  for (const s of r.outputs.stages) {
    lines.push(`  ${s.stage.padEnd(14)} ${s.skipped ? `skipped (${s.skipped})` : `${s.runId}${s.reusedFrom ? ` (reused ${s.reusedFrom})` : ''}`}`);
  }
  const c = r.outputs.cluster;
  lines.push(`  ${c.k} clusters of ${c.n} profiles, sizes ${c.clusterSizes.join(' ')}; labels ${c.labels}`);
  const show = HEADLINE_SCORES.filter((k) => r.metrics[k] !== undefined);
  lines.push(`  ${show.map((k) => `${k} ${r.metrics[k].toFixed(4)}`).join(', ')}`);
  if (c.plots.length > 0) lines.push(`  plots in ${path.dirname(c.plots[0])}`);
  return lines.join('\n');
}
