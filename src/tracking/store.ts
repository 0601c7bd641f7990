/**
 * The tracking store interface: MLflow terms, one implementation per backend (local FileStore for
 * `file:` URIs, REST for `http(s):`). The only write primitive for run data is a batch.
 */

/** Run status, as MLflow names it. */
export type RunStatus = 'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED';

/** A param: logged once per run, value ≤ {@link LIMITS.paramValue} characters. */
export interface Param {
  key: string;
  value: string;
}

/** A tag: may be overwritten. */
export interface Tag {
  key: string;
  value: string;
}

/** One value of a metric's history. */
export interface Metric {
  key: string;
  value: number;
  /** Integer milliseconds since the epoch. */
  timestamp: number;
  /** Integer step (e.g. k for a k sweep); 0 by default. */
  step: number;
}

/** A batch of run data: the only write primitive. */
export interface Batch {
  params?: Param[];
  metrics?: Metric[];
  tags?: Tag[];
}

/**
 * A dataset as MLflow records it (`mlflow.entities.Dataset`): what a run read. Every text is
 * already in MLflow's field format: `source` and `schema`/`profile` are JSON texts.
 */
export interface Dataset {
  /** Name shown in the UI, e.g. `harmonized`. */
  name: string;
  /** Short content digest (MLflow writes 8 hex characters; ≤ {@link LIMITS.datasetDigest}). */
  digest: string;
  /** How to read `source`: `local` (a file path) or another MLflow source type. */
  sourceType: string;
  /** JSON, e.g. `{"uri": "data/harmonized.csv"}` (passwords masked). */
  source: string;
  /** JSON in MLflow's schema form (`{"mlflow_colspec": [...]}`), when known. */
  schema?: string;
  /** JSON of summary figures (`{"num_rows": …}`), when known. */
  profile?: string;
}

/** A dataset used by a run, with its input tags (`mlflow.data.context` = training, validation…). */
export interface DatasetInput {
  dataset: Dataset;
  tags: Tag[];
}

/** Server and FileStore limits (MLflow 2.x, as its REST API and FileStore enforce them), in one place. */
export const LIMITS = {
  /** Characters of a param value accepted by MLflow. */
  paramValue: 6000,
  /** Characters of a tag value accepted by every MLflow 2.x server (2.17 accepts 8000). */
  tagValue: 5000,
  /** Characters of a key. */
  keyLength: 250,
  /** Per `runs/log-batch` request. */
  batchParams: 100,
  batchTags: 100,
  batchMetrics: 1000,
  batchEntities: 1000,
  /** Dataset fields, as MLflow's server validates them (`runs/log-inputs`). */
  datasetName: 500,
  datasetDigest: 36,
  /** The SQL column `dataset_source_type` is VARCHAR(36). */
  datasetSourceType: 36,
  datasetSource: 65535,
  datasetSchema: 1048575,
  datasetProfile: 16384,
  inputTagKey: 255,
  inputTagValue: 500,
} as const;

/** An experiment. */
export interface Experiment {
  experimentId: string;
  name: string;
  artifactLocation: string;
  lifecycleStage: 'active' | 'deleted';
  /** ms since the epoch, when known. */
  creationTime?: number;
  lastUpdateTime?: number;
  tags?: Record<string, string>;
}

/** The metadata of a run. */
export interface RunInfo {
  runId: string;
  experimentId: string;
  runName: string;
  userId: string;
  status: RunStatus;
  /** ms since the epoch. */
  startTime: number;
  /** ms since the epoch, null while running. */
  endTime: number | null;
  artifactUri: string;
  lifecycleStage: 'active' | 'deleted';
}

/** A run with its data; metrics hold the latest value of each key (max by step, timestamp, value). */
export interface Run {
  info: RunInfo;
  data: {
    params: Record<string, string>;
    metrics: Record<string, number>;
    tags: Record<string, string>;
  };
}

/** What {@link TrackingStore.createRun} needs. */
export interface CreateRunRequest {
  experimentId: string;
  runName: string;
  userId: string;
  /** ms since the epoch. */
  startTime: number;
  tags: Tag[];
}

/** Search by exact param and tag values (what run reuse needs); all conditions must hold. */
export interface RunQuery {
  experimentIds: string[];
  params?: Record<string, string>;
  tags?: Record<string, string>;
  /** Only runs with one of these statuses. */
  statuses?: RunStatus[];
  /** At most this many runs, newest first (default: all). */
  maxResults?: number;
}

/** An artifact file or directory. */
export interface ArtifactEntry {
  /** Path relative to the run's artifact root, `/`-separated. */
  path: string;
  isDir: boolean;
  /** Bytes, for files. */
  size?: number;
}

/** A tracking backend. Every method is safe to call from several processes writing different runs. */
export interface TrackingStore {
  /** The tracking URI, with any password masked (for display and logs). */
  readonly displayUri: string;
  /** The experiment of that name, or null. */
  getExperimentByName(name: string): Promise<Experiment | null>;
  /** The experiment of that name, created if missing (race-safe across processes). */
  getOrCreateExperiment(name: string): Promise<Experiment>;
  /** All active experiments. */
  listExperiments(): Promise<Experiment[]>;
  /** Start a run (status RUNNING). */
  createRun(request: CreateRunRequest): Promise<RunInfo>;
  /** Write params, metrics and tags of a run. Re-logging a param with another value is an error. */
  logBatch(runId: string, batch: Batch): Promise<void>;
  /**
   * Record datasets a run read (MLflow's `log_inputs`). A dataset is stored once per experiment
   * (by name and digest) and linked to the run once; logging it again is a no-op.
   */
  logInputs(runId: string, inputs: DatasetInput[]): Promise<void>;
  /** The dataset inputs of a run, in logging order. */
  getRunInputs(runId: string): Promise<DatasetInput[]>;
  /** End a run (or change its status) with an end time in ms. */
  updateRun(runId: string, status: RunStatus, endTime: number): Promise<void>;
  /** One run with its data. @throws LpclustError E_RUN_NOT_FOUND */
  getRun(runId: string): Promise<Run>;
  /** Runs matching a query, newest first. */
  searchRuns(query: RunQuery): Promise<Run[]>;
  /** Every value logged for a metric, in logging order. */
  getMetricHistory(runId: string, key: string): Promise<Metric[]>;
  /**
   * Copy a local file to `<artifactPath>/<file name>`, or the contents of a local directory into
   * `<artifactPath>/` (MLflow's `log_artifact` / `log_artifacts`); `artifactPath` is a directory,
   * the artifact root by default.
   */
  logArtifact(runId: string, localPath: string, artifactPath?: string): Promise<void>;
  /** Artifacts directly under `path` (root by default). */
  listArtifacts(runId: string, path?: string): Promise<ArtifactEntry[]>;
  /** Copy an artifact file or directory to `destDir`; returns the local path of the copy. */
  downloadArtifacts(runId: string, path: string, destDir: string): Promise<string>;
  /**
   * End a run synchronously, for signal handlers where the event loop may not run again.
   * Stores that cannot (REST) return false and the caller ends the run asynchronously.
   */
  updateRunSync?(runId: string, status: RunStatus, endTime: number): boolean;
}
