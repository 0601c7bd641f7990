/**
 * The sweep (`lpclust sweep`): one parent run, the dataset stages once (ETL + harmonization, or a
 * given harmonized CSV), the DTW matrix once, then a nested clustering run per configuration
 * (model × metric × k × seed) sharing them. Writes `summary.csv` (every metric per configuration),
 * `stability.csv` (label agreement across seeds, adjusted Rand index) and the charts of the metrics
 * against k per model, and names the best configuration by the chosen metric.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { InterruptedError, usageError } from '../errors.js';
import type { Normalization } from '../profiles/normalize.js';
import { writeFileAtomic } from '../io/atomic.js';
import { csvField } from '../io/csv.js';
import { checkInputPath, checkOutputDir, mkdirOutput } from '../io/preflight.js';
import { readProfiles } from '../io/profiles.js';
import type { ClusterSpec, InitName, MetricName, ModelName } from '../cluster/fit.js';
import type { Linkage } from '../cluster/agglomerative.js';
import { adjustedRandIndex } from '../validate/index.js';
import { DEFAULT_MIN_CLUSTER_SHARE, defaultScore, directionOf, HEADLINE_SCORES, ineligibleBecause, isBetter, keySlug, parseSelect } from '../validate/metrics.js';
import { renderMetricVsK } from '../plot/index.js';
import { withRun } from '../tracking/run.js';
import { throwIfInterrupted } from '../util/interrupt.js';
import { log } from '../util/log.js';
import { loadCheckedDtwMatrix, runClusterStage, type SampledShared } from './cluster.js';
import { AssignPool } from '../dtw/assign.js';
import { SampleShare } from '../cluster/sample-share.js';
import { defaultMemoryBudget, planScale, type ScaleChoice, type ScalePlan } from '../cluster/scale.js';
import { DEFAULT_SILHOUETTE_SAMPLE } from '../validate/sampled.js';
import { ClusterPool, sharedCopy, treeKey } from './cluster-pool.js';
import { float64Profiles, type DistanceMatrix } from '../cluster/common.js';
import { affordable, type ClusterData } from './cluster-work.js';
import { normalizeRows } from '../profiles/normalize.js';
import { FULL_MATRIX_MAX_ROWS } from '../cluster/euclidean.js';
import { missingVariant, modelEntry, modelVariant, sampledFloat32, sharesOf, supportsMetric } from '../cluster/registry.js';
import { LPCLUST_VERSION } from './reuse.js';
import { checkSourceInputs, countProfiles, resolveSources, runDatasetStages, runDtwOnce, type PipelineSources, type StageCtx } from './pipeline.js';
import type { StageResult, StageTracking } from './types.js';
import type { QueueUrl } from '../queue/connection.js';
import { DEFAULT_RADIUS, radiusParam } from '../dtw/settings.js';

/** Options of {@link runSweep}. */
export interface SweepOptions {
  models: ModelName[];
  metrics: MetricName[];
  /** Inclusive k range. */
  kRange: readonly [number, number];
  /** Seeds; several give the label stability across seeds (default [0]). */
  seeds?: number[];
  /** Score naming the best configuration (a key of `SCORES`; default `Silhouette DTW` when the DTW matrix exists, else `Silhouette Score`). */
  select?: string;
  /** Eligibility rule: a configuration is ranked only when every cluster holds at least this share of the days (default 0.02; 0 = off). */
  minClusterShare?: number;
  /** A harmonized CSV instead of the sources. */
  in?: string;
  /** Sources (when `in` is not given), as in the pipeline. */
  sources?: PipelineSources;
  meters?: string;
  rules?: string;
  resolution?: number;
  timezone?: string;
  dropZeroDays?: boolean;
  /** Compute the DTW matrix even without a DTW metric (Silhouette DTW for every configuration); default: when a DTW metric or `select: "Silhouette DTW"`. */
  silhouetteDtw?: boolean;
  normalize?: Normalization;
  radius?: number;
  workers?: number;
  nInit?: number;
  linkage?: Linkage;
  init?: InitName;
  /** Reuse the dataset and DTW stages of earlier runs (see the pipeline). */
  reuse?: boolean;
  /**
   * Exact, sampled or auto (default; see cluster/scale.ts), decided once for the whole sweep from the
   * largest n × n need among its models. Sampled: no DTW matrix and no shared Euclidean matrices;
   * configurations run one after the other, each on every worker thread.
   */
  scale?: ScaleChoice;
  /** Bytes the n × n matrices may take (default half the free memory). */
  memoryBudget?: number;
  /** Sampled k-medoids: rows per FasterCLARA sample. */
  sampleSize?: number;
  /** Base output directory; the sweep writes to `<outDir>/<parent run id>/` (default `outputs`). */
  outDir?: string;
  /** Force (true) or forbid (false) serializing the large working arrays; default: from n (see {@link planSharedEuclidean}). Tests use it. */
  serialize?: boolean;
  /** Run the configurations as jobs on this queue (`lpclust worker` processes) instead of local threads. */
  queue?: QueueUrl;
  /** With `queue`: the directory every worker sees; `outDir` (and `in`) must be inside it. */
  sharedDir?: string;
}

/** One configuration's row of the summary. */
export interface SweepRow {
  model: ModelName;
  metric: MetricName;
  k: number;
  seed: number;
  runId: string;
  status: 'FINISHED' | 'FAILED';
  error?: string;
  metrics: Record<string, number>;
  /** Days per cluster (cluster 0 the largest); empty for a FAILED row. */
  sizes: number[];
  /**
   * Why this configuration was not ranked (its own clusters, or another seed's of the same model,
   * metric and k, fail the eligibility rule), or undefined when ranked.
   */
  excluded?: string;
}

