/**
 * The model registry: named models, their numbered versions (each pointing at a run's `model/`
 * artifact) and aliases such as `production` that name one version. MLflow terms and rules, one
 * implementation per store beside the {@link TrackingStore} (FileStore `mlruns/models/`, MLflow's
 * SQL tables, the REST `registered-models/*` and `model-versions/*` endpoints).
 *
 * Validation follows MLflow's so that a name or alias lpclust accepts is one MLflow accepts, and
 * one MLflow refuses is refused here before anything is written.
 */
import { inputError, usageError, type LpclustError } from '../errors.js';
import type { TrackingStore } from './store.js';

/** A registered model. */
export interface RegisteredModel {
  name: string;
  /** ms since the epoch. */
  creationTimestamp: number;
  /** ms since the epoch: the last time a version or alias of the model changed. */
  lastUpdatedTimestamp: number;
  description: string | null;
  /** Alias → version number. */
  aliases: Record<string, number>;
  /** The highest version number, when the model has versions. */
  latestVersion?: number;
}

/** One version of a registered model. */
export interface ModelVersion {
  name: string;
  /** 1, 2, ... in creation order. */
  version: number;
  /** ms since the epoch. */
  creationTimestamp: number;
  lastUpdatedTimestamp: number;
  /** Where the model is: the run's `model/` artifact URI, or `models:/<model_id>` for an MLflow 3 logged model. */
  source: string;
  /** The run that logged the model. */
  runId: string | null;
  /** MLflow's version status; lpclust registers finished models only. */
  status: 'READY' | 'PENDING_REGISTRATION' | 'FAILED_REGISTRATION';
  /** Where the files are (the artifact URI the source resolves to). */
  storageLocation: string | null;
  /** MLflow 3's logged-model id (`m-…`), when the version was made from one. */
  modelId: string | null;
  /** Aliases naming this version. */
  aliases: string[];
}

/** What {@link ModelRegistry.createModelVersion} needs. */
export interface CreateModelVersionRequest {
  name: string;
  /** The model's URI (see {@link ModelVersion.source}). */
  source: string;
  runId: string;
  /** Defaults to `source`. */
  storageLocation?: string;
  modelId?: string;
}

/** A registry backend. Version numbers are allocated race-free across processes. */
export interface ModelRegistry {
  /** The registry's location, password masked (for messages). */
  readonly displayUri: string;
  /** The model of that name, created (without versions) when missing. */
  getOrCreateRegisteredModel(name: string): Promise<RegisteredModel>;
  /** @throws LpclustError E_REGISTERED_MODEL_NOT_FOUND, naming the models that exist */
  getRegisteredModel(name: string): Promise<RegisteredModel>;
  /** Every registered model, by name. */
  listRegisteredModels(): Promise<RegisteredModel[]>;
  /** Delete a model with its versions and aliases (the runs and their artifacts stay). */
  deleteRegisteredModel(name: string): Promise<void>;
  /** A new version (the next number) of an existing model. */
  createModelVersion(request: CreateModelVersionRequest): Promise<ModelVersion>;
  /** @throws LpclustError E_MODEL_VERSION_NOT_FOUND, naming the versions that exist */
  getModelVersion(name: string, version: number): Promise<ModelVersion>;
  /** The versions of a model, oldest first. */
  listModelVersions(name: string): Promise<ModelVersion[]>;
  /** Point an alias at a version (moving it if it named another). */
  setAlias(name: string, alias: string, version: number): Promise<void>;
  /** Remove an alias; removing one that does not exist is not an error (as in MLflow). */
  deleteAlias(name: string, alias: string): Promise<void>;
  /** @throws LpclustError E_MODEL_ALIAS_NOT_FOUND, naming the aliases that exist */
  getModelVersionByAlias(name: string, alias: string): Promise<ModelVersion>;
}

/** A store that carries a registry. */
export interface WithRegistry {
  registry(): ModelRegistry;
}

/** The registry of a tracking store. @throws LpclustError E_REGISTRY_UNSUPPORTED for stores without one */
export function registryOf(store: TrackingStore): ModelRegistry {
  const r = (store as Partial<WithRegistry>).registry;
  if (typeof r !== 'function') {
    throw usageError('E_REGISTRY_UNSUPPORTED', `the tracking store ${store.displayUri} has no model registry lpclust can use`, {
      hint: 'use a file:, sqlite: or http(s): tracking URI',
    });
  }
  return r.call(store);
}

