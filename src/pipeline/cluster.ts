/**
 * The tracked clustering stage (`lpclust cluster`): reads the profiles, normalises them, gets the
 * DTW matrix when the metric is DTW (a given `--dtw` matrix after checking it belongs to these
 * profiles, else computed once into the output directory), fits the model (or chooses k by
 * silhouette), writes labels.csv / centres.csv (and medoids.csv, linkage.npy) to the output
 * directory, computes the validation metrics of the labels and logs everything in one MLflow run
 * named like `kmeans dtw k=12`.
 */
import { existsSync } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { inputError, usageError } from '../errors.js';
import { normalizeRows, type Normalization } from '../profiles/normalize.js';
import { writeFileAtomic } from '../io/atomic.js';
import { csvField } from '../io/csv.js';
import { writeLabels } from '../io/labels.js';
import { encodeNpyHeader } from '../io/npy.js';
import { formatNumber, readProfiles, type ProfileTable } from '../io/profiles.js';
import { assertMatrixMatches, computeDtwMatrix, loadDtwMatrix, sidecarPathFor } from '../dtw/matrix.js';
import { withRun, type ActiveRun } from '../tracking/run.js';
import { datasetName, logProfilesInput } from './datasets.js';
import { checkInputPath, checkOutputDir, mkdirOutput } from '../io/preflight.js';
import { log } from '../util/log.js';
import { Progress } from '../util/progress.js';
import { computeValidation, euclideanDistanceMatrix, type ValidationResult } from '../validate/index.js';
import { affordable, fitWork, validateWork, type ClusterWorkResult } from './cluster-work.js';
import { silhouetteOnThreads } from './cluster-pool.js';
import { availableParallelism } from 'node:os';
import { chooseK, DEFAULT_K_RANGE, type KScore } from '../cluster/choosek.js';
import { chooseKCurveKey, chooseKScoreKey, clusterSizeMetrics, DEFAULT_MIN_CLUSTER_SHARE, defaultScore, directionOf, parseSelect, SCORE_KEYS } from '../validate/metrics.js';
import type { ClusterFit, ClusterSpec, InitName, MetricName, ModelName } from '../cluster/fit.js';
import { checkDistanceMatrix, float64Profiles, type DistanceMatrix, type RowValues, type Rows } from '../cluster/common.js';
import { sampledFloat32 } from '../cluster/registry.js';
import type { Linkage } from '../cluster/agglomerative.js';
import type { KMedoidsMethod } from '../cluster/kmedoids.js';
import { groupThousands, renderClusterPlots, renderMetricVsK } from '../plot/index.js';
import type { StageResult, StageTracking } from './types.js';
import { logModel } from '../model/resolve.js';
import { planScale, defaultMemoryBudget, formatBytes, type ScaleChoice, type ScalePlan } from '../cluster/scale.js';
import { DEFAULT_SILHOUETTE_SAMPLE } from '../validate/sampled.js';
import { simplifiedSilhouette } from '../validate/sampled.js';
import { fitSampled } from '../cluster/fit-sampled.js';
import { SampleShare } from '../cluster/sample-share.js';
import { AssignPool } from '../dtw/assign.js';
import type { Assigner } from '../dtw/assigner.js';
import type { QueueUrl } from '../queue/connection.js';
import { dtwToMany } from '../dtw/index.js';
import { DEFAULT_RADIUS, radiusParam } from '../dtw/settings.js';

