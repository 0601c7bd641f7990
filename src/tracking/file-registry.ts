/**
 * The model registry of the FileStore, in MLflow 2.12's layout (the reference
 * `../shared/mlflow/2.12.2/reference/mlruns/models/`), so that `mlflow ui` lists what lpclust
 * registers and lpclust reads what MLflow registered:
 *
 * ```
 * <root>/models/<name>/meta.yaml                 the model (aliases map, times, description)
 * <root>/models/<name>/version-<n>/meta.yaml     one version (source, run_id, status READY, ...)
 * <root>/models/<name>/aliases/<alias>           the version number an alias names
 * ```
 *
 * Crash safety as for runs: every file is written under a temporary name in the model's folder
 * (which MLflow reads only for `meta.yaml`, `version-*` and `aliases/`) and renamed into place; a
 * version folder appears with its `meta.yaml` already inside. Models and versions are created
 * under the store's lock, so two processes registering at once get versions n and n+1.
 */
import fs, { promises as fsp } from 'node:fs';
import path from 'node:path';
import { discardTempFile, writeFileAtomic, writeTempFile, type AtomicOptions } from '../io/atomic.js';
import { dumpYaml, ioError, isNotFound, parseYaml } from './file-format.js';
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

/** What the registry needs of its FileStore. */
export interface FileRegistryHost {
  /** Absolute `mlruns` folder. */
  root: string;
  displayUri: string;
  /** Create the store's root (and Default experiment) if needed. */
  ensureRoot(): Promise<void>;
  /** Run `fn` holding the store's lock file. */
  withLock<T>(fn: () => Promise<T>): Promise<T>;
}

const VERSION_DIR = /^version-(\d+)$/;

function toInt(v: unknown): number {
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? Math.trunc(n) : 0;
}

function nullableString(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}

/** The FileStore's model registry. */
export class FileRegistry implements ModelRegistry {
  readonly displayUri: string;
  private readonly dir: string;

  constructor(private readonly host: FileRegistryHost) {
    this.displayUri = host.displayUri;
    this.dir = path.join(host.root, 'models');
  }

  private atomic(tmpDir: string): AtomicOptions {
    return { tmpDir, durable: false, error: (t, e) => ioError('write', t, e) };
  }

  private modelDir(name: string): string {
    return path.join(this.dir, name);
  }

  private async readYaml(file: string): Promise<Record<string, unknown> | null> {
    let text: string;
    try {
      text = await fsp.readFile(file, 'utf8');
    } catch (e) {
      if (isNotFound(e)) return null;
      throw ioError('read', file, e);
    }
    return parseYaml(text, file);
  }

  private async names(): Promise<string[]> {
    let entries: fs.Dirent[];
    try {
      entries = await fsp.readdir(this.dir, { withFileTypes: true });
    } catch (e) {
      if (isNotFound(e)) return [];
      throw ioError('list', this.dir, e);
    }
    const out: string[] = [];
    for (const d of entries) if (d.isDirectory() && fs.existsSync(path.join(this.dir, d.name, 'meta.yaml'))) out.push(d.name);
    return out.sort();
  }

  private async versionNumbers(name: string): Promise<number[]> {
    let entries: string[];
    try {
      entries = await fsp.readdir(this.modelDir(name));
    } catch (e) {
      if (isNotFound(e)) return [];
      throw ioError('list', this.modelDir(name), e);
    }
    return entries.map((e) => VERSION_DIR.exec(e)).filter((m): m is RegExpExecArray => m !== null).map((m) => Number(m[1])).sort((a, b) => a - b);
  }

  /** Alias → version, read from `aliases/` (MLflow's source of truth; the map in meta.yaml is a copy). */
  private async readAliases(name: string): Promise<Record<string, number>> {
    const dir = path.join(this.modelDir(name), 'aliases');
    let entries: string[];
    try {
      entries = await fsp.readdir(dir);
    } catch (e) {
      if (isNotFound(e)) return {};
      throw ioError('list', dir, e);
    }
    const out: Record<string, number> = {};
    for (const a of entries.sort()) {
      try {
        const v = Number((await fsp.readFile(path.join(dir, a), 'utf8')).trim());
        if (Number.isInteger(v)) out[a] = v;
      } catch (e) {
        if (!isNotFound(e)) throw ioError('read', path.join(dir, a), e);
      }
    }
    return out;
  }

