/**
 * The model registry of the SQLite store: rows of MLflow's `registered_models`, `model_versions`
 * and `registered_model_aliases` tables, as MLflow's SQL store writes them (the reference
 * `mlflow.db` files of 2.12.2 and 3.11): at revision 7d34483879f0 every row also carries
 * `workspace = 'default'`, MLflow 3's workspace of everything made without one. Every change is
 * one `BEGIN IMMEDIATE` transaction of the store, so two processes registering the same model at
 * once get versions n and n+1.
 *
 * This module does not import better-sqlite3 itself: it runs inside {@link SqliteStore}.
 */
import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import { LocalArtifactDir, localArtifactDir } from './local-artifacts.js';
import {
  aliasesOf,
  LOGGED_MODEL_RUN_TAGS,
  modelAliasNotFound,
  modelVersionsTag,
  modelVersionNotFound,
  registeredModelNotFound,
  validateAlias,
  validateModelName,
  type CreateModelVersionRequest,
  type LoggedModel,
  type ModelRegistry,
  type WithLoggedModels,
  type ModelVersion,
  type RegisteredModel,
} from './registry.js';

/** What the registry needs of its store. */
export interface SqliteRegistryHost {
  displayUri: string;
  /** Run `fn` in one write transaction (the database created if needed). */
  write<T>(what: string, fn: (db: Database.Database) => T): T;
  /** Run a read; `empty` when the database does not exist yet. */
  read<T>(what: string, empty: T, fn: (db: Database.Database) => T): T;
  /** True when the open database has MLflow 3's `workspace` columns (valid inside read/write). */
  workspaces(): boolean;
}

interface ModelRow {
  name: string;
  creation_time: number | null;
  last_updated_time: number | null;
  description: string | null;
}

interface VersionRow {
  name: string;
  version: number;
  creation_time: number | null;
  last_updated_time: number | null;
  source: string | null;
  run_id: string | null;
  status: string | null;
  storage_location: string | null;
}

/** The SQLite store's model registry. */
export class SqliteRegistry implements ModelRegistry {
  readonly displayUri: string;

  constructor(private readonly host: SqliteRegistryHost) {
    this.displayUri = host.displayUri;
  }

  /** `AND workspace = 'default'` at MLflow 3's revision (MLflow 3 scopes every registry row by workspace). */
  private ws(alias = ''): string {
    return this.host.workspaces() ? ` AND ${alias}workspace = 'default'` : '';
  }

  private modelRow(db: Database.Database, name: string): ModelRow | undefined {
    return db.prepare(`SELECT name, creation_time, last_updated_time, description FROM registered_models WHERE name = ?${this.ws()}`).get(name) as ModelRow | undefined;
  }

  private aliases(db: Database.Database, name: string): Record<string, number> {
    const out: Record<string, number> = {};
    const rows = db.prepare(`SELECT alias, version FROM registered_model_aliases WHERE name = ?${this.ws()} ORDER BY alias`).all(name) as Array<{ alias: string; version: number }>;
    for (const r of rows) out[r.alias] = r.version;
    return out;
  }

  private versionNumbers(db: Database.Database, name: string): number[] {
    return (db.prepare(`SELECT version FROM model_versions WHERE name = ?${this.ws()} ORDER BY version`).all(name) as Array<{ version: number }>).map((r) => r.version);
  }

  private names(db: Database.Database): string[] {
    const where = this.host.workspaces() ? " WHERE workspace = 'default'" : '';
    return (db.prepare(`SELECT name FROM registered_models${where} ORDER BY name`).all() as Array<{ name: string }>).map((r) => r.name);
  }

  private toModel(db: Database.Database, row: ModelRow): RegisteredModel {
    const versions = this.versionNumbers(db, row.name);
    return {
      name: row.name,
      creationTimestamp: row.creation_time ?? 0,
      lastUpdatedTimestamp: row.last_updated_time ?? 0,
      description: row.description,
      aliases: this.aliases(db, row.name),
      ...(versions.length > 0 ? { latestVersion: versions[versions.length - 1] } : {}),
    };
  }

  private requireModel(db: Database.Database, name: string): RegisteredModel {
    const row = this.modelRow(db, name);
    if (!row) throw registeredModelNotFound(name, this.names(db), this.displayUri);
    return this.toModel(db, row);
  }

  /** The model id of a version made from an MLflow 3 logged model (its source `models:/m-…`). */
  private toVersion(row: VersionRow, aliases: Record<string, number>): ModelVersion {
    const modelId = /^models:\/(m-[0-9a-f]+)$/.exec(row.source ?? '')?.[1] ?? null;
    const status = row.status ?? 'READY';
    return {
      name: row.name,
      version: row.version,
      creationTimestamp: row.creation_time ?? 0,
      lastUpdatedTimestamp: row.last_updated_time ?? 0,
      source: row.source ?? '',
      runId: row.run_id,
      status: status === 'PENDING_REGISTRATION' || status === 'FAILED_REGISTRATION' ? status : 'READY',
      storageLocation: row.storage_location,
      modelId,
      aliases: aliasesOf(aliases, row.version),
    };
  }

