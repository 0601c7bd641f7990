/**
 * The offline spool: a {@link TrackingStore} wrapper around the REST store that keeps a run going
 * when the tracking server stays unreachable after the retries. From then on (for the rest of the
 * process) everything goes to a local FileStore (`./mlruns` or `LPCLUST_SPOOL_DIR`) in MLflow's
 * layout, with one warning saying where; `lpclust sync` uploads it later.
 *
 * A run that had started on the server is re-created in the spool with everything logged to it so
 * far (kept in memory: params, tags, metric histories) and the tags `lpclust.remoteRunId` and
 * `lpclust.clientRunId`, so that `sync` completes that same server run instead of creating a new
 * one. Callers keep using the run id they were given; the wrapper maps it to the spool's id.
 */
import path from 'node:path';
import { LpclustError } from '../errors.js';
import { log } from '../util/log.js';
import { randomBytes } from 'node:crypto';
import { FileStore } from './file-store.js';
import { isUnavailable } from './rest-client.js';
import { CLIENT_RUN_ID_TAG } from './rest-store.js';
import { loggedModelsOf, registryOf, type LoggedModel, type ModelRegistry, type WithLoggedModels, type WithRegistry } from './registry.js';
import type {
  ArtifactEntry,
  Batch,
  CreateRunRequest,
  DatasetInput,
  Experiment,
  Metric,
  Param,
  Run,
  RunInfo,
  RunQuery,
  RunStatus,
  Tag,
  TrackingStore,
} from './store.js';

/** Tag of a spooled run holding the id of the server run it continues. */
export const REMOTE_RUN_ID_TAG = 'lpclust.remoteRunId';

/** What was logged to a server run, to replay into the spool if the server goes away. */
interface Journal {
  experimentName: string;
  request: CreateRunRequest;
  params: Map<string, string>;
  tags: Map<string, string>;
  metrics: Metric[];
  /** Dataset inputs logged to the server run, replayed into the spool with the rest. */
  inputs: DatasetInput[];
  /** Set once the server run was ended: a run moved to the spool afterwards (a tag logged after its end) keeps its status. */
  ended?: { status: RunStatus; endTime: number };
}

interface RunEntry {
  where: 'remote' | 'spool';
  /** Id of the run in the spool (differs from the caller's id for a run moved there mid-way). */
  spoolId?: string;
  journal?: Journal;
  /** The move to the spool in progress (concurrent calls on one run share it). */
  moving?: Promise<string>;
}

/** Options of {@link ResilientStore}. */
export interface ResilientStoreOptions {
  /** Directory of the spool FileStore (absolute, or relative to `cwd`). */
  spoolDir: string;
  cwd?: string;
  /** The server URI as the user wrote it (masked), for the `lpclust sync` hint. */
  remoteUri?: string;
}

/** A store that writes to a server and falls back to a local spool when the server is unreachable. */
export class ResilientStore implements TrackingStore, WithRegistry, WithLoggedModels {
  readonly remote: TrackingStore;
  readonly spoolDir: string;
  private spoolStore?: FileStore;
  private offlineSince?: LpclustError;
  private readonly runs = new Map<string, RunEntry>();
  /** Experiment id → name, for experiments seen on the server. */
  private readonly remoteExperiments = new Map<string, string>();
  /** Experiment ids that belong to the spool. */
  private readonly spoolExperiments = new Set<string>();
  private readonly remoteUri: string;

  constructor(remote: TrackingStore, options: ResilientStoreOptions) {
    this.remote = remote;
    this.spoolDir = path.resolve(options.cwd ?? process.cwd(), options.spoolDir);
    this.remoteUri = options.remoteUri ?? remote.displayUri;
  }

  get displayUri(): string {
    return this.remote.displayUri;
  }

  /**
   * The server's model registry. A registration of a spooled run goes to the spool's own registry
   * instead ({@link spooledRegistration}), and `lpclust sync` replays it on the server.
   */
  registry(): ModelRegistry {
    return registryOf(this.remote);
  }

  /**
   * Where to record the registration of run `runId` while the server is unreachable: the spool's
   * registry (`<spool>/models/`) and the run's id in the spool, when the run is spooled; null for a
   * run the spool does not hold (it is on the server, which must be reached to register it).
   */
  spooledRegistration(runId: string): { registry: ModelRegistry; runId: string; spoolDir: string; remoteUri: string } | null {
    const entry = this.runs.get(runId);
    if (entry?.where !== 'spool' || !entry.spoolId) return null;
    return { registry: registryOf(this.spool), runId: entry.spoolId, spoolDir: this.spoolDir, remoteUri: this.remoteUri };
  }

