/**
 * An in-repository MLflow tracking server for tests: a `node:http` server on 127.0.0.1 (random
 * port) keeping state in memory and enforcing the parts of MLflow's REST API (its REST API
 * reference, and the server's behaviour the REST store relies on: src/tracking/rest-store.ts,
 * rest-batch.ts for the log-batch limits) —
 * log-batch limits, 400 on a changed param and on a key twice in one batch, 404
 * RESOURCE_DOES_NOT_EXIST on unknown ids, `{error_code, message}` bodies, run_name/mlflow.runName
 * consistency, metric timestamps required, mlflow-artifacts PUT/GET and artifacts/list, runs/search
 * with quoted filter values and paging, the model registry (./contract-registry.ts), metrics/get-history paged as MLflow 2 or 3 servers page it,
 * `GET /version`, and in MLflow 3 mode the logged models and run outputs (./contract-logged-models.ts) — and injecting faults: delays, error statuses, 429 with
 * Retry-After, dropped connections (before or after handling), a server that dies and comes back.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { ContractLoggedModels } from './contract-logged-models.js';
import { ContractRegistry } from './contract-registry.js';

export interface CsTag { key: string; value: string }
export interface CsMetric { key: string; value: number; timestamp: number; step: number }
export interface CsRun {
  info: {
    run_id: string; run_uuid: string; experiment_id: string; run_name: string; user_id: string;
    status: string; start_time: number; end_time: number | null; artifact_uri: string; lifecycle_stage: string;
  };
  params: Map<string, string>;
  tags: Map<string, string>;
  metrics: CsMetric[];
  artifacts: Map<string, Buffer>;
  /** Identities of stored metric values (key, step, timestamp, value), for the duplicate check. */
  metricIds: Set<string>;
  /** Dataset inputs (runs/log-inputs), as runs/get returns them. */
  datasetInputs?: CsDatasetInput[];
}
export interface CsDataset { name: string; digest: string; source_type: string; source: string; schema?: string; profile?: string }
export interface CsDatasetInput { tags: CsTag[]; dataset: CsDataset }
export interface CsExperiment { experiment_id: string; name: string; artifact_location: string; lifecycle_stage: string; creation_time: number }

/** A fault applied to the next `times` requests matching `match` (method + path prefix or regexp). */
export interface Fault {
  match?: RegExp;
  times?: number;
  /** status: answer this status (with Retry-After seconds if given); drop: close the socket unanswered;
   *  dropAfter: do the work, then close the socket unanswered; delay: wait then handle normally. */
  kind: 'status' | 'drop' | 'dropAfter' | 'delay';
  status?: number;
  retryAfter?: string;
  ms?: number;
  /** Let this many matching requests through first (e.g. a server that dies after N requests). */
  skip?: number;
}

export interface RecordedRequest { method: string; path: string; headers: http.IncomingHttpHeaders; bodyBytes: number; json?: unknown; query?: Record<string, string> }

export interface ContractServerOptions {
  /** Require `Authorization: Bearer <token>`. */
  token?: string;
  /** Require HTTP Basic with these credentials. */
  basic?: { username: string; password: string };
  /** Cap on the page size of runs/search (to exercise paging with few runs). */
  maxPageSize?: number;
  /** Artifact URI scheme for new runs: proxied (default) or a store the client cannot reach. */
  artifactScheme?: 'mlflow-artifacts' | 's3';
  /** Serve HTTPS with this key and certificate (PEM). */
  tls?: { key: string; cert: string };
  /**
   * Which MLflow server's `metrics/get-history` to behave as. `2` (default): every value in one
   * answer, `max_results` ignored. `3`: paged as 3.x servers page (3.4 to at least 3.11, see
   * ../shared/mlflow/README.md): `max_results` pages of at most `maxHistoryPageSize` values with an
   * opaque `next_page_token`; *without* `max_results`, an empty page and a token that the next
   * request is refused for (400 INVALID_PARAMETER_VALUE "Invalid page token").
   */
  mlflowVersion?: 2 | 3;
  /** Cap on the page size of metrics/get-history in `mlflowVersion: 3` (to exercise paging). */
  maxHistoryPageSize?: number;
  /**
   * What `GET /version` answers (text/plain, as MLflow's server does): by default `2.12.2`, or
   * `3.11.2.dev0` with `mlflowVersion: 3`; null = no such endpoint (404), as behind a proxy that hides it.
   */
  versionText?: string | null;
}

