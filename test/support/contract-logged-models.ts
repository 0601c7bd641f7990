/**
 * The MLflow 3 logged-model half of the contract server ({@link ContractServer} with
 * `mlflowVersion: 3`): `POST logged-models`, `GET|PATCH logged-models/<id>` (PATCH finalizes),
 * `PATCH logged-models/<id>/tags`, `GET logged-models/<id>/artifacts/directories`,
 * `POST logged-models/search` and `POST runs/outputs`, in memory, with MLflow 3's JSON shapes (`{model: {info, data}}`, statuses by
 * their enum names, timestamps in ms) and validation: required fields
 * (400 INVALID_PARAMETER_VALUE "Missing value for required parameter …"), unknown experiments,
 * runs and models (404 RESOURCE_DOES_NOT_EXIST), a finalize status other than READY or
 * UPLOAD_FAILED (400). Files are stored by the artifact proxy under
 * `<experiment>/models/<model_id>/artifacts/`, the artifact location such a server gives a model.
 */
import { randomBytes } from 'node:crypto';
import { ApiError, type CsExperiment, type CsMetric, type CsRun, type CsTag } from './contract-server.js';

export interface CsLoggedModel {
  info: {
    model_id: string; experiment_id: string; name: string; artifact_uri: string; status: string;
    creation_timestamp_ms: number; last_updated_timestamp_ms: number; source_run_id?: string; model_type?: string;
  };
  tags: Map<string, string>;
  params: Map<string, string>;
  metrics: Array<CsMetric & { run_id?: string }>;
  artifacts: Map<string, Buffer>;
}

const STATUS_NAMES: Record<string, string> = { '1': 'LOGGED_MODEL_PENDING', '2': 'LOGGED_MODEL_READY', '3': 'LOGGED_MODEL_UPLOAD_FAILED' };

const bad = (m: string): never => {
  throw new ApiError(400, 'INVALID_PARAMETER_VALUE', m);
};

function required(j: Record<string, unknown>, key: string): unknown {
  const v = j[key];
  if (v === undefined || v === null || v === '') bad(`Missing value for required parameter '${key}'. See the API docs for more information about request parameters.`);
  return v;
}

function keyValues(list: unknown, what: string): CsTag[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) bad(`Invalid value for parameter '${what}': expected a list`);
  return (list as Array<Record<string, unknown>>).map((e) => {
    if (typeof e?.key !== 'string' || e.key === '') bad(`Missing value for required parameter '${what}.key'`);
    if (typeof e.value !== 'string') bad(`Missing value for required parameter '${what}.value'`);
    return { key: e.key as string, value: e.value as string };
  });
}

/** Logged models and run outputs; {@link route} answers undefined for other routes. */
export class ContractLoggedModels {
  readonly models = new Map<string, CsLoggedModel>();
  /** Run id → its model outputs (`runs/outputs`), as `runs/get` returns them. */
  readonly outputs = new Map<string, Array<{ model_id: string; step: number }>>();

  constructor(
    private readonly experiments: Map<string, CsExperiment>,
    private readonly runs: Map<string, CsRun>,
  ) {}

  model(id: unknown): CsLoggedModel {
    const m = typeof id === 'string' ? this.models.get(id) : undefined;
    if (!m) throw new ApiError(404, 'RESOURCE_DOES_NOT_EXIST', `Logged model with ID '${String(id)}' not found.`);
    return m;
  }

  json(m: CsLoggedModel): unknown {
    return {
      info: { ...m.info, tags: [...m.tags].map(([key, value]) => ({ key, value })) },
      data: { params: [...m.params].map(([key, value]) => ({ key, value })), metrics: m.metrics.map((x) => ({ ...x, model_id: m.info.model_id })) },
    };
  }

  /** Metrics logged with a `model_id` (log-batch) are the model's too; unknown ids are refused before anything is stored. */
  checkMetricModels(metrics: Array<Record<string, unknown>>): void {
    for (const x of metrics) if (x.model_id !== undefined && x.model_id !== '') this.model(x.model_id);
  }

