/**
 * The model-registry half of the contract server ({@link ContractServer}): MLflow's
 * `registered-models/*`, `model-versions/*` and `registered-models/alias` endpoints, in memory,
 * with MLflow's validation and error codes (400 INVALID_PARAMETER_VALUE for a bad name, version
 * or alias — including the reserved `latest` and `v<n>` aliases —, 400 RESOURCE_ALREADY_EXISTS
 * for a second create, 404 RESOURCE_DOES_NOT_EXIST for a missing model or version, 400 for a
 * missing alias, as MLflow's SQL store answers it) and MLflow's JSON shapes (versions as
 * strings, aliases as `{alias, version}` on a model and as names on a version).
 */
import { ApiError, type CsRun } from './contract-server.js';

interface CsVersion {
  name: string; version: number; creation_timestamp: number; last_updated_timestamp: number;
  source: string; run_id: string; status: string; current_stage: string; model_id?: string;
}
interface CsModel {
  name: string; creation_timestamp: number; last_updated_timestamp: number;
  aliases: Map<string, number>; versions: Map<number, CsVersion>;
}

const bad = (m: string): never => {
  throw new ApiError(400, 'INVALID_PARAMETER_VALUE', m);
};

function required(j: Record<string, unknown>, key: string): string {
  const v = j[key];
  if (v === undefined || v === null || v === '') bad(`Missing value for required parameter '${key}'. See the API docs for more information about request parameters.`);
  return String(v);
}

function versionNumber(raw: string): number {
  if (!/^-?\d+$/.test(raw)) bad(`Parameter 'version' must be an integer, got '${raw}'.`);
  return Number(raw);
}

function checkAlias(alias: string): void {
  if (!/^[\w-]+$/.test(alias)) bad(`Invalid alias name: '${alias}'. Names may only contain alphanumerics, underscores (_), and dashes (-).`);
  if (alias.length > 255) bad(`Registered model alias name '${alias}' had length ${alias.length}, which exceeded length limit of 255`);
  if (alias.toLowerCase() === 'latest') bad("'latest' alias name (case insensitive) is reserved.");
  if (/^[vV]\d+$/.test(alias)) bad(`Version alias name '${alias}' is reserved.`);
}

/** The registry endpoints; {@link route} answers undefined for other routes. */
export class ContractRegistry {
  readonly models = new Map<string, CsModel>();

  /** `hasLoggedModel` answers whether an MLflow 3 logged model exists (always false for a 2.x server). */
  constructor(
    private readonly runs: Map<string, CsRun>,
    private readonly hasLoggedModel: (modelId: string) => boolean = () => false,
  ) {}

  private model(name: string): CsModel {
    const m = this.models.get(name);
    if (!m) throw new ApiError(404, 'RESOURCE_DOES_NOT_EXIST', `Registered Model with name=${name} not found`);
    return m;
  }

  private version(m: CsModel, v: number): CsVersion {
    const found = m.versions.get(v);
    if (!found) throw new ApiError(404, 'RESOURCE_DOES_NOT_EXIST', `Model Version (name=${m.name}, version=${v}) not found`);
    return found;
  }

  private versionJson(m: CsModel, v: CsVersion): unknown {
    const aliases = [...m.aliases].filter(([, n]) => n === v.version).map(([a]) => a);
    return {
      name: v.name, version: String(v.version), creation_timestamp: v.creation_timestamp, last_updated_timestamp: v.last_updated_timestamp,
      current_stage: v.current_stage, description: '', source: v.source, run_id: v.run_id, status: v.status, run_link: '',
      ...(aliases.length ? { aliases } : {}), ...(v.model_id ? { model_id: v.model_id } : {}),
    };
  }

  private modelJson(m: CsModel): unknown {
    const latest = [...m.versions.values()].sort((a, b) => b.version - a.version)[0];
    return {
      name: m.name, creation_timestamp: m.creation_timestamp, last_updated_timestamp: m.last_updated_timestamp,
      ...(latest ? { latest_versions: [this.versionJson(m, latest)] } : {}),
      ...(m.aliases.size ? { aliases: [...m.aliases].map(([alias, v]) => ({ alias, version: String(v) })) } : {}),
    };
  }

  /** Page `items` as MLflow pages searches (an opaque offset token). */
  private page<T>(items: T[], j: Record<string, unknown>, max: number, dflt: number): { items: T[]; next?: string } {
    const n = j.max_results === undefined ? dflt : Number(j.max_results);
    if (!Number.isInteger(n) || n < 1 || n > max) bad(`Invalid value for max_results. It must be at most ${max}, but got ${String(j.max_results)}`);
    const offset = j.page_token ? Number(Buffer.from(String(j.page_token), 'base64').toString('utf8')) : 0;
    if (!Number.isInteger(offset) || offset < 0) bad('Invalid page token');
    const slice = items.slice(offset, offset + n);
    return offset + n < items.length ? { items: slice, next: Buffer.from(String(offset + n)).toString('base64') } : { items: slice };
  }

