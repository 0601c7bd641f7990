/**
 * The source registry: every ETL source lpclust reads, described once. Per source: its name (the
 * rules file's section, the `etl_<name>` run, the `clean_<name>.csv` file, the harmonize params and
 * metrics `<name>_csv`, `<name>_rows_in`…), the keys of its `pipeline.sources.<name>` object in
 * the config file and the pipeline flags that stand for them, its cleaning defaults, its rank in
 * harmonization, whether it may carry a password in a URI, and how it is read ({@link SourceSpec.resolve},
 * which imports its reader on use, so that the CLI can read this table without loading them).
 *
 * The lists of source names elsewhere (pipeline, config parsing, sweep, harmonize, rules) are
 * {@link SOURCE_NAMES}, {@link PRECEDENCE} or derived from them. Adding a source is: its reader
 * file, its entry in {@link SOURCES}, its tests.
 */
import { usageError } from '../errors.js';
import { maskUri, registerUriPassword } from '../util/mask.js';
import type { EtlSourceReader } from './run.js';
import type { CleanOptions } from './types.js';

/**
 * Cleaning options of the historian sources, as the old `etl_sql` did: no production-night
 * zero-fill (that was the old Mongo ETL only); outliers rejected by contractual power.
 */
export const SQL_CLEAN_DEFAULTS: Readonly<Partial<CleanOptions>> = Object.freeze({ productionNightZero: false, rejectOutliers: true });

/**
 * Cleaning options of the new Mongo source: no production-night zero-fill (an old Mongo rule);
 * outliers rejected by contractual power (the old `etl_newmongo` had this step commented out;
 * lpclust keeps it as a guard — a household's real data never reaches the 200 kW default bound).
 */
export const NEWMONGO_CLEAN_DEFAULTS: Readonly<Partial<CleanOptions>> = Object.freeze({ productionNightZero: false, rejectOutliers: true });

/** A database or server URI (`postgres://…`, `mongodb://…`) rather than a file path. */
export function isUri(s: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(s);
}

/** A URI that holds a password (`scheme://user:password@host`). */
export function uriHasPassword(s: string): boolean {
  return /:\/\/[^/@]*:[^@/]*@/.test(s);
}

/** The configuration of each source (`pipeline.sources.<name>` in the config file, or its flags). */
export interface SourceConfigs {
  /** Old Mongo per-meter CSV exports folder. */
  oldmongo: { input: string };
  /** SQL historian: a folder of `<METER>.txt` exports, or a database (SQLite file / postgres URI). */
  sql: { input?: string; db?: string; dbEnv?: string; table?: string };
  /** New Mongo: an export file, or a live collection (URI from `uriEnv`). */
  newmongo: { export?: string; uri?: string; uriEnv?: string; db?: string; collection?: string; since?: string; until?: string };
  /** A long-format CSV (id, time, value per row), read as `lpclust etl generic` reads it. */
  generic: { input: string; idCol: string; timeCol: string; valueCol: string; cumulative?: boolean; unit?: 'Wh' | 'kWh'; inputTimezone?: string };
}

/** The name of a source. */
export type SourceName = keyof SourceConfigs;

/**
 * How one key of a source's configuration is read and checked:
 * - `dir`, `file`: a path (relative to the config file, or to the current folder for a flag),
 *   checked to be a readable folder / file before any run starts;
 * - `db`: a SQLite file (a path, as `file`) or a server URI (kept as written);
 * - `uri`: a server URI;
 * - `zone`: an IANA time zone name;
 * - `text`, `boolean`, or one of `choices`.
 * A `db` or `uri` key may not hold a password in the config file: `envKey` names the key that
 * names an environment variable holding the URI instead.
 */
export interface SourceKey {
  kind: 'dir' | 'file' | 'db' | 'uri' | 'zone' | 'text' | 'boolean';
  /** What a path is, for messages (`old Mongo exports folder`). */
  what?: string;
  /** With `db`/`uri`: the key holding the name of an environment variable with the URI. */
  envKey?: string;
  /** The only values accepted (a text key). */
  choices?: readonly string[];
  /** The source cannot be read without it. */
  required?: boolean;
}