  private versionRow(db: Database.Database, name: string, version: number): VersionRow | undefined {
    return db.prepare(`SELECT name, version, creation_time, last_updated_time, source, run_id, status, storage_location FROM model_versions WHERE name = ? AND version = ?${this.ws()}`)
      .get(name, version) as VersionRow | undefined;
  }

  private requireVersion(db: Database.Database, name: string, version: number): ModelVersion {
    const model = this.requireModel(db, name);
    const row = this.versionRow(db, name, version);
    if (!row) throw modelVersionNotFound(name, version, this.versionNumbers(db, name), this.displayUri);
    return this.toVersion(row, model.aliases);
  }

  private touch(db: Database.Database, name: string, now: number): void {
    db.prepare(`UPDATE registered_models SET last_updated_time = ? WHERE name = ?${this.ws()}`).run(now, name);
  }

  async getOrCreateRegisteredModel(name: string): Promise<RegisteredModel> {
    validateModelName(name);
    const found = this.host.read('read registered models of', undefined, (db) => {
      const row = this.modelRow(db, name);
      return row ? this.toModel(db, row) : undefined;
    });
    if (found) return found;
    return this.host.write('register a model in', (db) => {
      const row = this.modelRow(db, name);
      if (row) return this.toModel(db, row);
      const now = Date.now();
      if (this.host.workspaces()) {
        db.prepare("INSERT INTO registered_models (name, creation_time, last_updated_time, description, workspace) VALUES (?, ?, ?, NULL, 'default')").run(name, now, now);
      } else {
        db.prepare('INSERT INTO registered_models (name, creation_time, last_updated_time, description) VALUES (?, ?, ?, NULL)').run(name, now, now);
      }
      return { name, creationTimestamp: now, lastUpdatedTimestamp: now, description: null, aliases: {} };
    });
  }

  async getRegisteredModel(name: string): Promise<RegisteredModel> {
    validateModelName(name);
    return this.host.read('read registered models of', null, (db) => this.requireModel(db, name)) ?? this.missingStore(name);
  }

  /** The database does not exist yet: it has no models. */
  private missingStore(name: string): never {
    throw registeredModelNotFound(name, [], this.displayUri);
  }

  async listRegisteredModels(): Promise<RegisteredModel[]> {
    return this.host.read('read registered models of', [], (db) => this.names(db).map((n) => this.toModel(db, this.modelRow(db, n)!)));
  }

  async deleteRegisteredModel(name: string): Promise<void> {
    validateModelName(name);
    this.host.write('delete a registered model in', (db) => {
      this.requireModel(db, name);
      for (const table of ['registered_model_aliases', 'model_version_tags', 'model_versions', 'registered_model_tags', 'registered_models']) {
        db.prepare(`DELETE FROM ${table} WHERE name = ?${this.ws()}`).run(name);
      }
    });
  }

  async createModelVersion(request: CreateModelVersionRequest): Promise<ModelVersion> {
    validateModelName(request.name);
    return this.host.write('register a model version in', (db) => {
      this.requireModel(db, request.name);
      const numbers = this.versionNumbers(db, request.name);
      const version = (numbers[numbers.length - 1] ?? 0) + 1;
      const now = Date.now();
      const storage = request.storageLocation ?? request.source;
      const cols = 'name, version, creation_time, last_updated_time, description, user_id, current_stage, source, run_id, status, status_message, run_link, storage_location';
      const args = [request.name, version, now, now, request.source, request.runId, storage];
      if (this.host.workspaces()) {
        db.prepare(`INSERT INTO model_versions (${cols}, workspace) VALUES (?, ?, ?, ?, NULL, NULL, 'None', ?, ?, 'READY', NULL, NULL, ?, 'default')`).run(...args);
      } else {
        db.prepare(`INSERT INTO model_versions (${cols}) VALUES (?, ?, ?, ?, NULL, NULL, 'None', ?, ?, 'READY', NULL, NULL, ?)`).run(...args);
      }
      this.touch(db, request.name, now);
      return this.toVersion(this.versionRow(db, request.name, version)!, {});
    });
  }

  async getModelVersion(name: string, version: number): Promise<ModelVersion> {
    validateModelName(name);
    return this.host.read('read model versions of', null, (db) => this.requireVersion(db, name, version)) ?? this.missingStore(name);
  }

