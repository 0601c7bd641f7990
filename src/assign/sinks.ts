/**
 * Where `lpclust assign` hands its assignments on, besides the CSV: a PostgreSQL table, a MongoDB
 * collection, or an HTTP endpoint (JSON POST). The database sinks upsert on (meter, day), so
 * assigning a day again replaces its rows instead of adding new ones; the PostgreSQL sink writes
 * every row in one transaction (all or nothing). Passwords are registered as secrets and never
 * appear in a message.
 */
import http from 'node:http';
import https from 'node:https';
import { externalError, LpclustError, usageError } from '../errors.js';
import { quoteTableName } from '../etl/sql-db.js';
import { checkMongoUri } from '../etl/newmongo-live.js';
import { RETRY_STATUSES, parseRetryAfter, restClientOptionsFromEnv } from '../tracking/rest-client.js';
import { log } from '../util/log.js';
import { maskSecrets, maskUri, registerSecret, registerUriPassword } from '../util/mask.js';

/** One assigned meter-day as the sinks write it. */
export interface AssignmentRow {
  id: string;
  /** Local date YYYY-MM-DD. */
  date: string;
  cluster: number;
  /** Distance to the assigned centre (normalised units, the model's metric). */
  distance: number;
  /** Distance to the second-nearest centre minus `distance`. */
  margin: number;
  /** Farther than the training set's 99th percentile; null when the model carries no reference. */
  novel: boolean | null;
}

/** What every sink row also records: which run and model assigned it. */
export interface AssignmentContext {
  /** Run id of the assign run. */
  runId: string;
  /** The model's URI or path as given (masked). */
  model: string;
  /** Run id of the model's clustering run, or null. */
  modelRunId: string | null;
  /** First and last day of the window (or of the rows, for a profiles input without one). */
  since: string;
  until: string;
}

/** A destination of the assignments. */
export interface AssignSink {
  /** The destination with passwords masked (for params, messages and the summary). */
  readonly display: string;
  /** Write (upsert) the rows; throws an LpclustError (E_EXTERNAL_*) on failure, leaving the destination as before. */
  write(rows: readonly AssignmentRow[], ctx: AssignmentContext): Promise<void>;
}


/**
 * The sink of a `--to` value: `postgres://user:pass@host:port/db#table` (or `postgresql://`,
 * table `name` or `schema.name`) or `mongodb://user:pass@host:port/db.collection?options`.
 * @throws LpclustError E_USAGE_SINK for anything else (naming what was expected)
 */
