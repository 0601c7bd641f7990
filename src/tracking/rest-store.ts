/**
 * The REST tracking store: a {@link TrackingStore} talking to an MLflow tracking server
 * (`http://` / `https://` URIs) through the documented REST API (MLflow's REST API reference), with artifacts
 * through the server's `mlflow-artifacts` proxy.
 *
 * Endpoints used (all JSON, under `/api/2.0/mlflow/` unless noted):
 * experiments/get-by-name, experiments/create, experiments/search, runs/create, runs/get,
 * runs/update, runs/log-batch, runs/log-inputs, runs/search, metrics/get-history, artifacts/list,
 * and PUT/GET `/api/2.0/mlflow-artifacts/artifacts/<exp>/<run>/artifacts/<path>`. On an MLflow 3
 * server (its `GET /version` answers 3.x) also the logged models: POST `logged-models`, PATCH
 * `logged-models/<id>` (finalize), GET `logged-models/<id>`, PATCH `logged-models/<id>/tags`, GET
 * `logged-models/<id>/artifacts/directories`, POST `logged-models/search` (a create retried after a
 * lost answer), POST `runs/outputs`, with the files under
 * `<exp>/models/<model_id>/artifacts/` of the proxy.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fsp, type Stats } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { externalError, inputError, LpclustError } from '../errors.js';
import { maskUri } from '../util/mask.js';
import { discardTempFile, reserveTempFile } from '../io/atomic.js';
import { throwIfInterrupted } from '../util/interrupt.js';
import { MlflowApiError, RestClient, restClientOptionsFromEnv, type RestClientOptions } from './rest-client.js';
import { LOGGED_MODEL_RUN_TAGS, MODEL_VERSIONS_TAG, modelVersionsTag, type LoggedModel, type ModelRegistry, type WithLoggedModels, type WithRegistry } from './registry.js';
import { RestRegistry } from './rest-registry.js';
import { splitBatch, SERVER_BATCH_LIMITS, type BatchLimits } from './rest-batch.js';
import { checkDatasetInputs } from './datasets.js';
import type {
  ArtifactEntry,
  Batch,
  CreateRunRequest,
  Dataset,
  DatasetInput,
  Experiment,
  Metric,
  Run,
  RunInfo,
  RunQuery,
  RunStatus,
  Tag,
  TrackingStore,
} from './store.js';

/** Tag holding the client-side id of a run, used to find a run whose `runs/create` answer was lost. */
export const CLIENT_RUN_ID_TAG = 'lpclust.clientRunId';

const API = '/api/2.0/mlflow';
const ARTIFACT_API = '/api/2.0/mlflow-artifacts/artifacts';
/** Largest page MLflow serves for runs/search. */
const SEARCH_PAGE = 1000;
/** Page size of metrics/get-history, the one MLflow's own client sends. */
export const HISTORY_PAGE = 25000;

/** Options of {@link RestStore}. */
export interface RestStoreOptions {
  /** Transport settings; from the environment when omitted. */
  client?: RestClientOptions;
  /** Per-request batch limits (the server's by default). */
  batchLimits?: BatchLimits;
}

/** MLflow's LoggedModelStatus, by its protobuf JSON name. */
const LOGGED_MODEL_STATUS: Record<string, number> = { LOGGED_MODEL_PENDING: 1, LOGGED_MODEL_READY: 2, LOGGED_MODEL_UPLOAD_FAILED: 3 };

/**
 * The major version of an MLflow server from its `GET /version` answer (plain text such as
 * `3.11.2.dev0`), or 2 when the text is not a version.
 */
export function serverMajorOf(text: string): number {
  const m = /^\s*(\d+)\.\d+/.exec(text);
  return m ? Number(m[1]) : 2;
}

/** A TrackingStore on an MLflow tracking server. */
export class RestStore implements TrackingStore, WithRegistry, WithLoggedModels {
  readonly client: RestClient;
  private readonly limits: BatchLimits;
  /** artifact_uri of runs seen, so uploads need no runs/get. */
  private readonly artifactUris = new Map<string, string>();
  /** The server's major version, once asked ({@link serverMajor}). */
  private major?: Promise<number>;
  /** The logged model of each run that logged one here: its later metrics are the model's too (`model_id`). */
  private readonly runModels = new Map<string, string>();

  constructor(uri: string, options: RestStoreOptions = {}) {
    this.client = new RestClient(options.client ?? restClientOptionsFromEnv(uri));
    this.limits = options.batchLimits ?? SERVER_BATCH_LIMITS;
  }

