/**
 * HTTP transport for an MLflow tracking server: auth headers, timeouts, TLS, and retries with
 * exponential backoff, jitter and `Retry-After`, configured by the standard `MLFLOW_*` variables
 * (read through {@link envValue}, so a `.env` file works). Built on `node:http(s)` rather than
 * `fetch` because uploads stream from files and `MLFLOW_TRACKING_INSECURE_TLS` needs a per-request
 * TLS option, both without a new dependency.
 */
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { envValue } from '../config.js';
import { LpclustError, externalError, usageError } from '../errors.js';
import { log } from '../util/log.js';
import { maskSecrets, maskUri, registerSecret, registerUriPassword } from '../util/mask.js';

/** Certificate errors of Node's TLS layer: not retried. */
const TLS_ERRORS: ReadonlySet<string> = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** HTTP statuses retried (as MLflow's own client does). */
export const RETRY_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

/** Transport settings of a {@link RestClient}. */
export interface RestClientOptions {
  /** Server root, e.g. `http://127.0.0.1:5000` (a trailing `/` and a base path are kept). */
  baseUrl: string;
  /** `MLFLOW_TRACKING_TOKEN`: sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** `MLFLOW_TRACKING_USERNAME` / `MLFLOW_TRACKING_PASSWORD`: HTTP Basic auth. */
  username?: string;
  password?: string;
  /** `MLFLOW_TRACKING_INSECURE_TLS`: accept any server certificate. */
  insecureTls: boolean;
  /** `MLFLOW_HTTP_REQUEST_TIMEOUT`: seconds one attempt may take (default 120). */
  timeoutSeconds: number;
  /** `MLFLOW_HTTP_REQUEST_MAX_RETRIES`: retries after the first attempt (default 7). */
  maxRetries: number;
  /** `MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR`: seconds; retry i waits about factor × 2^i (default 2). */
  backoffFactor: number;
  /** `MLFLOW_HTTP_REQUEST_BACKOFF_JITTER`: up to this many extra seconds at random (default 1). */
  backoffJitter: number;
  /** Longest wait between attempts, seconds (also caps `Retry-After`; default 120). */
  maxBackoffSeconds: number;
  /**
   * `LPCLUST_HTTP_RETRY_BUDGET`: seconds one request may spend waiting between retries in all
   * (default {@link DEFAULT_RETRY_BUDGET_SECONDS}); retries stop at the budget or at `maxRetries`,
   * whichever comes first. Undefined = no budget (only `maxRetries`).
   */
  retryBudgetSeconds?: number;
}

/**
 * Default total wait of one request's retries, seconds. MLflow's own schedule (7 retries, factor 2)
 * waits about 250 s before giving up, far too long for a command a user is watching; a server
 * that does not answer within this budget is reported and the runs go to the local spool.
 */
export const DEFAULT_RETRY_BUDGET_SECONDS = 20;

/**
 * Transport options from the environment (and `.env`), the MLflow defaults otherwise.
 * Credentials are registered as secrets so that no log line or error shows them.
 */
export function restClientOptionsFromEnv(baseUrl: string, env: Record<string, string | undefined> = process.env, cwd = process.cwd()): RestClientOptions {
  const get = (name: string): string | undefined => envValue(name, env, cwd);
  const num = (name: string, dflt: number, min: number): number => {
    const raw = get(name);
    if (raw === undefined || raw === '') return dflt;
    const v = Number(raw);
    if (!Number.isFinite(v) || v < min) throw usageError('E_USAGE_VALUE', `Expected a number ≥ ${min} for \`${name}\` but received ${JSON.stringify(raw)}`);
    return v;
  };
  const bool = (name: string): boolean => ['1', 'true', 'yes', 'on'].includes((get(name) ?? '').toLowerCase());
  const token = get('MLFLOW_TRACKING_TOKEN') || undefined;
  const username = get('MLFLOW_TRACKING_USERNAME') || undefined;
  const password = get('MLFLOW_TRACKING_PASSWORD') || undefined;
  registerSecret(token);
  registerSecret(password);
  if (username && password) registerSecret(Buffer.from(`${username}:${password}`).toString('base64'));
  const url = safeUrl(baseUrl);
  // The URL's own password, as written and percent-decoded (the one helper every URI goes through).
  registerUriPassword(baseUrl);
  return {
    baseUrl,
    token,
    username: username ?? (url.username ? decodeURIComponent(url.username) : undefined),
    password: password ?? (url.password ? decodeURIComponent(url.password) : undefined),
    insecureTls: bool('MLFLOW_TRACKING_INSECURE_TLS'),
    timeoutSeconds: num('MLFLOW_HTTP_REQUEST_TIMEOUT', 120, 0.001),
    maxRetries: Math.floor(num('MLFLOW_HTTP_REQUEST_MAX_RETRIES', 7, 0)),
    backoffFactor: num('MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR', 2, 0),
    backoffJitter: num('MLFLOW_HTTP_REQUEST_BACKOFF_JITTER', 1, 0),
    maxBackoffSeconds: num('LPCLUST_HTTP_MAX_BACKOFF', 120, 0),
    retryBudgetSeconds: num('LPCLUST_HTTP_RETRY_BUDGET', DEFAULT_RETRY_BUDGET_SECONDS, 0),
  };
}

function safeUrl(uri: string): URL {
  try {
    const u = new URL(uri);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
    return u;
  } catch {
    throw usageError('E_USAGE_VALUE', `Expected an http:// or https:// tracking URI but received ${JSON.stringify(maskUri(uri))}`);
  }
}

/**
 * An error answered by the server (4xx/5xx), with MLflow's `error_code` (e.g.
 * `RESOURCE_DOES_NOT_EXIST`, `INVALID_PARAMETER_VALUE`) when the body has one.
 */
export class MlflowApiError extends LpclustError {
  readonly status: number;
  readonly errorCode: string;
  constructor(status: number, errorCode: string, message: string, hint?: string) {
    super('external', 'E_TRACKING_API', message, { hint });
    this.status = status;
    this.errorCode = errorCode;
  }
}

/**
 * The server could not be reached, or kept answering with a retryable status, after every retry.
 * The {@link ResilientStore} spools to the local store on this error.
 */
export class TrackingUnavailableError extends LpclustError {
  constructor(message: string, cause?: unknown) {
    super('external', 'E_TRACKING_UNAVAILABLE', message, {
      cause,
      hint: 'check the server address and that it runs; LPCLUST_HTTP_RETRY_BUDGET (total seconds), MLFLOW_HTTP_REQUEST_MAX_RETRIES and MLFLOW_HTTP_REQUEST_TIMEOUT tune the retries',
    });
  }
}

/** True for {@link TrackingUnavailableError} (also across module copies). */
export function isUnavailable(e: unknown): boolean {
  return e instanceof LpclustError && e.code === 'E_TRACKING_UNAVAILABLE';
}

/** One HTTP request. */
export interface RestRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  /** Path below the base URL, starting with `/api/...`, already percent-encoded. */
  path: string;
  /** Query parameters (encoded here). */
  query?: Record<string, string | number | undefined>;
  /** JSON body. */
  json?: unknown;
  /** Raw body: a factory so that each attempt gets a fresh stream; with its length in bytes. */
  body?: { open: () => Readable; length: number; contentType?: string };
  /** Receive the response body as a stream into this sink instead of parsing it (downloads). */
  sink?: (res: http.IncomingMessage) => Promise<void>;
  /**
   * Called before every retry (not before the first attempt): lets a non-idempotent call check
   * whether an earlier attempt took effect after all. A defined result ends the request with it.
   */
  recover?: () => Promise<unknown>;
}

