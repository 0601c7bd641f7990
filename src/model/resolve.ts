/**
 * Where models come from and go to: resolving `--model` (a path, `runs:/<run-id>/<path>` or a
 * registered `models:/NAME@ALIAS`),
 * writing and logging a clustering run's model, and predicting a profiles CSV into a labels CSV.
 */
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { localPathOf } from '../tracking/store-uri.js';
import { inputError, isLpclustError, usageError } from '../errors.js';
import { writeLinesAtomic } from '../io/atomic.js';
import { csvField } from '../io/csv.js';
import { readProfiles } from '../io/profiles.js';
import { resolveRun } from '../tracking/runs-view.js';
import type { Run, TrackingStore } from '../tracking/store.js';
import { loggedModelIdOf, loggedModelsOf, parseVersion, registryOf, validateModelName, type ModelVersion } from '../tracking/registry.js';
import type { ActiveRun } from '../tracking/run.js';
import { log } from '../util/log.js';
import { buildModel, loadModelFile, LOG_MODEL_HISTORY_TAG, logModelHistory, saveModel, type BuildModelInput, type LpclustModel } from './artifact.js';
import { checkInputSlots, labelAgreement, Predictor, type Prediction } from './predict.js';
import { trainingReference } from './reference.js';

/** A model loaded for predicting, with where it came from. */
export interface LoadedModel {
  model: LpclustModel;
  predictor: Predictor;
  /** The local directory or file read, or the `runs:/` URI of the run the model came from. */
  source: string;
  /** For `runs:/` URIs: the run whose artifact was read (the full id, after following a parent). */
  runId?: string;
  /** For `runs:/` URIs naming a parent: how the run read was reached, e.g. "the clustering run of pipeline run …". */
  followed?: string;
  /** For `models:/` URIs: the registered version read (and the alias that named it). */
  registered?: { name: string; version: number; alias?: string };
}

/** A run of a `runs:/` URI and how it was reached from the id given. */
export interface ModelRun {
  run: Run;
  /** Set when the id given named a parent (pipeline, sweep, `mlflow run` launcher) and a child holds the model. */
  followed?: string;
}

/** Parents followed at most this deep (an `mlflow run` launcher → pipeline → clustering run is 2). */
const MAX_FOLLOW_DEPTH = 3;

function short(id: string): string {
  return id.slice(0, 8);
}

function describeRun(r: Run): string {
  return `${short(r.info.runId)} "${r.info.runName}"`;
}

/** True when the run has an artifact (file or directory) at `artifact` (`/`-separated). */
async function hasArtifact(store: TrackingStore, runId: string, artifact: string): Promise<boolean> {
  const dir = path.posix.dirname(artifact);
  const entries = await store.listArtifacts(runId, dir === '.' ? undefined : dir);
  return entries.some((e) => e.path === artifact);
}

async function childrenOf(store: TrackingStore, run: Run): Promise<Run[]> {
  const kids = await store.searchRuns({ experimentIds: [run.info.experimentId], tags: { 'mlflow.parentRunId': run.info.runId } });
  return kids.sort((a, b) => a.info.startTime - b.info.startTime);
}

function noModelError(run: Run, artifact: string, displayUri: string, hint: string): Error {
  return inputError('E_MODEL_NOT_FOUND', `run ${run.info.runId} ("${run.info.runName}", ${run.info.status}) in ${displayUri} has no artifact ${artifact}`, { hint });
}

/**
 * Find the run holding the model of a `runs:/<id>/<artifact>` URI. `<id>` is a run id or a unique
 * prefix of at least 6 characters (as `lpclust runs` prints 8). When that run has no such artifact
 * but is a parent, the model is looked for below it: a pipeline run leads to its clustering run, a
 * sweep run to the run of its best configuration (when that configuration ran with one seed), any
 * other parent (such as the run `mlflow run` opens) to its only child that holds a model.
 * @throws LpclustError E_RUN_NOT_FOUND, E_RUN_AMBIGUOUS (listing the candidates), E_MODEL_NOT_FOUND
 *   (saying which run id to use when there is a choice)
 */
export async function findModelRun(store: TrackingStore, idOrPrefix: string, artifact = 'model'): Promise<ModelRun> {
  const run = await resolveRun(store, idOrPrefix);
  return follow(store, run, artifact, 0);
}