  private async readModel(name: string): Promise<RegisteredModel | null> {
    const m = await this.readYaml(path.join(this.modelDir(name), 'meta.yaml'));
    if (!m) return null;
    const versions = await this.versionNumbers(name);
    return {
      name: String(m.name ?? name),
      creationTimestamp: toInt(m.creation_timestamp),
      lastUpdatedTimestamp: toInt(m.last_updated_timestamp),
      description: nullableString(m.description),
      aliases: await this.readAliases(name),
      ...(versions.length > 0 ? { latestVersion: versions[versions.length - 1] } : {}),
    };
  }

  private async requireModel(name: string): Promise<RegisteredModel> {
    validateModelName(name);
    const m = await this.readModel(name);
    if (!m) throw registeredModelNotFound(name, await this.names(), this.displayUri);
    return m;
  }

  /** meta.yaml of a model, as MLflow 2.12's FileStore writes it. */
  private async writeModelMeta(m: RegisteredModel): Promise<void> {
    const aliases: Record<string, string> = {};
    for (const [a, v] of Object.entries(m.aliases).sort(([x], [y]) => x.localeCompare(y))) aliases[a] = String(v);
    const dir = this.modelDir(m.name);
    await writeFileAtomic(
      path.join(dir, 'meta.yaml'),
      dumpYaml({ aliases, creation_timestamp: m.creationTimestamp, description: m.description, last_updated_timestamp: m.lastUpdatedTimestamp, name: m.name }),
      this.atomic(dir),
    );
  }

  private async touch(name: string, now: number): Promise<void> {
    const m = await this.readModel(name);
    if (m) await this.writeModelMeta({ ...m, lastUpdatedTimestamp: now });
  }

  private toVersion(m: Record<string, unknown>, name: string, aliases: Record<string, number>): ModelVersion {
    const version = toInt(m.version);
    const status = String(m.status ?? 'READY');
    return {
      name: String(m.name ?? name),
      version,
      creationTimestamp: toInt(m.creation_timestamp),
      lastUpdatedTimestamp: toInt(m.last_updated_timestamp),
      source: String(m.source ?? ''),
      runId: nullableString(m.run_id),
      status: status === 'PENDING_REGISTRATION' || status === 'FAILED_REGISTRATION' ? status : 'READY',
      storageLocation: nullableString(m.storage_location),
      modelId: nullableString(m.model_id),
      aliases: aliasesOf(aliases, version),
    };
  }

  async getOrCreateRegisteredModel(name: string): Promise<RegisteredModel> {
    validateModelName(name);
    const found = await this.readModel(name);
    if (found) return found;
    await this.host.ensureRoot();
    return this.host.withLock(async () => {
      const again = await this.readModel(name);
      if (again) return again;
      const now = Date.now();
      const model: RegisteredModel = { name, creationTimestamp: now, lastUpdatedTimestamp: now, description: null, aliases: {} };
      const dir = this.modelDir(name);
      try {
        await fsp.mkdir(dir, { recursive: true });
      } catch (e) {
        throw ioError('create the registered model folder', dir, e);
      }
      await this.writeModelMeta(model);
      return model;
    });
  }

  async getRegisteredModel(name: string): Promise<RegisteredModel> {
    return this.requireModel(name);
  }

  async listRegisteredModels(): Promise<RegisteredModel[]> {
    const out: RegisteredModel[] = [];
    for (const n of await this.names()) {
      const m = await this.readModel(n);
      if (m) out.push(m);
    }
    return out;
  }

