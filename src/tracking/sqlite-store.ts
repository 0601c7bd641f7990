/**
 * The SQLite tracking store (`sqlite:///mlflow.db`): runs, params, metrics (with
 * `latest_metrics`), tags and experiments written straight into MLflow's own database schema, so
 * that `mlflow ui --backend-store-uri sqlite:///mlflow.db` shows them as if MLflow had logged
 * them. Artifacts go to the experiment's artifact location on disk (for experiments lpclust
 * creates: `<working folder>/mlruns/<experiment id>`, the default of MLflow's client-side SQL
 * store), recorded in `runs.artifact_uri`.
 *
 * Schema: a new database is created at MLflow 2.12.2's revision (acf3f17fdcc7), which every
 * MLflow from 2.12 opens and MLflow 3 upgrades in place, or at MLflow 3.11's (7d34483879f0) on
 * request; an existing database at either revision is written in its own schema; any other
 * revision, or a database that is not MLflow's, is refused before anything is written.
 *
 * Concurrency: several lpclust processes (and MLflow) may use one database. The journal is WAL
 * (readers never wait for a writer), a busy writer is waited for up to a minute, and every write
 * (a run, a batch, an experiment) is one `BEGIN IMMEDIATE` transaction: all of it or nothing.
 *
 * This module imports better-sqlite3: load it only for `sqlite:` URIs (see `openStore`).
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { SqliteSchemaChoice } from '../config.js';
export type { SqliteSchemaChoice } from '../config.js';
import { externalError, inputError, isLpclustError, type LpclustError, usageError } from '../errors.js';
import { checkBatch, checkTag } from './batch-check.js';
import { checkDatasetInputs } from './datasets.js';
import { validateKey } from './file-format.js';
import { OWNER_GONE_CODE, OWNER_TAG, ownerGoneReason, STATUS_CODES, warnRecoveredRuns } from './file-store.js';
import { currentOwner, formatOwner, ownerGone, parseOwner } from '../io/owner.js';
import { log } from '../util/log.js';
import { LocalArtifactDir, localArtifactDir } from './local-artifacts.js';
import { REVISION_MLFLOW_2, REVISION_MLFLOW_3, SCHEMA_REVISIONS, type SchemaRevision } from './sqlite-schema.js';
import { sqliteUriOf, sqliteUriToPath } from './store-uri.js';
import type { LoggedModel, ModelRegistry, WithLoggedModels, WithRegistry } from './registry.js';
import { SqliteLoggedModels, SqliteRegistry } from './sqlite-registry.js';
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
  TrackingStore,
} from './store.js';

/** How long a write waits for another process's transaction before giving up (ms). */
const BUSY_TIMEOUT_MS = 60_000;

/** SQL cannot hold infinities: MLflow stores ±inf as the largest finite double, and so does lpclust. */
const MAX_DOUBLE = 1.7976931348623157e308;

/** Tables every MLflow tracking database has (any revision). */
const CORE_TABLES = ['experiments', 'runs', 'params', 'metrics', 'latest_metrics', 'tags', 'experiment_tags', 'alembic_version'];

/** Bound parameters per `IN (...)` list, well below SQLite's limit. */
const IN_CHUNK = 500;

/** Database files this process has already checked for runs left RUNNING ({@link SqliteStore.recover}). */
const recoveredDatabases = new Set<string>();

/** Options of a {@link SqliteStore}. */
export interface SqliteStoreOptions {
  /** Folder relative `sqlite:///` paths and the default artifact root are resolved against (default: process.cwd()). */
  cwd?: string;
  /** Schema of a database lpclust creates (`mlflow2` by default; existing databases keep theirs). */
  schema?: SqliteSchemaChoice;
}

/** `append_to_uri_path` of MLflow: join URI path segments with one `/`. */
function appendToUri(base: string, ...parts: string[]): string {
  return [base.replace(/\/+$/, ''), ...parts].join('/');
}

