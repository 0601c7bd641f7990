/**
 * The scoring server of `lpclust serve`: MLflow's scoring protocol over node:http.
 *
 * - `GET /ping`, `GET /health` → 200 `{"status": "ok"}` once the model is loaded.
 * - `GET /version` → `{"lpclust_version", "model", "metric", "k", "slots"}` (not part of MLflow's protocol; informative).
 * - `POST /invocations` with `Content-Type: application/json` and one of
 *   `{"dataframe_split": {"columns": [...], "data": [[...], ...]}}` (columns: the model's slot labels,
 *   optionally also `id` and `date`, which are echoed back),
 *   `{"dataframe_records": [{"00:00": v, ...}, ...]}` or `{"inputs": [[v0, ..., vL-1], ...]}`
 *   → 200 `{"predictions": [{"cluster": c, "distance": d, "margin": m}, ...]}` in input order
 *   (plus `id`/`date` when given). Values are raw Wh per slot; the server normalises as the model did.
 * - A malformed payload, wrong columns or an unnormalisable row → 400 `{"error_code": "BAD_REQUEST", "message": ...}`;
 *   a body above the limit → 413; other paths → 404; other methods → 405.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { isLpclustError } from '../errors.js';
import { checkInputSlots, type Predictor } from '../model/predict.js';
import type { LpclustModel } from '../model/artifact.js';
import { MAX_PROFILE_VALUE } from '../io/profiles.js';

/** Default request body limit in MiB (`--max-body-mb`): about 90 000 hourly days of JSON. */
export const DEFAULT_MAX_BODY_MB = 50;

/** Options of {@link startScoringServer}. */
export interface ScoringServerOptions {
  model: LpclustModel;
  predictor: Predictor;
  /** Interface to listen on; default 127.0.0.1 (loopback only). */
  host?: string;
  /** Port; 0 picks a free one. Default 5001. */
  port?: number;
  /** Largest accepted request body, in MiB; default {@link DEFAULT_MAX_BODY_MB}. */
  maxBodyMb?: number;
}

/** A running server. */
export interface ScoringServer {
  server: http.Server;
  host: string;
  port: number;
  /** `http://host:port`. */
  url: string;
  /** Stop accepting connections and wait for open requests to finish. */
  close(): Promise<void>;
  /** Serve another model from now on; requests already being read finish with the model they started with. */
  swap(model: LpclustModel, predictor: Predictor): void;
}

/** One prediction of `/invocations`. */
export interface ScoredRow {
  cluster: number;
  distance: number;
  margin: number;
  id?: string;
  date?: string;
}

/** A client error (400) with its message. */
class BadRequest extends Error {}