/** MLflow's limits: `registered_models.name` is VARCHAR(256), aliases at most 255 characters. */
export const REGISTRY_LIMITS = { name: 256, alias: 255 } as const;

/**
 * Check a registered model name as MLflow does (non-empty, fits its column); lpclust also refuses
 * `/`, `@` and `:` so that every name can be written in a `models:/NAME@ALIAS` URI and as a
 * FileStore folder. @throws LpclustError E_REGISTRY_NAME (usage)
 */
export function validateModelName(name: string): void {
  const bad = (why: string): never => {
    throw usageError('E_REGISTRY_NAME', `Expected a registered model name ${why} but received ${JSON.stringify(name)}`, {
      hint: 'use letters, digits, dots, dashes and underscores, e.g. uc7-clusters',
    });
  };
  if (typeof name !== 'string' || name === '') bad('(it cannot be empty)');
  if (name.length > REGISTRY_LIMITS.name) bad(`of at most ${REGISTRY_LIMITS.name} characters`);
  if (/[/@:\\]/.test(name) || name === '.' || name === '..' || name.trim() !== name) bad('without "/", "\\", "@", ":" or surrounding spaces');
}

/**
 * Check an alias as MLflow does: letters, digits, `_` and `-`; not `latest` (any case) and not a
 * version name such as `v3`, which MLflow reserves. @throws LpclustError E_REGISTRY_ALIAS (usage)
 */
export function validateAlias(alias: string): void {
  const bad = (why: string): never => {
    throw usageError('E_REGISTRY_ALIAS', `Expected an alias ${why} but received ${JSON.stringify(alias)}`, {
      hint: 'e.g. production, staging, champion',
    });
  };
  if (typeof alias !== 'string' || alias === '') bad('(it cannot be empty)');
  if (!/^[\w-]+$/.test(alias)) bad('of letters, digits, underscores (_) and dashes (-) only');
  if (alias.length > REGISTRY_LIMITS.alias) bad(`of at most ${REGISTRY_LIMITS.alias} characters`);
  if (alias.toLowerCase() === 'latest') bad('other than "latest", which MLflow reserves for the newest version');
  if (/^[vV]\d+$/.test(alias)) bad('that does not look like a version (v1, v2, ... are reserved by MLflow)');
}

/** A version number given as text. @throws LpclustError E_REGISTRY_VERSION (usage) */
export function parseVersion(text: string | number, name?: string): number {
  const s = String(text).trim();
  if (!/^\d+$/.test(s) || Number(s) < 1 || !Number.isSafeInteger(Number(s))) {
    throw usageError('E_REGISTRY_VERSION', `Expected a model version number (1, 2, ...) ${name ? `of "${name}" ` : ''}but received ${JSON.stringify(String(text))}`, {
      hint: name ? `list the versions with \`lpclust models show ${name}\`` : 'list the versions with `lpclust models show NAME`',
    });
  }
  return Number(s);
}

function listed(items: string[], none: string): string {
  if (items.length === 0) return none;
  const shown = items.slice(0, 10).join(', ');
  return items.length > 10 ? `${shown}, ... (${items.length} in all)` : shown;
}

/** "No registered model NAME", naming those that exist. */
export function registeredModelNotFound(name: string, existing: string[], displayUri: string): LpclustError {
  return inputError('E_REGISTERED_MODEL_NOT_FOUND', `no registered model ${JSON.stringify(name)} in ${displayUri}; registered models: ${listed(existing, 'none')}`, {
    hint: 'register one with `lpclust cluster|pipeline|sweep ... --register-model NAME`; list them with `lpclust models list`',
  });
}

/** "No version V of NAME", naming the versions that exist. */
export function modelVersionNotFound(name: string, version: number, existing: number[], displayUri: string): LpclustError {
  return inputError('E_MODEL_VERSION_NOT_FOUND', `registered model "${name}" in ${displayUri} has no version ${version}; its versions: ${listed(existing.map(String), 'none')}`, {
    hint: `see them with \`lpclust models show ${name}\``,
  });
}

/** "No alias A on NAME", naming the aliases that exist. */
export function modelAliasNotFound(name: string, alias: string, aliases: Record<string, number>, displayUri: string): LpclustError {
  const have = Object.entries(aliases).sort(([a], [b]) => a.localeCompare(b)).map(([a, v]) => `${a} → ${v}`);
  return inputError('E_MODEL_ALIAS_NOT_FOUND', `registered model "${name}" in ${displayUri} has no alias "${alias}"; its aliases: ${listed(have, 'none')}`, {
    hint: `set it with \`lpclust models alias ${name} VERSION ${alias}\``,
  });
}