/**
 * A pipeline (and sweep) flag standing for one key of a source's configuration. The first flag
 * of a source names it (`--oldmongo <dir>`); the others only apply with it.
 */
export interface SourceFlag {
  /** As commander declares it: `--generic <csv>`, `--cumulative`. */
  flags: string;
  /** Commander's attribute name of the flag (`generic`, `idCol`). */
  attr: string;
  /** The configuration key it sets. */
  key: string;
  help: string;
}

/** The live part of a source read through a load stage (new Mongo: `load_newmongo`). */
export interface LiveQuery {
  uri: string;
  db: string;
  collection: string;
  since?: string;
  until?: string;
}

/** A configured source resolved to its reader, clean defaults, key params and digestible inputs. */
export interface ResolvedSource {
  reader?: EtlSourceReader;
  /** A live collection, dumped by a load stage before the ETL stage reads the dump. */
  live?: LiveQuery;
  cleanDefaults: Readonly<Partial<CleanOptions>>;
  /** Params of the `etl_<name>` run (URIs masked) that also key its reuse. */
  params: Record<string, string | number | boolean>;
  /** Input paths to digest for reuse; null for a database server or a live collection (never reused). */
  inputs: Record<string, string> | null;
}

/** What {@link SourceSpec.resolve} may need besides the configuration. */
export interface ResolveContext {
  /** The value of an environment variable (or `.env` entry) named in the configuration. */
  env(name: string, key: string): string;
  /** The run's IANA zone (default of a generic CSV's naive timestamps). */
  timezone: string;
}

/** One registered source. */
export interface SourceSpec<N extends SourceName = SourceName> {
  name: N;
  /** What it reads, in a few words (`the <title>` in help texts). */
  title: string;
  /** The keys of its configuration. */
  keys: { readonly [K in keyof SourceConfigs[N] & string]-?: SourceKey };
  /** Its pipeline/sweep flags; the first names the source. */
  flags: readonly SourceFlag[];
  /** Its cleaning defaults (the command-line cleaning options override them). */
  cleanDefaults: Readonly<Partial<CleanOptions>>;
  /** Rank when several sources hold the same (meter, day): the lowest wins. */
  precedence: number;
  /**
   * Listed even when not configured: a pipeline tags it `lpclust.skipped.etl_<name>`, and the
   * harmonize precedence it logs names it. True for the reference pipeline's three sources (its
   * outputs keep their shape); an added source is listed only where it is used.
   */
  alwaysListed: boolean;
  /** It may be given a URI with a password (registered as a secret when resolved). */
  secretUri: boolean;
  /** It has its own `lpclust etl <name>` command (else it is read through the pipeline and sweep only). */
  etlCommand: boolean;
  /** Its reader for a configuration (null when the configuration names no input). */
  resolve(c: Partial<SourceConfigs[N]>, ctx: ResolveContext): Promise<ResolvedSource | null>;
}

const oldmongo: SourceSpec<'oldmongo'> = {
  name: 'oldmongo',
  title: 'old Mongo export',
  keys: { input: { kind: 'dir', what: 'old Mongo exports folder', required: true } },
  flags: [{ flags: '--oldmongo <dir>', attr: 'oldmongo', key: 'input', help: 'old Mongo exports folder (instead of the config / sample data)' }],
  cleanDefaults: {},
  precedence: 3,
  alwaysListed: true,
  secretUri: false,
  etlCommand: true,
  async resolve(c): Promise<ResolvedSource | null> {
    if (!c.input) return null;
    const { oldMongoSource } = await import('./oldmongo.js');
    return { reader: oldMongoSource(c.input), cleanDefaults: this.cleanDefaults, params: { input_dir: c.input }, inputs: { input: c.input } };
  },
};

