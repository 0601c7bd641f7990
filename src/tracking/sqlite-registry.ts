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
import type Database from 'better-sqlite3';
import {
  aliasesOf,
  modelAliasNotFound,
  modelVersionNotFound,
  registeredModelNotFound,
  validateAlias,
  validateModelName,
  type CreateModelVersionRequest,
  type ModelRegistry,
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
