/**
 * The SQL historian held in a database table (`timestamp, tagname, energy, quality, qualityDetail,
 * OPCquality`): a SQLite file (better-sqlite3) or a PostgreSQL server (pg).
 *
 * The table holds every meter; a row belongs to the meter named at the end of its tag (see
 * {@link meterOfTag}). Reading goes one meter at a time: one query lists the distinct tags, then
 * one parameterised query per meter streams that meter's rows (SQLite: a statement iterator;
 * PostgreSQL: a server-side cursor fetched in pages), so memory holds one meter, never the table.
 * Only `timestamp`, `tagname` and `energy` are read (the quality columns do not change the result).
 * Timestamps are read as text (`CAST(... AS TEXT)`, PostgreSQL session zone UTC) and parsed by
 * the same code as the text exports, so the same rows give the same series in every backend.
 */
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import pg from 'pg';
import { externalError, inputError, usageError } from '../errors.js';
import { maskUri } from '../util/mask.js';
import { throwIfInterrupted } from '../util/interrupt.js';
import { HistorianRowSink, meterOfTag, type HistorianReadOptions } from './sql-historian.js';
import type { SourceMeter } from './sql-series.js';

/** Default table name of `--table`. */
export const DEFAULT_HISTORIAN_TABLE = 'historian';

/** Rows fetched per PostgreSQL cursor page. */
const PG_PAGE_ROWS = 10_000;

/** A historian table in a database, read meter by meter. */
export interface HistorianDb {
  /** `sqlite` or `postgres`. */
  readonly kind: 'sqlite' | 'postgres';
  /** The database location with any password masked (for logs and params). */
  readonly location: string;
  /** The table read. */
  readonly table: string;
  /**
   * The meters of the table and their tags, sorted by meter id.
   * @throws LpclustError E_INPUT_TAG for a tag that names no meter, E_INPUT_EMPTY for an empty table.
   */
  meters(): Promise<Map<string, string[]>>;
  /** Stream one meter's rows (those with the given tags) into its raw series. */
  readMeter(meter: string, tags: string[], opts: HistorianReadOptions): Promise<SourceMeter>;
  /** Close the connection. */
  close(): Promise<void>;
}

/** True when `spec` is a PostgreSQL URI rather than a SQLite file path. */
export function isPostgresUri(spec: string): boolean {
  return /^postgres(ql)?:\/\//i.test(spec);
}

/**
 * Quote a table name (`name` or `schema.name`) as an SQL identifier. Identifiers cannot be bound
 * as query parameters, so the name is validated strictly instead.
 * @throws LpclustError E_USAGE_TABLE for anything but letters, digits and `_` (and one dot).
 */
export function quoteTableName(table: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/.test(table)) {
    throw usageError('E_USAGE_TABLE', `Expected a table name of letters, digits and _ (optionally schema.table) for \`--table\` but received \`${table}\``);
  }
  return table
    .split('.')
    .map((p) => `"${p}"`)
    .join('.');
}