  get displayUri(): string {
    return this.client.displayUri;
  }

  /** The server's model registry. */
  registry(): ModelRegistry {
    return new RestRegistry(this.client);
  }

  /** Close idle connections. */
  close(): void {
    this.client.close();
  }

  async getExperimentByName(name: string): Promise<Experiment | null> {
    try {
      const res = await this.client.request({ method: 'GET', path: `${API}/experiments/get-by-name`, query: { experiment_name: name } });
      return toExperiment(this.field(res.json, 'experiment', 'experiments/get-by-name'));
    } catch (e) {
      if (e instanceof MlflowApiError && e.errorCode === 'RESOURCE_DOES_NOT_EXIST') return null;
      throw e;
    }
  }

  async getOrCreateExperiment(name: string): Promise<Experiment> {
    const found = await this.getExperimentByName(name);
    if (found) {
      if (found.lifecycleStage === 'deleted') {
        throw externalError('E_EXPERIMENT_DELETED', `experiment "${name}" on ${this.displayUri} is deleted`, {
          hint: 'restore it in MLflow (mlflow experiments restore) or choose another --experiment-name',
        });
      }
      return found;
    }
    try {
      await this.client.request({ method: 'POST', path: `${API}/experiments/create`, json: { name } });
    } catch (e) {
      // Another process created it between our lookup and our create: use theirs.
      if (!(e instanceof MlflowApiError && e.errorCode === 'RESOURCE_ALREADY_EXISTS')) throw e;
    }
    const created = await this.getExperimentByName(name);
    if (!created) throw externalError('E_TRACKING_API', `experiment "${name}" was created on ${this.displayUri} but cannot be read back`);
    return created;
  }

  async listExperiments(): Promise<Experiment[]> {
    const out: Experiment[] = [];
    let pageToken: string | undefined;
    do {
      const res = await this.client.request({
        method: 'POST',
        path: `${API}/experiments/search`,
        json: { max_results: 1000, view_type: 'ACTIVE_ONLY', ...(pageToken ? { page_token: pageToken } : {}) },
      });
      for (const e of (res.json.experiments as Array<Record<string, unknown>> | undefined) ?? []) out.push(toExperiment(e));
      pageToken = (res.json.next_page_token as string | undefined) || undefined;
    } while (pageToken);
    return out;
  }

  /**
   * Create a run. The run carries the tag `lpclust.clientRunId` (a fresh random id unless the
   * request has one); before each retry the store searches for it, so a `runs/create` that took
   * effect but whose answer was lost does not leave a second, ghost run.
   */
  async createRun(request: CreateRunRequest): Promise<RunInfo> {
    const tags: Tag[] = request.tags.filter((t) => t.key !== 'mlflow.runName');
    const given = tags.find((t) => t.key === CLIENT_RUN_ID_TAG)?.value;
    const clientId = given || randomBytes(16).toString('hex');
    if (!given) tags.push({ key: CLIENT_RUN_ID_TAG, value: clientId });
    // run_name and the mlflow.runName tag must agree (the server rejects a mismatch).
    tags.push({ key: 'mlflow.runName', value: request.runName });
    if (!tags.some((t) => t.key === 'mlflow.user')) tags.push({ key: 'mlflow.user', value: request.userId });
    const body = {
      experiment_id: request.experimentId,
      start_time: Math.round(request.startTime),
      run_name: request.runName,
      user_id: request.userId,
      tags,
    };
    const res = await this.client.request({
      method: 'POST',
      path: `${API}/runs/create`,
      json: body,
      recover: async () => {
        const found = await this.findByTag(request.experimentId, CLIENT_RUN_ID_TAG, clientId);
        return found ? { run: found } : undefined;
      },
    });
    const run = this.field(res.json, 'run', 'runs/create');
    const info = toRunInfo(this.field(run, 'info', 'runs/create'));
    this.artifactUris.set(info.runId, info.artifactUri);
    return info;
  }

  /** An object field of an answer, or a clear error when the server (or a proxy in front) sent something else. */
  private field(obj: Record<string, unknown>, name: string, call: string): Record<string, unknown> {
    const v = obj[name];
    if (v === null || typeof v !== 'object') {
      throw externalError('E_TRACKING_API', `tracking server ${this.displayUri} answered ${call} without "${name}": ${JSON.stringify(obj).slice(0, 200)}`, {
        hint: 'is the tracking URI the MLflow server itself (not its UI behind a proxy path)?',
      });
    }
    return v as Record<string, unknown>;
  }

