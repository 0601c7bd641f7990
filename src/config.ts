/**
 * Configuration: every setting is defined once in a typed table (name, parser, default, doc,
 * where it may come from), and resolved with the precedence
 *   flags > environment (`LPCLUST_*`, standard `MLFLOW_*`, then a `.env` file) > `lpclust.config.json` > defaults,
 * remembering the source of every value so it can be logged.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { usageError, inputError } from './errors.js';
import { LOG_LEVELS, type LogLevel } from './util/log.js';
import { maskSecrets } from './util/mask.js';
import { suggestSimilar } from './util/suggest.js';

/** Where a resolved value came from. */
export type SettingSource = 'flag' | 'env' | 'dotenv' | 'config' | 'default';

/** One setting of the table. */
export interface SettingSpec<T> {
  /** Name in code and in `lpclust.config.json` (camelCase). */
  name: string;
  /** Environment variables, first found wins (e.g. `LPCLUST_TRACKING_URI`, `MLFLOW_TRACKING_URI`). */
  env: readonly string[];
  /** Parse a text (flag, environment) or a JSON value (config file); throw a usage error if wrong. */
  parse: (raw: unknown, where: string) => T;
  /** Value when nothing sets it. */
  default: T;
  /** One line for `--help` and the README. */
  doc: string;
  /** Mask the value when logging it. */
  secret?: boolean;
}

/** A resolved value with its source. */
export interface Resolved<T> {
  value: T;
  source: SettingSource;
  /** The flag or variable name or config key that set it. */
  from: string;
}

/** Parse helpers used by the table. */
export const parsers = {
  string:
    (name: string) =>
    (raw: unknown, where: string): string => {
      if (typeof raw !== 'string' || raw === '') throw usageError('E_USAGE_VALUE', `Expected a non-empty text for \`${name}\` (${where}) but received ${JSON.stringify(raw)}`);
      return raw;
    },
  boolean:
    (name: string) =>
    (raw: unknown, where: string): boolean => {
      if (typeof raw === 'boolean') return raw;
      const s = String(raw).toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(s)) return true;
      if (['0', 'false', 'no', 'off', ''].includes(s)) return false;
      throw usageError('E_USAGE_VALUE', `Expected true or false for \`${name}\` (${where}) but received ${JSON.stringify(raw)}`);
    },
  oneOf:
    <T extends string>(name: string, allowed: readonly T[]) =>
    (raw: unknown, where: string): T => {
      if (typeof raw === 'string' && (allowed as readonly string[]).includes(raw)) return raw as T;
      throw usageError('E_USAGE_VALUE', `Expected one of ${allowed.join('|')} for \`${name}\` (${where}) but received ${JSON.stringify(raw)}`);
    },
  positiveInt:
    (name: string) =>
    (raw: unknown, where: string): number => {
      const v = typeof raw === 'number' ? raw : Number(raw);
      if (!Number.isInteger(v) || v <= 0) throw usageError('E_USAGE_VALUE', `Expected a positive integer for \`${name}\` (${where}) but received ${JSON.stringify(raw)}`);
      return v;
    },
};

/** Schemas of a SQLite tracking database lpclust can create (MLflow 2.12.2's and 3.11's revisions). */
export const SQLITE_SCHEMAS = ['mlflow2', 'mlflow3'] as const;

/** Which schema a new SQLite tracking database gets. */
export type SqliteSchemaChoice = (typeof SQLITE_SCHEMAS)[number];