  // MLflow 3 logged models: on the server for its runs; none for spooled runs (their
  // mlflow.log-model.history tag does that job, and sync uploads them as MLflow 2 runs).

  private remoteLogged(runId: string): WithLoggedModels | null {
    const entry = this.runs.get(runId);
    if (this.offline || entry?.where === 'spool' || entry?.moving) return null;
    return loggedModelsOf(this.remote);
  }

  async startLoggedModel(runId: string, name: string): Promise<LoggedModel | null> {
    const remote = this.remoteLogged(runId);
    if (!remote) return null;
    try {
      return await remote.startLoggedModel(runId, name);
    } catch (e) {
      if (!isUnavailable(e)) throw e;
      this.goOffline(e);
      return null;
    }
  }

  /** Upload and finalize on the server; a server lost meanwhile leaves the model PENDING (status 1) and the caller falls back to the run's tag. */
  async completeLoggedModel(model: LoggedModel, localDir: string): Promise<LoggedModel> {
    const remote = loggedModelsOf(this.remote);
    if (!remote || this.offline) return model;
    try {
      return await remote.completeLoggedModel(model, localDir);
    } catch (e) {
      if (!isUnavailable(e)) throw e;
      this.goOffline(e);
      return model;
    }
  }

  async createLoggedModel(runId: string, name: string, localDir: string): Promise<LoggedModel | null> {
    const started = await this.startLoggedModel(runId, name);
    return started ? this.completeLoggedModel(started, localDir) : null;
  }

  async findLoggedModel(runId: string, name: string): Promise<LoggedModel | null> {
    return (await this.remoteLogged(runId)?.findLoggedModel(runId, name)) ?? null;
  }

  async getLoggedModel(modelId: string): Promise<LoggedModel | null> {
    return (await loggedModelsOf(this.remote)?.getLoggedModel(modelId)) ?? null;
  }

  async linkModelVersion(modelId: string, name: string, version: number): Promise<void> {
    await loggedModelsOf(this.remote)?.linkModelVersion(modelId, name, version);
  }

  async downloadLoggedModel(model: LoggedModel, destDir: string): Promise<string> {
    const remote = loggedModelsOf(this.remote);
    if (!remote?.downloadLoggedModel) throw new LpclustError('external', 'E_TRACKING_API', `logged model ${model.modelId} cannot be downloaded from ${this.displayUri}`);
    return remote.downloadLoggedModel(model, destDir);
  }

  /** True once the server was found unreachable (everything goes to the spool since). */
  get offline(): boolean {
    return this.offlineSince !== undefined;
  }

  /** The spool store (created on first use). */
  get spool(): FileStore {
    if (!this.spoolStore) this.spoolStore = new FileStore(this.spoolDir);
    return this.spoolStore;
  }

  private goOffline(e: unknown): void {
    if (this.offlineSince) return;
    this.offlineSince = e as LpclustError;
    log.warn(
      `${(e as Error).message}\n` +
        `  lpclust continues and writes the runs to the local store ${this.spoolDir}; ` +
        `upload them later with: lpclust sync --from ${this.spoolDir} --to ${this.remoteUri}`,
    );
  }

  /** Run `op` on the server unless offline; on unavailability go offline and run `fallback`. */
  private async guarded<T>(op: () => Promise<T>, fallback: () => Promise<T>): Promise<T> {
    if (!this.offline) {
      try {
        return await op();
      } catch (e) {
        if (!isUnavailable(e)) throw e;
        this.goOffline(e);
      }
    }
    return fallback();
  }

  /** Looked up on the server (on the spool once offline); an unreachable server is an error here, as for listing. */
  async getExperimentByName(name: string): Promise<Experiment | null> {
    if (this.offline) {
      const e = await this.spool.getExperimentByName(name);
      if (e) this.spoolExperiments.add(e.experimentId);
      return e;
    }
    const e = await this.remote.getExperimentByName(name);
    if (e) this.remoteExperiments.set(e.experimentId, e.name);
    return e;
  }

  async getOrCreateExperiment(name: string): Promise<Experiment> {
    return this.guarded(
      async () => {
        const e = await this.remote.getOrCreateExperiment(name);
        this.remoteExperiments.set(e.experimentId, e.name);
        return e;
      },
      () => this.spoolExperiment(name),
    );
  }