  private async findByTag(experimentId: string, key: string, value: string): Promise<Record<string, unknown> | undefined> {
    const res = await this.client.request({
      method: 'POST',
      path: `${API}/runs/search`,
      json: { experiment_ids: [experimentId], filter: `tags.${quoteKey(key)} = ${quoteValue(value)}`, max_results: 1, run_view_type: 'ALL' },
    });
    return (res.json.runs as Array<Record<string, unknown>> | undefined)?.[0];
  }

  /** Log a batch in as many `runs/log-batch` requests as the server's limits need, in order. */
  async logBatch(runId: string, batch: Batch): Promise<void> {
    const modelId = this.runModels.get(runId);
    for (const part of splitBatch(batch, this.limits)) {
      throwIfInterrupted();
      await this.client.request({
        method: 'POST',
        path: `${API}/runs/log-batch`,
        json: {
          run_id: runId,
          params: part.params,
          tags: part.tags,
          // As MLflow 3's client does: metrics logged after a model are the model's as well.
          metrics: part.metrics.map((m) => ({ key: m.key, value: metricValueJson(m.value), timestamp: Math.round(m.timestamp), step: Math.round(m.step), ...(modelId ? { model_id: modelId } : {}) })),
        },
      });
    }
  }

  // ---------------------------------------------------------------- MLflow 3 logged models

  /**
   * The server's MLflow major version, from `GET /version` (every MLflow server answers it with
   * its version as plain text; asked once per store). Anything but a version — a 404 from an old
   * server or a proxy, an HTML page — counts as 2, so lpclust then logs models as for MLflow 2 (the
   * `mlflow.log-model.history` tag). An unreachable server is an error, not a version.
   */
  serverMajor(): Promise<number> {
    this.major ??= this.askVersion().catch((e: unknown) => {
      this.major = undefined;
      throw e;
    });
    return this.major;
  }

  private async askVersion(): Promise<number> {
    let text = '';
    try {
      await this.client.request({
        method: 'GET',
        path: '/version',
        sink: async (res) => {
          const chunks: Buffer[] = [];
          for await (const c of res) chunks.push(c as Buffer);
          text = Buffer.concat(chunks).toString('utf8').slice(0, 100);
        },
      });
    } catch (e) {
      if (e instanceof MlflowApiError) return 2;
      throw e;
    }
    return serverMajorOf(text);
  }

  /**
   * Create the logged model of a run on an MLflow 3 server (PENDING): `POST logged-models` with
   * the run's params and its user/source tags, as MLflow 3's `log_model` does, then the run's
   * output link (`POST runs/outputs`, step 0). Null on an MLflow 2 server.
   */
  async startLoggedModel(runId: string, name: string): Promise<LoggedModel | null> {
    if ((await this.serverMajor()) < 3) return null;
    const run = await this.getRun(runId);
    const tags = LOGGED_MODEL_RUN_TAGS.filter((k) => run.data.tags[k] !== undefined).map((key) => ({ key, value: run.data.tags[key] }));
    const params = Object.keys(run.data.params).sort().map((key) => ({ key, value: run.data.params[key] }));
    const res = await this.client.request({
      method: 'POST',
      path: `${API}/logged-models`,
      json: { experiment_id: run.info.experimentId, name, source_run_id: runId, params, tags },
      // A create whose answer was lost took effect: the run's PENDING model of that name is ours
      // (lpclust logs one model per name and run), so a retry does not leave a second one.
      recover: async () => {
        const mine = (await this.searchLoggedModels(run.info.experimentId, `source_run_id = ${quoteValue(runId)} AND name = ${quoteValue(name)}`))
          .filter((m) => toLoggedModel((m.info ?? {}) as Record<string, unknown>).status === 1);
        return mine.length > 0 ? { model: mine[mine.length - 1] } : undefined;
      },
    });
    const lm = toLoggedModel(this.field(this.field(res.json, 'model', 'logged-models'), 'info', 'logged-models'));
    await this.client.request({ method: 'POST', path: `${API}/runs/outputs`, json: { run_id: runId, models: [{ model_id: lm.modelId, step: 0 }] } });
    return lm;
  }