/** Options of {@link runClusterStage}. */
export interface ClusterStageOptions {
  /** Harmonized profiles CSV. */
  in: string;
  model: ModelName;
  metric: MetricName;
  /** Number of clusters; 0 chooses k over `kRange` (by `select`, among the k passing `minClusterShare`). */
  k: number;
  /** k range of `k = 0`; default `DEFAULT_K_RANGE` (cluster/k-range.ts). */
  kRange?: readonly [number, number];
  /**
   * With k = 0: the score ranking the k (a key of `SCORES` in validate/metrics.ts); default the
   * silhouette of the metric (`Silhouette DTW` with DTW, else `Silhouette Score`).
   */
  select?: string;
  /** With k = 0: every cluster must hold at least this share of the days for its k to be ranked (default 0.02; 0 = off). */
  minClusterShare?: number;
  /** Existing DTW matrix `.npy` of the same profiles (checked against its sidecar). */
  dtw?: string;
  /** Sakoe–Chiba radius of DTW (matrix and DBA); default 1. */
  radius?: number;
  linkage?: Linkage;
  init?: InitName;
  /** k-medoids swap method; default fasterpam. */
  kmedoidsMethod?: KMedoidsMethod;
  nInit?: number;
  maxIter?: number;
  seed?: number;
  /** Row normalisation before clustering; default l2 (the old pipeline's). */
  normalize?: Normalization;
  /** IANA zone of the input's dates and slot labels, when known (the pipeline's --timezone): recorded in the model for `lpclust assign`. */
  timezone?: string;
  /** The output directory itself (the pipeline and the sweep name it); wins over `outBase`. */
  outDir?: string;
  /**
   * Base directory under which the run writes to `<outBase>/<run id>/` (what `cluster --out-dir`
   * means, as for `pipeline` and `sweep`); default `lpclust-out/cluster`. Ignored with `outDir`.
   */
  outBase?: string;
  /** Worker threads for the DTW matrix (when it must be computed) and the Euclidean silhouette (default: all cores). */
  workers?: number;
  /** Render the plots into `<outDir>/plots/` and log them as artifacts `plots/` (default true). */
  plots?: boolean;
  /**
   * The DTW matrix (n × n) already loaded from `path` and checked against these profiles and this
   * normalisation by {@link loadCheckedDtwMatrix} (the sweep loads it once for every configuration);
   * used instead of reading `dtw` again. `dtw` must then be `path` or unset.
   */
  preloaded?: { matrix: Float32Array | Float64Array; path: string };
  /**
   * Runs the fit and validation instead of this thread (the sweep's worker pool, holding these same
   * profiles under this normalisation and the same DTW matrix; `key` must be
   * `<absolute path of in> <normalize>`). Ignored with k = 0.
   */
  executor?: ClusterExecutor;
  /**
   * Exact (n × n matrices), sampled (nothing n × n: FasterCLARA k-medoids, silhouettes on a
   * stratified sample) or auto (default: exact while the matrices fit `memoryBudget` and n ≤ 100,000).
   * See cluster/scale.ts.
   */
  scale?: ScaleChoice;
  /** Bytes the run's large arrays may take (default: half the free memory). */
  memoryBudget?: number;
  /** Sampled k-medoids: rows per FasterCLARA sample (default 80 + 4k, raised to 2,000 when it fits). */
  sampleSize?: number;
  /** Sampled mode: rows of the stratified silhouette sample (default 4,000). */
  silhouetteSampleSize?: number;
  /**
   * Sampled mode: the assignment pool and sample share the sweep holds for every configuration (its
   * worker threads and one copy of these profiles under this normalisation, `key` as for
   * `executor`), used instead of a pool of this run's own.
   */
  sampledShared?: SampledShared;
  /**
   * Why `scale` is what it is, when a caller decided it (the pipeline plans before its DTW stage
   * and passes the mode): logged instead of this stage's own reason, which would say it was asked for.
   */
  scaleReason?: string;
  /**
   * Sampled mode: score candidate medoids and assign the rows through jobs on this queue, split by
   * row ranges, taken by `lpclust worker` processes (queue/assign.ts) instead of this machine's
   * threads; exact mode: the DTW matrix this run computes goes out as tile jobs (queue/dtw.ts).
   * Results are the same either way.
   */
  queue?: QueueUrl;
  /** With `queue`: a directory this machine and every worker see (default the working directory). */
  sharedDir?: string;
  /** With `queue`: rows per assignment job (default 32,768; does not change any result). */
  queueRows?: number;
}

/** What a sweep's sampled configurations share (see {@link ClusterStageOptions.sampledShared}). */
export interface SampledShared {
  /** `<absolute path of the profiles CSV> <normalisation>`. */
  key: string;
  pool: Assigner;
  share: SampleShare;
}

/** Where a configuration's fit and validation run (see {@link ClusterStageOptions.executor}). */
export interface ClusterExecutor {
  /** The dataset it holds: `<absolute path of the profiles CSV> <normalisation>`. */
  key: string;
  run(spec: ClusterSpec): Promise<ClusterWorkResult>;
}

/** Outputs of {@link runClusterStage}. */
export interface ClusterStageOutputs {
  outDir: string;
  labelsFile: string;
  centresFile: string;
  /** medoids.csv (DTW models). */
  medoidsFile?: string;
  /** linkage.npy (agglomerative). */
  linkageFile?: string;
  /** The DTW matrix used (given or computed). */
  dtwFile?: string;
  n: number;
  k: number;
  clusterSizes: number[];
  /** Every k tried when k was chosen: the criterion's value, the cluster sizes, and why a k was not ranked. */
  kScores?: KScore[];
  /** The criterion that chose k (with k = 0). */
  kCriterion?: string;
  /** The plot files written (empty with `plots: false`). */
  plots: string[];
  fit: ClusterFit;
}

/** Refuse data on which k clusters cannot be formed: fewer than k distinct profiles. */
function checkDistinct(X: RowValues, n: number, L: number, k: number, file: string): void {
  const seen = new Set<string>();
  for (let i = 0; i < n && seen.size < k; i++) seen.add(Array.prototype.join.call(X.subarray(i * L, i * L + L), ','));
  if (seen.size < k) {
    throw inputError('E_INPUT_CONSTANT', `${file} has only ${seen.size} distinct normalised profile(s); ${k} clusters cannot be formed`, {
      hint: 'lower -k, or check the data (constant or duplicated profiles)',
      where: { file },
    });
  }
}

