/**
 * The SQL historian held in a database table (`timestamp, tagname, energy, quality, qualityDetail,
 * OPCquality`): a SQLite file (better-sqlite3) or a PostgreSQL server (pg).
 *
 * The table holds every meter; a row belongs to the meter named at the end of its tag (see
 * {@link meterOfTag}). ONE query reads the table ordered by that meter key (computed in SQL), and
 * the rows are streamed (SQLite: a statement iterator; PostgreSQL: a server-side cursor fetched in
 * pages) and cut into meters as the key changes, so memory holds one meter, never the table. (One
 * query per meter would scan the whole table once per meter unless `tagname` is indexed: 50×
 * slower on the 50-household table.)
 * Only `timestamp`, `tagname` and `energy` are read (the quality columns do not change the result).
 * Timestamps are read as text (`CAST(... AS TEXT)`, PostgreSQL session zone UTC) and parsed by
 * the same code as the text exports, so the same rows give the same series in every backend.
 */
import { existsSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { externalError, inputError, usageError } from '../errors.js';
import { maskUri } from '../util/mask.js';
import { throwIfInterrupted } from '../util/interrupt.js';
import { HistorianRowSink, meterOfTag, type HistorianReadOptions } from './sql-historian.js';
import type { SourceMeter } from './sql-series.js';

/** Default table name of `--table`. */
export const DEFAULT_HISTORIAN_TABLE = 'historian';

/** Rows fetched per PostgreSQL cursor page. */
const PG_PAGE_ROWS = 10_000;

/** One meter read from a table: its series, or null when the caller chose not to read it. */
export interface TableMeter {
  meter: string;
  result: SourceMeter | null;
}

/** A historian table in a database, read meter by meter. */
export interface HistorianDb {
  /** `sqlite` or `postgres`. */
  readonly kind: 'sqlite' | 'postgres';
  /** The database location with any password masked (for logs and params). */
  readonly location: string;
  /** The table read. */
  readonly table: string;
  /**
   * Stream the table meter by meter (ascending meter id). Rows of meters for which `wanted`
   * returns false are read past without being parsed (`result: null`). `onUnattributed` is called
   * for each row skipped (with `onBadRow: 'skip'`) because its tag names no meter.
   * @throws LpclustError E_INPUT_TAG for a tag that names no meter (unless skipping bad rows),
   *   E_INPUT_EMPTY for an empty table, E_INPUT_TABLE for a missing table or column.
   */
  readMeters(opts: HistorianReadOptions, wanted: (meter: string) => boolean, onUnattributed: () => void): AsyncGenerator<TableMeter>;
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
    throw usageError('E_USAGE_TABLE', `Expected a table name of letters, digits and _ (optionally schema.table) for \`table\` but received \`${table}\``, { option: 'table' });
  }
  return table
    .split('.')
    .map((p) => `"${p}"`)
    .join('.');
}

/**
 * Cuts an ordered row stream into meters: feeds rows to the current meter's sink and emits the
 * meter when the key changes. Shared by both backends.
 */
class MeterCutter {
  private sink: HistorianRowSink | null = null;
  private current: string | null = null;
  private skipping = false;
  private readonly seen = new Set<string>();
  private readonly tagMeters = new Map<string, string | null>();
  rows = 0;

  constructor(
    private readonly location: string,
    private readonly table: string,
    private readonly opts: HistorianReadOptions,
    private readonly wanted: (meter: string) => boolean,
    private readonly onUnattributed: () => void,
  ) {}

  /** Add a row; returns a finished meter when this row starts a new one. */
  add(ts: unknown, tag: unknown, energy: unknown): TableMeter | null {
    this.rows++;
    let meter: string | null | undefined = typeof tag === 'string' ? this.tagMeters.get(tag) : null;
    if (meter === undefined) {
      meter = meterOfTag(tag as string); // untrimmed, as the SQL sort key sees it
      this.tagMeters.set(tag as string, meter);
    }
    if (meter === null) {
      if (this.opts.onBadRow === 'skip') {
        this.onUnattributed();
        return null;
      }
      throw inputError('E_INPUT_TAG', `${this.location}: table ${this.table}, field "tagname": expected a tag ending in _<METER>.<unit> (e.g. Energy_Ameno_1_8_0_SYN0001.kWh) but found ${tag === null || tag === undefined ? 'an empty value' : `"${String(tag)}"`}`, {
        where: { file: this.location, field: 'tagname' },
        option: 'onBadRow', hint: 'fix the tag, or pass `onBadRow` skip to skip and count such rows',
      });
    }
    let done: TableMeter | null = null;
    if (meter !== this.current) {
      done = this.finish();
      if (this.seen.has(meter)) throw new Error(`internal: rows of meter ${meter} are not contiguous in the ordered query`);
      this.seen.add(meter);
      this.current = meter;
      this.skipping = !this.wanted(meter);
      this.sink = this.skipping ? null : new HistorianRowSink(meter, this.location, this.opts, false, (row) => `${this.location}: table ${this.table}, meter ${meter}, row ${row}`);
    }
    if (this.sink !== null) this.sink.add(ts, tag, energy, this.sink.recordsRead + 1);
    return done;
  }

  /** Emit the current meter, if any. */
  finish(): TableMeter | null {
    if (this.current === null) return null;
    const out: TableMeter = { meter: this.current, result: this.sink === null ? null : this.sink.result() };
    this.current = null;
    this.sink = null;
    return out;
  }
}