  /** `POST logged-models/search` of one experiment with an MLflow filter, every page, oldest first. */
  private async searchLoggedModels(experimentId: string, filter: string): Promise<Array<Record<string, unknown>>> {
    const out: Array<Record<string, unknown>> = [];
    let pageToken: string | undefined;
    do {
      const res = await this.client.request({
        method: 'POST',
        path: `${API}/logged-models/search`,
        json: { experiment_ids: [experimentId], filter, max_results: 100, ...(pageToken ? { page_token: pageToken } : {}) },
      });
      out.push(...((res.json.models as Array<Record<string, unknown>> | undefined) ?? []));
      pageToken = (res.json.next_page_token as string | undefined) || undefined;
    } while (pageToken);
    const created = (m: Record<string, unknown>): number => num(((m.info ?? {}) as Record<string, unknown>).creation_timestamp_ms ?? 0);
    return out.sort((a, b) => created(a) - created(b));
  }

  /** Upload the files of `localDir` to the logged model's artifact location, then finalize it READY (UPLOAD_FAILED on an error). */
  async completeLoggedModel(model: LoggedModel, localDir: string): Promise<LoggedModel> {
    const finalize = (status: string): Promise<unknown> =>
      this.client.request({ method: 'PATCH', path: `${API}/logged-models/${encodeURIComponent(model.modelId)}`, json: { model_id: model.modelId, status } });
    try {
      const root = this.proxyRoot(model.artifactLocation, `logged model ${model.modelId}`);
      for (const { file, rel } of await walk(localDir)) await this.upload(root, file, rel);
    } catch (e) {
      await finalize('LOGGED_MODEL_UPLOAD_FAILED').catch(() => undefined);
      throw e;
    }
    await finalize('LOGGED_MODEL_READY');
    if (model.sourceRunId) this.runModels.set(model.sourceRunId, model.modelId);
    return { ...model, status: 2 };
  }

  async createLoggedModel(runId: string, name: string, localDir: string): Promise<LoggedModel | null> {
    const started = await this.startLoggedModel(runId, name);
    return started ? this.completeLoggedModel(started, localDir) : null;
  }

  /** The newest READY logged model among the run's outputs (`runs/get` → `outputs.model_outputs`) named `name`. */
  async findLoggedModel(runId: string, name: string): Promise<LoggedModel | null> {
    if ((await this.serverMajor()) < 3) return null;
    const run = (await this.runJson(runId)) as { outputs?: { model_outputs?: Array<{ model_id?: string }> } };
    const ids = (run.outputs?.model_outputs ?? []).map((o) => String(o.model_id ?? '')).filter((id) => id !== '');
    let best: (LoggedModel & { created: number }) | null = null;
    for (const id of ids) {
      const lm = await this.loggedModelJson(id);
      if (!lm) continue;
      const m = { ...toLoggedModel(lm), created: num(lm.creation_timestamp_ms ?? 0) };
      if (m.name === name && m.status === 2 && (!best || m.created >= best.created)) best = m;
    }
    if (!best) return null;
    const { created: _created, ...model } = best;
    return model;
  }

  async getLoggedModel(modelId: string): Promise<LoggedModel | null> {
    if ((await this.serverMajor()) < 3) return null;
    const info = await this.loggedModelJson(modelId);
    return info ? toLoggedModel(info) : null;
  }

  /** `GET logged-models/<id>` → `model.info`, or null when the server has no such model. */
  private async loggedModelJson(modelId: string): Promise<Record<string, unknown> | null> {
    try {
      const res = await this.client.request({ method: 'GET', path: `${API}/logged-models/${encodeURIComponent(modelId)}` });
      return this.field(this.field(res.json, 'model', 'logged-models'), 'info', 'logged-models');
    } catch (e) {
      if (e instanceof MlflowApiError && (e.errorCode === 'RESOURCE_DOES_NOT_EXIST' || e.status === 404)) return null;
      throw e;
    }
  }

  /** Add the version to the logged model's `mlflow.modelVersions` tag (`PATCH logged-models/<id>/tags`), as MLflow 3's register_model does. */
  async linkModelVersion(modelId: string, name: string, version: number): Promise<void> {
    if ((await this.serverMajor()) < 3) return;
    const info = await this.loggedModelJson(modelId);
    if (!info) return;
    const old = ((info.tags as Tag[] | undefined) ?? []).find((t) => t.key === MODEL_VERSIONS_TAG)?.value;
    await this.client.request({
      method: 'PATCH',
      path: `${API}/logged-models/${encodeURIComponent(modelId)}/tags`,
      json: { model_id: modelId, tags: [{ key: MODEL_VERSIONS_TAG, value: modelVersionsTag(old, name, version) }] },
    });
  }