/** A parsed response. */
export interface RestResponse {
  status: number;
  /** Parsed JSON body ({} when empty). */
  json: Record<string, unknown>;
}

interface AttemptFailure {
  retryable: boolean;
  retryAfterMs?: number;
  error: Error;
}

/** The HTTP client of the REST store. */
export class RestClient {
  readonly options: RestClientOptions;
  private readonly url: URL;
  private readonly agent: http.Agent;

  constructor(options: RestClientOptions) {
    this.options = options;
    this.url = safeUrl(options.baseUrl);
    this.agent = this.url.protocol === 'https:'
      ? new https.Agent({ keepAlive: true, rejectUnauthorized: !options.insecureTls })
      : new http.Agent({ keepAlive: true });
  }

  /** The server address with any password masked. */
  get displayUri(): string {
    return maskUri(this.options.baseUrl);
  }

  /** Close idle keep-alive sockets (lets the process exit at once). */
  close(): void {
    this.agent.destroy();
  }

  /** Headers sent with every request: auth and a user agent. */
  authHeaders(): Record<string, string> {
    const h: Record<string, string> = { 'User-Agent': 'lpclust' };
    if (this.options.token) h.Authorization = `Bearer ${this.options.token}`;
    else if (this.options.username !== undefined && this.options.password !== undefined) {
      h.Authorization = `Basic ${Buffer.from(`${this.options.username}:${this.options.password}`).toString('base64')}`;
    }
    return h;
  }