/** centres.csv: `cluster,size,<slots>` one row per cluster. */
function centresCsv(table: ProfileTable, fit: ClusterFit): string {
  const L = table.length;
  let s = `cluster,size,${table.slots.map(csvField).join(',')}\n`;
  for (let c = 0; c < fit.k; c++) {
    const row: string[] = [];
    for (let t = 0; t < L; t++) row.push(formatNumber(fit.centres[c * L + t]));
    s += `${c},${fit.sizes[c]},${row.join(',')}\n`;
  }
  return s;
}

/** medoids.csv: `cluster,size,id,date,<slots>` — the medoid profile (normalised) of each cluster under DTW. */
function medoidsCsv(table: ProfileTable, X: RowValues, fit: ClusterFit): string {
  const L = table.length;
  let s = `cluster,size,id,date,${table.slots.map(csvField).join(',')}\n`;
  for (let c = 0; c < fit.k; c++) {
    const m = fit.medoidRows![c];
    const row: string[] = [];
    for (let t = 0; t < L; t++) row.push(formatNumber(X[m * L + t]));
    s += `${c},${fit.sizes[c]},${csvField(table.ids[m])},${table.dates[m]},${row.join(',')}\n`;
  }
  return s;
}

/** The linkage matrix as a float64 (n−1) × 4 `.npy` (SciPy's format; `np.load` gives Z). */
function linkageNpy(Z: Float64Array): Uint8Array {
  const header = encodeNpyHeader('float64', [Z.length / 4, 4]);
  const out = new Uint8Array(header.length + Z.byteLength);
  out.set(header, 0);
  out.set(new Uint8Array(Z.buffer, Z.byteOffset, Z.byteLength), header.length);
  return out;
}

/**
 * Load a DTW matrix `.npy` for the profiles `table` of `inFile`: checks it against its sidecar (same
 * profiles, radius) and the normalisation asked for, and refuses NaN or negative cells.
 * @returns the n × n matrix as stored (float32 or float64, row-major)
 */
export async function loadCheckedDtwMatrix(table: ProfileTable, inFile: string, dtwFile: string, radius: number, normalize: Normalization, options: { shared?: boolean } = {}): Promise<DistanceMatrix> {
  const sidecar = await assertMatrixMatches(table.values, table.length, dtwFile, { inputFile: inFile, radius, ids: table.ids, dates: table.dates });
  if (sidecar.normalization !== normalize) {
    throw inputError('E_DTW_MATRIX_STALE', `the DTW matrix ${dtwFile} was computed on ${sidecar.normalization}-normalised profiles but --normalize ${normalize} was asked for`, {
      hint: `use --normalize ${sidecar.normalization}, or rebuild it: lpclust dtw --in ${inFile} --out ${dtwFile} --normalize ${normalize} --force`,
      where: { file: dtwFile },
    });
  }
  return loadUnchecked(dtwFile, table.n, inFile, options.shared ?? false);
}

/** Read the matrix and refuse NaN or negative cells (they would silently derail every model). */
async function loadUnchecked(dtwFile: string, n: number, inFile: string, shared = false): Promise<DistanceMatrix> {
  const m = await loadDtwMatrix(dtwFile, undefined, { shared });
  const D = { n: m.n, data: m.data };
  try {
    checkDistanceMatrix(D, n);
  } catch (e) {
    throw inputError('E_DTW_MATRIX_VALUE', `${dtwFile}: ${(e as Error).message}`, { hint: `rebuild it: lpclust dtw --in ${inFile} --out ${dtwFile} --force`, where: { file: dtwFile } });
  }
  return D;
}

/**
 * Run the tracked clustering stage.
 * Params: in, model, metric, k (chosen k with k = 0), k_selection and min_cluster_share (k = 0),
 * normalize, n, L, dtw, radius and the model's hyper-parameters. Metrics (keys: validate/metrics.ts):
 * the validation scores by their logged names, `cluster_size/<c>`, `cluster_share/min|max`, the
 * model's `fit/…` numbers, `seconds/fit`, `model/predict_agreement`, and with k = 0 the curve
 * `choose_k/<score>_by_k` (step = k) with `choose_k/k`, `choose_k/<score>` and `choose_k/eligible_k`.
 * The model: with an MLflow 2 store the tag `mlflow.log-model.history` (as MLflow 2 records a
 * logged model); with an MLflow 3 store (SQLite at 3.x's revision, a 3.x server) a logged model
 * (`m-…`) linked to the run as its output, whose id is in `MLmodel`. Artifacts: `cluster/labels.csv`, `cluster/centres.csv`, `cluster/medoids.csv`,
 * `cluster/linkage.npy`, `cluster/dtw-sidecar.json`, `validation/metrics.json`, and the plots `plots/clusterCenters.png`
 * (+ `_hires.png`, `.svg`), `plots/clusterPie.*`, `plots/silhouette.*` (and `plots/metricVsK.*` with k = 0).
 */