  /** Download a logged model's files (listed by `logged-models/<id>/artifacts/directories`) into `<destDir>/model`. */
  async downloadLoggedModel(model: LoggedModel, destDir: string): Promise<string> {
    const root = this.proxyRoot(model.artifactLocation, `logged model ${model.modelId}`);
    const local = path.join(destDir, 'model');
    const copy = async (rel: string, into: string): Promise<void> => {
      await fsp.mkdir(into, { recursive: true });
      const res = await this.client.request({
        method: 'GET',
        path: `${API}/logged-models/${encodeURIComponent(model.modelId)}/artifacts/directories`,
        query: { artifact_directory_path: rel || undefined },
      });
      for (const f of (res.json.files as Array<Record<string, unknown>> | undefined) ?? []) {
        let p = cleanArtifactPath(String(f.path ?? ''));
        if (rel && !p.startsWith(`${rel}/`)) p = joinPosix(rel, p);
        const target = path.join(into, path.posix.basename(p));
        if (f.is_dir === true || f.is_dir === 'true') await copy(p, target);
        else await this.downloadFile(root, p, target);
      }
    };
    await copy('', local);
    return local;
  }

  // ---------------------------------------------------------------- dataset inputs

  /** `runs/log-inputs`: the datasets with their input tags, in one request (checked first, as the server checks them). */
  async logInputs(runId: string, inputs: DatasetInput[]): Promise<void> {
    checkDatasetInputs(inputs);
    if (inputs.length === 0) return;
    throwIfInterrupted();
    await this.client.request({
      method: 'POST',
      path: `${API}/runs/log-inputs`,
      json: {
        run_id: runId,
        datasets: inputs.map(({ dataset: d, tags }) => ({
          tags: tags.map((t) => ({ key: t.key, value: t.value })),
          dataset: { name: d.name, digest: d.digest, source_type: d.sourceType, source: d.source, ...(d.schema !== undefined ? { schema: d.schema } : {}), ...(d.profile !== undefined ? { profile: d.profile } : {}) },
        })),
      },
    });
  }

  /** The run's `inputs.dataset_inputs` from `runs/get`. */
  async getRunInputs(runId: string): Promise<DatasetInput[]> {
    const run = (await this.runJson(runId)) as { inputs?: { dataset_inputs?: Array<Record<string, unknown>> } };
    return (run.inputs?.dataset_inputs ?? []).map((di) => {
      const d = (di.dataset ?? {}) as Record<string, unknown>;
      const dataset: Dataset = { name: String(d.name ?? ''), digest: String(d.digest ?? ''), sourceType: String(d.source_type ?? ''), source: String(d.source ?? '') };
      if (typeof d.schema === 'string' && d.schema !== '') dataset.schema = d.schema;
      if (typeof d.profile === 'string' && d.profile !== '') dataset.profile = d.profile;
      const tags = ((di.tags as Tag[] | undefined) ?? []).map((t) => ({ key: String(t.key), value: String(t.value ?? '') }));
      return { dataset, tags };
    });
  }

  async updateRun(runId: string, status: RunStatus, endTime: number): Promise<void> {
    await this.client.request({ method: 'POST', path: `${API}/runs/update`, json: { run_id: runId, run_uuid: runId, status, end_time: Math.round(endTime) } });
  }

  async getRun(runId: string): Promise<Run> {
    const run = toRun(await this.runJson(runId));
    this.artifactUris.set(runId, run.info.artifactUri);
    return run;
  }

  /** The `run` object of `runs/get`. @throws LpclustError E_RUN_NOT_FOUND */
  private async runJson(runId: string): Promise<Record<string, unknown>> {
    try {
      const res = await this.client.request({ method: 'GET', path: `${API}/runs/get`, query: { run_id: runId } });
      return this.field(res.json, 'run', 'runs/get');
    } catch (e) {
      if (e instanceof MlflowApiError && (e.errorCode === 'RESOURCE_DOES_NOT_EXIST' || e.status === 404)) {
        throw new LpclustError('input', 'E_RUN_NOT_FOUND', `run ${runId} not found on ${this.displayUri}`, { cause: e });
      }
      throw e;
    }
  }