  async deleteRegisteredModel(name: string): Promise<void> {
    await this.requireModel(name);
    await this.host.withLock(async () => {
      // Renamed away first, so that no reader sees a model folder half removed.
      const gone = path.join(this.dir, `.deleting-${name}-${process.pid}`);
      try {
        await fsp.rename(this.modelDir(name), gone);
        await fsp.rm(gone, { recursive: true, force: true });
      } catch (e) {
        throw ioError('delete the registered model', this.modelDir(name), e);
      }
    });
  }

  async createModelVersion(request: CreateModelVersionRequest): Promise<ModelVersion> {
    await this.requireModel(request.name);
    return this.host.withLock(async () => {
      const dir = this.modelDir(request.name);
      const numbers = await this.versionNumbers(request.name);
      const version = (numbers[numbers.length - 1] ?? 0) + 1;
      const now = Date.now();
      const meta = {
        aliases: [],
        creation_timestamp: now,
        current_stage: 'None',
        description: null,
        last_updated_timestamp: now,
        name: request.name,
        run_id: request.runId,
        run_link: null,
        source: request.source,
        status: 'READY',
        status_message: null,
        storage_location: request.storageLocation ?? request.source,
        user_id: null,
        version,
        ...(request.modelId ? { model_id: request.modelId } : {}),
      };
      const vdir = path.join(dir, `version-${version}`);
      // meta.yaml is made complete first and moved into the new folder, so no version is ever seen without it.
      const tmp = await writeTempFile(path.join(vdir, 'meta.yaml'), dumpYaml(meta), dir, this.atomic(dir));
      try {
        await fsp.mkdir(vdir);
        await fsp.rename(tmp, path.join(vdir, 'meta.yaml'));
      } catch (e) {
        await fsp.rmdir(vdir).catch(() => undefined);
        throw ioError('create the model version', vdir, e);
      } finally {
        await discardTempFile(tmp);
      }
      await this.touch(request.name, now);
      return this.toVersion(meta, request.name, {});
    });
  }

  async getModelVersion(name: string, version: number): Promise<ModelVersion> {
    const model = await this.requireModel(name);
    const m = await this.readYaml(path.join(this.modelDir(name), `version-${version}`, 'meta.yaml'));
    if (!m) throw modelVersionNotFound(name, version, await this.versionNumbers(name), this.displayUri);
    return this.toVersion(m, name, model.aliases);
  }

  async listModelVersions(name: string): Promise<ModelVersion[]> {
    const model = await this.requireModel(name);
    const out: ModelVersion[] = [];
    for (const v of await this.versionNumbers(name)) {
      const m = await this.readYaml(path.join(this.modelDir(name), `version-${v}`, 'meta.yaml'));
      if (m) out.push(this.toVersion(m, name, model.aliases));
    }
    return out;
  }

  async setAlias(name: string, alias: string, version: number): Promise<void> {
    validateAlias(alias);
    await this.getModelVersion(name, version);
    await this.host.withLock(async () => {
      const dir = this.modelDir(name);
      const aliasDir = path.join(dir, 'aliases');
      try {
        await fsp.mkdir(aliasDir, { recursive: true });
      } catch (e) {
        throw ioError('create', aliasDir, e);
      }
      await writeFileAtomic(path.join(aliasDir, alias), String(version), this.atomic(dir));
      await this.touch(name, Date.now());
    });
  }

  async deleteAlias(name: string, alias: string): Promise<void> {
    validateAlias(alias);
    await this.requireModel(name);
    await this.host.withLock(async () => {
      try {
        await fsp.rm(path.join(this.modelDir(name), 'aliases', alias), { force: true });
      } catch (e) {
        throw ioError('delete the alias', path.join(this.modelDir(name), 'aliases', alias), e);
      }
      await this.touch(name, Date.now());
    });
  }

  async getModelVersionByAlias(name: string, alias: string): Promise<ModelVersion> {
    const model = await this.requireModel(name);
    const version = model.aliases[alias];
    if (version === undefined) throw modelAliasNotFound(name, alias, model.aliases, this.displayUri);
    return this.getModelVersion(name, version);
  }
}