  async listModelVersions(name: string): Promise<ModelVersion[]> {
    validateModelName(name);
    return this.host.read('read model versions of', null, (db) => {
      const model = this.requireModel(db, name);
      const rows = db.prepare(`SELECT name, version, creation_time, last_updated_time, source, run_id, status, storage_location FROM model_versions WHERE name = ?${this.ws()} ORDER BY version`)
        .all(name) as VersionRow[];
      return rows.map((r) => this.toVersion(r, model.aliases));
    }) ?? this.missingStore(name);
  }

  async setAlias(name: string, alias: string, version: number): Promise<void> {
    validateModelName(name);
    validateAlias(alias);
    this.host.write('set an alias in', (db) => {
      this.requireVersion(db, name, version);
      if (this.host.workspaces()) {
        db.prepare("INSERT INTO registered_model_aliases (alias, version, name, workspace) VALUES (?, ?, ?, 'default') ON CONFLICT (workspace, name, alias) DO UPDATE SET version = excluded.version")
          .run(alias, version, name);
      } else {
        db.prepare('INSERT INTO registered_model_aliases (alias, version, name) VALUES (?, ?, ?) ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version').run(alias, version, name);
      }
      this.touch(db, name, Date.now());
    });
  }

  async deleteAlias(name: string, alias: string): Promise<void> {
    validateModelName(name);
    validateAlias(alias);
    this.host.write('delete an alias in', (db) => {
      this.requireModel(db, name);
      db.prepare(`DELETE FROM registered_model_aliases WHERE name = ? AND alias = ?${this.ws()}`).run(name, alias);
      this.touch(db, name, Date.now());
    });
  }

  async getModelVersionByAlias(name: string, alias: string): Promise<ModelVersion> {
    validateModelName(name);
    return this.host.read('read model versions of', null, (db) => {
      const model = this.requireModel(db, name);
      const version = model.aliases[alias];
      if (version === undefined) throw modelAliasNotFound(name, alias, model.aliases, this.displayUri);
      return this.requireVersion(db, name, version);
    }) ?? this.missingStore(name);
  }
}

/** What the logged models need of their store. */
export interface SqliteLoggedModelsHost extends SqliteRegistryHost {
  /** Folder relative artifact locations are resolved against. */
  cwd: string;
  /** The experiment's artifact location (default `<cwd>/mlruns/<id>`). */
  experimentLocation(db: Database.Database, experimentId: number): string;
}

interface LoggedModelRow {
  model_id: string;
  experiment_id: number;
  name: string;
  artifact_location: string;
  source_run_id: string | null;
  status: number;
}

function toLoggedModel(r: LoggedModelRow): LoggedModel {
  return { modelId: r.model_id, experimentId: String(r.experiment_id), name: r.name, artifactLocation: r.artifact_location, sourceRunId: r.source_run_id, status: r.status };
}

/**
 * MLflow 3 logged models in the SQLite store (`logged_models`, `logged_model_params`,
 * `logged_model_tags`, `logged_model_metrics` and the run's `inputs` output link), as MLflow
 * 3.11 writes them (the reference `3.11.2.dev0/reference/mlflow.db`). Only at revision
 * 7d34483879f0: MLflow 2's schema has none of these tables.
 */
export class SqliteLoggedModels implements WithLoggedModels {
  constructor(private readonly host: SqliteLoggedModelsHost) {}

  async createLoggedModel(runId: string, name: string, localDir: string): Promise<LoggedModel | null> {
    const started = await this.startLoggedModel(runId, name);
    return started ? this.completeLoggedModel(started, localDir) : null;
  }