/** Parse an /invocations body into raw rows (n × L) and optional ids/dates. */
export function parseInvocation(body: unknown, model: LpclustModel): { values: Float64Array; n: number; ids?: string[]; dates?: string[] } {
  const slots = model.input.slots;
  const L = slots.length;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new BadRequest('Expected a JSON object with one of the keys dataframe_split, dataframe_records or inputs');
  }
  const keys = Object.keys(body).filter((k) => k !== 'params');
  const known = keys.filter((k) => k === 'dataframe_split' || k === 'dataframe_records' || k === 'inputs' || k === 'instances');
  if (known.length !== 1 || keys.length !== 1) {
    throw new BadRequest(`Expected exactly one of the keys dataframe_split, dataframe_records or inputs but received ${JSON.stringify(keys)}`);
  }
  const b = body as Record<string, unknown>;
  const num = (v: unknown, where: string): number => {
    // JSON.parse reads a literal beyond double range (1e309) as ±Infinity: say so, not "null".
    if (v === Infinity || v === -Infinity) throw new BadRequest(`Expected a finite number at ${where} but received a number too large for double precision (it overflows to ${v > 0 ? '' : '-'}infinity)`);
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new BadRequest(`Expected a finite number at ${where} but received ${JSON.stringify(v)}`);
    if (Math.abs(v) > MAX_PROFILE_VALUE) throw new BadRequest(`Expected at most ${MAX_PROFILE_VALUE.toExponential()} Wh in magnitude at ${where} but received ${v}`);
    return v;
  };
  if ('dataframe_split' in b) {
    const ds = b.dataframe_split as { columns?: unknown; data?: unknown } | null;
    if (!ds || typeof ds !== 'object' || !Array.isArray(ds.columns) || !Array.isArray(ds.data)) {
      throw new BadRequest('Expected dataframe_split to be {"columns": [...], "data": [[...], ...]}');
    }
    const columns = ds.columns.map(String);
    const idCol = columns.indexOf('id');
    const dateCol = columns.indexOf('date');
    const slotCols = columns.filter((_c, i) => i !== idCol && i !== dateCol);
    try {
      checkInputSlots(model, slotCols, 'the request');
    } catch (e) {
      throw new BadRequest((e as Error).message);
    }
    const slotIdx = columns.map((_, i) => i).filter((i) => i !== idCol && i !== dateCol);
    const n = ds.data.length;
    const values = new Float64Array(n * L);
    const ids: string[] = [];
    const dates: string[] = [];
    ds.data.forEach((row, r) => {
      if (!Array.isArray(row) || row.length !== columns.length) throw new BadRequest(`Expected data row ${r} to be an array of ${columns.length} values`);
      for (let j = 0; j < L; j++) values[r * L + j] = num(row[slotIdx[j]], `data[${r}][${slotIdx[j]}] (${slots[j]})`);
      if (idCol >= 0) ids.push(String(row[idCol]));
      if (dateCol >= 0) dates.push(String(row[dateCol]));
    });
    return { values, n, ...(idCol >= 0 ? { ids } : {}), ...(dateCol >= 0 ? { dates } : {}) };
  }
  if ('dataframe_records' in b) {
    const recs = b.dataframe_records;
    if (!Array.isArray(recs)) throw new BadRequest('Expected dataframe_records to be an array of objects');
    const n = recs.length;
    const values = new Float64Array(n * L);
    const ids: string[] = [];
    const dates: string[] = [];
    recs.forEach((rec, r) => {
      if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) throw new BadRequest(`Expected dataframe_records[${r}] to be an object`);
      const o = rec as Record<string, unknown>;
      for (const key of Object.keys(o)) {
        if (key !== 'id' && key !== 'date' && !slots.includes(key)) {
          throw new BadRequest(`dataframe_records[${r}] has the column "${key}" but the model's columns are id, date and ${slots[0]}..${slots[L - 1]} (${L} slots, ${model.input.resolution_minutes}-minute resolution)`);
        }
      }
      for (let j = 0; j < L; j++) {
        if (!(slots[j] in o)) throw new BadRequest(`dataframe_records[${r}] has no column "${slots[j]}" (the model expects ${L} slots, ${model.input.resolution_minutes}-minute resolution)`);
        values[r * L + j] = num(o[slots[j]], `dataframe_records[${r}]["${slots[j]}"]`);
      }
      if ('id' in o) ids.push(String(o.id));
      if ('date' in o) dates.push(String(o.date));
    });
    return { values, n, ...(ids.length === n && n > 0 ? { ids } : {}), ...(dates.length === n && n > 0 ? { dates } : {}) };
  }
  const rows = b.inputs ?? b.instances;
  if (!Array.isArray(rows)) throw new BadRequest('Expected inputs to be an array of rows, each an array of the slot values');
  const n = rows.length;
  const values = new Float64Array(n * L);
  rows.forEach((row, r) => {
    if (!Array.isArray(row) || row.length !== L) {
      throw new BadRequest(`Expected inputs[${r}] to be an array of ${L} values (${model.input.resolution_minutes}-minute slots ${slots[0]}..${slots[L - 1]}) but received ${Array.isArray(row) ? `${row.length} values` : typeof row}`);
    }
    for (let j = 0; j < L; j++) values[r * L + j] = num(row[j], `inputs[${r}][${j}]`);
  });
  return { values, n };
}

