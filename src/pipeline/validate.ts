/**
 * The tracked validation stage (`lpclust validate`): reads the profiles and a labels CSV (and the
 * DTW matrix of the same rows), checks that they belong together, computes every validation
 * metric and logs them in an MLflow run named `validation`.
 */
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { inputError } from '../errors.js';
import { normalizeRows, type Normalization } from '../profiles/normalize.js';
import { checkInputPath } from '../io/preflight.js';
import { assertLabelsMatch, readCentres, readLabels } from '../io/labels.js';
import { assertMatrixMatches, loadDtwMatrix } from '../dtw/matrix.js';
import { dtwSettingsFromJson, dtwSettingsParams } from '../dtw/settings.js';
import { readProfiles, formatNumber } from '../io/profiles.js';
import { csvField } from '../io/csv.js';
import { withRun } from '../tracking/run.js';
import { datasetName, logProfilesInput } from './datasets.js';
import { log } from '../util/log.js';
import { computeValidation, PROMINENCE_THRESHOLD, type ValidationResult } from '../validate/index.js';
import { clusterSizeMetrics } from '../validate/metrics.js';
import type { StageResult, StageTracking } from './types.js';
import { silhouetteOnThreads } from './cluster-pool.js';
import { defaultMemoryBudget, planScale, type ScaleChoice } from '../cluster/scale.js';
import { DEFAULT_SILHOUETTE_SAMPLE } from '../validate/sampled.js';

/** Options of {@link runValidateStage}. */
export interface ValidateStageOptions {
  /** Harmonized (or clean) profiles CSV. */
  in: string;
  /** Labels CSV `id,date,cluster` of exactly the rows of `in`, in order. */
  labels: string;
  /**
   * Centres CSV of the model (`centres.csv` of `lpclust cluster`): inertia, peak scores and
   * distinctiveness then use the model's centres, as `cluster` did; default: per-cluster means.
   */
  centres?: string;
  /** DTW matrix `.npy` (n × n) of the same rows: adds `Silhouette DTW`. */
  dtw?: string;
  /** Row normalisation before the metrics; default `l2` (the old pipeline's). */
  normalize?: Normalization;
  /** Prominence threshold of prominent peaks; default 0.2. */
  minProminence?: number;
  /** Worker threads for the Euclidean silhouette (default: all cores; one below 5,000 profiles). */
  workers?: number;
  /** MLflow run name; default `validation`. */
  runName?: string;
  /**
   * Exact, sampled or auto (default; cluster/scale.ts). Sampled: silhouettes on a seeded stratified
   * sample (with `…_sample_size` and `…_ci95`), `Silhouette DTW` from DTW computed on that sample
   * with the matrix's radius (the matrix itself is not loaded), plus the exact simplified silhouette.
   */
  scale?: ScaleChoice;
  /** Bytes the n × n matrices may take (default half the free memory). */
  memoryBudget?: number;
}

/** Outputs of {@link runValidateStage}. */
export interface ValidateStageOutputs {
  /** Number of profiles. */
  n: number;
  /** Number of cluster ids (largest label + 1). */
  k: number;
  /** Size of every cluster 0..k-1. */
  clusterSizes: number[];
  /** The full result (per-profile silhouettes included). */
  validation: ValidationResult;
}

/**
 * Run the tracked validation stage.
 * Params: `in`, `labels`, `centres`, `dtw`, `normalize`, `n`, `L`, `k`, `min_prominence` (and `dtw_radius`,
 * `dtw_normalization`, `dtw_dtype` from the matrix's sidecar).
 * Metrics: every metric of {@link computeValidation} by its logged name, `cluster_size/<c>` (days
 * in cluster c) and `cluster_share/min|max` (validate/metrics.ts). Artifacts: `validation/metrics.json`, `validation/silhouette.csv`
 * (`id,date,cluster,silhouette[,silhouette_dtw]`, for silhouette plots).
 */