/** An MLflow error answer: HTTP status, `error_code` and message. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

const KEY_RE = /^[A-Za-z0-9_\-. /]+$/;
const STATUSES = new Set(['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED']);

export class ContractServer {
  readonly experiments = new Map<string, CsExperiment>();
  readonly runs = new Map<string, CsRun>();
  /** The model registry (registered-models/*, model-versions/*, aliases). */
  readonly registry = new ContractRegistry(this.runs, (id) => this.options.mlflowVersion === 3 && this.loggedModels.models.has(id));
  /** MLflow 3 logged models and run outputs (served with `mlflowVersion: 3` only). */
  readonly loggedModels = new ContractLoggedModels(this.experiments, this.runs);
  readonly requests: RecordedRequest[] = [];
  readonly faults: Fault[] = [];
  private server?: http.Server | https.Server;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(readonly options: ContractServerOptions = {}) {
    this.experiments.set('0', { experiment_id: '0', name: 'Default', artifact_location: 'mlflow-artifacts:/0', lifecycle_stage: 'active', creation_time: Date.now() });
  }

  get url(): string {
    return `${this.options.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  /** Listen (on a random port the first time, the same port after {@link stop}). */
  async start(): Promise<this> {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => void this.handle(req, res);
    const server = this.options.tls ? https.createServer(this.options.tls, handler) : http.createServer(handler);
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    return this;
  }

  /** Die: stop listening and cut every connection (state is kept for {@link start}). */
  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    for (const sock of this.sockets) sock.destroy();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  inject(fault: Fault): void {
    this.faults.push({ times: 1, ...fault });
  }

  /** Requests whose path contains `part`. */
  count(part: string, method?: string): number {
    return this.requests.filter((r) => r.path.includes(part) && (!method || r.method === method)).length;
  }

  runsNamed(name: string): CsRun[] {
    return [...this.runs.values()].filter((r) => r.info.run_name === name);
  }

  private takeFault(method: string, path: string): Fault | undefined {
    const i = this.faults.findIndex((f) => !f.match || f.match.test(`${method} ${path}`));
    if (i < 0) return undefined;
    const f = this.faults[i];
    if (f.skip) {
      f.skip--;
      return undefined;
    }
    f.times = (f.times ?? 1) - 1;
    if (f.times <= 0) this.faults.splice(i, 1);
    return f;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://x');
    const method = req.method ?? 'GET';
    const rec: RecordedRequest = { method, path: url.pathname, headers: req.headers, bodyBytes: body.length };
    this.requests.push(rec);
    const fault = this.takeFault(method, url.pathname);
    if (fault?.kind === 'drop') {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'delay') await new Promise((r) => setTimeout(r, fault.ms ?? 100));
    if (fault?.kind === 'status') {
      const headers: Record<string, string> = { 'Content-Type': 'application/json' };
      if (fault.retryAfter !== undefined) headers['Retry-After'] = fault.retryAfter;
      res.writeHead(fault.status ?? 503, headers);
      res.end(JSON.stringify({ error_code: fault.status === 429 ? 'REQUEST_LIMIT_EXCEEDED' : 'TEMPORARILY_UNAVAILABLE', message: 'injected fault' }));
      return;
    }
    let status = 200;
    let out: unknown = {};
    let raw: Buffer | undefined;
    try {
      this.authorize(req);
      if (url.pathname === '/version' && method === 'GET') {
        const text = this.options.versionText === undefined ? (this.options.mlflowVersion === 3 ? '3.11.2.dev0' : '2.12.2') : this.options.versionText;
        if (text === null) {
          res.writeHead(404, { 'Content-Type': 'text/html' });
          res.end('<!doctype html><title>404 Not Found</title>');
          return;
        }
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(text);
        return;
      }
      if (url.pathname.startsWith('/api/2.0/mlflow-artifacts/artifacts/')) {
        raw = this.artifact(method, decodeURIComponent(url.pathname.slice('/api/2.0/mlflow-artifacts/artifacts/'.length)), body);
      } else {
        let json: Record<string, unknown> = {};
        if (method === 'POST' || ((method === 'DELETE' || method === 'PATCH') && body.length > 0)) {
          if (!String(req.headers['content-type'] ?? '').includes('application/json')) throw new ApiError(400, 'BAD_REQUEST', 'expected Content-Type application/json');
          try {
            json = JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>;
          } catch {
            throw new ApiError(400, 'MALFORMED_REQUEST', 'body is not JSON');
          }
          rec.json = json;
        } else {
          for (const [k, v] of url.searchParams) json[k] = v;
          rec.query = json as Record<string, string>;
        }
        out = this.api(method, url.pathname, json);
      }
    } catch (e) {
      if (e instanceof ApiError) {
        status = e.status;
        out = { error_code: e.code, message: e.message };
      } else {
        status = 500;
        out = { error_code: 'INTERNAL_ERROR', message: String(e) };
      }
      raw = undefined;
    }
    if (fault?.kind === 'dropAfter') {
      req.socket.destroy();
      return;
    }
    if (raw) {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': raw.length });
      res.end(raw);
    } else {
      const text = JSON.stringify(out);
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(text);
    }
  }

  private authorize(req: http.IncomingMessage): void {
    const h = req.headers.authorization;
    if (this.options.token && h !== `Bearer ${this.options.token}`) throw new ApiError(401, 'UNAUTHENTICATED', 'missing or wrong bearer token');
    if (this.options.basic) {
      const want = 'Basic ' + Buffer.from(`${this.options.basic.username}:${this.options.basic.password}`).toString('base64');
      if (h !== want) throw new ApiError(401, 'UNAUTHENTICATED', 'missing or wrong basic credentials');
    }
  }

  private run(id: unknown): CsRun {
    const r = typeof id === 'string' ? this.runs.get(id) : undefined;
    if (!r) throw new ApiError(404, 'RESOURCE_DOES_NOT_EXIST', `Run with id=${String(id)} not found`);
    return r;
  }

  private artifact(method: string, rel: string, body: Buffer): Buffer | undefined {
    const parts = rel.split('/');
    const [expId, runId, root, ...rest] = parts;
    if (this.options.mlflowVersion === 3 && runId === 'models' && rest[0] === 'artifacts') return this.loggedModels.artifact(method, expId, root, rest.slice(1), body);
    const run = this.run(runId);
    if (run.info.experiment_id !== expId || root !== 'artifacts' || rest.length === 0) throw new ApiError(400, 'INVALID_PARAMETER_VALUE', `bad artifact path ${rel}`);
    const p = rest.join('/');
    if (rest.some((s) => s === '..' || s === '')) throw new ApiError(400, 'INVALID_PARAMETER_VALUE', `bad artifact path ${rel}`);
    if (method === 'PUT') {
      run.artifacts.set(p, body);
      return undefined;
    }
    if (method === 'GET') {
      const b = run.artifacts.get(p);
      if (!b) throw new ApiError(404, 'RESOURCE_DOES_NOT_EXIST', `artifact ${p} not found`);
      return b;
    }
    throw new ApiError(405, 'BAD_REQUEST', `method ${method} not allowed`);
  }

  private api(method: string, path: string, j: Record<string, unknown>): unknown {
    const route = `${method} ${path.replace('/api/2.0/mlflow/', '')}`;
    switch (route) {
      case 'GET experiments/get-by-name': {
        const e = [...this.experiments.values()].find((x) => x.name === j.experiment_name);
        if (!e) throw new ApiError(404, 'RESOURCE_DOES_NOT_EXIST', `Could not find experiment with name '${String(j.experiment_name)}'`);
        return { experiment: e };
      }
      case 'POST experiments/create': {
        if (typeof j.name !== 'string' || !j.name) throw new ApiError(400, 'INVALID_PARAMETER_VALUE', 'missing name');
        if ([...this.experiments.values()].some((x) => x.name === j.name)) throw new ApiError(400, 'RESOURCE_ALREADY_EXISTS', `Experiment '${j.name}' already exists.`);
        const id = String(100000000000000000n + BigInt(this.experiments.size));
        this.experiments.set(id, { experiment_id: id, name: j.name, artifact_location: `mlflow-artifacts:/${id}`, lifecycle_stage: 'active', creation_time: Date.now() });
        return { experiment_id: id };
      }
      case 'POST experiments/search':
      case 'GET experiments/search':
        return { experiments: [...this.experiments.values()].filter((e) => e.lifecycle_stage === 'active') };
      case 'POST runs/create': {
        const expId = String(j.experiment_id);
        const exp = this.experiments.get(expId);
        if (!exp) throw new ApiError(404, 'RESOURCE_DOES_NOT_EXIST', `No Experiment with id=${expId} exists`);
        const tags = (j.tags as CsTag[] | undefined) ?? [];
        const tagName = tags.find((t) => t.key === 'mlflow.runName')?.value;
        if (j.run_name !== undefined && tagName !== undefined && tagName !== j.run_name) {
          throw new ApiError(400, 'INVALID_PARAMETER_VALUE', `Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values`);
        }
        const runName = String(j.run_name ?? tagName ?? 'run');
        const id = randomBytes(16).toString('hex');
        const uri = this.options.artifactScheme === 's3' ? `s3://bucket/${expId}/${id}/artifacts` : `mlflow-artifacts:/${expId}/${id}/artifacts`;
        const run: CsRun = {
          info: {
            run_id: id, run_uuid: id, experiment_id: expId, run_name: runName, user_id: String(j.user_id ?? ''),
            status: 'RUNNING', start_time: Number(j.start_time ?? Date.now()), end_time: null, artifact_uri: uri, lifecycle_stage: 'active',
          },
          params: new Map(), tags: new Map(), metrics: [], artifacts: new Map(), metricIds: new Set(),
        };
        for (const t of tags) run.tags.set(t.key, t.value);
        run.tags.set('mlflow.runName', runName);
        this.runs.set(id, run);
        return { run: this.runJson(run) };
      }
      case 'GET runs/get':
        return { run: this.runJson(this.run(j.run_id)) };
      case 'POST runs/update': {
        const run = this.run(j.run_id ?? j.run_uuid);
        if (j.status !== undefined) {
          if (!STATUSES.has(String(j.status))) throw new ApiError(400, 'INVALID_PARAMETER_VALUE', `bad status ${String(j.status)}`);
          run.info.status = String(j.status);
        }
        if (j.end_time !== undefined) run.info.end_time = Number(j.end_time);
        return { run_info: run.info };
      }
      case 'POST runs/log-batch':
        this.logBatch(j);
        return {};
      case 'POST runs/log-inputs':
        this.logInputs(j);
        return {};
      case 'POST runs/search':
        return this.search(j);
      case 'GET metrics/get-history':
        return this.history(j);
      case 'GET artifacts/list': {
        const run = this.run(j.run_id);
        const base = typeof j.path === 'string' && j.path ? j.path.replace(/\/+$/, '') : '';
        const seen = new Map<string, { path: string; is_dir: boolean; file_size?: number }>();
        for (const [p, b] of run.artifacts) {
          if (base && !p.startsWith(base + '/')) continue;
          const rest = base ? p.slice(base.length + 1) : p;
          const first = rest.split('/')[0];
          const full = base ? `${base}/${first}` : first;
          if (rest.includes('/')) seen.set(full, { path: full, is_dir: true });
          else seen.set(full, { path: full, is_dir: false, file_size: b.length });
        }
        const files = [...seen.values()].sort((a, b) => (a.path < b.path ? -1 : 1));
        return files.length ? { root_uri: run.info.artifact_uri, files } : { root_uri: run.info.artifact_uri };
      }
      default: {
        if (this.options.mlflowVersion === 3) {
          const sub = path.replace('/api/2.0/mlflow/', '');
          const logged = this.loggedModels.route(method, sub, j);
          if (logged !== undefined) return logged;
        }
        const answer = this.registry.route(route, j);
        if (answer !== undefined) return answer;
        throw new ApiError(404, 'ENDPOINT_NOT_FOUND', `no endpoint ${route}`);
      }
    }
  }

  /**
   * runs/log-inputs as MLflow's server checks it: an active run; every dataset with a name (≤ 500),
   * digest (≤ 36), source_type and source (≤ 65535); schema ≤ 1048575 and profile ≤ 16384
   * characters; input tags with a key (≤ 255) and a value (≤ 500). Nothing is stored unless all
   * pass. A dataset already linked to the run (same name and digest) is not linked twice.
   */
  private logInputs(j: Record<string, unknown>): void {
    const run = this.run(j.run_id);
    const bad = (m: string): never => {
      throw new ApiError(400, 'INVALID_PARAMETER_VALUE', m);
    };
    if (run.info.lifecycle_stage !== 'active') bad(`The run ${run.info.run_id} must be in the 'active' state. Current state is ${run.info.lifecycle_stage}.`);
    if (j.datasets !== undefined && !Array.isArray(j.datasets)) bad(`Invalid value for parameter 'datasets': expected a list`);
    const list = (j.datasets as Array<Record<string, unknown>> | undefined) ?? [];
    const checked: CsDatasetInput[] = [];
    for (const item of list) {
      const d = (item?.dataset ?? undefined) as Record<string, unknown> | undefined;
      if (!d || typeof d !== 'object') bad(`Missing value for required parameter 'datasets.dataset'`);
      const field = (name: string, max: number, required: boolean): string | undefined => {
        const v = d![name];
        if (v === undefined || v === null || v === '') {
          if (required) bad(`Missing value for required parameter 'datasets.dataset.${name}'`);
          return undefined;
        }
        if (typeof v !== 'string') bad(`Invalid value ${JSON.stringify(v)} for parameter 'datasets.dataset.${name}': expected a string`);
        if ((v as string).length > max) bad(`Dataset ${name} exceeds the maximum length of ${max}`);
        return v as string;
      };
      const dataset: CsDataset = { name: field('name', 500, true)!, digest: field('digest', 36, true)!, source_type: field('source_type', 36, true)!, source: field('source', 65535, true)! };
      const schema = field('schema', 1048575, false);
      const profile = field('profile', 16384, false);
      if (schema !== undefined) dataset.schema = schema;
      if (profile !== undefined) dataset.profile = profile;
      const tags: CsTag[] = [];
      for (const t of (item.tags as Array<Record<string, unknown>> | undefined) ?? []) {
        if (typeof t?.key !== 'string' || !t.key) bad(`Missing value for required parameter 'datasets.tags.key'`);
        if (typeof t.value !== 'string') bad(`Missing value for required parameter 'datasets.tags.value'`);
        if ((t.key as string).length > 255) bad(`Input tag key exceeds the maximum length of 255`);
        if ((t.value as string).length > 500) bad(`Input tag value exceeds the maximum length of 500`);
        tags.push({ key: t.key as string, value: t.value as string });
      }
      checked.push({ tags, dataset });
    }
    run.datasetInputs ??= [];
    for (const input of checked) {
      if (run.datasetInputs.some((x) => x.dataset.name === input.dataset.name && x.dataset.digest === input.dataset.digest)) continue;
      run.datasetInputs.push(input);
    }
  }

  private logBatch(j: Record<string, unknown>): void {
    const run = this.run(j.run_id);
    const params = (j.params as CsTag[] | undefined) ?? [];
    const tags = (j.tags as CsTag[] | undefined) ?? [];
    const metrics = (j.metrics as Array<Record<string, unknown>> | undefined) ?? [];
    const bad = (m: string): never => {
      throw new ApiError(400, 'INVALID_PARAMETER_VALUE', m);
    };
    if (params.length > 100) bad(`A batch logging request can contain at most 100 params. Got ${params.length} params.`);
    if (tags.length > 100) bad(`A batch logging request can contain at most 100 tags. Got ${tags.length} tags.`);
    if (metrics.length > 1000) bad(`A batch logging request can contain at most 1000 metrics. Got ${metrics.length} metrics.`);
    if (params.length + tags.length + metrics.length > 1000) bad('A batch logging request can contain at most 1000 total entities.');
    for (const [kind, list] of [['param', params], ['tag', tags], ['metric', metrics]] as const) {
      const keys = new Set<string>();
      for (const e of list as Array<{ key: unknown }>) {
        const key = e.key;
        if (typeof key !== 'string' || !KEY_RE.test(key) || key.length > 250 || key.includes('..') || key.includes('//') || key.startsWith('/')) bad(`Invalid ${kind} name: '${String(key)}'`);
        if (keys.has(key as string)) bad(`Duplicate ${kind} key '${String(key)}' in one batch`);
        keys.add(key as string);
      }
    }
    for (const p of params) {
      const value = String(p.value).slice(0, 6000);
      const old = run.params.get(p.key);
      if (old !== undefined && old !== value) {
        throw new ApiError(400, 'INVALID_PARAMETER_VALUE', `Changing param values is not allowed. Param with key='${p.key}' was already logged with value='${old}' for run ID='${run.info.run_id}'. Attempted logging new value '${value}'.`);
      }
    }
    if (this.options.mlflowVersion === 3) this.loggedModels.checkMetricModels(metrics);
    const ms: CsMetric[] = metrics.map((m) => {
      if (m.timestamp === undefined || m.timestamp === null) bad(`Missing value for required parameter 'metrics[${String(m.key)}].timestamp'`);
      if (typeof m.timestamp !== 'number' || !Number.isInteger(m.timestamp)) bad(`metric timestamp must be an integer (ms), got ${JSON.stringify(m.timestamp)}`);
      const v = m.value === 'NaN' ? NaN : m.value === 'Infinity' ? Infinity : m.value === '-Infinity' ? -Infinity : m.value;
      if (typeof v !== 'number') bad(`metric value must be a number, got ${JSON.stringify(m.value)}`);
      return { key: String(m.key), value: v as number, timestamp: m.timestamp as number, step: Number(m.step ?? 0) };
    });
    for (const p of params) run.params.set(p.key, String(p.value).slice(0, 6000));
    for (const t of tags) run.tags.set(t.key, String(t.value).slice(0, 8000));
    // MLflow 3: a metric sent with a model_id is also that logged model's.
    metrics.forEach((m, i) => {
      if (this.options.mlflowVersion === 3 && typeof m.model_id === 'string' && m.model_id) this.loggedModels.addMetric(m.model_id, run.info.run_id, ms[i]);
    });
    for (const m of ms) {
      // Like MLflow's SQL store: an identical (key, step, timestamp, value) is not stored twice.
      const id = `${m.key}\u0000${m.step}\u0000${m.timestamp}\u0000${m.value}`;
      if (run.metricIds.has(id)) continue;
      run.metricIds.add(id);
      run.metrics.push(m);
    }
  }

  private history(j: Record<string, unknown>): unknown {
    const run = this.run(j.run_id);
    const all = run.metrics.filter((m) => m.key === j.metric_key);
    if (this.options.mlflowVersion !== 3) return { metrics: all.map(metricJson) };
    // 3.x: the token encodes an offset; one handed out for a request without max_results encodes
    // none, and is refused when it comes back (the regression observed on 3.6 and 3.11).
    let offset = 0;
    if (j.page_token !== undefined && j.page_token !== '') {
      let decoded: unknown;
      try {
        decoded = JSON.parse(Buffer.from(String(j.page_token), 'base64').toString('utf8'));
      } catch {
        decoded = undefined;
      }
      const o = (decoded as { offset?: unknown } | undefined)?.offset;
      if (typeof o !== 'number' || !Number.isInteger(o) || o < 0) throw new ApiError(400, 'INVALID_PARAMETER_VALUE', 'Invalid page token');
      offset = o;
    }
    const token = (o: number | null): string => Buffer.from(JSON.stringify({ offset: o })).toString('base64');
    if (j.max_results === undefined || j.max_results === '') return { metrics: [], next_page_token: token(null) };
    const max = Number(j.max_results);
    if (!Number.isInteger(max) || max < 1) throw new ApiError(400, 'INVALID_PARAMETER_VALUE', `Invalid value ${String(j.max_results)} for parameter 'max_results'`);
    const size = Math.min(max, this.options.maxHistoryPageSize ?? max);
    const page = all.slice(offset, offset + size);
    return { metrics: page.map(metricJson), ...(offset + size < all.length ? { next_page_token: token(offset + size) } : {}) };
  }

  private search(j: Record<string, unknown>): unknown {
    const expIds = ((j.experiment_ids as unknown[]) ?? []).map(String);
    const conds = parseFilter(String(j.filter ?? ''));
    const viewType = String(j.run_view_type ?? 'ACTIVE_ONLY');
    let runs = [...this.runs.values()].filter((r) => expIds.includes(r.info.experiment_id));
    if (viewType === 'ACTIVE_ONLY') runs = runs.filter((r) => r.info.lifecycle_stage === 'active');
    runs = runs.filter((r) => conds.every((c) => {
      const actual = c.entity === 'params' ? r.params.get(c.key) : c.entity === 'tags' ? r.tags.get(c.key) : c.key === 'status' ? r.info.status : c.key === 'run_name' ? r.info.run_name : undefined;
      return c.op === '=' ? actual === c.value : actual !== undefined && actual !== c.value;
    }));
    runs.sort((a, b) => b.info.start_time - a.info.start_time || (a.info.run_id < b.info.run_id ? -1 : 1));
    const max = Math.min(Number(j.max_results ?? 1000), this.options.maxPageSize ?? 50000);
    const offset = j.page_token ? Number(Buffer.from(String(j.page_token), 'base64').toString('utf8')) : 0;
    const page = runs.slice(offset, offset + max);
    const next = offset + max < runs.length ? Buffer.from(String(offset + max)).toString('base64') : undefined;
    return { runs: page.map((r) => this.runJson(r)), ...(next ? { next_page_token: next } : {}) };
  }

  private runJson(run: CsRun): unknown {
    const latest = new Map<string, CsMetric>();
    for (const m of run.metrics) {
      const o = latest.get(m.key);
      if (!o || m.step > o.step || (m.step === o.step && (m.timestamp > o.timestamp || (m.timestamp === o.timestamp && m.value > o.value)))) latest.set(m.key, m);
    }
    return {
      info: run.info,
      data: {
        params: [...run.params].map(([key, value]) => ({ key, value })),
        tags: [...run.tags].map(([key, value]) => ({ key, value })),
        metrics: [...latest.values()].map(metricJson),
      },
      inputs: run.datasetInputs?.length ? { dataset_inputs: run.datasetInputs } : {},
      ...(this.options.mlflowVersion === 3 ? { outputs: this.loggedModels.outputs.get(run.info.run_id)?.length ? { model_outputs: this.loggedModels.outputs.get(run.info.run_id) } : {} } : {}),
    };
  }
}