/** The aliases of one version, sorted. */
export function aliasesOf(aliases: Record<string, number>, version: number): string[] {
  return Object.keys(aliases).filter((a) => aliases[a] === version).sort();
}

/** An MLflow 3 logged model: a model as an entity of its own (`m-…` id), linked to the run that logged it. */
export interface LoggedModel {
  modelId: string;
  experimentId: string;
  /** The artifact path it was logged under (`model`). */
  name: string;
  /** Where its files are (a local path for the SQLite store). */
  artifactLocation: string;
  sourceRunId: string | null;
  /** MLflow's LoggedModelStatus: 1 PENDING, 2 READY, 3 FAILED. */
  status: number;
}

/**
 * A store that keeps MLflow 3 logged models: the SQLite store at MLflow 3's revision, and an MLflow
 * 3 tracking server (the REST store; a 2.x server keeps none and its methods answer null).
 */
export interface WithLoggedModels {
  /**
   * Record the model files in `localDir` as a logged model of the run: the entity (params and
   * user/source tags copied from the run), its files under the experiment's
   * `models/<model_id>/artifacts/`, and the run's output link. Null when the store keeps no
   * logged models (MLflow 2 schemas), where the run's `mlflow.log-model.history` tag does that job.
   */
  createLoggedModel(runId: string, name: string, localDir: string): Promise<LoggedModel | null>;
  /**
   * The first half of {@link createLoggedModel}: the entity, PENDING, with its id (so that the
   * model's `MLmodel` can carry `model_id` before its files are written), and the run's output
   * link. Null where the store keeps no logged models.
   */
  startLoggedModel(runId: string, name: string): Promise<LoggedModel | null>;
  /**
   * The second half: the files of `localDir` under the model's artifact location, then READY; on
   * a failure the model is marked FAILED (where the store can still be reached) and the error thrown.
   */
  completeLoggedModel(model: LoggedModel, localDir: string): Promise<LoggedModel>;
  /**
   * Copy a logged model's files to `destDir` when they are not local (a tracking server);
   * returns the local folder. Stores whose files are local leave it out.
   */
  downloadLoggedModel?(model: LoggedModel, destDir: string): Promise<string>;
  /** The newest READY logged model a run logged under `name`, or null. */
  findLoggedModel(runId: string, name: string): Promise<LoggedModel | null>;
  /** A logged model by id, or null. */
  getLoggedModel(modelId: string): Promise<LoggedModel | null>;
  /** Record on the logged model that a registered version was made from it (tag `mlflow.modelVersions`). */
  linkModelVersion(modelId: string, name: string, version: number): Promise<void>;
}

/** The run tags MLflow 3 copies onto a logged model when it is logged (who and what logged it). */
export const LOGGED_MODEL_RUN_TAGS = ['mlflow.user', 'mlflow.source.name', 'mlflow.source.type'] as const;

/** The logged-model tag listing the registered versions made from it (MLflow 3's `mlflow.modelVersions`). */
export const MODEL_VERSIONS_TAG = 'mlflow.modelVersions';

/** The new value of {@link MODEL_VERSIONS_TAG} after registering `name`/`version` (Python's `json.dumps` spacing, as MLflow writes it). */
export function modelVersionsTag(previous: string | undefined, name: string, version: number): string {
  let list: Array<{ name: string; version: number }> = [];
  try {
    const parsed = previous ? (JSON.parse(previous) as unknown) : [];
    if (Array.isArray(parsed)) list = parsed as typeof list;
  } catch {
    list = [];
  }
  list.push({ name, version });
  return `[${list.map((i) => `{"name": ${JSON.stringify(i.name)}, "version": ${Number(i.version)}}`).join(', ')}]`;
}

/** The logged models of a store, or null for stores without them. */
export function loggedModelsOf(store: TrackingStore): WithLoggedModels | null {
  const s = store as Partial<WithLoggedModels>;
  return typeof s.startLoggedModel === 'function' && typeof s.findLoggedModel === 'function' ? (store as unknown as WithLoggedModels) : null;
}

/** The logged-model id of a `models:/m-…` URI (a version's source in MLflow 3), or null. */
export function loggedModelIdOf(uri: string): string | null {
  return /^models:\/(m-[0-9a-f]{32})\/?$/.exec(uri)?.[1] ?? null;
}

/** True for an MLflow 3 logged-model id (`m-` and 32 hex digits). */
export function isLoggedModelId(s: string): boolean {
  return /^m-[0-9a-f]{32}$/.test(s);
}