export async function runValidateStage(o: ValidateStageOptions, tracking: StageTracking): Promise<StageResult<ValidateStageOutputs>> {
  const normalize = o.normalize ?? 'l2';
  const minProminence = o.minProminence ?? PROMINENCE_THRESHOLD;
  // Paths checked, profiles and labels read and matched before the run exists: a usage mistake
  // must not leave a FAILED run. Params hold the absolute paths.
  const abs = {
    in: checkInputPath(o.in, '--in'),
    labels: checkInputPath(o.labels, '--labels'),
    centres: o.centres === undefined ? '' : checkInputPath(o.centres, '--centres'),
    dtw: o.dtw === undefined ? '' : checkInputPath(o.dtw, '--dtw'),
  };
  const table = await readProfiles(o.in);
  if (table.n === 0) throw inputError('E_INPUT_EMPTY', `${o.in} has no profiles to validate`, { where: { file: o.in } });
  const labels = await readLabels(o.labels);
  assertLabelsMatch(table, labels, { data: o.in, labels: o.labels });
  const plan = planScale({
    n: table.n,
    L: table.length,
    model: 'kmeans',
    metric: 'euclidean',
    k: labels.k,
    wantDtw: o.dtw !== undefined,
    choice: o.scale ?? 'auto',
    budget: o.memoryBudget ?? defaultMemoryBudget(),
    budgetIsDefault: o.memoryBudget === undefined,
    silhouetteSample: DEFAULT_SILHOUETTE_SAMPLE,
  });
  const sampled = plan.mode === 'sampled';
  if (sampled) log.info(`${table.n} profiles: ${plan.reason}`);
  return withRun(
    { store: tracking.store, experimentName: tracking.experimentName, runName: o.runName ?? 'validation', parentRunId: tracking.parentRunId, tags: tracking.tags },
    async (run) => {
      await logProfilesInput(run, datasetName(abs.in), abs.in, table, 'validation');
      const L = table.length;
      const X = normalizeRows(table.values, L, normalize, (i) => `meter ${table.ids[i]} on ${table.dates[i]} (${o.in}, row ${i + 1})`);
      let k = labels.k;
      let centres: Float64Array | undefined;
      if (o.centres !== undefined) {
        const ct = await readCentres(o.centres);
        if (ct.slots.join(',') !== table.slots.join(',')) {
          throw inputError('E_CENTRES_MISMATCH', `${o.centres} has slot columns ${ct.slots.length} (${ct.slots[0]}..) but ${o.in} has ${L} (${table.slots[0]}..)`, {
            where: { file: o.centres },
          });
        }
        if (ct.k < labels.k) {
          throw inputError('E_CENTRES_MISMATCH', `${o.labels} uses cluster ${labels.k - 1} but ${o.centres} has only ${ct.k} centres`, { where: { file: o.centres } });
        }
        const counts = new Int32Array(ct.k);
        for (const c of labels.labels) counts[c]++;
        for (let c = 0; c < ct.k; c++) {
          if (counts[c] !== ct.sizes[c]) {
            throw inputError('E_CENTRES_MISMATCH', `${o.centres} gives cluster ${c} ${ct.sizes[c]} members but ${o.labels} has ${counts[c]}`, {
              hint: 'give the centres.csv written together with these labels',
              where: { file: o.centres },
            });
          }
        }
        k = ct.k;
        centres = ct.centres;
      }
      await run.logParams({ in: abs.in, labels: abs.labels, centres: abs.centres, dtw: abs.dtw, normalize, n: table.n, L, k, min_prominence: minProminence, scale: plan.mode });
      await run.setTags({ 'lpclust.scale': plan.mode });
      let dtwRadius: number | undefined;
      let matrix: Float32Array | Float64Array | undefined;
      if (o.dtw !== undefined) {
        // The sidecar ties the matrix to these exact rows and values; a stale or foreign matrix
        // is refused with the command that rebuilds it.
        const sidecar = await assertMatrixMatches(table.values, L, o.dtw, { inputFile: o.in, ids: table.ids, dates: table.dates });
        if (sidecar.normalization !== normalize) {
          log.warn(`${o.dtw} was computed on ${sidecar.normalization}-normalised profiles; the other metrics use --normalize ${normalize}`);
        }
        const settings = dtwSettingsFromJson(sidecar);
        await run.logParams(dtwSettingsParams(settings, 'dtw_'));
        if (sampled) dtwRadius = settings.radius;
        else matrix = (await loadDtwMatrix(o.dtw)).data;
      }
      const t0 = performance.now();
      const result = sampled
        ? computeValidation({ X, L, labels: labels.labels, k, minProminence, ...(centres ? { centres } : {}), sampled: { size: plan.silhouetteSampleSize, seed: 0, ...(dtwRadius !== undefined ? { dtwRadius } : {}) } })
        : computeValidation({ X, L, labels: labels.labels, k, minProminence, silhouette: await silhouetteOnThreads(X, L, labels.labels, k, o.workers ?? availableParallelism()), ...(centres ? { centres } : {}), ...(matrix ? { dtw: { matrix } } : {}) });
      log.info(`validation of ${table.n} profiles in ${k} clusters took ${((performance.now() - t0) / 1000).toFixed(2)} s`);
      const metrics: Record<string, number> = { ...(result.metrics as unknown as Record<string, number>), ...clusterSizeMetrics(result.clusterSizes) };
      await run.logMetrics(metrics);
      await run.logJson({ metrics, clusterSizes: result.clusterSizes }, 'validation/metrics.json');
      // Sampled mode: the rows of the silhouette sample only (the file has one row per day it scores).
      let csv = `id,date,cluster,silhouette${result.silhouetteDtwSamples ? ',silhouette_dtw' : ''}\n`;
      const scored = result.silhouetteSample?.rows;
      const count = scored ? scored.length : table.n;
      for (let t = 0; t < count; t++) {
        const i = scored ? scored[t] : t;
        csv += `${csvField(table.ids[i])},${table.dates[i]},${labels.labels[i]},${formatNumber(result.silhouetteSamples[t])}`;
        csv += result.silhouetteDtwSamples ? `,${formatNumber(result.silhouetteDtwSamples[t])}\n` : '\n';
      }
      await run.logText(csv, 'validation/silhouette.csv');
      await run.setTags({ validated_labels: path.resolve(o.labels) });
      return {
        runId: run.runId,
        metrics,
        outputs: { n: table.n, k, clusterSizes: result.clusterSizes, validation: result },
      };
    },
  );
}