/** Group tags by meter, failing on a tag that names none. */
function groupTags(tags: string[], location: string, table: string): Map<string, string[]> {
  if (tags.length === 0) {
    throw inputError('E_INPUT_EMPTY', `${location}: table ${table} has no rows`, { where: { file: location }, hint: 'check --db and --table' });
  }
  const byMeter = new Map<string, string[]>();
  for (const tag of tags) {
    const meter = typeof tag === 'string' ? meterOfTag(tag) : null;
    if (meter === null) {
      throw inputError('E_INPUT_TAG', `${location}: table ${table}, field "tagname": expected a tag ending in _<METER>.<unit> (e.g. Energy_Ameno_1_8_0_BBB6004.kWh) but found "${String(tag)}"`, {
        where: { file: location, field: 'tagname' },
      });
    }
    const list = byMeter.get(meter);
    if (list) list.push(tag);
    else byMeter.set(meter, [tag]);
  }
  return new Map([...byMeter.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
}

/** Turn a driver error into an LpclustError that names the table and holds no password. */
function dbError(e: unknown, location: string, table: string, what: string): Error {
  const msg = maskUri(e instanceof Error ? e.message : String(e));
  const code = (e as { code?: string }).code;
  // Missing table or column (SQLite message / PostgreSQL SQLSTATE 42P01, 42703) is bad input.
  if (/no such (table|column)/i.test(msg) || code === '42P01' || code === '42703') {
    return inputError('E_INPUT_TABLE', `${location}: ${what}: ${msg} (the historian table needs columns timestamp, tagname, energy)`, {
      where: { file: location },
      hint: `check --table (now ${table})`,
    });
  }
  return externalError('E_EXTERNAL_DB', `${location}: ${what}: ${msg}`, { where: { file: location } });
}

/** Open a SQLite file read-only. */
function openSqlite(file: string, table: string): HistorianDb {
  const quoted = quoteTableName(table);
  if (!existsSync(file)) {
    throw inputError('E_INPUT_MISSING', `cannot read ${file}: no such file (expected a SQLite database or a postgres:// URI for --db)`, { where: { file } });
  }
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    db.pragma('query_only = ON');
  } catch (e) {
    throw inputError('E_INPUT_DB', `${file}: not a readable SQLite database: ${(e as Error).message}`, { where: { file }, cause: e });
  }
  return {
    kind: 'sqlite',
    location: file,
    table,
    async meters() {
      let tags: string[];
      try {
        tags = db.prepare(`SELECT DISTINCT tagname FROM ${quoted} WHERE tagname IS NOT NULL`).pluck().all() as string[];
      } catch (e) {
        throw dbError(e, file, table, 'listing tags');
      }
      return groupTags(tags.map(String), file, table);
    },
    async readMeter(meter, tags, opts) {
      const sink = new HistorianRowSink(meter, file, opts, false, (row) => `${file}: table ${table}, meter ${meter}, row ${row}`);
      const placeholders = tags.map(() => '?').join(',');
      let stmt: Database.Statement;
      try {
        stmt = db.prepare(`SELECT CAST("timestamp" AS TEXT) AS ts, tagname, energy FROM ${quoted} WHERE tagname IN (${placeholders})`).raw(true);
      } catch (e) {
        throw dbError(e, file, table, `reading meter ${meter}`);
      }
      let row = 0;
      for (const r of stmt.iterate(...tags) as IterableIterator<unknown[]>) {
        row++;
        if ((row & 0xffff) === 0) throwIfInterrupted();
        sink.add(r[0], r[1], r[2], row);
      }
      return sink.result();
    },
    async close() {
      db.close();
    },
  };
}

/** Connect to PostgreSQL (session time zone UTC). */
async function openPostgres(uri: string, table: string): Promise<HistorianDb> {
  const quoted = quoteTableName(table);
  const location = maskUri(uri);
  const client = new pg.Client({ connectionString: uri, connectionTimeoutMillis: 15_000, application_name: 'lpclust' });
  // An idle-connection error after connect must not crash the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query(`SET TIME ZONE 'UTC'`);
  } catch (e) {
    await client.end().catch(() => undefined);
    throw externalError('E_EXTERNAL_DB', `cannot connect to ${location}: ${maskUri((e as Error).message)}`, {
      where: { file: location },
      hint: 'check the host, port, database, user and password of --db',
    });
  }
  return {
    kind: 'postgres',
    location,
    table,
    async meters() {
      let tags: string[];
      try {
        const res = await client.query({ text: `SELECT DISTINCT tagname FROM ${quoted} WHERE tagname IS NOT NULL`, rowMode: 'array' });
        tags = res.rows.map((r: unknown[]) => String(r[0]));
      } catch (e) {
        throw dbError(e, location, table, 'listing tags');
      }
      return groupTags(tags, location, table);
    },
    async readMeter(meter, tags, opts) {
      const sink = new HistorianRowSink(meter, location, opts, false, (n) => `${location}: table ${table}, meter ${meter}, row ${n}`);
      let row = 0;
      let inTx = false;
      try {
        await client.query('BEGIN READ ONLY');
        inTx = true;
        await client.query({
          text: `DECLARE lpclust_rows NO SCROLL CURSOR FOR SELECT CAST("timestamp" AS TEXT) AS ts, tagname, energy FROM ${quoted} WHERE tagname = ANY($1::text[])`,
          values: [tags],
        });
        for (;;) {
          throwIfInterrupted();
          const page = await client.query({ text: `FETCH FORWARD ${PG_PAGE_ROWS} FROM lpclust_rows`, rowMode: 'array' });
          for (const r of page.rows as unknown[][]) {
            row++;
            sink.add(r[0], r[1], r[2], row);
          }
          if (page.rows.length < PG_PAGE_ROWS) break;
        }
        await client.query('COMMIT');
        inTx = false;
      } catch (e) {
        if (inTx) await client.query('ROLLBACK').catch(() => undefined);
        if (e instanceof Error && e.name === 'LpclustError') throw e;
        if ((e as { name?: string }).name === 'InterruptedError') throw e;
        throw dbError(e, location, table, `reading meter ${meter}`);
      }
      return sink.result();
    },
    async close() {
      await client.end().catch(() => undefined);
    },
  };
}

/**
 * Open the historian table of `--db`: a `postgres://` / `postgresql://` URI or a SQLite file path.
 * @throws LpclustError E_INPUT_MISSING (no SQLite file), E_EXTERNAL_DB (cannot connect; the
 *   message masks the password), E_USAGE_TABLE (bad table name).
 */
export async function openHistorianDb(spec: string, table = DEFAULT_HISTORIAN_TABLE): Promise<HistorianDb> {
  return isPostgresUri(spec) ? await openPostgres(spec, table) : openSqlite(spec, table);
}