/** Protobuf JSON writes non-finite doubles as strings. */
function metricJson(m: CsMetric): unknown {
  const v = Number.isNaN(m.value) ? 'NaN' : m.value === Infinity ? 'Infinity' : m.value === -Infinity ? '-Infinity' : m.value;
  return { ...m, value: v };
}

interface Cond { entity: 'params' | 'tags' | 'attributes'; key: string; op: '=' | '!='; value: string }

/** Parse `params.k = '1' and tags.`a b` = "x"`; unquoted values are rejected as MLflow does. */
export function parseFilter(filter: string): Cond[] {
  const out: Cond[] = [];
  let s = filter.trim();
  if (!s) return out;
  const re = /^(params|param|tags|tag|attributes|attribute|attr)\.(`[^`]+`|[A-Za-z0-9_.]+)\s*(!=|=)\s*('(?:[^'])*'|"(?:[^"])*"|\S+)\s*/i;
  for (;;) {
    const m = re.exec(s);
    if (!m) throw new ApiError(400, 'INVALID_PARAMETER_VALUE', `Invalid filter '${filter}'`);
    const rawValue = m[4];
    if (!/^['"]/.test(rawValue)) throw new ApiError(400, 'INVALID_PARAMETER_VALUE', `Parameter value is either not quoted or unidentified quote types used for string value ${rawValue}. Use either single or double quotes.`);
    const entity = m[1].toLowerCase().startsWith('param') ? 'params' : m[1].toLowerCase().startsWith('tag') ? 'tags' : 'attributes';
    out.push({ entity, key: m[2].replace(/^`|`$/g, ''), op: m[3] as '=' | '!=', value: rawValue.slice(1, -1) });
    s = s.slice(m[0].length);
    if (!s) return out;
    const a = /^and\s+/i.exec(s);
    if (!a) throw new ApiError(400, 'INVALID_PARAMETER_VALUE', `Invalid filter '${filter}'`);
    s = s.slice(a[0].length);
  }
}