const sql: SourceSpec<'sql'> = {
  name: 'sql',
  title: 'SQL historian',
  keys: {
    input: { kind: 'dir', what: 'SQL historian exports folder' },
    db: { kind: 'db', what: 'SQLite database', envKey: 'dbEnv' },
    dbEnv: { kind: 'text' },
    table: { kind: 'text' },
  },
  flags: [{ flags: '--sql <dir>', attr: 'sql', key: 'input', help: 'SQL historian exports folder (instead of the config / sample data)' }],
  cleanDefaults: SQL_CLEAN_DEFAULTS,
  precedence: 2,
  alwaysListed: true,
  secretUri: true,
  etlCommand: true,
  async resolve(c, ctx): Promise<ResolvedSource | null> {
    const db = c.db ?? (c.dbEnv ? ctx.env(c.dbEnv, 'sql.dbEnv') : undefined);
    if (c.input && db) throw sourceUsage('pipeline sql source: expected one of input (folder) or db/dbEnv (database), not both');
    const { DEFAULT_HISTORIAN_TABLE, sqlDatabaseSource, sqlFolderSource } = await import('./sql.js');
    if (c.input) return { reader: sqlFolderSource(c.input), cleanDefaults: this.cleanDefaults, params: { input_dir: c.input }, inputs: { input: c.input } };
    if (!db) return null;
    registerUriPassword(db);
    const table = c.table ?? DEFAULT_HISTORIAN_TABLE;
    // A SQLite file can be digested; a server cannot (never reused).
    return { reader: sqlDatabaseSource(db, table), cleanDefaults: this.cleanDefaults, params: { db: maskUri(db), table }, inputs: isUri(db) ? null : { db } };
  },
};

const newmongo: SourceSpec<'newmongo'> = {
  name: 'newmongo',
  title: 'new Mongo collection',
  keys: {
    export: { kind: 'file', what: 'new Mongo export file' },
    uri: { kind: 'uri', envKey: 'uriEnv' },
    uriEnv: { kind: 'text' },
    db: { kind: 'text' },
    collection: { kind: 'text' },
    since: { kind: 'text' },
    until: { kind: 'text' },
  },
  flags: [{ flags: '--newmongo <file>', attr: 'newmongo', key: 'export', help: 'new Mongo export file (instead of the config / sample data)' }],
  cleanDefaults: NEWMONGO_CLEAN_DEFAULTS,
  precedence: 1,
  alwaysListed: true,
  secretUri: true,
  etlCommand: true,
  async resolve(c, ctx): Promise<ResolvedSource | null> {
    const uri = c.uri ?? (c.uriEnv ? ctx.env(c.uriEnv, 'newmongo.uriEnv') : undefined);
    if (c.export && uri) throw sourceUsage('pipeline newmongo source: expected one of export (file) or uri/uriEnv (live collection), not both');
    if (c.export) {
      const { newMongoExportSource } = await import('./newmongo.js');
      return { reader: newMongoExportSource(c.export), cleanDefaults: this.cleanDefaults, params: { export_file: c.export }, inputs: { input: c.export } };
    }
    if (!uri) return null;
    registerUriPassword(uri);
    const { DEFAULT_NEWMONGO_COLLECTION, DEFAULT_NEWMONGO_DB } = await import('./newmongo.js');
    const live = { uri, db: c.db ?? DEFAULT_NEWMONGO_DB, collection: c.collection ?? DEFAULT_NEWMONGO_COLLECTION, since: c.since, until: c.until };
    return { live, cleanDefaults: this.cleanDefaults, params: { uri: maskUri(uri), db: live.db, collection: live.collection }, inputs: null };
  },
};