/** Label stability of one (model, metric, k) across seeds. */
export interface StabilityRow {
  model: ModelName;
  metric: MetricName;
  k: number;
  seeds: number;
  /** Mean adjusted Rand index over every pair of seeds. */
  meanAri: number;
  minAri: number;
}

/** Outputs of {@link runSweep}. */
export interface SweepOutputs {
  outDir: string;
  harmonized: string;
  dtw?: string;
  rows: SweepRow[];
  stability: StabilityRow[];
  select: string;
  /** Direction of `select`. */
  better: 'higher' | 'lower';
  /** The eligibility rule applied before ranking. */
  minClusterShare: number;
  /** The best eligible (model, metric, k): mean of `select` over seeds; `runId` is its best seed's run. */
  best?: { model: ModelName; metric: MetricName; k: number; value: number; runId: string };
  summaryCsv: string;
  plots: string[];
  /** Whether Euclidean distances were computed once and shared (not on a queue, in sampled mode or past the memory plan). */
  sharedEuclidean: boolean;
  /**
   * Wall seconds by stage: dataset (ETL + harmonization), dtw (the matrix), load (reading and
   * checking it), distances (the shared Euclidean matrices), clustering (all configurations), plots.
   */
  seconds: { dataset: number; dtw: number; load: number; distances: number; clustering: number; plots: number };
}

/** False for the combinations the models do not have (the model registry's variants). */
export { supportsMetric };

function slug(s: string): string {
  return s.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_|_$/g, '');
}