async function follow(store: TrackingStore, run: Run, artifact: string, depth: number): Promise<ModelRun> {
  if (await hasArtifact(store, run.info.runId, artifact)) return { run };
  const kind = run.data.tags['lpclust.pipeline'];
  const kids = depth < MAX_FOLLOW_DEPTH ? await childrenOf(store, run) : [];
  const via = (child: ModelRun, what: string): ModelRun => ({
    run: child.run,
    followed: child.followed ? `${what}; ${child.followed}` : what,
  });
  if (kind === 'pipeline') {
    const id = run.data.tags['lpclust.child.clustering'];
    const clustering = kids.find((k) => k.info.runId === id) ?? kids.find((k) => k.data.tags['lpclust.stage'] === 'clustering');
    if (clustering && (await hasArtifact(store, clustering.info.runId, artifact))) {
      return { run: clustering, followed: `run ${describeRun(run)} is a pipeline run; using its clustering run ${clustering.info.runId}` };
    }
    throw noModelError(run, artifact, store.displayUri, clustering
      ? `it is a pipeline run, and its clustering run ${clustering.info.runId} (${clustering.info.status}) has no ${artifact} either`
      : `it is a pipeline run that has no clustering run${run.data.tags['lpclust.failed_stage'] ? ` (it failed in stage ${run.data.tags['lpclust.failed_stage']})` : ''}; see lpclust runs show ${short(run.info.runId)}`);
  }
  if (kind === 'sweep') return bestOfSweep(store, run, kids, artifact);
  const withModel: ModelRun[] = [];
  for (const k of kids) {
    try {
      withModel.push(via(await follow(store, k, artifact, depth + 1), `run ${describeRun(run)} is a parent; using its child ${describeRun(k)}`));
    } catch (e) {
      if (!(isLpclustError(e) && e.code === 'E_MODEL_NOT_FOUND')) throw e;
    }
  }
  if (withModel.length === 1) return withModel[0];
  if (withModel.length > 1) {
    throw noModelError(run, artifact, store.displayUri, `${withModel.length} runs below it hold one; give one of them: ${withModel.map((m) => `runs:/${m.run.info.runId}/${artifact} ("${m.run.info.runName}")`).join(', ')}`);
  }
  const stage = run.data.tags['lpclust.stage'];
  throw noModelError(run, artifact, store.displayUri, `${stage ? `it is a ${stage} run; ` : ''}models are logged by clustering runs: \`lpclust cluster\`, the clustering run of a pipeline, or a sweep configuration (lpclust runs lists them)`);
}

/** The run of a sweep's best configuration (tag `lpclust.best`, "<model> <metric> k=<k>"). */
async function bestOfSweep(store: TrackingStore, sweep: Run, kids: Run[], artifact: string): Promise<ModelRun> {
  const best = sweep.data.tags['lpclust.best'];
  const m = best ? /^(\S+) (\S+) k=(\d+)$/.exec(best) : null;
  if (!m) {
    throw noModelError(sweep, artifact, store.displayUri, `it is a sweep run that named no best configuration; choose a configuration's run with lpclust runs show ${short(sweep.info.runId)}`);
  }
  const [, model, metric, k] = m;
  const matching = kids.filter(
    (c) => c.data.tags['lpclust.sweep.config'] !== undefined && c.info.status === 'FINISHED' && c.data.params.model === model && c.data.params.metric === metric && c.data.params.k === k,
  );
  const holding: Run[] = [];
  for (const c of matching) if (await hasArtifact(store, c.info.runId, artifact)) holding.push(c);
  if (holding.length === 1) {
    return { run: holding[0], followed: `run ${describeRun(sweep)} is a sweep; using the run of its best configuration (${best}) ${holding[0].info.runId}` };
  }
  if (holding.length > 1) {
    throw noModelError(sweep, artifact, store.displayUri, `it is a sweep whose best configuration (${best}) ran with ${holding.length} seeds; give one of them: ${holding.map((c) => `runs:/${c.info.runId}/${artifact} (seed ${c.data.params.seed ?? '?'})`).join(', ')}`);
  }
  throw noModelError(sweep, artifact, store.displayUri, `it is a sweep, and no finished run of its best configuration (${best}) holds ${artifact}; see lpclust runs show ${short(sweep.info.runId)}`);
}