const generic: SourceSpec<'generic'> = {
  name: 'generic',
  title: 'generic long-format CSV',
  keys: {
    input: { kind: 'file', what: 'generic long-format CSV', required: true },
    idCol: { kind: 'text', required: true },
    timeCol: { kind: 'text', required: true },
    valueCol: { kind: 'text', required: true },
    cumulative: { kind: 'boolean' },
    unit: { kind: 'text', choices: ['Wh', 'kWh'] },
    inputTimezone: { kind: 'zone' },
  },
  // The names of `lpclust etl generic`'s options (its --input is --generic here).
  flags: [
    { flags: '--generic <csv>', attr: 'generic', key: 'input', help: 'a long-format CSV (id, timestamp, energy per row; .gz accepted), as `lpclust etl generic` reads it; needs --id-col, --time-col, --value-col' },
    { flags: '--id-col <name>', attr: 'idCol', key: 'idCol', help: 'with --generic: column of the meter id' },
    { flags: '--time-col <name>', attr: 'timeCol', key: 'timeCol', help: 'with --generic: column of the timestamp (ISO 8601; naive = --input-timezone)' },
    { flags: '--value-col <name>', attr: 'valueCol', key: 'valueCol', help: 'with --generic: column of the energy' },
    { flags: '--cumulative', attr: 'cumulative', key: 'cumulative', help: 'with --generic: values are cumulative registers read at the end of the interval starting at the timestamp (default: the energy of that interval)' },
    { flags: '--unit <unit>', attr: 'unit', key: 'unit', help: 'with --generic: unit of the values, Wh or kWh (default Wh)' },
    { flags: '--input-timezone <iana>', attr: 'inputTimezone', key: 'inputTimezone', help: 'with --generic: zone of naive timestamps (default: --timezone)' },
  ],
  cleanDefaults: {},
  // Lowest: an added CSV fills days the utility's own systems lack and never replaces theirs.
  precedence: 4,
  alwaysListed: false,
  secretUri: false,
  etlCommand: true,
  async resolve(c, ctx): Promise<ResolvedSource | null> {
    if (!c.input) return null;
    const need = (v: string | undefined, key: string): string => {
      if (v === undefined || v === '') throw sourceUsage(`pipeline generic source: expected a column name for ${key} (the CSV's ${key.replace('Col', '')} column)`);
      return v;
    };
    const cols = { idCol: need(c.idCol, 'idCol'), timeCol: need(c.timeCol, 'timeCol'), valueCol: need(c.valueCol, 'valueCol') };
    const { genericSource } = await import('./generic.js');
    const unit = c.unit ?? 'Wh';
    const reader = genericSource({ input: c.input, ...cols, cumulative: c.cumulative === true, unit, inputTimeZone: c.inputTimezone });
    // The params `lpclust etl generic` logs.
    const params = { input_file: c.input, id_col: cols.idCol, time_col: cols.timeCol, value_col: cols.valueCol, cumulative: c.cumulative === true, unit, input_timezone: c.inputTimezone ?? ctx.timezone };
    return { reader, cleanDefaults: this.cleanDefaults, params, inputs: { input: c.input } };
  },
};

/** Every source, in the order the pipeline runs them and options and reports list them. */
export const SOURCES: { readonly [N in SourceName]: SourceSpec<N> } = { oldmongo, sql, newmongo, generic };

/** The source names, in run and listing order. */
export const SOURCE_NAMES = Object.keys(SOURCES) as readonly SourceName[];

/** Every source in precedence order: where several hold the same (meter, day), the first wins. */
export const PRECEDENCE: readonly SourceName[] = [...SOURCE_NAMES].sort((a, b) => SOURCES[a].precedence - SOURCES[b].precedence);

/** The precedence as logged and reported for the sources given: those always listed, and the others given. */
export function precedenceFor(given: readonly SourceName[]): SourceName[] {
  return PRECEDENCE.filter((s) => SOURCES[s].alwaysListed || given.includes(s));
}

/** Whether a text is a registered source name. */
export function isSourceName(s: string): s is SourceName {
  return Object.hasOwn(SOURCES, s);
}

/** The spec of one source (typed by its name). */
export function sourceSpec<N extends SourceName>(name: N): SourceSpec<N> {
  return SOURCES[name] as unknown as SourceSpec<N>;
}

/** The run, file, param and metric names of one source. */
export function sourceNaming(name: SourceName): { etlRun: string; cleanCsv: string; cleanTag: string; harmonizeParam: string; metricPrefix: string } {
  return { etlRun: `etl_${name}`, cleanCsv: `clean_${name}.csv`, cleanTag: `clean_${name}_csv`, harmonizeParam: `${name}_csv`, metricPrefix: `${name}_` };
}

/** Every source flag of the pipeline and sweep, in declaration order. */
export const SOURCE_FLAGS: readonly SourceFlag[] = SOURCE_NAMES.flatMap((n) => SOURCES[n].flags);

/** The first flag of every source, as `--oldmongo, --sql, …` (for messages). */
export function sourceFlagList(): string {
  return SOURCE_NAMES.map((n) => SOURCES[n].flags[0].flags.split(' ')[0]).join(', ');
}

function sourceUsage(message: string): Error {
  return usageError('E_USAGE_OPTION', message);
}