function mean(xs: number[]): number {
  return xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** What {@link planSharedEuclidean} decides. */
export interface SharedEuclideanPlan {
  /** The exact float64 Euclidean matrix for every `Silhouette Score` (up to 12,000 profiles). */
  silhouette: boolean;
  /** k-medoids' Euclidean matrix, once: the exact one above when there is one, else float32. */
  kmedoids: boolean;
  /**
   * Large matrices: at most one agglomerative tree is built at a time (each holds an n(n−1)/2
   * float64 working copy: 1.6 GB at 20,000 profiles), its worker is replaced afterwards so that
   * the copy is freed at once, and k-medoids' float32 matrix is built only once no tree is left to
   * build. Peak memory is then the DTW matrix plus one of these, not all of them at once.
   */
  serialize: boolean;
}

/** From this many bytes of one n² working array (4·n², n ≥ 8,192) the sweep serializes them. */
const SERIALIZE_BYTES = 2 ** 28;

/**
 * Decide which Euclidean matrices the sweep computes once for all configurations, and whether the
 * large working arrays are serialized ({@link SharedEuclideanPlan}).
 *
 * The exact matrix (8·n² bytes) serves every silhouette, and k-medoids too, since up to 12,000
 * profiles k-medoids fits on float64 distances that are the same bits; it is kept only up to
 * 12,000 profiles (1.2 GB) and when it is worth it (two configurations or more). Above, it would be
 * the largest thing in memory (3.2 GB at 20,000) for a saving of seconds: every configuration
 * computes its silhouette from the profiles instead (the same bits as standalone `lpclust
 * cluster`). float64 is kept there because silhouettes must equal scikit-learn's to 1e-12, which
 * float32 distances (7 digits) cannot give. k-medoids' matrix above 12,000 profiles is float32
 * (4·n² bytes), as standalone k-medoids fits on, so labels stay the same. Either is skipped when
 * it does not fit in half the memory available now.
 */
export function planSharedEuclidean(n: number, models: readonly ModelName[], metrics: readonly MetricName[], ks: number, seeds: number): SharedEuclideanPlan {
  const configs = models.reduce((a, m) => a + metrics.filter((d) => supportsMetric(m, d)).length, 0) * ks * seeds;
  // Fits on a shared Euclidean matrix (k-medoids, per the model registry).
  const kmedoidsRuns = models.reduce((a, m) => a + metrics.filter((d) => supportsMetric(m, d) && sharesOf({ model: m, metric: d }) === 'euclidean-matrix').length, 0) * ks * seeds;
  const exactBytes = 8 * n * n;
  const small = n <= FULL_MATRIX_MAX_ROWS;
  const silhouette = configs >= 2 && small && affordable(exactBytes);
  const kmedoids = kmedoidsRuns >= 2 && (silhouette || affordable(small ? exactBytes : 4 * n * n));
  if (configs >= 2 && !silhouette) {
    log.info(
      small
        ? `the ${n} × ${n} Euclidean distances (${(exactBytes / 2 ** 30).toFixed(1)} GiB) do not fit in half the free memory: every configuration computes its silhouette from the profiles`
        : `above ${FULL_MATRIX_MAX_ROWS} profiles every configuration computes its Euclidean silhouette from the profiles (an exact ${n} × ${n} matrix would take ${(exactBytes / 2 ** 30).toFixed(1)} GiB)`,
    );
  }
  return { silhouette, kmedoids, serialize: 4 * n * n >= SERIALIZE_BYTES };
}

/**
 * The sweep's scale: one plan per model × metric it fits (at the top of its k range), exact only
 * when every one of them is; `--scale exact` is refused when any exceeds the budget.
 */
function sweepScale(shape: { n: number; L: number }, o: SweepOptions, wantDtw: boolean, kMax: number): ScalePlan {
  const base = {
    n: shape.n,
    L: shape.L,
    k: kMax,
    wantDtw,
    budget: o.memoryBudget ?? defaultMemoryBudget(),
    budgetIsDefault: o.memoryBudget === undefined,
    ...(o.sampleSize !== undefined ? { sampleSize: o.sampleSize } : {}),
    silhouetteSample: DEFAULT_SILHOUETTE_SAMPLE,
  };
  const pairs = o.models.flatMap((model) => o.metrics.filter((metric) => supportsMetric(model, metric)).map((metric) => ({ model, metric })));
  const choice = o.scale ?? 'auto';
  // Plan the models that can sample first: one whose plan comes last (agglomerative, see the
  // registry's `planLast`) alone decides nothing when others sample.
  const last = (p: { model: ModelName; metric: MetricName }): boolean => modelVariant(p.model, p.metric).sampled.planLast === true;
  const plans = pairs.filter((p) => !last(p) || choice === 'exact').map((p) => planScale({ ...base, ...p, choice }));
  const sampledPlan = plans.find((p) => p.mode === 'sampled');
  if (sampledPlan) return sampledPlan;
  const lastPlans = pairs.filter(last).map((p) => planScale({ ...base, ...p, choice }));
  return lastPlans.find((p) => p.mode === 'sampled') ?? lastPlans[0] ?? plans[0] ?? planScale({ ...base, model: 'kmeans', metric: 'euclidean', choice });
}

/**
 * Run the sweep. Parent params: models, metrics, k_range, seeds, select, in (or sources), normalize,
 * radius; metrics: `configurations`, `failed_configurations`, `best <select>`, `seconds_dataset`,
 * `seconds_dtw`, `seconds_dtw_load`, `seconds_distances`, `seconds_clustering`, `seconds_plots`, `workers`,
 * `mean seed ARI` (with several seeds);
 * tags: `lpclust.best` (`<model> <metric> k=<k>`), `lpclust.child.*` of the shared stages;
 * artifacts: `summary/summary.csv`, `summary/stability.csv`, `plots/<model>_<metric>.svg/.png`, and with
 * several models `plots/all_<select>.svg/.png` (every model × metric on one chart, the best ringed).
 * A configuration that fails is a FAILED child and a FAILED row; the sweep goes on (Ctrl-C stops it).
 */
export async function runSweep(o: SweepOptions, tracking: Omit<StageTracking, 'parentRunId'>): Promise<StageResult<SweepOutputs>> {
  const [k0, k1] = o.kRange;
  if (!Number.isInteger(k0) || !Number.isInteger(k1) || k0 < 2 || k1 < k0) throw usageError('E_USAGE_VALUE', `Expected a k range a..b with 2 ≤ a ≤ b but received ${k0}..${k1}`);
  if (o.models.length === 0 || o.metrics.length === 0) throw usageError('E_USAGE_VALUE', 'Expected at least one model and one metric');
  const seeds = o.seeds && o.seeds.length > 0 ? o.seeds : [0];
  const normalize = o.normalize ?? 'l2';
  const radius = o.radius ?? DEFAULT_RADIUS;
  const selected = o.select !== undefined ? parseSelect(o.select) : undefined;
  const wantDtw = o.metrics.includes('dtw') || selected?.needsDtw === true || (o.silhouetteDtw ?? false);
  // The score and its direction come from the metric registry (validate/metrics.ts).
  const selectDef = selected ?? defaultScore(wantDtw);
  const select = selectDef.key;
  const better = selectDef.better;
  const minClusterShare = o.minClusterShare ?? DEFAULT_MIN_CLUSTER_SHARE;
  if (!(minClusterShare >= 0 && minClusterShare < 1)) throw usageError('E_USAGE_VALUE', `Expected a minimum cluster share 0 ≤ s < 1 but received ${minClusterShare}`);
  // Inputs and the output location are checked before the parent run exists (see pipeline.ts).
  const inFile = o.in === undefined ? undefined : checkInputPath(o.in, '--in');
  const resolved = o.in === undefined ? await resolveSources(o.sources ?? {}, o.timezone ?? 'UTC') : undefined;
  if (resolved) checkSourceInputs(o.sources ?? {});
  const meters = o.meters === undefined || inFile ? o.meters : checkInputPath(o.meters, '--meters');
  const rules = o.rules === undefined || inFile ? o.rules : checkInputPath(o.rules, '--rules');
  const base = checkOutputDir(o.outDir ?? 'outputs', '--out-dir');
  if (o.queue) {
    // The workers read the profiles and the matrix and write the configurations' outputs there.
    const { insideShared } = await import('../queue/sweep.js');
    insideShared(o.sharedDir ?? '.', base, '--out-dir');
    if (inFile) insideShared(o.sharedDir ?? '.', inFile, '--in');
  }
  const runName = `sweep ${o.models.join(',')} ${o.metrics.join(',')} k=${k0}..${k1}`;

  return withRun({ store: tracking.store, experimentName: tracking.experimentName, runName, tags: { ...(tracking.tags ?? {}), 'lpclust.pipeline': 'sweep' } }, async (parent) => {
    const runDir = path.join(base, parent.runId);
    if (existsSync(runDir)) throw usageError('E_OUTPUT_EXISTS', `${runDir} already exists; outputs are never overwritten`);
    await mkdirOutput(runDir, '--out-dir');
    await parent.logParams({
      models: o.models.join(','),
      metrics: o.metrics.join(','),
      k_range: `${k0}..${k1}`,
      seeds: seeds.join(','),
      select,
      min_cluster_share: minClusterShare,
      sources: resolved ? resolved.filter(([, r]) => r).map(([s]) => s).join(',') : undefined,
      normalize,
      radius: radiusParam(radius),
      silhouette_dtw: wantDtw,
      n_init: o.nInit,
      linkage: o.linkage,
      init: o.init,
      out_dir: runDir,
      lpclust_version: LPCLUST_VERSION,
    });
    await parent.setTags({ 'lpclust.out_dir': runDir });
    const ctx: StageCtx = { store: tracking.store, experimentName: tracking.experimentName, parent, reuse: o.reuse ?? false, stages: [] };

    // The shared dataset and DTW matrix.
    let t = performance.now();
    const harmonized =
      o.in !== undefined
        ? inFile!
        : await runDatasetStages(ctx, { resolved: resolved!, meters, rules, resolution: o.resolution ?? 60, timezone: o.timezone ?? 'UTC', dropZeroDays: o.dropZeroDays ?? true }, runDir);
    const secondsDataset = (performance.now() - t) / 1000;
    // The profiles every configuration clusters: the given CSV, or the harmonization stage's output.
    await parent.logParams({ in: harmonized });
    // Exact or sampled, once for the sweep, before the DTW stage would compute an n × n matrix.
    const shape = await countProfiles(harmonized);
    const scalePlan = sweepScale(shape, o, wantDtw, k1);
    log.info(`${shape.n} profiles: ${scalePlan.reason}`);
    const sampled = scalePlan.mode === 'sampled';
    // On a queue, exact configurations are jobs of their own (workers read the shared matrix);
    // sampled ones run here one at a time and send their assignments out as row-range jobs.
    const queuedConfigs = o.queue !== undefined && !sampled;
    await parent.logParams({ scale: scalePlan.mode, ...(o.sampleSize !== undefined ? { sample_size: o.sampleSize } : {}) });
    await parent.setTags({ 'lpclust.scale': scalePlan.mode });
    t = performance.now();
    const dtwFile = wantDtw && !sampled ? await runDtwOnce(ctx, harmonized, runDir, { radius, normalize, workers: o.workers, ...(o.queue ? { queue: o.queue, sharedDir: o.sharedDir ?? '.' } : {}) }) : undefined;
    const secondsDtw = (performance.now() - t) / 1000;
    const table = await readProfiles(harmonized);
    const n = table.n;
    if (k1 >= n) throw usageError('E_USAGE_K', `Expected k < the number of profiles (${n}) but the range goes to ${k1}`);
    // The matrix is read and checked once here (1.6 GB at 20,000 profiles), not by every
    // configuration, onto shared memory that every worker thread reads.
    t = performance.now();
    const preloaded = dtwFile ? { matrix: (await loadCheckedDtwMatrix(table, harmonized, dtwFile, radius, normalize, { shared: true })).data, path: dtwFile } : undefined;
    const secondsLoad = (performance.now() - t) / 1000;
    if (preloaded) log.info(`DTW matrix ${dtwFile} loaded and checked once in ${secondsLoad.toFixed(1)} s`);

    // The configurations, and skipped model × metric pairs.
    const configs: Array<{ model: ModelName; metric: MetricName; k: number; seed: number; cfg: string }> = [];
    for (const model of o.models) {
      for (const metric of o.metrics) {
        if (!supportsMetric(model, metric)) {
          log.warn(`${missingVariant(model, metric)}: skipped`);
          await parent.setTags({ [`lpclust.skipped.${model}_${metric}`]: missingVariant(model, metric) });
          continue;
        }
        for (let k = k0; k <= k1; k++) for (const seed of seeds) configs.push({ model, metric, k, seed, cfg: `${model}_${metric}_k${k}_s${seed}` });
      }
    }

    const rows: SweepRow[] = new Array(configs.length);
    const labels: Array<Int32Array | undefined> = new Array(configs.length);
    let secondsDistances = 0;
    let sharedEuclidean = false;
    // Threads of this process running configurations (none on a queue: the workers' are their own).
    let poolSize = 0;
    if (queuedConfigs) {
      // On the queue: one job per configuration, run by `lpclust worker` processes as nested runs.
      const { runConfigsOnQueue, labelsOf } = await import('../queue/sweep.js');
      t = performance.now();
      let done = 0;
      await runConfigsOnQueue(configs, {
        queue: o.queue!,
        sharedDir: o.sharedDir ?? '.',
        in: harmonized,
        ...(dtwFile ? { dtw: dtwFile } : {}),
        runDir,
        experimentId: parent.experimentId,
        parentRunId: parent.runId,
        radius,
        normalize,
        nInit: o.nInit,
        linkage: o.linkage,
        init: o.init,
        onDone: (i, r) => {
          const { model, metric, k, seed, cfg } = configs[i];
          rows[i] = { model, metric, k, seed, runId: r.runId, status: r.status, ...(r.error !== undefined ? { error: r.error } : {}), metrics: r.metrics, sizes: r.sizes };
          labels[i] = labelsOf(r);
          done++;
          log.info(`sweep ${done}/${configs.length}: ${cfg}${r.status === 'FAILED' ? ' FAILED' : ` ${select} ${r.metrics[select]?.toFixed(4) ?? 'n/a'}`}`);
        },
      });
    } else {
    // Worker threads run the configurations side by side on one shared copy of the data.
    // Sampled: one configuration at a time, each scoring medoids on every worker thread.
    poolSize = sampled ? 1 : Math.max(1, Math.min(o.workers ?? availableParallelism(), configs.length));
    const pool = new ClusterPool(poolSize);
    let sampledShared: SampledShared | undefined;
    try {
      // The Euclidean distances every silhouette (and Euclidean k-medoids) reads, once.
      t = performance.now();
      // Sampled: float32 profiles when every configuration's model has a sampled fit of its own
      // (registry.ts, sampledFloat32); each configuration's run normalises its rows alike.
      const float32 = sampled && sampledFloat32(configs);
      const rowName = (i: number) => `meter ${table.ids[i]} on ${table.dates[i]} (${harmonized}, row ${i + 1})`;
      const X = float32 ? normalizeRows(table.values, table.length, normalize, rowName, { shared: true, float32 }) : sharedCopy(normalizeRows(table.values, table.length, normalize, rowName));
      // Sampled: one assignment pool (worker threads over this copy of the profiles) and one first
      // sample per seed, with its matrix, for every configuration.
      // With --queue the one pool is the queue's: the profiles go to the shared directory once.
      if (sampled) {
        const assigner = o.queue
          ? await (await import('../queue/assign.js')).QueueAssigner.open({ queue: o.queue, sharedDir: o.sharedDir ?? '.', X, L: table.length })
          : new AssignPool(X, table.length, o.workers ?? availableParallelism());
        sampledShared = { key: `${harmonized} ${normalize}`, pool: assigner, share: new SampleShare({ data: X, n, dim: table.length }) };
      }
      const plan = sampled ? { silhouette: false, kmedoids: false, serialize: false } : { ...planSharedEuclidean(n, o.models, o.metrics, k1 - k0 + 1, seeds.length), ...(o.serialize !== undefined ? { serialize: o.serialize } : {}) };
      const euclidean = plan.silhouette ? await pool.euclideanDistances(float64Profiles(X), table.length) : undefined;
      // k-medoids' matrix: now, or (serialized) when the first Euclidean k-medoids run starts.
      let kmedoidsMatrix: Promise<DistanceMatrix> | undefined;
      const kmedoidsEuclidean = (): Promise<DistanceMatrix> => (kmedoidsMatrix ??= pool.kmedoidsMatrix(float64Profiles(X), table.length, euclidean));
      if (plan.kmedoids && !plan.serialize) await kmedoidsEuclidean();
      secondsDistances = (performance.now() - t) / 1000;
      sharedEuclidean = plan.silhouette || (plan.kmedoids && !plan.serialize);
      if (sharedEuclidean) log.info(`Euclidean distances of ${n} profiles computed once for every configuration in ${secondsDistances.toFixed(1)} s`);
      // The executor runs exact-mode configurations only (sampled ones fit through sampledShared).
      const data = (): ClusterData => ({ X: float64Profiles(X), n, L: table.length, ...(preloaded ? { dtw: { n, data: preloaded.matrix } } : {}), ...(euclidean ? { euclidean } : {}) });
      const isEuclideanKmedoids = (c: { model: ModelName; metric: MetricName }): boolean => sharesOf(c) === 'euclidean-matrix';
      const buildsTree = (c: { model: ModelName; metric: MetricName }): boolean => sharesOf(c) === 'linkage-tree';
      const executor = {
        key: `${harmonized} ${normalize}`,
        run: async (spec: ClusterSpec) => pool.fit(plan.kmedoids && isEuclideanKmedoids(spec) ? { ...data(), kmedoidsEuclidean: await kmedoidsEuclidean() } : data(), spec, { retire: plan.serialize }),
      };

      // One nested clustering run per configuration, as many at once as there are workers, the
      // longest first by the registry's cost classes: the runs that build an agglomerative tree,
      // then k-medoids, then the rest, and last the agglomerative runs that only cut a tree built
      // by then (a run waiting for a tree would hold a worker idle). The summary keeps the
      // configurations' order.
      const cost = (i: number): number => {
        const c = configs[i];
        const e = modelEntry(c.model);
        if (e.costShared !== undefined && buildsTree(c)) return configs.findIndex((d) => d.model === c.model && d.metric === c.metric) === i ? e.cost : e.costShared;
        return e.cost;
      };
      const order = configs.map((_, i) => i).sort((a, b) => cost(b) - cost(a) || a - b);
      t = performance.now();
      let next = 0;
      let done = 0;
      const runOne = async (i: number): Promise<void> => {
        const { model, metric, k, seed, cfg } = configs[i];
        const tags = { 'lpclust.stage': 'clustering', 'lpclust.sweep.config': cfg };
        try {
          const res = await runClusterStage(
            { in: harmonized, model, metric, k, dtw: dtwFile, radius, seed, normalize, nInit: o.nInit, linkage: o.linkage, init: o.init, outDir: path.join(runDir, 'configs', cfg), workers: o.workers, plots: false, ...(preloaded ? { preloaded } : {}), ...(sampled ? { scale: 'sampled' as const, ...(o.queue ? { queue: o.queue, sharedDir: o.sharedDir ?? '.' } : {}), ...(o.memoryBudget !== undefined ? { memoryBudget: o.memoryBudget } : {}), sampleSize: scalePlan.sampleSize, ...(sampledShared ? { sampledShared } : {}) } : { executor }) },
            { store: ctx.store, experimentName: ctx.experimentName, parentRunId: parent.runId, tags },
          );
          rows[i] = { model, metric, k, seed, runId: res.runId, status: 'FINISHED', metrics: res.metrics, sizes: res.outputs.clusterSizes };
          labels[i] = res.outputs.fit.labels;
        } catch (e) {
          if (e instanceof InterruptedError) throw e;
          const run = (await ctx.store.searchRuns({ experimentIds: [parent.experimentId], tags: { 'mlflow.parentRunId': parent.runId, 'lpclust.sweep.config': cfg }, maxResults: 1 }))[0];
          log.warn(`${cfg}: ${(e as Error).message}`);
          rows[i] = { model, metric, k, seed, runId: run?.info.runId ?? '', status: 'FAILED', error: (e as Error).message, metrics: {}, sizes: [] };
        }
        done++;
        log.info(`sweep ${done}/${configs.length}: ${cfg}${rows[i].status === 'FAILED' ? ' FAILED' : ` ${select} ${rows[i].metrics[select]?.toFixed(4) ?? 'n/a'}`}`);
      };
      // Serialized (large matrices): a tree build only when no other runs, a cut only once its
      // tree is built (a lane waiting for a tree would sit idle), Euclidean k-medoids only once no
      // tree is left to build; a lane with nothing allowed waits for a run to end.
      const started = new Array<boolean>(configs.length).fill(false);
      const trees = new Map<string, 'building' | 'built'>();
      let building = 0;
      let wake = (): void => {};
      let ended = new Promise<void>((r) => (wake = r));
      const allowed = (i: number): boolean => {
        if (!plan.serialize) return true;
        const c = configs[i];
        if (buildsTree(c)) {
          const state = trees.get(treeKey({ metric: c.metric, linkage: o.linkage }));
          return state === 'built' || (state === undefined && building === 0);
        }
        if (isEuclideanKmedoids(c)) return building === 0 && !configs.some((d, j) => !started[j] && buildsTree(d) && trees.get(treeKey({ metric: d.metric, linkage: o.linkage })) !== 'built');
        return true;
      };
      const pick = (): number => {
        for (let j = next; j < order.length; j++) {
          const i = order[j];
          if (started[i] || !allowed(i)) continue;
          started[i] = true;
          if (j === next) while (next < order.length && started[order[next]]) next++;
          return i;
        }
        return next < order.length ? -2 : -1;
      };
      const lanes = Array.from({ length: pool.size }, async () => {
        for (;;) {
          throwIfInterrupted();
          const i = pick();
          if (i === -1) return;
          if (i === -2) {
            await ended;
            continue;
          }
          const c = configs[i];
          const key = treeKey({ metric: c.metric, linkage: o.linkage });
          const builds = plan.serialize && buildsTree(c) && trees.get(key) === undefined;
          if (builds) {
            trees.set(key, 'building');
            building++;
          }
          try {
            await runOne(i);
          } finally {
            if (builds) {
              building--;
              if (rows[i]?.status === 'FINISHED') trees.set(key, 'built');
              else trees.delete(key);
            }
            const w = wake;
            ended = new Promise<void>((r) => (wake = r));
            w();
          }
        }
      });
      // Every lane ends (an interrupted one marks its run KILLED) before the first error is raised.
      const settled = await Promise.allSettled(lanes);
      const failure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failure) throw failure.reason;
      if (sampledShared) log.info(`sampled configurations: one assignment pool${o.queue ? ' (the queue)' : ''}; ${sampledShared.share.computed} first-sample matrices computed, ${sampledShared.share.reused} times reused (one sample of ${scalePlan.sampleSize} profiles per seed and metric, the largest k's size)`);
    } finally {
      await pool.close();
      await sampledShared?.pool.close();
    }
    }
    const labelsOf = new Map<string, Int32Array[]>();
    configs.forEach((c, i) => {
      const l = labels[i];
      if (!l) return;
      const key = `${c.model} ${c.metric} ${c.k}`;
      labelsOf.set(key, [...(labelsOf.get(key) ?? []), l]);
    });
    const secondsClustering = (performance.now() - t) / 1000;

    // Stability across seeds.
    const stability: StabilityRow[] = [];
    if (seeds.length > 1) {
      for (const [key, list] of labelsOf) {
        if (list.length < 2) continue;
        const aris: number[] = [];
        for (let i = 0; i < list.length; i++) for (let j = i + 1; j < list.length; j++) aris.push(adjustedRandIndex(list[i], list[j]));
        const [model, metric, k] = key.split(' ');
        stability.push({ model: model as ModelName, metric: metric as MetricName, k: Number(k), seeds: list.length, meanAri: mean(aris), minAri: Math.min(...aris) });
      }
    }

    // Best configuration: the eligibility rule first (every seed's clustering must pass it), then
    // the mean over seeds of the select score, in its direction.
    const rule = { minClusterShare };
    const groups = new Map<string, { model: ModelName; metric: MetricName; k: number; rows: SweepRow[]; excluded?: string }>();
    for (const r of rows) {
      if (r.status !== 'FINISHED') continue;
      const key = `${r.model} ${r.metric} ${r.k}`;
      const g = groups.get(key) ?? { model: r.model, metric: r.metric, k: r.k, rows: [] };
      g.rows.push(r);
      groups.set(key, g);
      const why = ineligibleBecause(r.sizes, rule);
      if (why && !g.excluded) g.excluded = seeds.length > 1 ? `seed ${r.seed}: ${why}` : why;
    }
    let best: SweepOutputs['best'];
    for (const g of groups.values()) {
      for (const r of g.rows) if (g.excluded) r.excluded = g.excluded;
      const values = g.rows.map((r) => r.metrics[select]).filter((v): v is number => v !== undefined && Number.isFinite(v));
      if (g.excluded || values.length === 0) continue;
      const v = mean(values);
      if (!best || isBetter(v, best.value, better)) {
        // The run a user opens: the seed whose own value is the best of the group.
        const top = g.rows.reduce((a, b) => (isBetter(b.metrics[select], a.metrics[select], better) ? b : a));
        best = { model: g.model, metric: g.metric, k: g.k, value: v, runId: top.runId };
      }
    }
    const excludedCount = rows.filter((r) => r.excluded).length;
    if (excludedCount > 0) log.info(`${excludedCount} of ${rows.length} configurations not ranked: a cluster holds less than ${(100 * minClusterShare).toFixed(1)} % of the days (--min-cluster-share)`);
    if (!best) log.warn(groups.size === 0 ? `no configuration finished; no best configuration named` : `no eligible configuration has the score "${select}"; no best configuration named (lower --min-cluster-share to rank the excluded ones)`);

    // Summary CSV and stability CSV.
    const metricNames = [...new Set(rows.flatMap((r) => Object.keys(r.metrics)))].sort();
    let csv = ['model', 'metric', 'k', 'seed', 'run_id', 'status', 'eligible', 'excluded_because', 'best', ...metricNames, 'error'].map(csvField).join(',') + '\n';
    for (const r of rows) {
      const isBest = best !== undefined && r.status === 'FINISHED' && r.model === best.model && r.metric === best.metric && r.k === best.k;
      const eligible = r.status === 'FINISHED' ? (r.excluded ? 'false' : 'true') : '';
      csv += [r.model, r.metric, String(r.k), String(r.seed), r.runId, r.status, eligible, r.excluded ?? '', isBest ? 'true' : '', ...metricNames.map((m) => (r.metrics[m] === undefined ? '' : String(r.metrics[m]))), r.error ?? ''].map(csvField).join(',') + '\n';
    }
    const summaryCsv = path.join(runDir, 'summary.csv');
    await writeFileAtomic(summaryCsv, csv);
    await parent.logArtifact(summaryCsv, 'summary');
    if (stability.length > 0) {
      let s = 'model,metric,k,seeds,mean_ari,min_ari\n';
      for (const r of stability) s += `${r.model},${r.metric},${r.k},${r.seeds},${r.meanAri},${r.minAri}\n`;
      const f = path.join(runDir, 'stability.csv');
      await writeFileAtomic(f, s);
      await parent.logArtifact(f, 'summary');
    }

    // Charts: per model, each key metric against k, one line per distance (mean over seeds).
    t = performance.now();
    const plots: string[] = [];
    const chartMetrics = [...new Set([select, ...HEADLINE_SCORES])].filter((m) => metricNames.includes(m));
    const plotDir = path.join(runDir, 'plots');
    for (const model of o.models) {
      for (const m of chartMetrics) {
        const series = o.metrics.filter((metric) => supportsMetric(model, metric)).map((metric) => ({
          name: `${model} ${metric}`,
          points: Array.from({ length: k1 - k0 + 1 }, (_, i) => k0 + i).map((k) => ({ k, value: mean(rows.filter((r) => r.model === model && r.metric === metric && r.k === k && r.metrics[m] !== undefined).map((r) => r.metrics[m])) })),
        }));
        if (series.every((s) => s.points.every((p) => !Number.isFinite(p.value)))) continue;
        const bestHere = best && best.model === model && m === select ? { series: `${model} ${best.metric}`, k: best.k } : undefined;
        const r = await renderMetricVsK({ metric: m, series, title: `${model}: ${m} against k${seeds.length > 1 ? ` (mean of ${seeds.length} seeds)` : ''}`, ...(directionOf(m) ? { better: directionOf(m) } : {}), ...(bestHere ? { best: bestHere } : {}) }, { outDir: plotDir, basename: `${model}_${slug(m)}` });
        for (const f of [r.svg, r.png]) if (f) plots.push(f);
      }
      if (stability.length > 0) {
        const series = o.metrics.filter((metric) => supportsMetric(model, metric)).map((metric) => ({ name: `${model} ${metric}`, points: stability.filter((s) => s.model === model && s.metric === metric).map((s) => ({ k: s.k, value: s.meanAri })) }));
        const r = await renderMetricVsK({ metric: 'Adjusted Rand index across seeds', series, title: `${model}: label stability across seeds` }, { outDir: plotDir, basename: `${model}_seed_ARI` });
        for (const f of [r.svg, r.png]) if (f) plots.push(f);
      }
    }
    // The overview: the select metric of every model × metric on one chart, the best one ringed.
    if (metricNames.includes(select) && o.models.length > 1) {
      const series = o.models.flatMap((model) =>
        o.metrics.filter((metric) => supportsMetric(model, metric)).map((metric) => ({
          name: `${model} ${metric}`,
          points: Array.from({ length: k1 - k0 + 1 }, (_, i) => k0 + i).map((k) => ({ k, value: mean(rows.filter((r) => r.model === model && r.metric === metric && r.k === k && r.metrics[select] !== undefined).map((r) => r.metrics[select])) })),
        })),
      );
      if (series.some((s) => s.points.some((p) => Number.isFinite(p.value)))) {
        const r = await renderMetricVsK(
          { metric: select, series, title: `every configuration: ${select} against k${seeds.length > 1 ? ` (mean of ${seeds.length} seeds)` : ''}`, better, ...(best ? { best: { series: `${best.model} ${best.metric}`, k: best.k } } : {}) },
          { outDir: plotDir, basename: `all_${slug(select)}` },
        );
        for (const f of [r.svg, r.png]) if (f) plots.push(f);
      }
    }
    for (const f of plots) await parent.logArtifact(f, 'plots');
    const secondsPlots = (performance.now() - t) / 1000;

    const failed = rows.filter((r) => r.status === 'FAILED').length;
    const metrics: Record<string, number> = {
      'sweep/configurations': rows.length,
      'sweep/failed': failed,
      'sweep/excluded': excludedCount,
      ...(queuedConfigs ? {} : { 'sweep/workers': poolSize }),
      'seconds/dataset': secondsDataset,
      'seconds/dtw': secondsDtw,
      'seconds/dtw_load': secondsLoad,
      'seconds/distances': secondsDistances,
      'seconds/clustering': secondsClustering,
      'seconds/plots': secondsPlots,
      // The process's peak resident memory so far (the shared matrices, the workers' working arrays).
      peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    };
    // `best/<score>` also names the score (the best's other scores are on its run).
    if (best) metrics[`best/${keySlug(select)}`] = best.value;
    if (stability.length > 0) metrics['stability/mean_seed_ari'] = mean(stability.map((s) => s.meanAri));
    await parent.logMetrics(metrics);
    if (best) await parent.setTags({ 'lpclust.best': `${best.model} ${best.metric} k=${best.k}`, 'lpclust.best_run_id': best.runId });
    return {
      runId: parent.runId,
      metrics,
      outputs: {
        outDir: runDir,
        harmonized,
        ...(dtwFile ? { dtw: dtwFile } : {}),
        rows,
        stability,
        select,
        better,
        minClusterShare,
        ...(best ? { best } : {}),
        summaryCsv,
        plots,
        sharedEuclidean,
        seconds: { dataset: secondsDataset, dtw: secondsDtw, load: secondsLoad, distances: secondsDistances, clustering: secondsClustering, plots: secondsPlots },
      },
    };
  });
}