/** The global settings every command has. */
export const GLOBAL_SETTINGS = {
  trackingUri: {
    name: 'trackingUri',
    env: ['LPCLUST_TRACKING_URI', 'MLFLOW_TRACKING_URI'],
    parse: parsers.string('trackingUri'),
    // The CLI replaces this default as MLflow 3 does: ./mlruns only when it already holds runs, else
    // sqlite:///mlflow.db (tracking/store-uri.ts defaultTrackingUri).
    default: 'file:./mlruns',
    doc: 'MLflow tracking URI: sqlite:///mlflow.db, file:./mlruns or http(s)://server (default: ./mlruns when it holds runs, else sqlite:///mlflow.db)',
    secret: true,
  } as SettingSpec<string>,
  sqliteSchema: {
    name: 'sqliteSchema',
    env: ['LPCLUST_SQLITE_SCHEMA'],
    parse: parsers.oneOf('sqliteSchema', SQLITE_SCHEMAS),
    default: 'mlflow2',
    doc: 'schema of a SQLite tracking database lpclust creates: mlflow2 (MLflow 2.12 and later open it, MLflow 3 upgrades it) | mlflow3 (MLflow 3.11 and later only); an existing database keeps its own',
  } as SettingSpec<SqliteSchemaChoice>,
  experimentName: {
    name: 'experimentName',
    env: ['LPCLUST_EXPERIMENT_NAME', 'MLFLOW_EXPERIMENT_NAME'],
    parse: parsers.string('experimentName'),
    default: 'lpclust',
    doc: 'MLflow experiment the runs go to (created if missing)',
  } as SettingSpec<string>,
  logLevel: {
    name: 'logLevel',
    env: ['LPCLUST_LOG_LEVEL'],
    parse: parsers.oneOf('logLevel', LOG_LEVELS),
    default: 'info',
    doc: 'how much to log on stderr: silent|error|warn|info|debug (debug adds stacks)',
  } as SettingSpec<LogLevel>,
  quiet: {
    name: 'quiet',
    env: ['LPCLUST_QUIET'],
    parse: parsers.boolean('quiet'),
    default: false,
    doc: 'no progress bars or info lines (errors still shown)',
  } as SettingSpec<boolean>,
  spoolDir: {
    name: 'spoolDir',
    env: ['LPCLUST_SPOOL_DIR'],
    parse: parsers.string('spoolDir'),
    default: './mlruns',
    doc: 'where runs go when a tracking server stays unreachable (upload later with lpclust sync)',
  } as SettingSpec<string>,
  spool: {
    name: 'spool',
    env: ['LPCLUST_SPOOL'],
    parse: parsers.boolean('spool'),
    default: true,
    doc: 'spool runs locally while a tracking server is unreachable (off: the run fails with E_TRACKING_UNAVAILABLE instead)',
  } as SettingSpec<boolean>,
  json: {
    name: 'json',
    env: ['LPCLUST_JSON'],
    parse: parsers.boolean('json'),
    default: false,
    doc: 'print machine-readable JSON results on stdout',
  } as SettingSpec<boolean>,
} as const;

/**
 * Sections of the config file besides the global settings: each an object of one command's
 * options (`"dtw": {"radius": 2}`; `"pipeline"` serves `pipeline` and `sweep`), keys as in the
 * CLI's option table (src/cli/options.ts, which a test keeps in step with this list). Every other
 * top-level key is refused as a likely misspelling.
 */
export const CONFIG_SECTIONS: readonly string[] = ['pipeline', 'runs', 'etl', 'harmonize', 'dtw', 'cluster', 'validate', 'assign', 'serve', 'worker'];

/**
 * Refuse keys of a config object that no setting reads: a misspelt key would otherwise be ignored
 * without a word and its default used. Keys starting with `$` are comments.
 * @param where the key path of `obj` in the file (`''` for the top level, else e.g. `pipeline`)
 * @throws LpclustError E_CONFIG_KEY (usage) naming the file, the key and the nearest known key
 */
export function checkConfigKeys(obj: Record<string, unknown>, known: readonly string[], file: string | undefined, where = ''): void {
  for (const key of Object.keys(obj)) {
    if (key.startsWith('$') || known.includes(key)) continue;
    const full = where ? `${where}.${key}` : key;
    const near = suggestSimilar(key, known);
    throw usageError('E_CONFIG_KEY', `${file ?? 'config file'}: unknown key "${full}"${near.length > 0 ? ` (did you mean "${where ? `${where}.` : ''}${near[0]}"?)` : ''}`, {
      hint: `the keys known ${where ? `in "${where}"` : 'at the top level'} are: ${known.join(', ')} (keys starting with $ are comments)`,
      where: { file, field: full },
    });
  }
}

/** The values of the global settings. */
export type GlobalSettings = { [K in keyof typeof GLOBAL_SETTINGS]: (typeof GLOBAL_SETTINGS)[K]['default'] };

/** Inputs of a resolution (the process's by default; tests pass their own). */
export interface ConfigInputs {
  /** Values given as flags (undefined = not given). */
  flags: Record<string, unknown>;
  /** Environment variables. */
  env: Record<string, string | undefined>;
  /** Directory holding `.env` and `lpclust.config.json`. */
  cwd: string;
  /** Explicit config file path (`--config`); when given it must exist. */
  configFile?: string;
}

/**
 * Parse a `.env` file: `KEY=value` lines, `#` comments, optional `export ` and quotes.
 * Missing file → empty.
 */
export function readDotenv(file: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  const out: Record<string, string> = {};
  text.split(/\r?\n/).forEach((raw) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) return;
    let v = m[2];
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1);
    else v = v.replace(/\s+#.*$/, '');
    out[m[1]] = v;
  });
  return out;
}

/**
 * Read `lpclust.config.json` (or the explicit file). A missing default file is empty; a missing
 * explicit file or invalid JSON is an error naming the file.
 */