export function parseSinkUri(spec: string): AssignSink {
  registerUriPassword(spec);
  if (/^postgres(ql)?:\/\//i.test(spec)) {
    const hash = spec.indexOf('#');
    const table = hash < 0 ? '' : spec.slice(hash + 1);
    if (table === '') {
      throw usageError('E_USAGE_SINK', `Expected \`to postgres://…/database#table\` (the table after #) but received \`${maskUri(spec)}\``, {
        option: 'to',
        hint: 'e.g. `to "postgres://writer:PASSWORD@db.example:5432/energy#public.assignments"`',
      });
    }
    try {
      quoteTableName(table);
    } catch {
      throw usageError('E_USAGE_SINK', `Expected a table name of letters, digits and _ (optionally schema.table) after # in \`to\` but received \`${table}\``, { option: 'to' });
    }
    return new PostgresSink(spec.slice(0, hash), table);
  }
  if (/^mongodb(\+srv)?:\/\//i.test(spec)) {
    checkMongoUri(spec);
    const m = /^(mongodb(?:\+srv)?:\/\/[^/?#]*)\/([^/?#]+)(\?[^#]*)?$/i.exec(spec);
    const path = m ? decodeURIComponent(m[2]) : '';
    const dot = path.indexOf('.');
    if (!m || dot <= 0 || dot === path.length - 1) {
      throw usageError('E_USAGE_SINK', `Expected \`to mongodb://…/database.collection\` but received \`${maskUri(spec)}\``, {
        option: 'to',
        hint: 'e.g. `to "mongodb://writer:PASSWORD@db.example:27017/energy.assignments?authSource=admin"`',
      });
    }
    return new MongoSink(`${m[1]}/${m[3] ?? ''}`, path.slice(0, dot), path.slice(dot + 1));
  }
  throw usageError('E_USAGE_SINK', `Expected \`to\` a postgres://…#table or mongodb://…/db.collection URI but received \`${maskUri(spec)}\``, {
    option: 'to',
    hint: 'write to a file with --out, or POST JSON with --post URL',
  });
}

/** Rows per INSERT statement (8 parameters a row, under PostgreSQL's 65535-parameter limit). */
const PG_BATCH_ROWS = 1000;

/** Upserts into a PostgreSQL table in one transaction; creates the table when it does not exist. */
export class PostgresSink implements AssignSink {
  readonly display: string;
  constructor(
    private readonly uri: string,
    readonly table: string,
  ) {
    this.display = `${maskUri(uri)}#${table}`;
  }

  async write(rows: readonly AssignmentRow[], ctx: AssignmentContext): Promise<void> {
    const quoted = quoteTableName(this.table);
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: this.uri, connectionTimeoutMillis: 15_000, application_name: 'lpclust assign' });
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch (e) {
      await client.end().catch(() => undefined);
      throw externalError('E_EXTERNAL_DB', `cannot connect to ${maskUri(this.uri)}: ${maskSecrets((e as Error).message)}`, {
        hint: 'check the host, port, database, user and password of --to',
      });
    }
    let step = 'starting the transaction';
    try {
      await client.query('BEGIN');
      step = `creating table ${this.table}`;
      // The primary key is what makes a rerun of a day replace its rows (ON CONFLICT needs it).
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${quoted} (id TEXT NOT NULL, date DATE NOT NULL, cluster INTEGER NOT NULL, distance DOUBLE PRECISION NOT NULL, ` +
          `margin DOUBLE PRECISION NOT NULL, novel BOOLEAN, run_id TEXT NOT NULL, model TEXT NOT NULL, assigned_at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (id, date))`,
      );
      step = `upserting into ${this.table}`;
      for (let start = 0; start < rows.length; start += PG_BATCH_ROWS) {
        const batch = rows.slice(start, start + PG_BATCH_ROWS);
        const values: unknown[] = [];
        const tuples = batch.map((r, i) => {
          values.push(r.id, r.date, r.cluster, r.distance, r.margin, r.novel, ctx.runId, ctx.model);
          const b = i * 8;
          return `($${b + 1}, $${b + 2}::date, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7}, $${b + 8}, now())`;
        });
        await client.query(
          `INSERT INTO ${quoted} (id, date, cluster, distance, margin, novel, run_id, model, assigned_at) VALUES ${tuples.join(', ')} ` +
            `ON CONFLICT (id, date) DO UPDATE SET cluster = EXCLUDED.cluster, distance = EXCLUDED.distance, margin = EXCLUDED.margin, ` +
            `novel = EXCLUDED.novel, run_id = EXCLUDED.run_id, model = EXCLUDED.model, assigned_at = EXCLUDED.assigned_at`,
          values,
        );
      }
      step = 'committing';
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      if (e instanceof LpclustError) throw e;
      const msg = maskSecrets((e as Error).message);
      const noKey = /no unique or exclusion constraint/i.test(msg);
      throw externalError('E_EXTERNAL_DB', `${this.display}: ${step} failed, nothing was written (rolled back): ${msg}`, {
        hint: noKey
          ? `table ${this.table} exists without a primary key or unique constraint on (id, date); add one (ALTER TABLE ${this.table} ADD PRIMARY KEY (id, date)) or give a new table name`
          : 'check that the user may create and write the table, and the table\'s columns (id, date, cluster, distance, margin, novel, run_id, model, assigned_at)',
      });
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

/** Documents per bulk write. */
const MONGO_BATCH = 1000;

/**
 * Upserts into a MongoDB collection: one document per (id, date), replaced by a rerun. A unique
 * index on {id, date} is created first (a no-op when it exists), so that two jobs running at once
 * cannot insert the same meter-day twice. MongoDB has no transaction on a standalone server, so a
 * failure midway leaves some rows of this run and the others as before: each document is whole
 * and a rerun completes it.
 */
export class MongoSink implements AssignSink {
  readonly display: string;
  constructor(
    private readonly uri: string,
    readonly db: string,
    readonly collection: string,
    private readonly serverSelectionTimeoutMS = 10_000,
  ) {
    this.display = `${maskUri(uri.replace(/\/(\?|$)/, `/${db}.${collection}$1`))}`;
  }

  async write(rows: readonly AssignmentRow[], ctx: AssignmentContext): Promise<void> {
    const { MongoClient } = await import('mongodb');
    const inUri = /[?&]serverSelectionTimeoutMS=/i.test(this.uri);
    const client = new MongoClient(this.uri, {
      ...(inUri ? {} : { serverSelectionTimeoutMS: this.serverSelectionTimeoutMS }),
      connectTimeoutMS: 10_000,
      appName: 'lpclust assign',
    });
    try {
      await client.connect();
      const coll = client.db(this.db).collection(this.collection);
      await coll.createIndex({ id: 1, date: 1 }, { unique: true, name: 'lpclust_id_date' });
      const now = new Date();
      for (let start = 0; start < rows.length; start += MONGO_BATCH) {
        const ops = rows.slice(start, start + MONGO_BATCH).map((r) => ({
          updateOne: {
            filter: { id: r.id, date: r.date },
            update: { $set: { cluster: r.cluster, distance: r.distance, margin: r.margin, novel: r.novel, run_id: ctx.runId, model: ctx.model, assigned_at: now } },
            upsert: true,
          },
        }));
        await coll.bulkWrite(ops, { ordered: false });
      }
    } catch (e) {
      throw externalError('E_EXTERNAL_MONGO', `${this.display}: writing the assignments failed: ${maskSecrets(e instanceof Error ? e.message : String(e))}`, {
        hint: 'check the host, port, user, password (and authSource) of --to; a rerun of the same days replaces what was written',
      });
    } finally {
      await client.close().catch(() => undefined);
    }
  }
}

/** The JSON body `--post` sends. */
export interface PostBody {
  run_id: string;
  model: string;
  model_run_id: string | null;
  since: string;
  until: string;
  assignments: AssignmentRow[];
}

/**
 * POSTs the assignments as one JSON document ({@link PostBody}) to a URL, retrying as the REST
 * tracking store does: statuses 408, 429, 500, 502, 503, 504 and connection errors, with backoff
 * factor × 2^i plus jitter (or `Retry-After`), within `LPCLUST_HTTP_RETRY_BUDGET` seconds and
 * `MLFLOW_HTTP_REQUEST_MAX_RETRIES` retries; `MLFLOW_HTTP_REQUEST_TIMEOUT` per attempt. Credentials
 * in the URL (`https://user:pass@host/…`) are sent as HTTP Basic auth; MLflow's tracking token is
 * never sent to this URL. The receiver should upsert on (id, date): a rerun sends the same keys.
 */
export class PostSink implements AssignSink {
  readonly display: string;
  private readonly url: URL;
  constructor(
    url: string,
    private readonly env: Record<string, string | undefined> = process.env,
  ) {
    registerUriPassword(url);
    let u: URL;
    try {
      u = new URL(url);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http');
    } catch {
      throw usageError('E_USAGE_VALUE', `Expected an http:// or https:// URL for \`post\` but received \`${maskUri(url)}\``, { option: 'post' });
    }
    this.url = u;
    this.display = maskUri(url);
  }

  async write(rows: readonly AssignmentRow[], ctx: AssignmentContext): Promise<void> {
    const o = restClientOptionsFromEnv(this.url.origin, { ...this.env, MLFLOW_TRACKING_TOKEN: undefined, MLFLOW_TRACKING_USERNAME: undefined, MLFLOW_TRACKING_PASSWORD: undefined });
    const body: PostBody = { run_id: ctx.runId, model: ctx.model, model_run_id: ctx.modelRunId, since: ctx.since, until: ctx.until, assignments: [...rows] };
    const payload = Buffer.from(JSON.stringify(body));
    const budgetMs = o.retryBudgetSeconds === undefined ? Infinity : o.retryBudgetSeconds * 1000;
    let waited = 0;
    let last = '';
    let attempts = 0;
    let retryAfter: number | undefined;
    for (let attempt = 0; attempt <= o.maxRetries; attempt++) {
      if (attempt > 0) {
        const base = o.backoffFactor * 2 ** (attempt - 1) * 1000 + Math.random() * o.backoffJitter * 1000;
        const wait = Math.min(Math.max(base, retryAfter ?? 0), o.maxBackoffSeconds * 1000, budgetMs - waited);
        if (wait <= 0) break;
        if (attempt === 1) log.warn(`--post ${this.display}: ${last}; retrying for up to ${o.retryBudgetSeconds ?? '∞'} s (LPCLUST_HTTP_RETRY_BUDGET)`);
        await new Promise((r) => setTimeout(r, wait));
        waited += wait;
      }
      attempts++;
      retryAfter = undefined;
      let res: { status: number; text: string; retryAfter?: number };
      try {
        res = await this.attempt(payload, o.timeoutSeconds * 1000);
      } catch (e) {
        last = describe(e);
        continue;
      }
      if (res.status >= 200 && res.status < 300) return;
      last = `answered ${res.status}${res.text.trim() ? `: ${res.text.trim().slice(0, 200)}` : ''}`;
      if (!RETRY_STATUSES.has(res.status)) {
        throw externalError('E_EXTERNAL_POST', maskSecrets(`--post ${this.display} ${last}`), {
          hint: res.status === 401 || res.status === 403 ? 'give the credentials in the URL (https://user:PASSWORD@host/path)' : 'check the URL and what the endpoint accepts (a JSON body {run_id, model, since, until, assignments: [...]})',
        });
      }
      retryAfter = res.retryAfter;
    }
    throw externalError('E_EXTERNAL_POST', maskSecrets(`--post ${this.display} failed ${attempts} time(s) in ${(waited / 1000).toFixed(1)} s, last: ${last}`), {
      hint: 'check that the endpoint is up; the retries follow MLFLOW_HTTP_REQUEST_MAX_RETRIES and LPCLUST_HTTP_RETRY_BUDGET',
    });
  }

  private attempt(payload: Buffer, timeoutMs: number): Promise<{ status: number; text: string; retryAfter?: number }> {
    const target = new URL(this.url.href);
    const headers: Record<string, string | number> = { 'User-Agent': 'lpclust', 'Content-Type': 'application/json', 'Content-Length': payload.length, Accept: 'application/json' };
    if (target.username || target.password) {
      headers.Authorization = `Basic ${Buffer.from(`${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`).toString('base64')}`;
      registerSecret(String(headers.Authorization).slice(6));
      target.username = '';
      target.password = '';
    }
    const mod = target.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(target, { method: 'POST', headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), retryAfter: parseRetryAfter(res.headers['retry-after']) }));
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s (MLFLOW_HTTP_REQUEST_TIMEOUT)`)));
      req.on('error', reject);
      req.end(payload);
    });
  }
}

function describe(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  const msg = e instanceof Error ? e.message : String(e);
  return code && !msg.includes(code) ? `${msg} (${code})` : msg;
}