/** Can this process write `p` (file or folder)? Root passes any permission check, as SQLite will see it. */
function canWrite(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

interface RunRow {
  run_uuid: string;
  name: string | null;
  user_id: string | null;
  status: string;
  start_time: number | null;
  end_time: number | null;
  lifecycle_stage: string | null;
  artifact_uri: string | null;
  experiment_id: number;
}

interface ExperimentRow {
  experiment_id: number;
  name: string;
  artifact_location: string | null;
  lifecycle_stage: string | null;
  creation_time: number | null;
  last_update_time: number | null;
}

interface MetricRow {
  key: string;
  value: number;
  timestamp: number;
  step: number;
  is_nan: number;
}

/** The MLflow SQLite tracking store. */
export class SqliteStore implements TrackingStore, WithRegistry, WithLoggedModels {
  /** Absolute path of the database file. */
  readonly file: string;
  readonly displayUri: string;
  private readonly cwd: string;
  private readonly schemaChoice: SqliteSchemaChoice;
  private db: Database.Database | null = null;
  private writable = false;
  /** The schema revision, once the database has been checked. */
  private revision: SchemaRevision | null = null;
  private readonly artifactDirs = new Map<string, LocalArtifactDir>();
  private exitHook?: () => void;
  private walChecked = false;

  /** @param uri a `sqlite:` URI (`sqlite:///mlflow.db`, `sqlite:////abs/mlflow.db`) */
  constructor(uri: string, options: SqliteStoreOptions = {}) {
    this.cwd = options.cwd ?? process.cwd();
    this.file = sqliteUriToPath(uri, this.cwd);
    this.displayUri = sqliteUriOf(this.file);
    this.schemaChoice = options.schema ?? 'mlflow2';
  }

  /** The model registry in the same database (MLflow's registry tables). */
  registry(): ModelRegistry {
    return new SqliteRegistry({
      displayUri: this.displayUri,
      write: (what, fn) => this.write(what, fn),
      read: (what, empty, fn) => this.read(what, empty, fn),
      workspaces: () => this.revision?.workspaces ?? false,
    });
  }

  private loggedModelsImpl?: SqliteLoggedModels;

  /** MLflow 3's logged models (at revision 7d34483879f0; none at MLflow 2's). */
  private get loggedModels(): SqliteLoggedModels {
    this.loggedModelsImpl ??= new SqliteLoggedModels({
      displayUri: this.displayUri,
      cwd: this.cwd,
      write: (what, fn) => this.write(what, fn),
      read: (what, empty, fn) => this.read(what, empty, fn),
      workspaces: () => this.revision?.workspaces ?? false,
      experimentLocation: (db, id) => {
        const loc = db.prepare('SELECT artifact_location FROM experiments WHERE experiment_id = ?').pluck().get(id) as string | null | undefined;
        return loc ?? this.experimentLocation(id);
      },
    });
    return this.loggedModelsImpl;
  }

  createLoggedModel(runId: string, name: string, localDir: string): Promise<LoggedModel | null> {
    return this.loggedModels.createLoggedModel(runId, name, localDir);
  }

  startLoggedModel(runId: string, name: string): Promise<LoggedModel | null> {
    return this.loggedModels.startLoggedModel(runId, name);
  }

  completeLoggedModel(model: LoggedModel, localDir: string): Promise<LoggedModel> {
    return this.loggedModels.completeLoggedModel(model, localDir);
  }

  findLoggedModel(runId: string, name: string): Promise<LoggedModel | null> {
    return this.loggedModels.findLoggedModel(runId, name);
  }

  getLoggedModel(modelId: string): Promise<LoggedModel | null> {
    return this.loggedModels.getLoggedModel(modelId);
  }

  linkModelVersion(modelId: string, name: string, version: number): Promise<void> {
    return this.loggedModels.linkModelVersion(modelId, name, version);
  }

  /** The schema revision of the database (null while it does not exist or has no tables). */
  schemaRevision(): string | null {
    this.connection(false);
    return this.revision?.revision ?? null;
  }

  /**
   * Close the database. The last process to close it puts it back in SQLite's default rollback
   * journal, the mode MLflow creates it in (a WAL database cannot be read where its folder is
   * read-only); SQLite checkpoints the WAL into the file first. The store reopens it on next use.
   */
  close(): void {
    if (this.exitHook) process.off('exit', this.exitHook);
    this.exitHook = undefined;
    const db = this.db;
    const switched = this.walChecked;
    this.db = null;
    this.revision = null;
    this.walChecked = false;
    if (!db?.open) return;
    if (switched) {
      try {
        // No waiting: while another connection is open the database stays in WAL, and that one switches back.
        db.pragma('busy_timeout = 0');
        db.pragma('journal_mode = DELETE');
      } catch {
        // Busy elsewhere, or read-only after all: leaving WAL on is safe.
      }
    }
    db.close();
  }

  // ---------------------------------------------------------------- connection and schema

  /**
   * The open database, checked to be MLflow's at a revision lpclust writes. For a read, null when
   * the file does not exist or has no tables yet (an empty store); for a write, a missing or empty
   * database is created with the chosen schema.
   */
  private connection(write: true): Database.Database;
  private connection(write: boolean): Database.Database | null;
  private connection(write: boolean): Database.Database | null {
    if (this.db && this.revision) {
      if (write && !this.writable) throw this.readOnlyError();
      if (write) this.useWal(this.db);
      return this.db;
    }
    const exists = fs.existsSync(this.file);
    if (!exists && !write) return null;
    const dir = path.dirname(this.file);
    if (!exists && !fs.existsSync(dir)) {
      throw usageError('E_TRACKING_URI', `cannot create the tracking database ${this.file}: the folder ${dir} does not exist`, {
        hint: `create the folder, or fix the path of --tracking-uri (now ${this.displayUri})`,
      });
    }
    const writable = exists ? canWrite(this.file) && canWrite(dir) : canWrite(dir);
    if (write && !writable) throw this.readOnlyError();
    if (!this.db) {
      this.writable = writable;
      try {
        this.db = new Database(this.file, { readonly: !writable, fileMustExist: exists, timeout: BUSY_TIMEOUT_MS });
      } catch (e) {
        throw this.dbError('open', e);
      }
      this.exitHook = () => this.close();
      process.on('exit', this.exitHook);
    }
    const db = this.db;
    let tables = this.guard('read the schema of', () => tableNames(db));
    if (tables.length === 0) {
      if (!write) return null;
      this.guard('create', () => this.createSchema(db));
      tables = this.guard('read the schema of', () => tableNames(db));
    }
    this.revision = this.checkSchema(db, tables);
    if (write) this.useWal(db);
    return db;
  }

  /** Create MLflow's tables, its revision row and the `Default` experiment, unless another process just did. */
  private createSchema(db: Database.Database): void {
    const schema = SCHEMA_REVISIONS[this.schemaChoice === 'mlflow3' ? REVISION_MLFLOW_3 : REVISION_MLFLOW_2];
    db.transaction(() => {
      // Checked again inside the write lock: the first of several processes creates, the others find.
      if (tableNames(db).length > 0) return;
      for (const sql of schema.statements) db.exec(sql);
      db.prepare('INSERT INTO alembic_version (version_num) VALUES (?)').run(schema.revision);
      if (schema.workspaces) {
        db.prepare('INSERT INTO workspaces (name, description, default_artifact_root) VALUES (?, ?, NULL)').run('default', 'Default workspace for legacy resources');
      }
      // MLflow's store creates experiment 0 "Default" with a new database; its UI expects it.
      const now = Date.now();
      db.prepare('INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES (0, ?, ?, ?, ?, ?)')
        .run('Default', this.experimentLocation(0), 'active', now, now);
    }).immediate();
  }

  /** The revision of an existing database, or a clear refusal. */
  private checkSchema(db: Database.Database, tables: string[]): SchemaRevision {
    const missing = CORE_TABLES.filter((t) => !tables.includes(t));
    if (missing.length > 0) {
      throw inputError('E_TRACKING_DB', `${this.file} is a SQLite database but not MLflow's tracking database: it has no ${missing.join(', ')} table${missing.length > 1 ? 's' : ''} (tables found: ${tables.slice(0, 8).join(', ')}${tables.length > 8 ? ', ...' : ''})`, {
        hint: 'point --tracking-uri at an MLflow database (mlflow.db), or at a new file that lpclust will create',
        where: { file: this.file },
      });
    }
    const rows = this.guard('read the schema revision of', () => db.prepare('SELECT version_num FROM alembic_version').all() as Array<{ version_num: string }>);
    const found = rows.map((r) => r.version_num);
    const known = Object.values(SCHEMA_REVISIONS).map((r) => `${r.revision} (${r.madeBy})`).join(' and ');
    if (found.length !== 1) {
      throw inputError('E_TRACKING_DB_REVISION', `${this.file} has ${found.length} schema revisions in alembic_version (${found.join(', ') || 'none'}); expected one of ${known}`, {
        hint: 'the database is damaged or not made by MLflow; point --tracking-uri at another database',
        where: { file: this.file },
      });
    }
    const rev = SCHEMA_REVISIONS[found[0]];
    if (!rev) {
      throw inputError('E_TRACKING_DB_REVISION', `${this.file} is an MLflow database at schema revision ${found[0]}, which lpclust cannot write: it writes revisions ${known}`, {
        hint: `bring it to ${REVISION_MLFLOW_3} with MLflow 3.11 (\`mlflow db upgrade ${this.displayUri}\`, after a backup), ` +
          `or serve it (\`mlflow server --backend-store-uri ${this.displayUri}\`) and log to --tracking-uri http://127.0.0.1:5000`,
        where: { file: this.file },
      });
    }
    return rev;
  }

  /**
   * Switch to the WAL journal before the first write (it is persistent in the file; reads leave the
   * file as it is); a database busy elsewhere keeps its journal mode.
   */
  private useWal(db: Database.Database): void {
    if (this.walChecked) return;
    this.walChecked = true;
    try {
      if (String(db.pragma('journal_mode', { simple: true })).toLowerCase() !== 'wal') db.pragma('journal_mode = WAL');
    } catch {
      // Another connection holds the database: the busy timeout still serialises writers.
    }
  }

  /** Run `fn` in one `BEGIN IMMEDIATE` transaction (the write lock first, so no writer ever has to retry). */
  private write<T>(what: string, fn: (db: Database.Database) => T): T {
    const db = this.connection(true);
    return this.guard(what, () => db.transaction(() => fn(db)).immediate());
  }

  /** Run a read; `empty` when the database does not exist yet. */
  private read<T>(what: string, empty: T, fn: (db: Database.Database) => T): T {
    const db = this.connection(false);
    if (!db) return empty;
    return this.guard(what, () => fn(db));
  }

  /** SQLite errors as lpclust errors (lpclust's own pass through). */
  private guard<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw this.dbError(what, e);
    }
  }

  private dbError(what: string, e: unknown): Error {
    if (isLpclustError(e)) return e;
    const code = String((e as { code?: unknown })?.code ?? '');
    const msg = (e as Error)?.message ?? String(e);
    const where = { file: this.file };
    if (code === 'SQLITE_NOTADB') {
      return inputError('E_TRACKING_DB', `${this.file} is not a SQLite database (${msg})`, {
        hint: 'point --tracking-uri at MLflow\'s database file, or at a new file that lpclust will create',
        where,
      });
    }
    if (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_') || code === 'SQLITE_LOCKED') {
      return externalError('E_TRACKING_LOCKED', `cannot ${what} ${this.file}: another process kept the database locked for ${BUSY_TIMEOUT_MS / 1000} s`, {
        hint: 'a long transaction of another program holds it; try again when it is done',
        where,
        cause: e,
      });
    }
    if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN') || code === 'SQLITE_PERM' || code === 'SQLITE_AUTH') {
      if (!this.writable) {
        return externalError('E_TRACKING_DB', `cannot ${what} ${this.file}: ${msg}`, {
          hint: 'the database is in WAL mode (left so by a process that did not end) and its folder is read-only: SQLite needs to write its -shm file beside it; ' +
            'open it once where it is writable',
          where,
          cause: e,
        });
      }
      return this.readOnlyError(msg);
    }
    if (code === 'SQLITE_FULL') return externalError('E_TRACKING_IO', `cannot ${what} ${this.file}: the disk is full; nothing was written`, { where, cause: e });
    if (code.startsWith('SQLITE_CORRUPT')) {
      return externalError('E_TRACKING_DB', `cannot ${what} ${this.file}: the database file is damaged (${msg})`, { hint: 'restore it from a backup', where, cause: e });
    }
    return externalError('E_TRACKING_DB', `cannot ${what} ${this.file}: ${msg}`, { where, cause: e });
  }

  private readOnlyError(detail?: string): LpclustError {
    return externalError('E_TRACKING_READONLY', `cannot write to the tracking database ${this.file}: it is read-only${detail ? ` (${detail})` : ''}; nothing was written`, {
      hint: 'lpclust needs write permission on the file and its folder (SQLite writes a journal beside it); or pass another --tracking-uri',
      where: { file: this.file },
    });
  }

  /** MLflow's default artifact location of an experiment: `<working folder>/mlruns/<id>`, a plain absolute path. */
  private experimentLocation(id: number): string {
    return appendToUri(path.resolve(this.cwd, 'mlruns'), String(id));
  }

  // ---------------------------------------------------------------- experiments

  private toExperiment(db: Database.Database, row: ExperimentRow): Experiment {
    const tags: Record<string, string> = {};
    for (const t of db.prepare('SELECT "key", value FROM experiment_tags WHERE experiment_id = ?').all(row.experiment_id) as Array<{ key: string; value: string | null }>) {
      tags[t.key] = t.value ?? '';
    }
    return {
      experimentId: String(row.experiment_id),
      name: row.name,
      artifactLocation: row.artifact_location ?? '',
      lifecycleStage: row.lifecycle_stage === 'deleted' ? 'deleted' : 'active',
      ...(row.creation_time !== null ? { creationTime: row.creation_time } : {}),
      ...(row.last_update_time !== null ? { lastUpdateTime: row.last_update_time } : {}),
      tags,
    };
  }

  /** The experiment of that name in any lifecycle stage (names are unique in the table). */
  private experimentRow(db: Database.Database, name: string): ExperimentRow | undefined {
    const ws = this.revision?.workspaces ? " AND workspace = 'default'" : '';
    return db.prepare(`SELECT * FROM experiments WHERE name = ?${ws}`).get(name) as ExperimentRow | undefined;
  }

  async getExperimentByName(name: string): Promise<Experiment | null> {
    return this.read('read experiments of', null, (db) => {
      const row = this.experimentRow(db, name);
      return row && row.lifecycle_stage !== 'deleted' ? this.toExperiment(db, row) : null;
    });
  }

  async getOrCreateExperiment(name: string): Promise<Experiment> {
    if (typeof name !== 'string' || name.trim() === '') throw usageError('E_TRACKING_EXPERIMENT', `Expected a non-empty experiment name but received ${JSON.stringify(name)}`);
    const found = await this.getExperimentByName(name);
    if (found) return found;
    return this.write('create an experiment in', (db) => {
      const row = this.experimentRow(db, name);
      if (row?.lifecycle_stage === 'deleted') {
        throw inputError('E_TRACKING_EXPERIMENT', `the experiment "${name}" (id ${row.experiment_id}) in ${this.displayUri} is deleted, and MLflow keeps its name`, {
          hint: `restore it (\`mlflow experiments restore --experiment-id ${row.experiment_id}\`) or choose another --experiment-name`,
        });
      }
      if (row) return this.toExperiment(db, row);
      const now = Date.now();
      // As MLflow: insert to get the next id, then set the location that contains it.
      const id = Number(db.prepare('INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES (?, NULL, ?, ?, ?)')
        .run(name, 'active', now, now).lastInsertRowid);
      db.prepare('UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?').run(this.experimentLocation(id), id);
      return this.toExperiment(db, this.experimentRow(db, name)!);
    });
  }

  async listExperiments(): Promise<Experiment[]> {
    return this.read('read experiments of', [], (db) => {
      const rows = db.prepare("SELECT * FROM experiments WHERE lifecycle_stage = 'active' ORDER BY creation_time, experiment_id").all() as ExperimentRow[];
      return rows.map((r) => this.toExperiment(db, r));
    });
  }

  // ---------------------------------------------------------------- runs

  async createRun(request: CreateRunRequest): Promise<RunInfo> {
    for (const t of request.tags) checkTag(t.key, t.value);
    this.recover();
    const expId = /^\d+$/.test(request.experimentId) ? Number(request.experimentId) : NaN;
    return this.write('create a run in', (db) => {
      const exp = Number.isFinite(expId) ? (db.prepare('SELECT * FROM experiments WHERE experiment_id = ?').get(expId) as ExperimentRow | undefined) : undefined;
      if (!exp || exp.lifecycle_stage === 'deleted') {
        throw inputError('E_EXPERIMENT_NOT_FOUND', `no active experiment with id ${request.experimentId} in ${this.displayUri}`);
      }
      const runId = randomUUID().replace(/-/g, '');
      const artifactUri = appendToUri(exp.artifact_location ?? this.experimentLocation(exp.experiment_id), runId, 'artifacts');
      const startTime = Math.trunc(request.startTime);
      db.prepare(
        `INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id, deleted_time)
         VALUES (?, ?, 'UNKNOWN', '', '', ?, 'RUNNING', ?, NULL, '', 'active', ?, ?, NULL)`,
      ).run(runId, request.runName, request.userId, startTime, artifactUri, exp.experiment_id);
      const tags = new Map(request.tags.map((t) => [t.key, t.value]));
      if (request.runName && !tags.has('mlflow.runName')) tags.set('mlflow.runName', request.runName);
      // Who writes the run, so that a later process can tell it stopped without ending it (recover).
      if (!tags.has(OWNER_TAG)) tags.set(OWNER_TAG, formatOwner(currentOwner()));
      const insertTag = db.prepare('INSERT INTO tags ("key", value, run_uuid) VALUES (?, ?, ?)');
      for (const [key, value] of tags) insertTag.run(key, value, runId);
      return {
        runId,
        experimentId: String(exp.experiment_id),
        runName: request.runName,
        userId: request.userId,
        status: 'RUNNING' as RunStatus,
        startTime,
        endTime: null,
        artifactUri,
        lifecycleStage: 'active' as const,
      };
    });
  }

  /**
   * Runs left RUNNING by a process that is provably gone (tag `lpclust.owner`: same host, its pid
   * no longer runs, was reused, or the machine rebooted) — `kill -9`, a crash, out of memory — are
   * marked FAILED, as the FileStore does: tags `lpclust.error` (why) and `lpclust.error.code` =
   * `E_RUN_OWNER_GONE`, an end time at their last metric (or start). Once per database and process,
   * before its first run; runs without the tag (other tools, older lpclust) and runs of other hosts
   * or live processes are left alone. Never fails the command: a problem is a warning.
   * @returns the ids of the runs marked FAILED
   */
  recover(): string[] {
    if (recoveredDatabases.has(this.file)) return [];
    recoveredDatabases.add(this.file);
    if (!fs.existsSync(this.file)) return [];
    const failed: string[] = [];
    const me = formatOwner(currentOwner()).split(' ')[0];
    try {
      this.write('check for runs left RUNNING in', (db) => {
        const rows = db
          .prepare(`SELECT r.run_uuid AS id, r.start_time AS start, t.value AS owner FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid AND t."key" = ? WHERE r.status = 'RUNNING' AND r.lifecycle_stage = 'active'`)
          .all(OWNER_TAG) as Array<{ id: string; start: number | null; owner: string }>;
        const setTag = db.prepare('INSERT OR REPLACE INTO tags ("key", value, run_uuid) VALUES (?, ?, ?)');
        for (const row of rows) {
          const owner = parseOwner(row.owner);
          if (!owner || !ownerGone(owner)) continue;
          const last = (db.prepare('SELECT MAX(timestamp) AS t FROM metrics WHERE run_uuid = ?').get(row.id) as { t: number | null }).t ?? 0;
          const why = ownerGoneReason(owner, me);
          setTag.run('lpclust.error', why, row.id);
          setTag.run('lpclust.error.code', OWNER_GONE_CODE, row.id);
          db.prepare("UPDATE runs SET status = 'FAILED', end_time = ? WHERE run_uuid = ?").run(Math.max(row.start ?? 0, last), row.id);
          failed.push(row.id);
        }
      });
    } catch (e) {
      log.warn(`tracking store: could not check ${this.displayUri} for runs left by stopped processes: ${(e as Error).message}`);
      return [];
    }
    warnRecoveredRuns(failed);
    return failed;
  }

  /** The run row, or E_RUN_NOT_FOUND. */
  private runRow(db: Database.Database, runId: string): RunRow {
    const row = db.prepare('SELECT * FROM runs WHERE run_uuid = ?').get(runId) as RunRow | undefined;
    if (!row) throw this.runNotFound(runId);
    return row;
  }

  private runNotFound(runId: string): LpclustError {
    const none = fs.existsSync(this.file) ? '' : ' (the database does not exist yet)';
    return inputError('E_RUN_NOT_FOUND', `no run ${JSON.stringify(runId)} in the tracking store ${this.displayUri}${none}`, { hint: 'list the runs with `lpclust runs`' });
  }

  private activeRunRow(db: Database.Database, runId: string): RunRow {
    const row = this.runRow(db, runId);
    if (row.lifecycle_stage === 'deleted') {
      throw inputError('E_RUN_DELETED', `run ${runId} in ${this.displayUri} is deleted: it cannot be written`, { hint: 'restore it in the MLflow UI, or start a new run' });
    }
    return row;
  }

  async logBatch(runId: string, batch: Batch): Promise<void> {
    checkBatch(batch);
    const params = batch.params ?? [];
    const metrics = batch.metrics ?? [];
    const tags = batch.tags ?? [];
    if (params.length === 0 && metrics.length === 0 && tags.length === 0) return;
    this.write('write run data to', (db) => {
      this.activeRunRow(db, runId);
      const getParam = db.prepare('SELECT value FROM params WHERE "key" = ? AND run_uuid = ?').pluck();
      const insertParam = db.prepare('INSERT INTO params ("key", value, run_uuid) VALUES (?, ?, ?)');
      for (const p of params) {
        const old = getParam.get(p.key, runId) as string | undefined;
        if (old === undefined) insertParam.run(p.key, p.value, runId);
        else if (old !== p.value) {
          throw usageError(
            'E_PARAM_CHANGED',
            `param ${p.key} of run ${runId} already has the value ${JSON.stringify(clip(old))}; cannot change it to ${JSON.stringify(clip(p.value))}`,
            { hint: 'params are written once per run; start a new run, or log the changing value as a metric or tag' },
          );
        }
      }
      if (metrics.length > 0) this.insertMetrics(db, runId, metrics);
      // At MLflow 3's revision, metrics a run logs after its model are also the model's (MLflow 3's Models tab).
      if (metrics.length > 0) this.loggedModels.linkMetrics(db, runId, metrics);
      // Tags may be overwritten; the last value of a key in the batch wins, as in MLflow.
      const upsertTag = db.prepare('INSERT INTO tags ("key", value, run_uuid) VALUES (?, ?, ?) ON CONFLICT ("key", run_uuid) DO UPDATE SET value = excluded.value');
      const lastTags = new Map(tags.map((t) => [t.key, t.value]));
      for (const [key, value] of lastTags) upsertTag.run(key, value, runId);
      // MLflow keeps runs.name equal to the mlflow.runName tag.
      const runName = lastTags.get('mlflow.runName');
      if (runName !== undefined) db.prepare('UPDATE runs SET name = ? WHERE run_uuid = ?').run(runName, runId);
    });
  }

  // ---------------------------------------------------------------- dataset inputs

  /**
   * MLflow's rows: a `datasets` row once per (experiment, name, digest), an `inputs` row linking it
   * to the run (source DATASET → destination RUN; MLflow 3's `step` keeps its default 0) and its
   * `input_tags`, all in one transaction. A dataset already linked to the run is left as it is.
   */
  async logInputs(runId: string, inputs: DatasetInput[]): Promise<void> {
    checkDatasetInputs(inputs);
    if (inputs.length === 0) return;
    this.write('log dataset inputs to', (db) => {
      const run = this.activeRunRow(db, runId);
      const findDataset = db.prepare('SELECT dataset_uuid FROM datasets WHERE experiment_id = ? AND name = ? AND digest = ?').pluck();
      const insertDataset = db.prepare(
        'INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, dataset_source_type, dataset_source, dataset_schema, dataset_profile) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      );
      const findInput = db.prepare("SELECT input_uuid FROM inputs WHERE source_type = 'DATASET' AND source_id = ? AND destination_type = 'RUN' AND destination_id = ?").pluck();
      const insertInput = db.prepare("INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id) VALUES (?, 'DATASET', ?, 'RUN', ?)");
      const insertTag = db.prepare('INSERT OR REPLACE INTO input_tags (input_uuid, name, value) VALUES (?, ?, ?)');
      for (const { dataset: d, tags } of inputs) {
        let datasetUuid = findDataset.get(run.experiment_id, d.name, d.digest) as string | undefined;
        if (datasetUuid === undefined) {
          datasetUuid = randomUUID().replace(/-/g, '');
          insertDataset.run(datasetUuid, run.experiment_id, d.name, d.digest, d.sourceType, d.source, d.schema ?? null, d.profile ?? null);
        }
        if (findInput.get(datasetUuid, runId) !== undefined) continue;
        const inputUuid = randomUUID().replace(/-/g, '');
        insertInput.run(inputUuid, datasetUuid, runId);
        for (const t of tags) insertTag.run(inputUuid, t.key, t.value);
      }
    });
  }

  async getRunInputs(runId: string): Promise<DatasetInput[]> {
    return this.read('read the dataset inputs of', [] as DatasetInput[], (db) => {
      this.runRow(db, runId);
      const rows = db
        .prepare(
          "SELECT i.input_uuid, d.name, d.digest, d.dataset_source_type, d.dataset_source, d.dataset_schema, d.dataset_profile FROM inputs i JOIN datasets d ON d.dataset_uuid = i.source_id WHERE i.source_type = 'DATASET' AND i.destination_type = 'RUN' AND i.destination_id = ? ORDER BY i.rowid",
        )
        .all(runId) as Array<{ input_uuid: string; name: string; digest: string; dataset_source_type: string; dataset_source: string; dataset_schema: string | null; dataset_profile: string | null }>;
      const tagsOf = db.prepare('SELECT name, value FROM input_tags WHERE input_uuid = ? ORDER BY rowid');
      return rows.map((r) => {
        const dataset: Dataset = { name: r.name, digest: r.digest, sourceType: r.dataset_source_type, source: r.dataset_source };
        if (r.dataset_schema !== null) dataset.schema = r.dataset_schema;
        if (r.dataset_profile !== null) dataset.profile = r.dataset_profile;
        const tags = (tagsOf.all(r.input_uuid) as Array<{ name: string; value: string }>).map((t) => ({ key: t.name, value: t.value }));
        return { dataset, tags };
      });
    });
  }

  /**
   * Insert metric values (an identical key, timestamp, step and value is stored once, as MLflow's
   * primary key has it) and move `latest_metrics` forward: a value replaces the latest one when
   * its (step, timestamp, value) is larger, comparing stored values (NaN is stored as 0 with
   * `is_nan` = 1, ±inf as ±1.7976931348623157e308), exactly as MLflow does.
   */
  private insertMetrics(db: Database.Database, runId: string, metrics: Metric[]): void {
    const insert = db.prepare('INSERT OR IGNORE INTO metrics ("key", value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, ?)');
    const getLatest = db.prepare('SELECT "key", value, timestamp, step, is_nan FROM latest_metrics WHERE "key" = ? AND run_uuid = ?');
    const upsertLatest = db.prepare(
      `INSERT INTO latest_metrics ("key", value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT ("key", run_uuid) DO UPDATE SET value = excluded.value, timestamp = excluded.timestamp, step = excluded.step, is_nan = excluded.is_nan`,
    );
    const latest = new Map<string, MetricRow | undefined>();
    const changed = new Set<string>();
    for (const m of metrics) {
      const isNan = Number.isNaN(m.value) ? 1 : 0;
      const value = isNan ? 0 : m.value === Infinity ? MAX_DOUBLE : m.value === -Infinity ? -MAX_DOUBLE : m.value;
      const timestamp = Math.trunc(m.timestamp);
      const step = Math.trunc(m.step);
      insert.run(m.key, value, timestamp, runId, step, isNan);
      if (!latest.has(m.key)) latest.set(m.key, getLatest.get(m.key, runId) as MetricRow | undefined);
      const cur = latest.get(m.key);
      const newer = !cur || step > cur.step || (step === cur.step && (timestamp > cur.timestamp || (timestamp === cur.timestamp && value > cur.value)));
      if (newer) {
        latest.set(m.key, { key: m.key, value, timestamp, step, is_nan: isNan });
        changed.add(m.key);
      }
    }
    for (const key of changed) {
      const r = latest.get(key)!;
      upsertLatest.run(key, r.value, r.timestamp, r.step, r.is_nan, runId);
    }
  }

  async updateRun(runId: string, status: RunStatus, endTime: number): Promise<void> {
    this.setStatus(runId, status, endTime);
  }

  /** Synchronous {@link updateRun} for signal handlers (better-sqlite3 is synchronous). */
  updateRunSync(runId: string, status: RunStatus, endTime: number): boolean {
    try {
      this.setStatus(runId, status, endTime);
      return true;
    } catch {
      return false;
    }
  }

  private setStatus(runId: string, status: RunStatus, endTime: number): void {
    if (STATUS_CODES[status] === undefined) {
      throw usageError('E_TRACKING_STATUS', `Expected a run status RUNNING|SCHEDULED|FINISHED|FAILED|KILLED but received ${JSON.stringify(status)}`);
    }
    this.write('end a run in', (db) => {
      this.activeRunRow(db, runId);
      db.prepare('UPDATE runs SET status = ?, end_time = ? WHERE run_uuid = ?').run(status, Math.trunc(endTime), runId);
    });
  }

  /** Params, tags and latest metrics of runs, keyed by run id. */
  private runData(db: Database.Database, runIds: string[]): Map<string, Run['data']> {
    const out = new Map<string, Run['data']>(runIds.map((id) => [id, { params: {}, metrics: {}, tags: {} }]));
    for (let i = 0; i < runIds.length; i += IN_CHUNK) {
      const ids = runIds.slice(i, i + IN_CHUNK);
      const marks = ids.map(() => '?').join(', ');
      for (const p of db.prepare(`SELECT "key", value, run_uuid FROM params WHERE run_uuid IN (${marks})`).all(...ids) as Array<{ key: string; value: string; run_uuid: string }>) {
        out.get(p.run_uuid)!.params[p.key] = p.value;
      }
      for (const t of db.prepare(`SELECT "key", value, run_uuid FROM tags WHERE run_uuid IN (${marks})`).all(...ids) as Array<{ key: string; value: string | null; run_uuid: string }>) {
        out.get(t.run_uuid)!.tags[t.key] = t.value ?? '';
      }
      for (const m of db.prepare(`SELECT "key", value, is_nan, run_uuid FROM latest_metrics WHERE run_uuid IN (${marks})`).all(...ids) as Array<{ key: string; value: number; is_nan: number; run_uuid: string }>) {
        out.get(m.run_uuid)!.metrics[m.key] = m.is_nan ? NaN : m.value;
      }
    }
    return out;
  }

  private toRun(row: RunRow, data: Run['data']): Run {
    const status = (row.status in STATUS_CODES ? row.status : 'RUNNING') as RunStatus;
    return {
      info: {
        runId: row.run_uuid,
        experimentId: String(row.experiment_id),
        runName: row.name ?? data.tags['mlflow.runName'] ?? '',
        userId: row.user_id ?? '',
        status,
        startTime: row.start_time ?? 0,
        endTime: row.end_time,
        artifactUri: row.artifact_uri ?? '',
        lifecycleStage: row.lifecycle_stage === 'deleted' ? 'deleted' : 'active',
      },
      data,
    };
  }

  async getRun(runId: string): Promise<Run> {
    const run = this.read('read a run of', null, (db) => {
      const row = this.runRow(db, runId);
      return this.toRun(row, this.runData(db, [runId]).get(runId)!);
    });
    if (!run) throw this.runNotFound(runId);
    return run;
  }

  async searchRuns(query: RunQuery): Promise<Run[]> {
    const expIds = query.experimentIds.filter((id) => /^\d+$/.test(id)).map(Number);
    if (expIds.length === 0) return [];
    return this.read('search runs of', [], (db) => {
      const where: string[] = [`r.experiment_id IN (${expIds.map(() => '?').join(', ')})`, "r.lifecycle_stage = 'active'"];
      const args: unknown[] = [...expIds];
      if (query.statuses) {
        if (query.statuses.length === 0) return [];
        where.push(`r.status IN (${query.statuses.map(() => '?').join(', ')})`);
        args.push(...query.statuses);
      }
      for (const [k, v] of Object.entries(query.params ?? {})) {
        where.push('EXISTS (SELECT 1 FROM params p WHERE p.run_uuid = r.run_uuid AND p."key" = ? AND p.value = ?)');
        args.push(k, v);
      }
      for (const [k, v] of Object.entries(query.tags ?? {})) {
        where.push('EXISTS (SELECT 1 FROM tags t WHERE t.run_uuid = r.run_uuid AND t."key" = ? AND t.value = ?)');
        args.push(k, v);
      }
      let sql = `SELECT r.* FROM runs r WHERE ${where.join(' AND ')} ORDER BY r.start_time DESC, r.run_uuid ASC`;
      if (query.maxResults !== undefined) {
        sql += ' LIMIT ?';
        args.push(Math.max(0, Math.trunc(query.maxResults)));
      }
      const rows = db.prepare(sql).all(...args) as RunRow[];
      const data = this.runData(db, rows.map((r) => r.run_uuid));
      return rows.map((r) => this.toRun(r, data.get(r.run_uuid)!));
    });
  }

  async getMetricHistory(runId: string, key: string): Promise<Metric[]> {
    validateKey('metric', key);
    const history = this.read('read a metric of', null, (db) => {
      this.runRow(db, runId);
      // rowid order is the order the values were logged in.
      const rows = db.prepare('SELECT "key", value, timestamp, step, is_nan FROM metrics WHERE run_uuid = ? AND "key" = ? ORDER BY rowid').all(runId, key) as MetricRow[];
      return rows.map((m) => ({ key: m.key, value: m.is_nan ? NaN : m.value, timestamp: m.timestamp, step: m.step }));
    });
    if (!history) throw this.runNotFound(runId);
    return history;
  }

  // ---------------------------------------------------------------- artifacts

  /** The local artifact folder of a run (from its `artifact_uri`). */
  private async artifacts(runId: string): Promise<LocalArtifactDir> {
    let dir = this.artifactDirs.get(runId);
    if (!dir) {
      const run = await this.getRun(runId);
      dir = new LocalArtifactDir(localArtifactDir(run.info.artifactUri, runId, this.cwd), runId);
      this.artifactDirs.set(runId, dir);
    }
    return dir;
  }

  /** The local folder of a run's artifacts. */
  async artifactRoot(runId: string): Promise<string> {
    return (await this.artifacts(runId)).root;
  }

  async logArtifact(runId: string, localPath: string, artifactPath?: string): Promise<void> {
    await (await this.artifacts(runId)).log(localPath, artifactPath);
  }

  async listArtifacts(runId: string, artifactPath?: string): Promise<ArtifactEntry[]> {
    return (await this.artifacts(runId)).list(artifactPath);
  }

  async downloadArtifacts(runId: string, artifactPath: string, destDir: string): Promise<string> {
    return (await this.artifacts(runId)).download(artifactPath, destDir);
  }
}

function tableNames(db: Database.Database): string[] {
  return db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all() as string[];
}

function clip(s: string): string {
  return s.length > 80 ? s.slice(0, 77) + '...' : s;
}