/**
 * Load a model given as a local path (a `model/` directory or its JSON/MLmodel file), as
 * `runs:/<run-id>/<artifact path>` or as a registered model `models:/NAME/VERSION`,
 * `models:/NAME@ALIAS` or `models:/NAME/latest` from the tracking store (local or server;
 * downloaded to a temporary directory that is removed afterwards). A run id may be a unique
 * prefix, and a pipeline, sweep or other parent run is followed to the run holding the model
 * ({@link findModelRun}), which is said on stderr.
 * @param openStore called only for `runs:/` and `models:/` URIs
 * @throws LpclustError E_USAGE_MODEL_URI, E_RUN_NOT_FOUND, E_RUN_AMBIGUOUS, E_MODEL_NOT_FOUND, E_MODEL_VERSION,
 *   E_MODEL_INVALID, E_REGISTERED_MODEL_NOT_FOUND, E_MODEL_VERSION_NOT_FOUND, E_MODEL_ALIAS_NOT_FOUND, E_MODEL_SOURCE
 */
export async function resolveModel(spec: string, openStore: () => Promise<TrackingStore>): Promise<LoadedModel> {
  const m = /^runs:\/([^/]+)(?:\/(.*))?$/.exec(spec);
  if (m) {
    const artifact = (m[2] ?? 'model').replace(/\/+$/, '') || 'model';
    const store = await openStore();
    const found = await findModelRun(store, m[1], artifact);
    const runId = found.run.info.runId;
    if (found.followed) log.info(`${found.followed} (runs:/${runId}/${artifact})`);
    const model = await downloadModel(store, runId, artifact);
    return { model, predictor: new Predictor(model), source: `runs:/${runId}/${artifact}`, runId, ...(found.followed ? { followed: found.followed } : {}) };
  }
  const loggedId = loggedModelIdOf(spec);
  if (loggedId) return loadLoggedModel(await openStore(), loggedId);
  if (/^models:/i.test(spec)) {
    const ref = parseModelsUri(spec);
    const store = await openStore();
    const version = await findRegisteredVersion(store, ref);
    // MLflow 3 registers the logged model (source models:/m-…): its files are the logged model's.
    const fromLogged = loggedModelIdOf(version.source);
    if (fromLogged && loggedModelsOf(store)) {
      const loaded = await loadLoggedModel(store, fromLogged);
      if (ref.alias || ref.latest) log.info(`${spec} is version ${version.version} of registered model "${version.name}" (${version.source})`);
      return { ...loaded, source: `models:/${version.name}/${version.version}`, registered: { name: version.name, version: version.version, ...(ref.alias ? { alias: ref.alias } : {}) } };
    }
    const where = await versionArtifact(store, version);
    const model = where.kind === 'local' ? loadModelFile(where.local) : await downloadModel(store, where.runId, where.artifact);
    const from = where.kind === 'local' ? where.local : `runs:/${where.runId}/${where.artifact}`;
    if (ref.alias || ref.latest) log.info(`${spec} is version ${version.version} of registered model "${version.name}" (${from})`);
    return {
      model,
      predictor: new Predictor(model),
      source: `models:/${version.name}/${version.version}`,
      ...(where.kind === 'run' ? { runId: where.runId } : {}),
      registered: { name: version.name, version: version.version, ...(ref.alias ? { alias: ref.alias } : {}) },
    };
  }
  if (/^[a-z][a-z0-9+.-]*:\//i.test(spec) && !/^file:/i.test(spec)) {
    throw usageError('E_USAGE_MODEL_URI', `Expected \`model\` a path, runs:/<run-id>/model or models:/<name>@<alias> but received \`${spec}\``, {
      option: 'model',
      hint: 'e.g. `model runs:/0a1b2c3d/model`, `model models:/uc7-clusters@production` or `model models:/uc7-clusters/2`',
    });
  }
  const local = spec.replace(/^file:(\/\/)?/i, '');
  const model = loadModelFile(path.resolve(local));
  return { model, predictor: new Predictor(model), source: path.resolve(local) };
}

/**
 * Load an MLflow 3 logged model (`models:/m-…`): its files at its artifact location (local, or
 * downloaded from a tracking server), else the `model/` artifact of the run that logged it.
 * @throws LpclustError E_LOGGED_MODEL_NOT_FOUND
 */