  async startLoggedModel(runId: string, name: string): Promise<LoggedModel | null> {
    return this.host.write('log a model in', (db) => {
      if (!this.host.workspaces()) return null;
      const run = db.prepare('SELECT experiment_id FROM runs WHERE run_uuid = ?').get(runId) as { experiment_id: number } | undefined;
      if (!run) return null;
      const modelId = `m-${randomUUID().replace(/-/g, '')}`;
      const now = Date.now();
      const location = `${this.host.experimentLocation(db, run.experiment_id).replace(/\/+$/, '')}/models/${modelId}/artifacts`;
      // PENDING (1) until its files are in place, as MLflow's log_model does.
      db.prepare(
        `INSERT INTO logged_models (model_id, experiment_id, name, artifact_location, creation_timestamp_ms, last_updated_timestamp_ms, status, lifecycle_stage, model_type, source_run_id, status_message)
         VALUES (?, ?, ?, ?, ?, ?, 1, 'active', NULL, ?, NULL)`,
      ).run(modelId, run.experiment_id, name, location, now, now, runId);
      const insertParam = db.prepare('INSERT INTO logged_model_params (model_id, experiment_id, param_key, param_value) VALUES (?, ?, ?, ?)');
      for (const p of db.prepare('SELECT "key", value FROM params WHERE run_uuid = ? ORDER BY "key"').all(runId) as Array<{ key: string; value: string }>) {
        insertParam.run(modelId, run.experiment_id, p.key, p.value);
      }
      const insertTag = db.prepare('INSERT INTO logged_model_tags (model_id, experiment_id, tag_key, tag_value) VALUES (?, ?, ?, ?)');
      for (const t of db.prepare(`SELECT "key", value FROM tags WHERE run_uuid = ? AND "key" IN (${LOGGED_MODEL_RUN_TAGS.map((k) => `'${k}'`).join(', ')})`).all(runId) as Array<{ key: string; value: string }>) {
        insertTag.run(modelId, run.experiment_id, t.key, t.value);
      }
      db.prepare("INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id, step) VALUES (?, 'RUN_OUTPUT', ?, 'MODEL_OUTPUT', ?, 0)")
        .run(randomUUID().replace(/-/g, ''), runId, modelId);
      return { modelId, experimentId: String(run.experiment_id), name, artifactLocation: location, sourceRunId: runId, status: 1 };
    });
  }

  async completeLoggedModel(model: LoggedModel, localDir: string): Promise<LoggedModel> {
    try {
      await new LocalArtifactDir(localArtifactDir(model.artifactLocation, model.modelId, this.host.cwd), model.modelId).log(localDir);
    } catch (e) {
      this.host.write('log a model in', (db) => db.prepare('UPDATE logged_models SET status = 3, status_message = ?, last_updated_timestamp_ms = ? WHERE model_id = ?').run(String((e as Error).message ?? e).slice(0, 1000), Date.now(), model.modelId));
      throw e;
    }
    this.host.write('log a model in', (db) => db.prepare('UPDATE logged_models SET status = 2, last_updated_timestamp_ms = ? WHERE model_id = ?').run(Date.now(), model.modelId));
    return { ...model, status: 2 };
  }

  /** Link metrics a run logs after its model to that model (the Models tab of MLflow 3 shows them). */
  linkMetrics(db: Database.Database, runId: string, metrics: Array<{ key: string; value: number; timestamp: number; step: number }>): void {
    if (!this.host.workspaces() || metrics.length === 0) return;
    const models = db.prepare("SELECT model_id, experiment_id FROM logged_models WHERE source_run_id = ? AND status = 2 AND lifecycle_stage = 'active'").all(runId) as Array<{ model_id: string; experiment_id: number }>;
    if (models.length === 0) return;
    const insert = db.prepare(
      'INSERT OR IGNORE INTO logged_model_metrics (model_id, metric_name, metric_timestamp_ms, metric_step, metric_value, experiment_id, run_id) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    for (const m of models) for (const x of metrics) insert.run(m.model_id, x.key, Math.trunc(x.timestamp), Math.trunc(x.step), Number.isFinite(x.value) ? x.value : null, m.experiment_id, runId);
  }

  async findLoggedModel(runId: string, name: string): Promise<LoggedModel | null> {
    return this.host.read('read logged models of', null, (db) => {
      if (!this.host.workspaces()) return null;
      const row = db.prepare("SELECT * FROM logged_models WHERE source_run_id = ? AND name = ? AND status = 2 AND lifecycle_stage = 'active' ORDER BY creation_timestamp_ms DESC LIMIT 1")
        .get(runId, name) as LoggedModelRow | undefined;
      return row ? toLoggedModel(row) : null;
    });
  }

  async getLoggedModel(modelId: string): Promise<LoggedModel | null> {
    return this.host.read('read logged models of', null, (db) => {
      if (!this.host.workspaces()) return null;
      const row = db.prepare('SELECT * FROM logged_models WHERE model_id = ?').get(modelId) as LoggedModelRow | undefined;
      return row ? toLoggedModel(row) : null;
    });
  }

  async linkModelVersion(modelId: string, name: string, version: number): Promise<void> {
    this.host.write('link a model version in', (db) => {
      const row = db.prepare('SELECT experiment_id FROM logged_models WHERE model_id = ?').get(modelId) as { experiment_id: number } | undefined;
      if (!row) return;
      const old = db.prepare("SELECT tag_value FROM logged_model_tags WHERE model_id = ? AND tag_key = 'mlflow.modelVersions'").pluck().get(modelId) as string | undefined;
      db.prepare(
        "INSERT INTO logged_model_tags (model_id, experiment_id, tag_key, tag_value) VALUES (?, ?, 'mlflow.modelVersions', ?) ON CONFLICT (model_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value",
      ).run(modelId, row.experiment_id, modelVersionsTag(old, name, version));
    });
  }
}
