/**
 * The model registry of an MLflow tracking server, through its REST API (under
 * `/api/2.0/mlflow/`): `registered-models/{create,get,search,delete}`,
 * `model-versions/{create,get,search}` and `registered-models/alias` (POST to set, GET to read,
 * DELETE to remove). Names and aliases are checked here first, as the server checks them, so a
 * bad one costs no request; a missing model, version or alias is reported naming what exists.
 */
import { externalError } from '../errors.js';
import { MlflowApiError, type RestClient } from './rest-client.js';
import {
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

const API = '/api/2.0/mlflow';
/** Largest page of registered-models/search MLflow serves. */
const MODELS_PAGE = 1000;

type Json = Record<string, unknown>;

function missing(e: unknown): boolean {
  return e instanceof MlflowApiError && (e.errorCode === 'RESOURCE_DOES_NOT_EXIST' || e.status === 404);
}

/** MLflow's JSON numbers of int64 fields may arrive as strings. */
function num(v: unknown): number {
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : 0;
}

function str(v: unknown): string | null {
  return v === undefined || v === null || v === '' ? null : String(v);
}

/** A filter string value, quoted as MLflow's search grammar wants it. */
function quoted(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function toModel(j: Json): RegisteredModel {
  const aliases: Record<string, number> = {};
  for (const a of (j.aliases as Json[] | undefined) ?? []) aliases[String(a.alias)] = num(a.version);
  const latest = ((j.latest_versions as Json[] | undefined) ?? []).map((v) => num(v.version));
  return {
    name: String(j.name),
    creationTimestamp: num(j.creation_timestamp),
    lastUpdatedTimestamp: num(j.last_updated_timestamp),
    description: str(j.description),
    aliases,
    ...(latest.length > 0 ? { latestVersion: Math.max(...latest) } : {}),
  };
}

function toVersion(j: Json): ModelVersion {
  const status = String(j.status ?? 'READY');
  return {
    name: String(j.name),
    version: num(j.version),
    creationTimestamp: num(j.creation_timestamp),
    lastUpdatedTimestamp: num(j.last_updated_timestamp),
    source: String(j.source ?? ''),
    runId: str(j.run_id),
    status: status === 'PENDING_REGISTRATION' || status === 'FAILED_REGISTRATION' ? status : 'READY',
    storageLocation: str(j.storage_location) ?? str(j.source),
    modelId: str(j.model_id),
    aliases: ((j.aliases as unknown[] | undefined) ?? []).map(String).sort(),
  };
}

/** The registry of a tracking server. */
export class RestRegistry implements ModelRegistry {
  constructor(private readonly client: RestClient) {}

  get displayUri(): string {
    return this.client.displayUri;
  }

  private field(obj: Json, name: string, call: string): Json {
    const v = obj[name];
    if (v === null || typeof v !== 'object') {
      throw externalError('E_TRACKING_API', `tracking server ${this.displayUri} answered ${call} without "${name}": ${JSON.stringify(obj).slice(0, 200)}`, {
        hint: 'is the tracking URI the MLflow server itself, with its model registry enabled?',
      });
    }
    return v as Json;
  }

  private async names(): Promise<string[]> {
    return (await this.listRegisteredModels()).map((m) => m.name);
  }

  async getOrCreateRegisteredModel(name: string): Promise<RegisteredModel> {
    validateModelName(name);
    try {
      return await this.getRegisteredModel(name);
    } catch (e) {
      if (!(e instanceof Error && 'code' in e && e.code === 'E_REGISTERED_MODEL_NOT_FOUND')) throw e;
    }
    try {
      const res = await this.client.request({ method: 'POST', path: `${API}/registered-models/create`, json: { name } });
      return toModel(this.field(res.json, 'registered_model', 'registered-models/create'));
    } catch (e) {
      // Another process created it between our lookup and our create (or a retried create took effect): use it.
      if (!(e instanceof MlflowApiError && e.errorCode === 'RESOURCE_ALREADY_EXISTS')) throw e;
      return this.getRegisteredModel(name);
    }
  }

  async getRegisteredModel(name: string): Promise<RegisteredModel> {
    validateModelName(name);
    try {
      const res = await this.client.request({ method: 'GET', path: `${API}/registered-models/get`, query: { name } });
      const model = toModel(this.field(res.json, 'registered_model', 'registered-models/get'));
      // latest_versions holds one version per stage; the newest of all comes from the versions.
      const versions = await this.searchVersions(name);
      if (versions.length > 0) model.latestVersion = versions[versions.length - 1].version;
      return model;
    } catch (e) {
      if (missing(e)) throw registeredModelNotFound(name, await this.names(), this.displayUri);
      throw e;
    }
  }

  async listRegisteredModels(): Promise<RegisteredModel[]> {
    const out: RegisteredModel[] = [];
    let pageToken: string | undefined;
    do {
      const res = await this.client.request({ method: 'GET', path: `${API}/registered-models/search`, query: { max_results: MODELS_PAGE, ...(pageToken ? { page_token: pageToken } : {}) } });
      for (const m of (res.json.registered_models as Json[] | undefined) ?? []) out.push(toModel(m));
      pageToken = (res.json.next_page_token as string | undefined) || undefined;
    } while (pageToken);
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async deleteRegisteredModel(name: string): Promise<void> {
    await this.getRegisteredModel(name);
    await this.client.request({ method: 'DELETE', path: `${API}/registered-models/delete`, json: { name } });
  }

  async createModelVersion(request: CreateModelVersionRequest): Promise<ModelVersion> {
    validateModelName(request.name);
    await this.getRegisteredModel(request.name);
    // Not retried blindly: a create whose answer was lost would add a second version.
    const res = await this.client.request({
      method: 'POST',
      path: `${API}/model-versions/create`,
      json: { name: request.name, source: request.source, run_id: request.runId, ...(request.modelId ? { model_id: request.modelId } : {}) },
      recover: async () => {
        const again = (await this.searchVersions(request.name)).find((v) => v.runId === request.runId && v.source === request.source);
        return again ? { model_version: { ...again, run_id: again.runId, storage_location: again.storageLocation, model_id: again.modelId } } : undefined;
      },
    });
    return toVersion(this.field(res.json, 'model_version', 'model-versions/create'));
  }

  /** Every version of a model, oldest first (model-versions/search, paged). */
  private async searchVersions(name: string): Promise<ModelVersion[]> {
    const out: ModelVersion[] = [];
    let pageToken: string | undefined;
    do {
      const res = await this.client.request({
        method: 'GET',
        path: `${API}/model-versions/search`,
        query: { filter: `name=${quoted(name)}`, max_results: 10000, ...(pageToken ? { page_token: pageToken } : {}) },
      });
      for (const v of (res.json.model_versions as Json[] | undefined) ?? []) out.push(toVersion(v));
      pageToken = (res.json.next_page_token as string | undefined) || undefined;
    } while (pageToken);
    return out.sort((a, b) => a.version - b.version);
  }

  async getModelVersion(name: string, version: number): Promise<ModelVersion> {
    validateModelName(name);
    try {
      const res = await this.client.request({ method: 'GET', path: `${API}/model-versions/get`, query: { name, version: String(version) } });
      return toVersion(this.field(res.json, 'model_version', 'model-versions/get'));
    } catch (e) {
      if (!missing(e)) throw e;
      await this.getRegisteredModel(name);
      throw modelVersionNotFound(name, version, (await this.searchVersions(name)).map((v) => v.version), this.displayUri);
    }
  }

  async listModelVersions(name: string): Promise<ModelVersion[]> {
    // search answers carry no aliases (MLflow 2.x): they come from the model.
    const model = await this.getRegisteredModel(name);
    return (await this.searchVersions(name)).map((v) => ({ ...v, aliases: Object.keys(model.aliases).filter((a) => model.aliases[a] === v.version).sort() }));
  }

  async setAlias(name: string, alias: string, version: number): Promise<void> {
    validateModelName(name);
    validateAlias(alias);
    await this.getModelVersion(name, version);
    await this.client.request({ method: 'POST', path: `${API}/registered-models/alias`, json: { name, alias, version: String(version) } });
  }

  async deleteAlias(name: string, alias: string): Promise<void> {
    validateModelName(name);
    validateAlias(alias);
    await this.getRegisteredModel(name);
    await this.client.request({ method: 'DELETE', path: `${API}/registered-models/alias`, json: { name, alias } });
  }

  async getModelVersionByAlias(name: string, alias: string): Promise<ModelVersion> {
    validateModelName(name);
    try {
      const res = await this.client.request({ method: 'GET', path: `${API}/registered-models/alias`, query: { name, alias } });
      return toVersion(this.field(res.json, 'model_version', 'registered-models/alias'));
    } catch (e) {
      // MLflow answers a missing alias with 400 INVALID_PARAMETER_VALUE, a missing model with 404.
      if (!(e instanceof MlflowApiError && (missing(e) || e.errorCode === 'INVALID_PARAMETER_VALUE'))) throw e;
      const model = await this.getRegisteredModel(name);
      throw modelAliasNotFound(name, alias, model.aliases, this.displayUri);
    }
  }
}