/**
 * The summary table for stdout: one line per configuration with the select score first, the key
 * scores, the smallest cluster's share, the run, and a note (the best, why a configuration was not
 * ranked, or its error); then how the best was chosen, the stability and the timings.
 */
export function sweepSummary(r: StageResult<SweepOutputs>): string {
  const o = r.outputs;
  const cols = [...new Set([o.select, ...HEADLINE_SCORES])].filter((c) => o.rows.some((x) => x.metrics[c] !== undefined));
  const header = ['model', 'metric', 'k', 'seed', ...cols, 'min share', 'run', 'note'];
  const isBest = (x: SweepRow): boolean => o.best !== undefined && x.status === 'FINISHED' && x.model === o.best.model && x.metric === o.best.metric && x.k === o.best.k;
  const body = o.rows.map((x) => {
    const total = x.sizes.reduce((a, b) => a + b, 0);
    const share = total > 0 ? `${((100 * Math.min(...x.sizes)) / total).toFixed(1)} %` : '';
    const note = x.status === 'FAILED' ? `FAILED: ${x.error ?? ''}` : isBest(x) ? `BEST${x.runId === o.best!.runId ? '' : ' (seed mean)'}` : x.excluded ? `not ranked: ${x.excluded}` : '';
    return [x.model, x.metric, String(x.k), String(x.seed), ...cols.map((c) => (x.metrics[c] === undefined ? '' : x.metrics[c].toFixed(4))), share, x.runId.slice(0, 8), note];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const last = header.length - 1;
  const line = (cells: string[]): string => cells.map((c, i) => (i < 4 || i >= last - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  const lines = [`sweep run ${r.runId} → ${o.outDir}`, line(header), ...body.map(line)];
  const share = `${(100 * o.minClusterShare).toFixed(1).replace(/\.0$/, '')} %`;
  const excluded = o.rows.filter((x) => x.excluded).length;
  const rule = o.minClusterShare > 0 ? `among the configurations whose every cluster holds ≥ ${share} of the days (${excluded} of ${o.rows.length} not ranked; --min-cluster-share)` : 'among every configuration (--min-cluster-share 0)';
  const seedsNote = o.rows.some((x) => x.seed !== o.rows[0].seed) ? ', mean over seeds' : '';
  if (o.best) lines.push(`best by ${o.select} (${o.better} is better) ${rule}: ${o.best.model} ${o.best.metric} k=${o.best.k} (${o.best.value.toFixed(4)}${seedsNote}), run ${o.best.runId}`);
  else lines.push(`no best configuration: none is eligible with a finite ${o.select} ${rule}`);
  if (o.stability.length > 0) {
    const worst = [...o.stability].sort((a, b) => a.meanAri - b.meanAri)[0];
    lines.push(`label stability across seeds (adjusted Rand index): mean ${r.metrics['stability/mean_seed_ari'].toFixed(3)}; least stable ${worst.model} ${worst.metric} k=${worst.k} (${worst.meanAri.toFixed(3)})`);
  }
  const s = o.seconds;
  lines.push(
    `time: dataset ${s.dataset.toFixed(1)} s, ${o.dtw ? `DTW matrix ${s.dtw.toFixed(1)} s + read ${s.load.toFixed(1)} s (once)` : 'no DTW matrix'}, ${o.sharedEuclidean ? `Euclidean distances ${s.distances.toFixed(1)} s (once)` : 'no shared Euclidean distance matrix'}, ` +
      `clustering ${s.clustering.toFixed(1)} s (${o.rows.length} configurations ${r.metrics['sweep/workers'] === undefined ? 'on the queue' : `on ${r.metrics['sweep/workers']} worker${r.metrics['sweep/workers'] === 1 ? '' : 's'}`}), plots ${s.plots.toFixed(1)} s`,
  );
  lines.push(`summary ${o.summaryCsv}; charts in ${path.join(o.outDir, 'plots')}`);
  return lines.join('\n');
}