  /** Search with an MLflow filter (values quoted), following `next_page_token` pages. */
  async searchRuns(query: RunQuery): Promise<Run[]> {
    const filter = buildFilter(query);
    const out: Run[] = [];
    const want = query.maxResults ?? Infinity;
    let pageToken: string | undefined;
    do {
      const res = await this.client.request({
        method: 'POST',
        path: `${API}/runs/search`,
        json: {
          experiment_ids: query.experimentIds,
          filter,
          max_results: SEARCH_PAGE,
          order_by: ['attributes.start_time DESC'],
          run_view_type: 'ACTIVE_ONLY',
          ...(pageToken ? { page_token: pageToken } : {}),
        },
      });
      for (const r of (res.json.runs as Array<Record<string, unknown>> | undefined) ?? []) {
        const run = toRun(r);
        // Several statuses cannot be one MLflow filter term in every version: filtered here.
        if (query.statuses && !query.statuses.includes(run.info.status)) continue;
        this.artifactUris.set(run.info.runId, run.info.artifactUri);
        out.push(run);
        if (out.length >= want) return out;
      }
      pageToken = (res.json.next_page_token as string | undefined) || undefined;
    } while (pageToken);
    return out;
  }

  /**
   * Every value of a metric, following `next_page_token`. `max_results` is always sent (as MLflow's
   * own client does): without it, 3.x servers (3.4 to at least 3.11) answer an empty page with a
   * token they then reject ("Invalid page token"). An empty page or a token seen before ends the
   * paging, so a server that keeps handing out tokens cannot loop lpclust for ever.
   */
  async getMetricHistory(runId: string, key: string): Promise<Metric[]> {
    const out: Metric[] = [];
    const seenTokens = new Set<string>();
    let pageToken: string | undefined;
    for (;;) {
      const res = await this.client.request({
        method: 'GET',
        path: `${API}/metrics/get-history`,
        query: { run_id: runId, metric_key: key, max_results: HISTORY_PAGE, page_token: pageToken },
      });
      const page = (res.json.metrics as Array<Record<string, unknown>> | undefined) ?? [];
      for (const m of page) out.push(toMetric(m));
      const next = (res.json.next_page_token as string | undefined) || undefined;
      if (page.length === 0 || next === undefined || seenTokens.has(next)) return out;
      seenTokens.add(next);
      pageToken = next;
    }
  }

  /** The proxy path prefix (`<exp>/<run>/artifacts`) of a run's artifacts, or an error for stores lpclust cannot reach. */
  async artifactRoot(runId: string): Promise<string> {
    let uri = this.artifactUris.get(runId);
    if (uri === undefined) uri = (await this.getRun(runId)).info.artifactUri;
    return this.proxyRoot(uri, `run ${runId}`);
  }