  addMetric(modelId: string, runId: string, m: CsMetric): void {
    const model = this.model(modelId);
    if (model.metrics.some((x) => x.key === m.key && x.step === m.step && x.timestamp === m.timestamp && x.run_id === runId)) return;
    model.metrics.push({ ...m, run_id: runId });
  }

  /** `<exp>/models/<id>/artifacts/<path>` of the artifact proxy. */
  artifact(method: string, expId: string, modelId: string, rest: string[], body: Buffer): Buffer | undefined {
    const m = this.model(modelId);
    if (m.info.experiment_id !== expId || rest.length === 0 || rest.some((s) => s === '..' || s === '')) bad(`bad artifact path ${expId}/models/${modelId}/artifacts/${rest.join('/')}`);
    const p = rest.join('/');
    if (method === 'PUT') {
      m.artifacts.set(p, body);
      return undefined;
    }
    if (method === 'GET') {
      const b = m.artifacts.get(p);
      if (!b) throw new ApiError(404, 'RESOURCE_DOES_NOT_EXIST', `artifact ${p} not found`);
      return b;
    }
    throw new ApiError(405, 'BAD_REQUEST', `method ${method} not allowed`);
  }

  route(method: string, sub: string, j: Record<string, unknown>): unknown {
    const now = Date.now();
    if (method === 'POST' && sub === 'runs/outputs') return this.logOutputs(j);
    if (method === 'POST' && sub === 'logged-models') {
      const expId = String(required(j, 'experiment_id'));
      const exp = this.experiments.get(expId);
      if (exp?.lifecycle_stage !== 'active') throw new ApiError(404, 'RESOURCE_DOES_NOT_EXIST', `No Experiment with id=${expId} exists`);
      const runId = typeof j.source_run_id === 'string' && j.source_run_id !== '' ? j.source_run_id : undefined;
      if (runId && !this.runs.has(runId)) throw new ApiError(404, 'RESOURCE_DOES_NOT_EXIST', `Run with id=${runId} not found`);
      const params = keyValues(j.params, 'params');
      const tags = keyValues(j.tags, 'tags');
      const id = `m-${randomBytes(16).toString('hex')}`;
      const m: CsLoggedModel = {
        info: {
          model_id: id, experiment_id: expId, name: typeof j.name === 'string' && j.name ? j.name : `model-${id.slice(2, 8)}`,
          artifact_uri: `${exp.artifact_location.replace(/\/+$/, '')}/models/${id}/artifacts`, status: 'LOGGED_MODEL_PENDING',
          creation_timestamp_ms: now, last_updated_timestamp_ms: now, ...(runId ? { source_run_id: runId } : {}),
          ...(typeof j.model_type === 'string' && j.model_type ? { model_type: j.model_type } : {}),
        },
        tags: new Map(tags.map((t) => [t.key, t.value])),
        params: new Map(params.map((t) => [t.key, t.value])),
        metrics: [],
        artifacts: new Map(),
      };
      this.models.set(id, m);
      return { model: this.json(m) };
    }
    if (method === 'POST' && sub === 'logged-models/search') return this.search(j);
    const parts = /^logged-models\/([^/]+)(\/tags|\/artifacts\/directories)?$/.exec(sub);
    if (!parts) return undefined;
    const id = decodeURIComponent(parts[1]);
    if (parts[2] === undefined && method === 'GET') return { model: this.json(this.model(id)) };
    if (parts[2] === undefined && method === 'PATCH') {
      required(j, 'model_id');
      const status = String(required(j, 'status'));
      const name = STATUS_NAMES[status] ?? status;
      if (name !== 'LOGGED_MODEL_READY' && name !== 'LOGGED_MODEL_UPLOAD_FAILED') bad(`Invalid value ${status} for parameter 'status': a logged model is finalized as LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED`);
      const m = this.model(id);
      m.info.status = name;
      m.info.last_updated_timestamp_ms = now;
      return { model: this.json(m) };
    }
    if (parts[2] === '/tags' && method === 'PATCH') {
      const m = this.model(id);
      for (const t of keyValues(required(j, 'tags'), 'tags')) m.tags.set(t.key, t.value);
      m.info.last_updated_timestamp_ms = now;
      return {};
    }
    if (parts[2] === '/artifacts/directories' && method === 'GET') {
      const m = this.model(id);
      const base = typeof j.artifact_directory_path === 'string' ? j.artifact_directory_path.replace(/\/+$/, '') : '';
      const seen = new Map<string, { path: string; is_dir: boolean; file_size?: number }>();
      for (const [p, b] of m.artifacts) {
        if (base && !p.startsWith(`${base}/`)) continue;
        const rest = base ? p.slice(base.length + 1) : p;
        const first = rest.split('/')[0];
        const full = base ? `${base}/${first}` : first;
        seen.set(full, rest.includes('/') ? { path: full, is_dir: true } : { path: full, is_dir: false, file_size: b.length });
      }
      const files = [...seen.values()].sort((a, b) => (a.path < b.path ? -1 : 1));
      return { root_uri: m.info.artifact_uri, ...(files.length ? { files } : {}) };
    }
    throw new ApiError(404, 'ENDPOINT_NOT_FOUND', `no endpoint ${method} ${sub}`);
  }