/**
 * SQL expressions of a row's meter key: the text after the tag's last `_`, up to its first `.` —
 * exactly {@link meterOfTag}, so the rows of one meter are contiguous in the ordered result.
 * SQLite: a deterministic user function running {@link meterOfTag} (5× cheaper than the same rule
 * in SQLite's string functions). PostgreSQL: a regular expression, byte order (COLLATE "C").
 */
const SQLITE_METER_FN = 'lpclust_meter_of_tag';
const PG_METER_KEY = `split_part(substring(tagname from '[^_]*$'), '.', 1) COLLATE "C"`;

/** Turn a driver error into an LpclustError that names the table and holds no password. */
function dbError(e: unknown, location: string, table: string, what: string): Error {
  const msg = maskUri(e instanceof Error ? e.message : String(e));
  const code = (e as { code?: string }).code;
  // Missing table or column (SQLite message / PostgreSQL SQLSTATE 42P01, 42703) is bad input.
  if (/no such (table|column)/i.test(msg) || code === '42P01' || code === '42703') {
    return inputError('E_INPUT_TABLE', `${location}: ${what}: ${msg} (the historian table needs columns timestamp, tagname, energy)`, {
      where: { file: location },
      option: 'table',
      hint: `check \`table\` (now ${table})`,
    });
  }
  return externalError('E_EXTERNAL_DB', `${location}: ${what}: ${msg}`, { where: { file: location } });
}

/** Open a SQLite file read-only. (Drivers are imported on use, not at CLI start-up.) */
async function openSqlite(file: string, table: string): Promise<HistorianDb> {
  const quoted = quoteTableName(table);
  if (!existsSync(file)) {
    throw inputError('E_INPUT_MISSING', `cannot read ${file}: no such file (expected a SQLite database or a postgres:// URI for --db)`, { where: { file } });
  }
  const { default: SqliteDatabase } = await import('better-sqlite3');
  let db: Database.Database;
  try {
    db = new SqliteDatabase(file, { readonly: true, fileMustExist: true });
    db.pragma('query_only = ON');
    // The ordered read sorts the table: a bounded 64 MB page cache keeps most of the sort in memory.
    db.pragma('cache_size = -65536');
    const cache = new Map<unknown, string>();
    db.function(SQLITE_METER_FN, { deterministic: true }, (tag: unknown) => {
      let m = cache.get(tag);
      if (m === undefined) {
        m = typeof tag === 'string' ? (meterOfTag(tag) ?? '') : '';
        if (cache.size < 100_000) cache.set(tag, m);
      }
      return m;
    });
  } catch (e) {
    throw inputError('E_INPUT_DB', `${file}: not a readable SQLite database: ${(e as Error).message}`, { where: { file }, cause: e });
  }
  return {
    kind: 'sqlite',
    location: file,
    table,
    async *readMeters(opts, wanted, onUnattributed) {
      let stmt: Database.Statement;
      try {
        stmt = db.prepare(`SELECT CAST("timestamp" AS TEXT) AS ts, tagname, energy FROM ${quoted} ORDER BY ${SQLITE_METER_FN}(tagname)`).raw(true);
      } catch (e) {
        throw dbError(e, file, table, 'reading the table');
      }
      const cut = new MeterCutter(file, table, opts, wanted, onUnattributed);
      for (const r of stmt.iterate() as IterableIterator<unknown[]>) {
        if ((cut.rows & 0xffff) === 0) throwIfInterrupted();
        const done = cut.add(r[0], r[1], r[2]);
        if (done !== null) yield done;
      }
      const last = cut.finish();
      if (last !== null) yield last;
      if (cut.rows === 0) throw inputError('E_INPUT_EMPTY', `${file}: table ${table} has no rows`, { where: { file }, hint: 'check --db and --table' });
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
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: uri, connectionTimeoutMillis: 15_000, application_name: 'lpclust' });
  // An idle-connection error after connect must not crash the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query(`SET TIME ZONE 'UTC'`);
    // The ordered read sorts the table on the server: let it sort in (bounded) memory.
    await client.query(`SET work_mem = '64MB'`);
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
    async *readMeters(opts, wanted, onUnattributed) {
      let inTx = false;
      const cut = new MeterCutter(location, table, opts, wanted, onUnattributed);
      try {
        await client.query('BEGIN READ ONLY');
        inTx = true;
        try {
          await client.query(`DECLARE lpclust_rows NO SCROLL CURSOR FOR SELECT CAST("timestamp" AS TEXT) AS ts, tagname, energy FROM ${quoted} ORDER BY ${PG_METER_KEY}`);
        } catch (e) {
          throw dbError(e, location, table, 'reading the table');
        }
        for (;;) {
          throwIfInterrupted();
          let page: { rows: unknown[][] };
          try {
            page = await client.query({ text: `FETCH FORWARD ${PG_PAGE_ROWS} FROM lpclust_rows`, rowMode: 'array' });
          } catch (e) {
            throw dbError(e, location, table, 'reading the table');
          }
          for (const r of page.rows) {
            const done = cut.add(r[0], r[1], r[2]);
            if (done !== null) yield done;
          }
          if (page.rows.length < PG_PAGE_ROWS) break;
        }
        await client.query('COMMIT');
        inTx = false;
      } finally {
        if (inTx) await client.query('ROLLBACK').catch(() => undefined);
      }
      const last = cut.finish();
      if (last !== null) yield last;
      if (cut.rows === 0) throw inputError('E_INPUT_EMPTY', `${location}: table ${table} has no rows`, { where: { file: location }, hint: 'check --db and --table' });
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
  return isPostgresUri(spec) ? await openPostgres(spec, table) : await openSqlite(spec, table);
}
