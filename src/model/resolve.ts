/**
 * Where models come from and go to: resolving `--model` (a path or `runs:/<run-id>/<path>`),
 * writing and logging a clustering run's model, and predicting a profiles CSV into a labels CSV.
 */
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inputError, usageError } from '../errors.js';
import { writeLinesAtomic } from '../io/atomic.js';
import { csvField } from '../io/csv.js';
import { readProfiles } from '../io/profiles.js';
import type { TrackingStore } from '../tracking/store.js';
import type { ActiveRun } from '../tracking/run.js';
import { buildModel, loadModelFile, LOG_MODEL_HISTORY_TAG, logModelHistory, saveModel, type BuildModelInput, type LpclustModel } from './artifact.js';
import { checkInputSlots, labelAgreement, Predictor, type Prediction } from './predict.js';

/** A model loaded for predicting, with where it came from. */
export interface LoadedModel {
  model: LpclustModel;
  predictor: Predictor;
  /** The local directory or file read. */
  source: string;
}

/**
 * Load a model given as a local path (a `model/` directory or its JSON/MLmodel file) or as
 * `runs:/<run-id>/<artifact path>` from the tracking store (local or server; downloaded to a
 * temporary directory that is removed afterwards).
 * @param openStore called only for `runs:/` URIs
 * @throws LpclustError E_USAGE_MODEL_URI, E_MODEL_NOT_FOUND, E_MODEL_VERSION, E_MODEL_INVALID
 */
export async function resolveModel(spec: string, openStore: () => Promise<TrackingStore>): Promise<LoadedModel> {
  const m = /^runs:\/([^/]+)(?:\/(.*))?$/.exec(spec);
  if (m) {
    const runId = m[1];
    const artifact = (m[2] ?? 'model').replace(/\/+$/, '') || 'model';
    const store = await openStore();
    const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'lpclust-model-'));
    try {
      const local = await store.downloadArtifacts(runId, artifact, tmp);
      const model = loadModelFile(local);
      return { model, predictor: new Predictor(model), source: spec };
    } finally {
      await fsp.rm(tmp, { recursive: true, force: true });
    }
  }
  if (/^[a-z][a-z0-9+.-]*:\//i.test(spec) && !/^file:/i.test(spec)) {
    throw usageError('E_USAGE_MODEL_URI', `Expected \`--model\` a path or runs:/<run-id>/model but received \`${spec}\``, {
      hint: 'registered models (models:/) are not supported; use the run id of the clustering run',
    });
  }
  const local = spec.replace(/^file:(\/\/)?/i, '');
  const model = loadModelFile(path.resolve(local));
  return { model, predictor: new Predictor(model), source: path.resolve(local) };
}

/**
 * Build a fitted model's artifact, write it to `dir` (`<out-dir>/model`) and log it as the run's
 * `model/` artifact, then record it in the run's `mlflow.log-model.history` tag as MLflow does
 * (after the files, so the UI never lists a model whose files are missing). Also records (and logs
 * as `model/predict_agreement`) the share of training rows predict assigns to their fitted
 * cluster: 1 for k-means, DTW k-means and k-medoids; the nearest-centre agreement for
 * agglomerative and SOM.
 */
export async function logModel(run: ActiveRun | null, dir: string, input: BuildModelInput): Promise<LpclustModel> {
  const model = buildModel({ ...input, runId: run?.runId ?? null });
  const pred = new Predictor(model).predictNormalized(input.X);
  model.training.predict_agreement = labelAgreement(pred.labels, input.fit.labels);
  const info = await saveModel(dir, model);
  if (run) {
    await run.logArtifact(dir, 'model');
    const previous = (await run.store.getRun(run.runId)).data.tags[LOG_MODEL_HISTORY_TAG];
    await run.setTags({ [LOG_MODEL_HISTORY_TAG]: logModelHistory(previous, info) });
    await run.logMetric('model/predict_agreement', model.training.predict_agreement);
  }
  return model;
}

/** Result of {@link predictFile}. */
export interface PredictFileResult {
  n: number;
  out: string;
  /** Rows per cluster, length k. */
  counts: number[];
  prediction: Prediction;
}

/**
 * Predict every row of a profiles CSV and write `id,date,cluster,distance,margin` atomically.
 * @throws LpclustError for a resolution or slot mismatch (naming the file) and for rows that cannot be normalised
 */
export async function predictFile(loaded: LoadedModel, inFile: string, outFile: string): Promise<PredictFileResult> {
  const table = await readProfiles(inFile);
  checkInputSlots(loaded.model, table.slots, inFile);
  if (table.n === 0) throw inputError('E_INPUT_EMPTY', `${inFile} has no profiles to assign`, { where: { file: inFile } });
  const prediction = loaded.predictor.predict(table.values, (i) => `meter ${table.ids[i]} on ${table.dates[i]} (${inFile}, row ${i + 1})`);
  const counts = new Array<number>(loaded.model.k).fill(0);
  for (let i = 0; i < table.n; i++) counts[prediction.labels[i]]++;
  await writeLinesAtomic(
    outFile,
    'id,date,cluster,distance,margin',
    table.n,
    (i) => `${csvField(table.ids[i])},${table.dates[i]},${prediction.labels[i]},${prediction.distance[i]},${prediction.margin[i]}`,
  );
  return { n: table.n, out: outFile, counts, prediction };
}