async function loadLoggedModel(store: TrackingStore, modelId: string): Promise<LoadedModel> {
  const logged = loggedModelsOf(store);
  const lm = await logged?.getLoggedModel(modelId);
  if (!lm) {
    throw inputError('E_LOGGED_MODEL_NOT_FOUND', `no logged model ${modelId} in ${store.displayUri}`, {
      hint: 'logged models (models:/m-…) are kept by MLflow 3 databases (LPCLUST_SQLITE_SCHEMA=mlflow3) and MLflow 3 tracking servers; use models:/<name>@<alias> or runs:/<run-id>/model',
    });
  }
  const local = localPathOf(lm.artifactLocation);
  let model: LpclustModel;
  if (local && fs.existsSync(local)) model = loadModelFile(local);
  else if (logged?.downloadLoggedModel && lm.status === 2) {
    const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'lpclust-model-'));
    try {
      model = loadModelFile(await logged.downloadLoggedModel(lm, tmp));
    } finally {
      await fsp.rm(tmp, { recursive: true, force: true });
    }
  } else if (lm.sourceRunId) model = await downloadModel(store, lm.sourceRunId, lm.name);
  else throw inputError('E_MODEL_SOURCE', `logged model ${modelId} in ${store.displayUri} has no files at ${lm.artifactLocation} and no run`, { hint: 'use another model' });
  return { model, predictor: new Predictor(model), source: `models:/${modelId}`, ...(lm.sourceRunId ? { runId: lm.sourceRunId } : {}) };
}

/** Download a run's model artifact to a temporary folder, load it, and remove the folder. */
async function downloadModel(store: TrackingStore, runId: string, artifact: string): Promise<LpclustModel> {
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'lpclust-model-'));
  try {
    return loadModelFile(await store.downloadArtifacts(runId, artifact, tmp));
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
  }
}

/** A parsed `models:/` URI: one of version, alias or latest is set. */
export interface ModelsUri {
  name: string;
  version?: number;
  alias?: string;
  latest?: boolean;
}

/**
 * Parse `models:/NAME/VERSION`, `models:/NAME@ALIAS` or `models:/NAME/latest` (MLflow's forms;
 * stages such as `models:/NAME/Production` are refused with the alias to use instead).
 * @throws LpclustError E_USAGE_MODEL_URI
 */
export function parseModelsUri(spec: string): ModelsUri {
  const bad = (why: string): never => {
    throw usageError('E_USAGE_MODEL_URI', `Expected a registered model URI models:/<name>/<version>, models:/<name>@<alias> or models:/<name>/latest but received \`${spec}\`: ${why}`, {
      hint: 'e.g. --model models:/uc7-clusters@production; list the registered models with `lpclust models list`',
    });
  };
  const body = /^models:\/(.*)$/i.exec(spec)?.[1] ?? bad('it does not start with models:/');
  const at = /^([^/@]+)@([^/@]+)$/.exec(body);
  if (at) {
    validateModelName(at[1]);
    return { name: at[1], alias: at[2] };
  }
  const slash = /^([^/@]+)\/([^/@]+)\/?$/.exec(body);
  if (slash) {
    validateModelName(slash[1]);
    if (slash[2].toLowerCase() === 'latest') return { name: slash[1], latest: true };
    if (/^\d+$/.test(slash[2])) return { name: slash[1], version: parseVersion(slash[2], slash[1]) };
    return bad(`"${slash[2]}" is neither a version number nor "latest" (model stages such as Production are deprecated in MLflow; set an alias with \`lpclust models alias ${slash[1]} VERSION ${slash[2].toLowerCase()}\` and use models:/${slash[1]}@${slash[2].toLowerCase()})`);
  }
  return bad(body.includes('/') || body.includes('@') ? 'expected one name and one version, alias or "latest"' : 'a version, @alias or /latest is missing after the name');
}

/** The registered version a `models:/` URI names. @throws LpclustError (not found, naming what exists) */
export async function findRegisteredVersion(store: TrackingStore, ref: ModelsUri): Promise<ModelVersion> {
  const reg = registryOf(store);
  if (ref.alias !== undefined) return reg.getModelVersionByAlias(ref.name, ref.alias);
  if (ref.version !== undefined) return reg.getModelVersion(ref.name, ref.version);
  const model = await reg.getRegisteredModel(ref.name);
  if (model.latestVersion === undefined) {
    throw inputError('E_MODEL_VERSION_NOT_FOUND', `registered model "${ref.name}" in ${store.displayUri} has no versions`, {
      hint: `register one with \`lpclust cluster|pipeline|sweep ... --register-model ${ref.name}\``,
    });
  }
  return reg.getModelVersion(ref.name, model.latestVersion);
}

/** Where a registered version's files are: a run's artifact, or a local folder. */
export type VersionFiles = { kind: 'run'; runId: string; artifact: string } | { kind: 'local'; local: string };

/**
 * Where a registered version's files are: a run artifact (`runs:/<id>/<path>`, or a source below
 * the run's artifact URI, as lpclust and MLflow 2 register it), or a local folder (a version
 * registered from files outside any run's artifacts).
 * @throws LpclustError E_MODEL_SOURCE when the source can be read neither way
 */