  /**
   * `logged-models/search`: `experiment_ids` required; a filter of `AND`-ed equalities on the
   * attributes MLflow searches by (`name`, `model_id`, `model_type`, `status`, `source_run_id`),
   * values quoted (other filters are refused here, not by MLflow); pages of `max_results` (≤ 100)
   * with an opaque token.
   */
  private search(j: Record<string, unknown>): unknown {
    const ids = j.experiment_ids;
    if (!Array.isArray(ids) || ids.length === 0) bad(`Missing value for required parameter 'experiment_ids'. See the API docs for more information about request parameters.`);
    const conds: Array<[string, string]> = [];
    const filter = typeof j.filter === 'string' ? j.filter.trim() : '';
    for (const term of filter ? filter.split(/\s+AND\s+/i) : []) {
      const m = /^(name|model_id|model_type|status|source_run_id)\s*=\s*(?:'([^']*)'|"([^"]*)")$/.exec(term.trim());
      if (!m) bad(`Invalid filter '${filter}'`);
      conds.push([m![1], m![2] ?? m![3]]);
    }
    const max = j.max_results === undefined ? 50 : Number(j.max_results);
    if (!Number.isInteger(max) || max < 1 || max > 100) bad(`Invalid value for max_results: ${String(j.max_results)}`);
    const all = [...this.models.values()]
      .filter((m) => (ids as unknown[]).map(String).includes(m.info.experiment_id))
      .filter((m) => conds.every(([k, v]) => String((m.info as Record<string, unknown>)[k] ?? '') === v))
      .sort((a, b) => a.info.creation_timestamp_ms - b.info.creation_timestamp_ms);
    const offset = j.page_token ? Number(Buffer.from(String(j.page_token), 'base64').toString('utf8')) : 0;
    if (!Number.isInteger(offset) || offset < 0) bad('Invalid page token');
    const page = all.slice(offset, offset + max);
    return { models: page.map((m) => this.json(m)), ...(offset + max < all.length ? { next_page_token: Buffer.from(String(offset + max)).toString('base64') } : {}) };
  }

  private logOutputs(j: Record<string, unknown>): unknown {
    const runId = String(required(j, 'run_id'));
    if (!this.runs.has(runId)) throw new ApiError(404, 'RESOURCE_DOES_NOT_EXIST', `Run with id=${runId} not found`);
    const models = j.models ?? [];
    if (!Array.isArray(models)) bad(`Invalid value for parameter 'models': expected a list`);
    const checked = (models as Array<Record<string, unknown>>).map((o) => {
      const modelId = String(required(o ?? {}, 'model_id'));
      const step = required(o, 'step');
      if (!/^-?\d+$/.test(String(step))) bad(`Invalid value ${JSON.stringify(step)} for parameter 'models.step': expected an integer`);
      this.model(modelId);
      return { model_id: modelId, step: Number(step) };
    });
    const list = this.outputs.get(runId) ?? [];
    for (const o of checked) if (!list.some((x) => x.model_id === o.model_id && x.step === o.step)) list.push(o);
    this.outputs.set(runId, list);
    return {};
  }
}