export function readConfigFile(inputs: Pick<ConfigInputs, 'cwd' | 'configFile'>): { file?: string; data: Record<string, unknown> } {
  const file = inputs.configFile ? path.resolve(inputs.cwd, inputs.configFile) : path.join(inputs.cwd, 'lpclust.config.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if (!inputs.configFile) return { data: {} };
    throw inputError('E_CONFIG', `cannot read config file ${file}: ${(e as Error).message}`, { where: { file } });
  }
  try {
    const data = JSON.parse(text) as unknown;
    if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new Error('expected a JSON object at the top level');
    return { file, data: data as Record<string, unknown> };
  } catch (e) {
    throw inputError('E_CONFIG', `config file ${file} is not valid: ${(e as Error).message}`, {
      hint: 'lpclust.config.json holds one JSON object, e.g. {"experimentName": "uc7"}',
      where: { file },
    });
  }
}

/**
 * Resolve a table of settings with the documented precedence.
 * @param specs the settings (e.g. {@link GLOBAL_SETTINGS})
 * @param section optional key of the config file whose object holds these settings (e.g. "pipeline")
 * @param extraKeys keys of that object read elsewhere (e.g. "sources"); any other unknown key is an error
 */
export function resolveSettings<S extends Record<string, SettingSpec<unknown>>>(
  specs: S,
  inputs: ConfigInputs,
  section?: string,
  extraKeys: readonly string[] = [],
): { [K in keyof S]: Resolved<S[K]['default']> } {
  const dotenv = readDotenv(path.join(inputs.cwd, '.env'));
  const cfg = readConfigFile(inputs);
  const raw = section ? (cfg.data[section] ?? {}) : cfg.data;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw usageError('E_CONFIG', `${cfg.file}: expected "${section}" to be an object of settings but received ${JSON.stringify(raw)}`, { where: { file: cfg.file, field: section } });
  }
  const cfgData = raw as Record<string, unknown>;
  // The top level also holds the sections; a section holds its settings and `extraKeys` (e.g. sources).
  const known = [...Object.values(specs).map((s) => s.name), ...extraKeys, ...(section ? [] : CONFIG_SECTIONS)];
  checkConfigKeys(cfgData, known, cfg.file, section ?? '');
  const out = {} as Record<string, Resolved<unknown>>;
  for (const [key, spec] of Object.entries(specs)) {
    const flag = inputs.flags[spec.name];
    if (flag !== undefined) {
      out[key] = { value: spec.parse(flag, `flag --${kebab(spec.name)}`), source: 'flag', from: `--${kebab(spec.name)}` };
      continue;
    }
    const envName = spec.env.find((n) => inputs.env[n] !== undefined && inputs.env[n] !== '');
    if (envName) {
      out[key] = { value: spec.parse(inputs.env[envName], `environment ${envName}`), source: 'env', from: envName };
      continue;
    }
    const dotName = spec.env.find((n) => dotenv[n] !== undefined && dotenv[n] !== '');
    if (dotName) {
      out[key] = { value: spec.parse(dotenv[dotName], `.env ${dotName}`), source: 'dotenv', from: `.env:${dotName}` };
      continue;
    }
    if (cfgData[spec.name] !== undefined) {
      out[key] = { value: spec.parse(cfgData[spec.name], `${cfg.file} ${spec.name}`), source: 'config', from: `${path.basename(cfg.file ?? '')}:${spec.name}` };
      continue;
    }
    out[key] = { value: spec.default, source: 'default', from: 'default' };
  }
  return out as { [K in keyof S]: Resolved<S[K]['default']> };
}

/** Values of a resolution without their sources. */
export function valuesOf<T extends Record<string, Resolved<unknown>>>(r: T): { [K in keyof T]: T[K]['value'] } {
  const out = {} as Record<string, unknown>;
  for (const [k, v] of Object.entries(r)) out[k] = v.value;
  return out as { [K in keyof T]: T[K]['value'] };
}

/** `name=value (source)` lines for logging, secrets masked. */
export function describeSettings(r: Record<string, Resolved<unknown>>, specs: Record<string, SettingSpec<unknown>>): string[] {
  return Object.entries(r).map(([k, v]) => {
    const shown = specs[k]?.secret ? maskSecrets(String(v.value)) : String(v.value);
    return `${k}=${shown} (${v.source}${v.source === 'default' ? '' : ': ' + v.from})`;
  });
}

/**
 * Read an environment variable with `.env` as fallback (flags and config file do not apply):
 * used for credentials such as `MLFLOW_TRACKING_TOKEN` or database passwords.
 */
export function envValue(name: string, env: Record<string, string | undefined> = process.env, cwd = process.cwd()): string | undefined {
  const v = env[name];
  if (v !== undefined && v !== '') return v;
  return readDotenv(path.join(cwd, '.env'))[name];
}

function kebab(s: string): string {
  return s.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}