  /** The `mlflow-artifacts` proxy path of an artifact URI; `what` names its owner in the error for other stores. */
  private proxyRoot(uri: string, what: string): string {
    if (uri.startsWith('mlflow-artifacts:')) {
      // mlflow-artifacts:/<exp>/<run>/artifacts or mlflow-artifacts://host:port/<exp>/<run>/artifacts
      const rest = uri.slice('mlflow-artifacts:'.length).replace(/^\/\/[^/]*/, '');
      return rest.replace(/^\/+/, '').replace(/\/+$/, '');
    }
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri)?.[1] ?? 'a local path';
    throw externalError(
      'E_ARTIFACT_STORE_UNSUPPORTED',
      `${what} on ${this.displayUri} keeps its artifacts at ${maskUri(uri)} (${scheme}), which lpclust cannot write or read directly`,
      {
        hint: 'start the server with artifact serving (`mlflow server --serve-artifacts`, the MLflow 2 default, with --artifacts-destination ' +
          'for s3:// and others) so artifacts go through the server as mlflow-artifacts:/...',
      },
    );
  }

  /**
   * Upload a file to `artifactPath/<file name>`, or the contents of a directory (recursively) into
   * `artifactPath`; files are streamed, not read into memory.
   */
  async logArtifact(runId: string, localPath: string, artifactPath?: string): Promise<void> {
    const root = await this.artifactRoot(runId);
    let st: Stats;
    try {
      st = await fsp.stat(localPath);
    } catch (e) {
      throw inputError('E_ARTIFACT_READ', `cannot log artifact ${localPath}: ${(e as Error).message}`, { cause: e });
    }
    const dest = cleanArtifactPath(artifactPath ?? '');
    if (st.isDirectory()) {
      // The directory's contents go under artifactPath, as MLflow's log_artifacts (and the FileStore) do.
      for (const { file, rel } of await walk(localPath)) await this.upload(root, file, joinPosix(dest, rel));
    } else {
      await this.upload(root, localPath, joinPosix(dest, path.basename(localPath)));
    }
  }

  /** PUT one file to `<root>/<rel>` (streamed, retried with a fresh stream). */
  async upload(root: string, file: string, rel: string): Promise<void> {
    throwIfInterrupted();
    const { size } = await fsp.stat(file);
    await this.client.request({
      method: 'PUT',
      path: `${ARTIFACT_API}/${encodePath(root)}/${encodePath(rel)}`,
      body: { open: () => createReadStream(file), length: size },
    });
  }

  async listArtifacts(runId: string, artifactPath?: string): Promise<ArtifactEntry[]> {
    await this.artifactRoot(runId); // refuses stores lpclust cannot reach, with the clear message
    const p = cleanArtifactPath(artifactPath ?? '');
    const res = await this.client.request({ method: 'GET', path: `${API}/artifacts/list`, query: { run_id: runId, path: p || undefined } });
    const files = (res.json.files as Array<Record<string, unknown>> | undefined) ?? [];
    return files.map((f) => {
      let rel = String(f.path);
      // Servers answer with paths relative to the run root; tolerate ones relative to `path`.
      if (p && !rel.startsWith(p + '/') && rel !== p) rel = joinPosix(p, rel);
      const isDir = f.is_dir === true || f.is_dir === 'true';
      return { path: rel, isDir, ...(isDir || f.file_size === undefined ? {} : { size: Number(f.file_size) }) };
    });
  }

  async downloadArtifacts(runId: string, artifactPath: string, destDir: string): Promise<string> {
    const root = await this.artifactRoot(runId);
    const p = cleanArtifactPath(artifactPath);
    const entries = p === '' ? null : await this.listArtifacts(runId, path.posix.dirname(p) === '.' ? '' : path.posix.dirname(p));
    const self = entries?.find((e) => e.path === p);
    const local = path.join(destDir, p === '' ? '' : path.posix.basename(p));
    if (p === '' || self?.isDir) {
      await fsp.mkdir(local, { recursive: true });
      await this.downloadDir(runId, root, p, local);
      return local;
    }
    if (!self) {
      throw new LpclustError('input', 'E_ARTIFACT_NOT_FOUND', `run ${runId} on ${this.displayUri} has no artifact "${p}"`);
    }
    await fsp.mkdir(path.dirname(local), { recursive: true });
    await this.downloadFile(root, p, local);
    return local;
  }

  private async downloadDir(runId: string, root: string, rel: string, local: string): Promise<void> {
    for (const e of await this.listArtifacts(runId, rel)) {
      const target = path.join(local, path.posix.basename(e.path));
      if (e.isDir) {
        await fsp.mkdir(target, { recursive: true });
        await this.downloadDir(runId, root, e.path, target);
      } else await this.downloadFile(root, e.path, target);
    }
  }

  private async downloadFile(root: string, rel: string, local: string): Promise<void> {
    throwIfInterrupted();
    // Registered with io/atomic.ts, so Ctrl-C removes a half-downloaded file; each retry rewrites it.
    const tmp = reserveTempFile(local);
    try {
      await this.client.request({
        method: 'GET',
        path: `${ARTIFACT_API}/${encodePath(root)}/${encodePath(rel)}`,
        sink: (res) => pipeline(res, createWriteStream(tmp)),
      });
      await fsp.rename(tmp, local);
    } finally {
      await discardTempFile(tmp);
    }
  }
}

/** An MLflow filter string for a query: `params.k = '12' and tags.`a-b` = 'x'`. */
export function buildFilter(query: Pick<RunQuery, 'params' | 'tags'>): string {
  const terms: string[] = [];
  for (const [k, v] of Object.entries(query.params ?? {})) terms.push(`params.${quoteKey(k)} = ${quoteValue(v)}`);
  for (const [k, v] of Object.entries(query.tags ?? {})) terms.push(`tags.${quoteKey(k)} = ${quoteValue(v)}`);
  return terms.join(' and ');
}

/** A key in a filter: backquoted unless it is plain letters, digits, `_` and `.`. */
export function quoteKey(key: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_.]*$/.test(key)) return key;
  if (key.includes('`')) throw inputError('E_TRACKING_FILTER', `a key with a backquote cannot be searched on an MLflow server: ${JSON.stringify(key)}`);
  return '`' + key + '`';
}

/** A value in a filter: single-quoted (double quotes when it contains a single quote). */
export function quoteValue(value: string): string {
  if (!value.includes("'")) return `'${value}'`;
  if (!value.includes('"')) return `"${value}"`;
  throw inputError('E_TRACKING_FILTER', `a value with both quote characters cannot be searched on an MLflow server: ${JSON.stringify(value)}`);
}