  private async spoolExperiment(name: string): Promise<Experiment> {
    const e = await this.spool.getOrCreateExperiment(name);
    this.spoolExperiments.add(e.experimentId);
    return e;
  }

  /**
   * The server's experiments. Not answered from the spool: listing is what `lpclust runs` shows,
   * and the spool's content presented as the server's would mislead; an unreachable server is an error.
   */
  async listExperiments(): Promise<Experiment[]> {
    if (this.offline) return this.spool.listExperiments();
    return this.remote.listExperiments();
  }

  /** Create a run on the server (tagged with a client id), or in the spool when offline. */
  async createRun(request: CreateRunRequest): Promise<RunInfo> {
    const tags = [...request.tags];
    if (!tags.some((t) => t.key === CLIENT_RUN_ID_TAG)) tags.push({ key: CLIENT_RUN_ID_TAG, value: randomBytes(16).toString('hex') });
    const req: CreateRunRequest = { ...request, tags };
    const experimentName = this.remoteExperiments.get(request.experimentId);
    if (!this.offline && !this.spoolExperiments.has(request.experimentId)) {
      try {
        const info = await this.remote.createRun(req);
        this.runs.set(info.runId, {
          where: 'remote',
          journal: {
            experimentName: experimentName ?? '',
            request: req,
            params: new Map(),
            tags: new Map(tags.map((t) => [t.key, t.value])),
            metrics: [],
            inputs: [],
          },
        });
        return info;
      } catch (e) {
        if (!isUnavailable(e)) throw e;
        this.goOffline(e);
      }
    }
    let spoolExpId = request.experimentId;
    if (!this.spoolExperiments.has(spoolExpId)) {
      if (experimentName === undefined) {
        throw new LpclustError('external', 'E_TRACKING_UNAVAILABLE', `cannot spool a run of experiment ${request.experimentId}: its name is unknown while the server is unreachable`);
      }
      spoolExpId = (await this.spoolExperiment(experimentName)).experimentId;
    }
    const info = await this.spool.createRun({ ...req, experimentId: spoolExpId });
    this.runs.set(info.runId, { where: 'spool', spoolId: info.runId });
    return info;
  }

  /** Move a server run to the spool, replaying what was logged to it. */
  private async moveToSpool(runId: string, entry: RunEntry): Promise<string> {
    const j = entry.journal;
    if (!j?.experimentName) {
      throw new LpclustError('external', 'E_TRACKING_UNAVAILABLE', `run ${runId} cannot be moved to the local spool: it was not started by this process`, { cause: this.offlineSince });
    }
    const exp = await this.spoolExperiment(j.experimentName);
    const tags = j.request.tags.filter((t) => t.key !== REMOTE_RUN_ID_TAG).concat({ key: REMOTE_RUN_ID_TAG, value: runId });
    const info = await this.spool.createRun({ ...j.request, experimentId: exp.experimentId, tags });
    const params: Param[] = [...j.params].map(([key, value]) => ({ key, value }));
    const later: Tag[] = [...j.tags].filter(([k]) => !tags.some((t) => t.key === k && t.value === j.tags.get(k))).map(([key, value]) => ({ key, value }));
    if (params.length || later.length || j.metrics.length) await this.spool.logBatch(info.runId, { params, tags: later, metrics: j.metrics });
    if (j.inputs.length) await this.spool.logInputs(info.runId, j.inputs);
    if (j.ended) await this.spool.updateRun(info.runId, j.ended.status, j.ended.endTime);
    entry.where = 'spool';
    entry.spoolId = info.runId;
    entry.journal = undefined;
    log.warn(`run ${runId} continues in the local spool as ${info.runId}`);
    return info.runId;
  }

  /**
   * Route a run operation: to the spool for spooled runs; to the server otherwise, moving the run
   * to the spool when the server is (or becomes) unreachable (a read of a server run while offline
   * moves it too: the spool then holds all it knows). Runs not started here go to the server.
   */
  private async route<T>(runId: string, remoteOp: () => Promise<T>, spoolOp: (spoolId: string) => Promise<T>): Promise<T> {
    const entry = this.runs.get(runId);
    if (!entry) return remoteOp();
    if (entry.where === 'spool') return spoolOp(entry.spoolId!);
    if (!this.offline && !entry.moving) {
      try {
        return await remoteOp();
      } catch (e) {
        if (!isUnavailable(e)) throw e;
        this.goOffline(e);
      }
    }
    entry.moving ??= this.moveToSpool(runId, entry);
    return spoolOp(await entry.moving);
  }