/** Score a parsed request. */
export function scoreInvocation(body: unknown, model: LpclustModel, predictor: Predictor): ScoredRow[] {
  const { values, n, ids, dates } = parseInvocation(body, model);
  let pred: ReturnType<Predictor['predict']>;
  try {
    pred = predictor.predict(values, (i) => `row ${i}${ids ? ` (meter ${ids[i]}${dates ? ` on ${dates[i]}` : ''})` : ''}`);
  } catch (e) {
    if (isLpclustError(e)) throw new BadRequest(e.message);
    throw e;
  }
  const out: ScoredRow[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const row: ScoredRow = { cluster: pred.labels[i], distance: pred.distance[i], margin: pred.margin[i] };
    if (ids) row.id = ids[i];
    if (dates) row.date = dates[i];
    out[i] = row;
  }
  return out;
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function fail(res: http.ServerResponse, status: number, code: string, message: string): void {
  send(res, status, { error_code: code, message });
}

/**
 * Start the scoring server and resolve once it listens.
 * @throws the listen error (e.g. EADDRINUSE) as an Error
 */
export async function startScoringServer(o: ScoringServerOptions): Promise<ScoringServer> {
  const maxBytes = Math.floor((o.maxBodyMb ?? DEFAULT_MAX_BODY_MB) * 1024 * 1024);
  let current = { model: o.model, predictor: o.predictor };
  const server = http.createServer((req, res) => {
    const { model, predictor } = current;
    const url = (req.url ?? '/').split('?')[0];
    if (url === '/ping' || url === '/health') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return fail(res, 405, 'METHOD_NOT_ALLOWED', `Expected GET ${url}`);
      return send(res, 200, { status: 'ok' });
    }
    if (url === '/version') {
      return send(res, 200, { lpclust_version: model.lpclust_version, model: model.model, metric: model.metric, k: model.k, slots: model.input.slots });
    }
    if (url !== '/invocations') return fail(res, 404, 'ENDPOINT_NOT_FOUND', `No endpoint ${url}; use GET /ping, GET /health or POST /invocations`);
    if (req.method !== 'POST') return fail(res, 405, 'METHOD_NOT_ALLOWED', 'Expected POST /invocations');
    const ctype = String(req.headers['content-type'] ?? '');
    if (!/^application\/json\b/i.test(ctype)) {
      req.resume();
      return fail(res, 415, 'UNSUPPORTED_MEDIA_TYPE', `Expected Content-Type application/json but received ${JSON.stringify(ctype)}`);
    }
    const declared = Number(req.headers['content-length'] ?? NaN);
    const tooLarge = (): void => {
      res.setHeader('Connection', 'close');
      fail(res, 413, 'PAYLOAD_TOO_LARGE', `Request body larger than the limit of ${o.maxBodyMb ?? DEFAULT_MAX_BODY_MB} MiB (--max-body-mb); send fewer rows per request`);
    };
    if (declared > maxBytes) {
      tooLarge();
      req.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let aborted = false;
    req.on('data', (c: Buffer) => {
      if (aborted) return;
      size += c.length;
      if (size > maxBytes) {
        aborted = true;
        tooLarge();
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (aborted) return;
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch (e) {
        return fail(res, 400, 'BAD_REQUEST', `Invalid JSON body: ${(e as Error).message}`);
      }
      try {
        send(res, 200, { predictions: scoreInvocation(body, model, predictor) });
      } catch (e) {
        if (e instanceof BadRequest) return fail(res, 400, 'BAD_REQUEST', e.message);
        fail(res, 500, 'INTERNAL_ERROR', (e as Error).message);
      }
    });
    req.on('error', () => {
      // Client went away; nothing to answer.
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 5001, o.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    server,
    host: addr.address,
    port: addr.port,
    url: `http://${host}:${addr.port}`,
    swap: (model, predictor) => {
      current = { model, predictor };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