function metricValueJson(v: number): number | string {
  // JSON has no NaN/Infinity; MLflow's protobuf JSON parser accepts these strings.
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'Infinity';
  if (v === -Infinity) return '-Infinity';
  return v;
}

function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v === 'NaN' || v === 'nan') return NaN;
  if (v === 'Infinity' || v === 'inf') return Infinity;
  if (v === '-Infinity' || v === '-inf') return -Infinity;
  return Number(v);
}

function toExperiment(e: Record<string, unknown>): Experiment {
  const tags: Record<string, string> = {};
  for (const t of (e.tags as Tag[] | undefined) ?? []) tags[t.key] = t.value;
  return {
    experimentId: String(e.experiment_id),
    name: String(e.name),
    artifactLocation: String(e.artifact_location ?? ''),
    lifecycleStage: e.lifecycle_stage === 'deleted' ? 'deleted' : 'active',
    ...(e.creation_time !== undefined ? { creationTime: num(e.creation_time) } : {}),
    ...(e.last_update_time !== undefined ? { lastUpdateTime: num(e.last_update_time) } : {}),
    tags,
  };
}

function toRunInfo(i: Record<string, unknown>): RunInfo {
  const runId = String(i.run_id ?? i.run_uuid);
  return {
    runId,
    experimentId: String(i.experiment_id),
    runName: String(i.run_name ?? ''),
    userId: String(i.user_id ?? ''),
    status: (String(i.status ?? 'RUNNING') as RunStatus),
    startTime: num(i.start_time ?? 0),
    endTime: i.end_time === undefined || i.end_time === null ? null : num(i.end_time),
    artifactUri: String(i.artifact_uri ?? ''),
    lifecycleStage: i.lifecycle_stage === 'deleted' ? 'deleted' : 'active',
  };
}

function toLoggedModel(i: Record<string, unknown>): LoggedModel {
  const status = typeof i.status === 'number' ? i.status : (LOGGED_MODEL_STATUS[String(i.status ?? '')] ?? 0);
  return {
    modelId: String(i.model_id ?? ''),
    experimentId: String(i.experiment_id ?? ''),
    name: String(i.name ?? ''),
    artifactLocation: String(i.artifact_uri ?? ''),
    sourceRunId: typeof i.source_run_id === 'string' && i.source_run_id !== '' ? i.source_run_id : null,
    status,
  };
}

function toMetric(m: Record<string, unknown>): Metric {
  return { key: String(m.key), value: num(m.value), timestamp: num(m.timestamp ?? 0), step: num(m.step ?? 0) };
}

function toRun(r: Record<string, unknown>): Run {
  const info = toRunInfo(r.info as Record<string, unknown>);
  const data = (r.data as Record<string, unknown> | undefined) ?? {};
  const params: Record<string, string> = {};
  const tags: Record<string, string> = {};
  const metrics: Record<string, number> = {};
  for (const p of (data.params as Tag[] | undefined) ?? []) params[p.key] = p.value;
  for (const t of (data.tags as Tag[] | undefined) ?? []) tags[t.key] = t.value;
  for (const m of (data.metrics as Array<Record<string, unknown>> | undefined) ?? []) metrics[String(m.key)] = num(m.value);
  if (!info.runName && tags['mlflow.runName']) info.runName = tags['mlflow.runName'];
  return { info, data: { params, metrics, tags } };
}

function cleanArtifactPath(p: string): string {
  const clean = p.replace(/\\/g, '/').replace(/^\/+|\/+$/g, '');
  if (clean.split('/').some((s) => s === '..')) throw inputError('E_ARTIFACT_PATH', `artifact path must not contain "..": ${JSON.stringify(p)}`);
  return clean === '.' ? '' : clean;
}

function joinPosix(a: string, b: string): string {
  if (!a) return b;
  if (!b) return a;
  return `${a}/${b}`;
}

function encodePath(p: string): string {
  return p.split('/').filter((s) => s !== '').map(encodeURIComponent).join('/');
}

/** Files below a directory with their `/`-separated relative paths, sorted. */
async function walk(dir: string, prefix = ''): Promise<Array<{ file: string; rel: string }>> {
  const out: Array<{ file: string; rel: string }> = [];
  const entries = await fsp.readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const full = path.join(dir, e.name);
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await walk(full, rel)));
    else if (e.isFile()) out.push({ file: full, rel });
  }
  return out;
}