  route(route: string, j: Record<string, unknown>): unknown {
    const now = Date.now();
    switch (route) {
      case 'POST registered-models/create': {
        const name = required(j, 'name');
        if (this.models.has(name)) throw new ApiError(400, 'RESOURCE_ALREADY_EXISTS', `Registered Model (name=${name}) already exists.`);
        const m: CsModel = { name, creation_timestamp: now, last_updated_timestamp: now, aliases: new Map(), versions: new Map() };
        this.models.set(name, m);
        return { registered_model: this.modelJson(m) };
      }
      case 'GET registered-models/get':
        return { registered_model: this.modelJson(this.model(required(j, 'name'))) };
      case 'GET registered-models/search': {
        const all = [...this.models.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
        const p = this.page(all, j, 1000, 100);
        return { ...(p.items.length ? { registered_models: p.items.map((m) => this.modelJson(m)) } : {}), ...(p.next ? { next_page_token: p.next } : {}) };
      }
      case 'DELETE registered-models/delete': {
        this.model(required(j, 'name'));
        this.models.delete(String(j.name));
        return {};
      }
      case 'POST model-versions/create': {
        const m = this.model(required(j, 'name'));
        const source = required(j, 'source');
        const runId = typeof j.run_id === 'string' ? j.run_id : '';
        const run = runId ? this.runs.get(runId) : undefined;
        if (runId && !run) throw new ApiError(404, 'RESOURCE_DOES_NOT_EXIST', `Run with id=${runId} not found`);
        // As MLflow's server: a local-path source must lie inside the artifacts of the run given.
        if (/^(\/|file:)/.test(source) && !(run && source.startsWith(`${run.info.artifact_uri}/`))) {
          bad(`Invalid model version source: '${source}'. To use a local path as a model version source, the run_id request parameter has to be specified and the local path has to be contained within the artifact directory of the run specified by the run_id.`);
        }
        // MLflow 3: a version of a logged model (source models:/<model_id>, or model_id given) needs that model.
        const fromModel = /^models:\/(m-[0-9a-f]+)$/.exec(source)?.[1];
        for (const id of [fromModel, typeof j.model_id === 'string' && j.model_id ? j.model_id : undefined]) {
          if (id !== undefined && !this.hasLoggedModel(id)) throw new ApiError(404, 'RESOURCE_DOES_NOT_EXIST', `Logged model with ID '${id}' not found.`);
        }
        const version = Math.max(0, ...m.versions.keys()) + 1;
        const v: CsVersion = { name: m.name, version, creation_timestamp: now, last_updated_timestamp: now, source, run_id: runId, status: 'READY', current_stage: 'None', ...(typeof j.model_id === 'string' ? { model_id: j.model_id } : {}) };
        m.versions.set(version, v);
        m.last_updated_timestamp = now;
        return { model_version: this.versionJson(m, v) };
      }
      case 'GET model-versions/get': {
        const m = this.model(required(j, 'name'));
        return { model_version: this.versionJson(m, this.version(m, versionNumber(required(j, 'version')))) };
      }
      case 'GET model-versions/search': {
        const filter = String(j.filter ?? '');
        const f = /^name\s*=\s*'((?:[^'\\]|\\.)*)'$/.exec(filter.trim());
        if (filter && !f) bad(`Invalid filter '${filter}'`);
        const name = f ? f[1].replace(/\\(.)/g, '$1') : undefined;
        const all = [...this.models.values()].filter((m) => name === undefined || m.name === name).flatMap((m) => [...m.versions.values()].map((v) => ({ m, v })));
        const p = this.page(all, j, 200000, 10000);
        return { ...(p.items.length ? { model_versions: p.items.map(({ m, v }) => this.versionJson(m, v)) } : {}), ...(p.next ? { next_page_token: p.next } : {}) };
      }
      case 'POST registered-models/alias': {
        const m = this.model(required(j, 'name'));
        const alias = required(j, 'alias');
        checkAlias(alias);
        const v = this.version(m, versionNumber(required(j, 'version')));
        m.aliases.set(alias, v.version);
        m.last_updated_timestamp = now;
        return {};
      }
      case 'DELETE registered-models/alias': {
        const m = this.model(required(j, 'name'));
        m.aliases.delete(required(j, 'alias'));
        m.last_updated_timestamp = now;
        return {};
      }
      case 'GET registered-models/alias': {
        const m = this.model(required(j, 'name'));
        const alias = required(j, 'alias');
        const v = m.aliases.get(alias);
        if (v === undefined) bad(`Registered model alias ${alias} not found.`);
        return { model_version: this.versionJson(m, this.version(m, v!)) };
      }
      default:
        return undefined;
    }
  }
}