  /**
   * Send a request, retrying 408/429/5xx-listed statuses and connection errors with backoff.
   * @returns the response when its status is 2xx; the result of `recover` when that ends it.
   * @throws MlflowApiError for a non-retryable error status; TrackingUnavailableError after the retries.
   */
  async request(req: RestRequest): Promise<RestResponse> {
    const { maxRetries } = this.options;
    const budgetMs = this.options.retryBudgetSeconds === undefined ? Infinity : this.options.retryBudgetSeconds * 1000;
    let waitedMs = 0;
    let last: AttemptFailure | undefined;
    let attempts = 0;
    for (let attempt = 0; attempt <= maxRetries; attempt++) {
      if (attempt > 0) {
        // The budget bounds the total wait: the last wait is shortened to fit, then it stops.
        const wait = Math.min(this.backoffMs(attempt - 1, last?.retryAfterMs), budgetMs - waitedMs);
        if (wait <= 0) break;
        if (!this.warnedRetrying) {
          // Said at once, not after the retries: the user sees why the command waits.
          this.warnedRetrying = true;
          const state = last?.error instanceof MlflowApiError ? `answers ${last.error.status} ${last.error.errorCode}` : `does not answer (${describeFailure(last?.error)})`;
          log.warn(maskSecrets(`tracking server ${this.displayUri} ${state}; retrying ${this.retryWindow()} before giving up`));
        }
        await sleep(wait);
        waitedMs += wait;
        if (req.recover) {
          try {
            const found = await req.recover();
            if (found !== undefined) return { status: 200, json: found as Record<string, unknown> };
          } catch (e) {
            const f = this.classify(e);
            if (!f.retryable) throw f.error;
            last = f;
            continue;
          }
        }
      }
      try {
        attempts++;
        const res = await this.attempt(req);
        this.warnedRetrying = false;
        return res;
      } catch (e) {
        const f = this.classify(e);
        if (!f.retryable) throw f.error;
        last = f;
        log.debug(`tracking ${req.method} ${req.path}: ${maskSecrets(f.error.message)} (attempt ${attempt + 1} of ${maxRetries + 1})`);
      }
    }
    throw new TrackingUnavailableError(
      maskSecrets(`tracking server ${this.displayUri} unavailable: ${req.method} ${req.path} failed ${attempts} time(s) in ${(waitedMs / 1000).toFixed(1)} s, last: ${describeFailure(last?.error)}`),
      last?.error,
    );
  }

  /** True once the "does not answer, retrying" warning was given (again after a success). */
  private warnedRetrying = false;

  /** The retry window in words, with the settings that change it. */
  private retryWindow(): string {
    const o = this.options;
    const times = `${o.maxRetries} time${o.maxRetries === 1 ? '' : 's'} (MLFLOW_HTTP_REQUEST_MAX_RETRIES)`;
    return o.retryBudgetSeconds === undefined ? `up to ${times}` : `for up to ${o.retryBudgetSeconds} s (LPCLUST_HTTP_RETRY_BUDGET), at most ${times}`;
  }

  /** Wait before retry `i` (0-based): factor × 2^i plus jitter, or `Retry-After` when longer; capped. */
  backoffMs(i: number, retryAfterMs?: number): number {
    const o = this.options;
    const base = o.backoffFactor * 2 ** i * 1000;
    const jitter = Math.random() * o.backoffJitter * 1000; // jitter spreads clients apart; it needs no seed
    const wait = Math.max(base + jitter, retryAfterMs ?? 0);
    return Math.min(wait, o.maxBackoffSeconds * 1000);
  }

  private classify(e: unknown): AttemptFailure {
    if (e instanceof MlflowApiError) {
      return { retryable: RETRY_STATUSES.has(e.status), error: e, retryAfterMs: (e as MlflowApiError & { retryAfterMs?: number }).retryAfterMs };
    }
    if (e instanceof LpclustError) return { retryable: false, error: e };
    const err = e instanceof Error ? e : new Error(String(e));
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (TLS_ERRORS.has(code)) {
      // A certificate problem does not go away by retrying.
      return {
        retryable: false,
        error: externalError('E_TRACKING_TLS', maskSecrets(`cannot connect securely to ${this.displayUri}: ${err.message} (${code})`), {
          cause: err,
          hint: 'fix the server certificate, or set MLFLOW_TRACKING_INSECURE_TLS=true to skip verification (trusted networks only)',
        }),
      };
    }
    // Anything from the socket layer (refused, reset, hang up, timeout, DNS) is a connection error.
    return { retryable: true, error: err };
  }