  async logBatch(runId: string, batch: Batch): Promise<void> {
    await this.route(
      runId,
      async () => {
        await this.remote.logBatch(runId, batch);
        const j = this.runs.get(runId)?.journal;
        if (j) {
          for (const p of batch.params ?? []) j.params.set(p.key, p.value);
          for (const t of batch.tags ?? []) j.tags.set(t.key, t.value);
          for (const m of batch.metrics ?? []) j.metrics.push(m);
        }
      },
      (id) => this.spool.logBatch(id, batch)
    );
  }

  async logInputs(runId: string, inputs: DatasetInput[]): Promise<void> {
    await this.route(
      runId,
      async () => {
        await this.remote.logInputs(runId, inputs);
        this.runs.get(runId)?.journal?.inputs.push(...inputs);
      },
      (id) => this.spool.logInputs(id, inputs),
    );
  }

  async getRunInputs(runId: string): Promise<DatasetInput[]> {
    return this.route(runId, () => this.remote.getRunInputs(runId), (id) => this.spool.getRunInputs(id));
  }

  async updateRun(runId: string, status: RunStatus, endTime: number): Promise<void> {
    await this.route(
      runId,
      async () => {
        await this.remote.updateRun(runId, status, endTime);
        const j = this.runs.get(runId)?.journal;
        if (j) j.ended = { status, endTime };
      },
      (id) => this.spool.updateRun(id, status, endTime),
    );
  }

  /** Ends spooled runs synchronously (server runs cannot be: returns false). */
  updateRunSync(runId: string, status: RunStatus, endTime: number): boolean {
    const entry = this.runs.get(runId);
    if (entry?.where !== 'spool') return false;
    return this.spool.updateRunSync(entry.spoolId!, status, endTime);
  }

  async getRun(runId: string): Promise<Run> {
    return this.route(
      runId,
      () => this.remote.getRun(runId),
      async (id) => {
        const run = await this.spool.getRun(id);
        return { ...run, info: { ...run.info, runId } };
      }
    );
  }

  async searchRuns(query: RunQuery): Promise<Run[]> {
    const remoteIds = query.experimentIds.filter((id) => !this.spoolExperiments.has(id));
    const spoolIds = query.experimentIds.filter((id) => this.spoolExperiments.has(id));
    const out: Run[] = [];
    if (remoteIds.length) {
      const found = await this.guarded(
        () => this.remote.searchRuns({ ...query, experimentIds: remoteIds }),
        async () => {
          // Offline: search the spool experiments of the same names.
          const ids: string[] = [];
          for (const id of remoteIds) {
            const name = this.remoteExperiments.get(id);
            const e = name === undefined ? null : await this.spool.getExperimentByName(name);
            if (e) ids.push(e.experimentId);
          }
          return ids.length ? this.spool.searchRuns({ ...query, experimentIds: ids }) : [];
        },
      );
      out.push(...found);
    }
    if (spoolIds.length) out.push(...(await this.spool.searchRuns({ ...query, experimentIds: spoolIds })));
    out.sort((a, b) => b.info.startTime - a.info.startTime);
    return query.maxResults !== undefined ? out.slice(0, query.maxResults) : out;
  }

  async getMetricHistory(runId: string, key: string): Promise<Metric[]> {
    return this.route(runId, () => this.remote.getMetricHistory(runId, key), (id) => this.spool.getMetricHistory(id, key));
  }

  async logArtifact(runId: string, localPath: string, artifactPath?: string): Promise<void> {
    await this.route(runId, () => this.remote.logArtifact(runId, localPath, artifactPath), (id) => this.spool.logArtifact(id, localPath, artifactPath));
  }

  async listArtifacts(runId: string, artifactPath?: string): Promise<ArtifactEntry[]> {
    return this.route(runId, () => this.remote.listArtifacts(runId, artifactPath), (id) => this.spool.listArtifacts(id, artifactPath));
  }

  async downloadArtifacts(runId: string, artifactPath: string, destDir: string): Promise<string> {
    return this.route(runId, () => this.remote.downloadArtifacts(runId, artifactPath, destDir), (id) => this.spool.downloadArtifacts(id, artifactPath, destDir));
  }
}