export async function runClusterStage(o: ClusterStageOptions, tracking: StageTracking): Promise<StageResult<ClusterStageOutputs>> {
  const normalize = o.normalize ?? 'l2';
  const radius = o.radius ?? DEFAULT_RADIUS;
  const seed = o.seed ?? 0;
  if (o.k !== 0 && (!Number.isInteger(o.k) || o.k < 2)) throw usageError('E_USAGE_K', `Expected an integer k ≥ 2 (or 0 to choose k) for \`-k\` but received \`${o.k}\``);
  const runName = `${o.model} ${o.metric} k=${o.k === 0 ? 'auto' : o.k}`;
  // Stage progress on a terminal (not for the sweep's many concurrent configurations).
  const steps = o.executor ? undefined : new Progress({ label: 'cluster', total: 4, unit: 'steps' });
  // Inputs and the output location are checked before the run exists: a mistyped path or a
  // malformed profiles file is a usage mistake, not a FAILED run (and leaves no empty folder).
  const prepare = async () => {
    const inFile = checkInputPath(o.in, '--in');
    if (o.dtw !== undefined && !o.preloaded) checkInputPath(o.dtw, '--dtw');
    const base = o.outDir ?? o.outBase;
    checkOutputDir(base ?? path.join('lpclust-out', 'cluster'), base !== undefined ? '--out-dir' : '--out-dir (default lpclust-out/cluster/<run id>)');
    if (o.queue) checkOutputDir(o.sharedDir ?? '.', '--shared-dir');
    steps?.update(0, `reading ${o.in}`);
    const table = await readProfiles(o.in);
    const { n, length: L } = table;
    if (n === 0) throw inputError('E_INPUT_EMPTY', `${o.in} has no profiles to cluster`, { where: { file: o.in } });
    // k = n is a legal partition but has no validation metrics (silhouette needs k ≤ n − 1).
    if (o.k >= n) throw usageError('E_USAGE_K', `Expected k < the number of profiles in ${o.in} (${n}) but received k = ${o.k}`);
    // Exact or sampled, decided before anything n × n is read or allocated.
    const plan = planScale({
      n,
      L,
      model: o.model,
      metric: o.metric,
      k: o.k === 0 ? (o.kRange ?? DEFAULT_K_RANGE)[1] : o.k,
      wantDtw: o.metric === 'dtw' || o.dtw !== undefined || o.preloaded !== undefined,
      choice: o.scale ?? 'auto',
      budget: o.memoryBudget ?? defaultMemoryBudget(),
      budgetIsDefault: o.memoryBudget === undefined,
      ...(o.sampleSize !== undefined ? { sampleSize: o.sampleSize } : {}),
      silhouetteSample: o.silhouetteSampleSize ?? DEFAULT_SILHOUETTE_SAMPLE,
    });
    // Sampled mode keeps one copy of the profiles: normalised straight onto shared memory, which the
    // assignment workers read in place, and the raw values dropped but for the first row (the
    // model's input example). That copy is float32 (10⁶ × 24 rows: 96 MB, against 192 MB as float64)
    // for the DTW models with a sampled fit of their own, as the sweep's shared pool holds it when there
    // is one (registry.ts, sampledFloat32).
    const sampled = plan.mode === 'sampled';
    const float32 = sampled && (o.sampledShared ? o.sampledShared.pool.dtype === 'float32' : sampledFloat32([{ model: o.model, metric: o.metric }]));
    const X = normalizeRows(table.values, L, normalize, (i) => `meter ${table.ids[i]} on ${table.dates[i]} (${o.in}, row ${i + 1})`, { shared: sampled, float32 });
    checkDistinct(X, n, L, o.k === 0 ? (o.kRange ?? DEFAULT_K_RANGE)[0] : o.k, o.in);
    if (sampled) table.values = table.values.slice(0, L);
    // A given matrix is checked against these profiles (and loaded) before the run too; sampled mode reads none.
    const given = o.dtw !== undefined && !o.preloaded && plan.mode === 'exact' ? await loadCheckedDtwMatrix(table, o.in, o.dtw, radius, normalize) : undefined;
    return { inFile, table, n, L, X, given, plan };
  };
  let prepared: Awaited<ReturnType<typeof prepare>>;
  try {
    prepared = await prepare();
  } catch (e) {
    steps?.abandon();
    throw e;
  }
  const { inFile, table, n, L, X, given, plan } = prepared;
  if (!o.executor || plan.mode === 'sampled') log.info(`${n} profiles: ${o.scaleReason ?? plan.reason}`);
  steps?.update(1, `fitting ${o.model} ${o.metric} on ${n} profiles`);
  return withRun(
    { store: tracking.store, experimentName: tracking.experimentName, runName, parentRunId: tracking.parentRunId, tags: tracking.tags },
    async (run) => {
      const outDir = path.resolve(o.outDir ?? path.join(o.outBase ?? path.join('lpclust-out', 'cluster'), run.runId));
      const created = await mkdirOutput(outDir, '--out-dir');
      try {
        return await clusterInRun(run, outDir);
      } catch (e) {
        // Nothing named as output survives a failure: a folder this run made goes with it.
        if (created) await fsp.rm(outDir, { recursive: true, force: true }).catch(() => undefined);
        throw e;
      }
    },
  ).finally(() => steps?.abandon());

  /** This machine's assignment threads, or the job queue's workers with `queue`. */
  async function openAssigner(X: RowValues, L: number): Promise<Assigner> {
    if (!o.queue) return new AssignPool(X, L, o.workers ?? availableParallelism());
    const { QueueAssigner } = await import('../queue/assign.js');
    return QueueAssigner.open({ queue: o.queue, sharedDir: o.sharedDir ?? '.', X, L, ...(o.queueRows !== undefined ? { rowsPerJob: o.queueRows } : {}) });
  }

  /** The tile source of a DTW matrix computed by the queue's workers (as `lpclust dtw --queue`). */
  async function queuedTiles(X: RowValues, L: number) {
    const { queueTileSource, TileKernels } = await import('../queue/dtw.js');
    const kernels = new TileKernels();
    const tileSource = queueTileSource({ queue: o.queue!, sharedDir: o.sharedDir ?? '.', values: float64Profiles(X), length: L, radius, dtype: 'float32', tileSize: 1024, normalization: normalize, kernel: 'auto', layout: 'full', kernels });
    return { tileSource, kernelInfo: () => kernels.get() };
  }

  /** `Simplified Silhouette DTW` of a DTW fit: each day against its own and the nearest other centre. */
  async function addSimplifiedDtw(rows: Rows<RowValues>, fit: ClusterFit, validation: ValidationResult, pool: Assigner): Promise<void> {
    if (fit.params.metric !== 'dtw') return;
    const a = await pool.assign(fit.centres, radius, { second: true });
    const own = new Float64Array(rows.n);
    const other = new Float64Array(rows.n);
    for (let i = 0; i < rows.n; i++) {
      if (a.n1[i] === fit.labels[i]) {
        own[i] = a.d1[i];
        other[i] = a.d2![i];
      } else {
        // A day not at its nearest centre (DBA's last update moved the centres, or a sample member
        // keeping its tree's cluster): measure its own.
        own[i] = dtwToMany(rows.data.subarray(i * rows.dim, (i + 1) * rows.dim), fit.centres.subarray(fit.labels[i] * rows.dim, (fit.labels[i] + 1) * rows.dim), rows.dim, radius)[0];
        other[i] = a.d1[i];
      }
    }
    validation.metrics[SCORE_KEYS.simplifiedSilhouetteDtw] = simplifiedSilhouette(own, other);
  }

  /** Fit and validate without any n × n matrix (see cluster/scale.ts). */
  async function sampledWork(rows: Rows<RowValues>, spec: ClusterSpec, plan: ScalePlan): Promise<ClusterWorkResult> {
    const shared = sharedFor(rows);
    const pool = shared?.pool ?? (await openAssigner(rows.data, rows.dim));
    try {
      const t0 = performance.now();
      const fit = await fitSampled(rows, spec, pool, { sampleSize: plan.sampleSize, ...(shared ? { share: shared.share } : {}) });
      const seconds = (performance.now() - t0) / 1000;
      const validation = computeValidation({
        X: rows.data,
        L: rows.dim,
        labels: fit.labels,
        k: fit.k,
        centres: fit.centres,
        sampled: { size: plan.silhouetteSampleSize, seed, ...(spec.metric === 'dtw' ? { dtwRadius: radius } : {}) },
      });
      await addSimplifiedDtw(rows, fit, validation, pool);
      return { fit, seconds, validation };
    } finally {
      if (!shared) await pool.close();
    }
  }

  /** The sweep's shared pool and samples, after checking they hold these profiles (rows: a share over a copy of the same values). */
  function sharedFor(rows: Rows<RowValues>): { pool: Assigner; share: SampleShare } | undefined {
    const sh = o.sampledShared;
    if (!sh) return undefined;
    const key = `${path.resolve(o.in)} ${normalize}`;
    if (sh.key !== key) throw new RangeError(`Expected shared sampled resources for ${key} but they hold ${sh.key}`);
    if (sh.pool.n !== rows.n || sh.pool.L !== rows.dim) throw new RangeError(`Expected a shared pool of ${rows.n} × ${rows.dim} profiles but it holds ${sh.pool.n} × ${sh.pool.L}`);
    return { pool: sh.pool, share: sh.share };
  }

  async function clusterInRun(run: ActiveRun, outDir: string): Promise<StageResult<ClusterStageOutputs>> {
      // What goes to the queue: sampled mode's assignments, or the DTW matrix this run computes.
      const queued = o.queue !== undefined && (plan.mode === 'sampled' || (o.metric === 'dtw' && o.dtw === undefined && !o.preloaded));
      if (o.queue && !queued) log.warn(`--queue: nothing of this run goes to the queue (exact mode, ${o.metric === 'dtw' ? 'with the given DTW matrix' : 'no DTW matrix to compute'}); it runs here`);
      await run.logParams({ in: inFile, model: o.model, metric: o.metric, normalize, n, L, out_dir: outDir, scale: plan.mode, ...(queued ? { queue: o.queue!.masked } : {}), ...(o.memoryBudget !== undefined ? { memory_budget: formatBytes(o.memoryBudget) } : {}) });
      // The default budget (half the free memory) changes from run to run: only a given one is a param.
      await run.setTags({ 'lpclust.scale': plan.mode });
      await logProfilesInput(run, datasetName(inFile), inFile, table, 'training');

      // The DTW matrix: checked if given, else computed once here and reused by every step.
      let D: DistanceMatrix | undefined;
      let dtwFile: string | undefined;
      // With --metric euclidean a given matrix is still checked and used for `Silhouette DTW`.
      if (o.preloaded) {
        if (o.dtw !== undefined && path.resolve(o.dtw) !== path.resolve(o.preloaded.path)) throw new RangeError(`Expected the preloaded matrix to be ${o.dtw} but it is ${o.preloaded.path}`);
        if (o.preloaded.matrix.length !== n * n) throw new RangeError(`Expected a preloaded ${n} × ${n} matrix but received ${o.preloaded.matrix.length} cells`);
        dtwFile = o.preloaded.path;
        D = { n, data: o.preloaded.matrix };
        await run.logParams({ dtw: path.resolve(dtwFile), radius: radiusParam(radius) });
        await run.logArtifact(sidecarPathFor(dtwFile), 'cluster');
      } else if (plan.mode === 'sampled') {
        // DTW is computed on demand against medoids, centres and samples; no matrix is read or written.
        if (o.dtw !== undefined) log.warn(`--dtw ${o.dtw} is not read in sampled mode (it would need ${formatBytes(4 * n * n)} of memory); DTW distances are computed as needed`);
        if (o.metric === 'dtw') await run.logParams({ radius: radiusParam(radius) });
      } else if (o.metric === 'dtw' || o.dtw !== undefined) {
        if (o.dtw !== undefined) {
          dtwFile = o.dtw;
          D = given!;
        } else {
          dtwFile = path.join(outDir, 'dtw.npy');
          log.info(`computing the DTW matrix of ${n} profiles (radius ${radius}) into ${dtwFile}; pass it with --dtw next time`);
          // With --queue the tiles are computed by the workers (the same bytes as here).
          const queued = o.queue ? await queuedTiles(X, L) : {};
          await computeDtwMatrix({ values: float64Profiles(X), length: L, out: dtwFile, radius, normalization: normalize, ids: table.ids, dates: table.dates, ...(o.workers ? { workers: o.workers } : {}), ...queued });
          D = await loadUnchecked(dtwFile, n, o.in);
        }
        await run.logParams({ dtw: path.resolve(dtwFile), radius: radiusParam(radius) });
        await run.logArtifact(sidecarPathFor(dtwFile), 'cluster');
      }

      const spec: Omit<ClusterSpec, 'k'> = {
        model: o.model,
        metric: o.metric,
        seed,
        radius,
        ...(o.linkage ? { linkage: o.linkage } : {}),
        ...(o.init ? { init: o.init } : {}),
        ...(o.kmedoidsMethod ? { kmedoidsMethod: o.kmedoidsMethod } : {}),
        ...(o.nInit !== undefined ? { nInit: o.nInit } : {}),
        ...(o.maxIter !== undefined ? { maxIter: o.maxIter } : {}),
      };
      const rows = { data: X, n, dim: L };
      let work: ClusterWorkResult;
      let kScores: KScore[] | undefined;
      let kCriterion: string | undefined;
      const chooseMetrics: Record<string, number> = {};
      if (o.k === 0) {
        const range = o.kRange ?? DEFAULT_K_RANGE;
        const minClusterShare = o.minClusterShare ?? DEFAULT_MIN_CLUSTER_SHARE;
        const t0 = performance.now();
        // The Euclidean silhouette of every k reads one distance matrix when memory allows.
        const sampled = plan.mode === 'sampled';
        const shared = sampled ? sharedFor(rows) : undefined;
        const pool = sampled ? (shared?.pool ?? (await openAssigner(X, L))) : undefined;
        // One first sample (one sample size: the largest k's, see cluster/scale.ts) and its matrix for every k.
        const share = sampled ? (shared?.share ?? new SampleShare(rows)) : undefined;
        try {
          const euclidean = !sampled && range[1] > range[0] && affordable(8 * n * n) && (o.metric === 'euclidean' || (o.select !== undefined && o.select !== SCORE_KEYS.silhouetteDtw)) ? euclideanDistanceMatrix(float64Profiles(X), L) : undefined;
          const validationOf = (fit: ClusterFit) =>
            sampled
              ? computeValidation({ X, L, labels: fit.labels, k: fit.k, centres: fit.centres, sampled: { size: plan.silhouetteSampleSize, seed, ...(o.metric === 'dtw' ? { dtwRadius: radius } : {}) } })
              : computeValidation({ X, L, labels: fit.labels, k: fit.k, centres: fit.centres, ...(D ? { dtw: { matrix: D.data } } : {}), ...(euclidean ? { euclidean: { matrix: euclidean } } : {}) });
          let select: { key: string; better: 'higher' | 'lower'; score: (fit: ClusterFit) => number } | undefined;
          if (o.select !== undefined) {
            const def = parseSelect(o.select);
            if (def.needsDtw && !D && !sampled) throw usageError('E_USAGE_VALUE', `\`--select ${def.key}\` needs the DTW matrix: use --metric dtw, or --silhouette-dtw (pipeline) / --dtw dtw.npy (cluster)`);
            // A fit statistic is the model's own; a validation score is computed as the run logs it.
            const score = def.key.startsWith('fit/')
              ? (fit: ClusterFit) => fit.stats[def.key] ?? NaN
              : (fit: ClusterFit) => (validationOf(fit).metrics as unknown as Record<string, number>)[def.key] ?? NaN;
            select = { key: def.key, better: def.better, score };
          } else if (sampled) {
            // Without a matrix the metric's silhouette is the sampled estimate the run logs.
            const key = defaultScore(o.metric === 'dtw').key;
            select = { key, better: 'higher', score: (fit: ClusterFit) => (validationOf(fit).metrics as unknown as Record<string, number>)[key] ?? NaN };
          }
          const what = (key: string) => key === SCORE_KEYS.silhouetteDtw ? 'DTW silhouette' : key === SCORE_KEYS.silhouette ? 'Euclidean silhouette' : key;
          const res = await chooseK(
            rows,
            spec,
            range,
            D,
            async (s) => {
              const crit = select?.key ?? defaultScore(o.metric === 'dtw').key;
              log.info(`k = ${s.k}: ${what(crit)} ${s.value.toFixed(4)}${s.excluded ? ` — not ranked: ${s.excluded}` : ''}`);
              await run.logMetric(chooseKCurveKey(crit), s.value, s.k);
            },
            { ...(euclidean ? { euclidean } : {}), ...(select ? { select } : {}), minClusterShare, ...(pool ? { fit: (s: ClusterSpec) => fitSampled(rows, s, pool, { sampleSize: plan.sampleSize, ...(share ? { share } : {}) }) } : {}) },
          );
          const seconds = (performance.now() - t0) / 1000;
          const fit = res.fit;
          work = { fit, seconds, validation: validationOf(fit) };
          if (pool) await addSimplifiedDtw(rows, fit, work.validation, pool);
          kScores = res.scores;
          kCriterion = res.criterion;
          const eligible = res.scores.filter((s) => !s.excluded).length;
          chooseMetrics['choose_k/k'] = res.k;
          chooseMetrics[chooseKScoreKey(res.criterion)] = res.scores.find((s) => s.k === res.k)!.value;
          chooseMetrics['choose_k/eligible_k'] = eligible;
          const left = res.scores.length - eligible;
          if (left > 0) log.info(`${left} of ${res.scores.length} k not ranked: a cluster held less than ${(100 * minClusterShare).toFixed(1)} % of the days (--min-cluster-share)`);
          await run.logParams({
            k: res.k,
            k_selection: `${res.better === 'lower' ? 'min' : 'max'} ${res.criterion} over k = ${range[0]}..${range[1]} among the k whose every cluster holds ≥ ${(100 * minClusterShare).toFixed(1)} % of the days`,
            min_cluster_share: minClusterShare,
          });
          await run.setTags({ 'mlflow.runName': `${o.model} ${o.metric} k=${res.k}` });
        } finally {
          if (!shared) await pool?.close();
        }
      } else if (plan.mode === 'sampled') {
        work = await sampledWork(rows, { ...spec, k: o.k }, plan);
        await run.logParams({ k: o.k, silhouette_sample_size: plan.silhouetteSampleSize });
      } else if (o.executor) {
        const key = `${path.resolve(o.in)} ${normalize}`;
        if (o.executor.key !== key) throw new RangeError(`Expected an executor holding ${key} but it holds ${o.executor.key}`);
        work = await o.executor.run({ ...spec, k: o.k });
        await run.logParams({ k: o.k });
      } else {
        const data = { X: float64Profiles(X), n, L, ...(D ? { dtw: D } : {}) };
        const { fit, seconds } = fitWork(data, { ...spec, k: o.k });
        // The Euclidean silhouette is the validation's O(n²) part: on worker threads for large n.
        const silhouette = await silhouetteOnThreads(data.X, L, fit.labels, fit.k, o.workers ?? availableParallelism());
        work = { fit, seconds, validation: validateWork(data, fit, silhouette) };
        await run.logParams({ k: o.k });
      }
      const { fit, seconds, validation } = work;
      log.info(`${o.model} ${o.metric}: ${fit.k} clusters of ${n} profiles in ${seconds.toFixed(2)} s`);
      const { k: _k, ...hyper } = fit.params;
      // A fit holds the radius as a number (Infinity: full DTW); MLflow gets the param form.
      if (typeof hyper.radius === 'number') hyper.radius = radiusParam(hyper.radius);
      await run.logParams({ ...hyper, centres: fit.centresAreMeans ? 'cluster means' : 'model centres' });

      // Outputs.
      const labelsFile = path.join(outDir, 'labels.csv');
      const centresFile = path.join(outDir, 'centres.csv');
      steps?.update(2, 'writing outputs and the model');
      await writeLabels(labelsFile, table.ids, table.dates, fit.labels);
      await writeFileAtomic(centresFile, centresCsv(table, fit));
      const outputs: ClusterStageOutputs = { outDir, labelsFile, centresFile, n, k: fit.k, clusterSizes: Array.from(fit.sizes), fit, plots: [] };
      if (kScores) {
        outputs.kScores = kScores;
        outputs.kCriterion = kCriterion;
      }
      if (dtwFile) outputs.dtwFile = dtwFile;
      if (fit.medoidRows) {
        outputs.medoidsFile = path.join(outDir, 'medoids.csv');
        await writeFileAtomic(outputs.medoidsFile, medoidsCsv(table, X, fit));
      }
      if (fit.linkageMatrix) {
        outputs.linkageFile = path.join(outDir, 'linkage.npy');
        await writeFileAtomic(outputs.linkageFile, linkageNpy(fit.linkageMatrix));
      }
      for (const f of [labelsFile, centresFile, outputs.medoidsFile, outputs.linkageFile]) if (f && existsSync(f)) await run.logArtifact(f, 'cluster');
      // The model artifact (model/MLmodel + lpclust-model.json) that `lpclust predict` and `serve` load.
      const model = await logModel(run, path.join(outDir, 'model'), { fit, slots: table.slots, X, ids: table.ids, dates: table.dates, normalization: normalize, radius, example: table.values.slice(0, table.length), ...(D ? { matrixPrecision: D.data instanceof Float32Array ? ('float32' as const) : ('float64' as const) } : plan.mode === 'sampled' ? { matrixPrecision: 'float64' as const } : {}) }, o.timezone === undefined ? {} : { timezone: o.timezone });

      steps?.update(3, 'validation metrics and plots');
      // Validation (computed with the fit): the same code as `lpclust validate`, against the centres the model reports.
      const metrics: Record<string, number> = {
        ...(validation.metrics as unknown as Record<string, number>),
        ...clusterSizeMetrics(fit.sizes),
        ...fit.stats,
        'seconds/fit': seconds,
        'model/predict_agreement': model.training.predict_agreement,
        ...chooseMetrics,
      };
      // model/predict_agreement was logged with the model.
      const { 'model/predict_agreement': _logged, ...toLog } = metrics;
      await run.logMetrics(toLog);
      await run.logJson({ metrics, clusterSizes: outputs.clusterSizes, ...(kScores ? { kCriterion, kScores } : {}) }, 'validation/metrics.json');
      if (o.plots ?? true) {
        // Silhouettes by the clustering's own distance; the same cluster colours in every chart.
        const byDtw = o.metric === 'dtw' && validation.silhouetteDtwSamples !== undefined;
        const plotDir = path.join(outDir, 'plots');
        const sample = validation.silhouetteSample;
        const files = (
          await renderClusterPlots(
            {
              X,
              L,
              labels: fit.labels,
              centres: fit.centres,
              k: fit.k,
              slots: table.slots,
              silhouettes: byDtw ? validation.silhouetteDtwSamples : validation.silhouetteSamples,
              silhouetteDistance: byDtw ? 'DTW' : 'Euclidean',
              ...(sample ? { silhouetteLabels: sample.labels, silhouetteTitle: `Silhouette per day: stratified sample of ${groupThousands(sample.rows.length)} of ${groupThousands(sample.n)} days` } : {}),
            },
            plotDir,
          )
        ).files;
        if (kScores && kCriterion) {
          const series = `${o.model} ${o.metric}`;
          const r = await renderMetricVsK(
            { metric: kCriterion, series: [{ name: series, points: kScores.map((x) => ({ k: x.k, value: x.value })) }], best: { series, k: fit.k }, better: directionOf(kCriterion) ?? 'higher' },
            { outDir: plotDir, basename: 'metricVsK' },
          );
          for (const f of [r.svg, r.png]) if (f) files.push(f);
        }
        for (const f of files) await run.logArtifact(f, 'plots');
        outputs.plots = files;
      }
      steps?.done();
      return { runId: run.runId, metrics, outputs };
  }
}