export async function versionArtifact(store: TrackingStore, v: ModelVersion): Promise<VersionFiles> {
  const strip = (s: string): string => s.replace(/\/+$/, '');
  const fromRunsUri = /^runs:\/([^/]+)\/(.+)$/.exec(v.source);
  if (fromRunsUri) return { kind: 'run', runId: fromRunsUri[1], artifact: strip(fromRunsUri[2]) };
  if (v.runId) {
    let run: Run | null = null;
    try {
      run = await store.getRun(v.runId);
    } catch (e) {
      if (!(isLpclustError(e) && e.code === 'E_RUN_NOT_FOUND')) throw e;
    }
    if (run) {
      const root = strip(run.info.artifactUri);
      const rootLocal = localPathOf(root);
      for (const cand of [v.source, v.storageLocation ?? '']) {
        const c = strip(cand);
        if (c.startsWith(`${root}/`)) return { kind: 'run', runId: v.runId, artifact: c.slice(root.length + 1) };
        const local = localPathOf(c);
        if (rootLocal && local?.startsWith(`${rootLocal}${path.sep}`)) return { kind: 'run', runId: v.runId, artifact: path.relative(rootLocal, local).split(path.sep).join('/') };
      }
    }
  }
  for (const cand of [v.storageLocation ?? '', v.source]) {
    const local = localPathOf(strip(cand));
    if (local && fs.existsSync(local)) return { kind: 'local', local };
  }
  throw inputError('E_MODEL_SOURCE', `version ${v.version} of registered model "${v.name}" in ${store.displayUri} points at ${v.source}${v.runId ? ` (run ${v.runId})` : ''}, which lpclust cannot read from this store`, {
    hint: v.runId ? `the run or its model artifact is missing; try --model runs:/${v.runId}/model, or register another version` : 'register a version of a run\'s model with --register-model',
  });
}

/**
 * Build a fitted model's artifact, write it to `dir` (`<out-dir>/model`) and log it as the run's
 * `model/` artifact. In an MLflow 3 store it is also a logged model (created PENDING before the
 * files so that `MLmodel` carries its `model_id`, READY once its own copy is written); in an
 * MLflow 2 store the run's `mlflow.log-model.history` tag records it as MLflow 2 does (after the
 * files, so the UI never lists a model whose files are missing). Also records (and logs
 * as `model/predict_agreement`) the share of training rows predict assigns to their fitted
 * cluster: 1 for k-means, DTW k-means and k-medoids; the nearest-centre agreement for
 * agglomerative and SOM. Stores the training reference of `lpclust assign` (shares, distance
 * quantiles of the training rows as predicted; `opts.timezone` = the zone of the data's dates and
 * slot labels when the caller knows it).
 */
export async function logModel(run: ActiveRun | null, dir: string, input: BuildModelInput, opts: { timezone?: string } = {}): Promise<LpclustModel> {
  const model = buildModel({ ...input, runId: run?.runId ?? null });
  const pred = new Predictor(model).predictNormalized(input.X);
  model.training.predict_agreement = labelAgreement(pred.labels, input.fit.labels);
  model.reference = trainingReference(pred, model.k, opts.timezone ?? null);
  // MLflow 3 stores also keep the model as a logged model of its own (`m-…`, Models tab,
  // models:/<model_id>): created first, PENDING, so that MLmodel carries its model_id.
  const logged = run ? loggedModelsOf(run.store) : null;
  const lm = run && logged ? await logged.startLoggedModel(run.runId, 'model') : null;
  const info = await saveModel(dir, model, input.example, lm ?? undefined);
  if (run) {
    // The logged model's files first (MLflow 3's copy; marked FAILED if they cannot be written),
    // then the run's model/ artifact, which runs:/<run-id>/model and MLflow 2 readers use.
    const done = lm && logged ? await logged.completeLoggedModel(lm, dir) : null;
    await run.logArtifact(dir, 'model');
    if (done?.status !== 2) {
      // MLflow 2 stores: the run's mlflow.log-model.history tag is how the UI finds the model (MLflow 3 writes none).
      const previous = (await run.store.getRun(run.runId)).data.tags[LOG_MODEL_HISTORY_TAG];
      await run.setTags({ [LOG_MODEL_HISTORY_TAG]: logModelHistory(previous, info) });
    }
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
  const X = loaded.predictor.normalize(table.values, (i) => `meter ${table.ids[i]} on ${table.dates[i]} (${inFile}, row ${i + 1})`);
  // The raw values are not written back: dropped before the assignment (10⁶ days: 192 MB).
  table.values = new Float64Array(0);
  const prediction = loaded.predictor.predictNormalized(X);
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