  private attempt(req: RestRequest): Promise<RestResponse> {
    const target = new URL(this.url.href);
    target.pathname = target.pathname.replace(/\/+$/, '') + req.path;
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) target.searchParams.set(k, String(v));
    target.username = '';
    target.password = '';
    const headers: Record<string, string | number> = { ...this.authHeaders(), Accept: 'application/json' };
    let payload: Buffer | undefined;
    if (req.json !== undefined) {
      payload = Buffer.from(JSON.stringify(req.json));
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = payload.length;
    } else if (req.body) {
      headers['Content-Type'] = req.body.contentType ?? 'application/octet-stream';
      headers['Content-Length'] = req.body.length;
    }
    const mod = target.protocol === 'https:' ? https : http;
    const timeoutMs = this.options.timeoutSeconds * 1000;
    return new Promise<RestResponse>((resolve, reject) => {
      let settled = false;
      const fail = (e: Error): void => {
        if (settled) return;
        settled = true;
        reject(e);
      };
      const r = mod.request(target, { method: req.method, headers, agent: this.agent }, (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300 && req.sink) {
          req.sink(res).then(
            () => {
              if (!settled) {
                settled = true;
                resolve({ status, json: {} });
              }
            },
            (e: unknown) => fail(e instanceof Error ? e : new Error(String(e))),
          );
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => fail(e));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: Record<string, unknown> = {};
          let parsed = true;
          if (text.trim() !== '') {
            try {
              json = JSON.parse(text) as Record<string, unknown>;
            } catch {
              parsed = false;
            }
          }
          if (status >= 200 && status < 300) {
            if (!parsed) return fail(externalError('E_TRACKING_API', `tracking server ${this.displayUri} answered ${req.method} ${req.path} with a body that is not JSON: ${JSON.stringify(text.slice(0, 200))}`));
            settled = true;
            return resolve({ status, json });
          }
          const code = typeof json.error_code === 'string' ? json.error_code : `HTTP_${status}`;
          const msg = typeof json.message === 'string' ? json.message : text.slice(0, 300);
          const hint = status === 401 || status === 403
            ? 'set MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD'
            : undefined;
          const err = new MlflowApiError(status, code, maskSecrets(`tracking server ${this.displayUri}: ${req.method} ${req.path} → ${status} ${code}: ${msg}`), hint);
          (err as MlflowApiError & { retryAfterMs?: number }).retryAfterMs = parseRetryAfter(res.headers['retry-after']);
          fail(err);
        });
      });
      r.setTimeout(timeoutMs, () => r.destroy(new Error(`no answer within ${this.options.timeoutSeconds} s (MLFLOW_HTTP_REQUEST_TIMEOUT)`)));
      r.on('error', (e) => fail(e));
      if (payload) r.end(payload);
      else if (req.body) {
        const stream = req.body.open();
        stream.on('error', (e) => {
          r.destroy();
          // A local read error is not the server's fault: not retried.
          fail(externalError('E_ARTIFACT_READ', `cannot read the file being uploaded: ${e.message}`, { cause: e }));
        });
        stream.pipe(r);
      } else r.end();
    });
  }
}

/** A failed attempt in words: `connection refused (ECONNREFUSED)`, or the server's answer. */
function describeFailure(e: Error | undefined): string {
  if (!e) return 'unknown error';
  const code = (e as NodeJS.ErrnoException).code;
  const words: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ECONNRESET: 'connection reset',
    ETIMEDOUT: 'connection timed out',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
    ENOTFOUND: 'host name not found',
    EAI_AGAIN: 'host name lookup failed',
  };
  if (code && words[code]) return `${words[code]}, ${code}`;
  return e.message;
}

/** `Retry-After` (seconds or an HTTP date) in ms, or undefined. */
export function parseRetryAfter(raw: string | string[] | undefined): number | undefined {
  const v = Array.isArray(raw) ? raw[0] : raw;
  if (!v) return undefined;
  const s = Number(v);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - Date.now());
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
