/**
 * The pipeline's sources from flags or from the config file's `pipeline.sources` object, read and
 * checked by the source registry (`etl/sources.ts`): each source's keys, which of them are paths
 * (relative to the config file, checked before any run starts), which are URIs that may not hold a
 * password in the file, and which flags stand for them. Errors name the config file and key (or
 * the flag) and say what was expected.
 */
import path from 'node:path';
import { usageError } from '../errors.js';
import { checkConfigKeys, readConfigFile } from '../config.js';
import { checkInputPath } from '../io/preflight.js';
import { isUri, SOURCE_NAMES, SOURCES, uriHasPassword, type SourceConfigs, type SourceKey, type SourceName } from '../etl/sources.js';

/**
 * Where each source's data comes from. Database URIs are never written in the config file with a
 * password: name an environment variable (or `.env` entry) holding the URI (`dbEnv`, `uriEnv`).
 */
export type PipelineSources = { [N in SourceName]?: Partial<SourceConfigs[N]> };

/** Source flag values as commander gives them (attribute name → value). */
export type SourceFlagValues = Record<string, unknown>;

/** How one key is named in messages: `--id-col` for a flag, `<file>: pipeline.sources.generic.idCol` for the config. */
type Namer = (source: SourceName, key: string) => string;

/**
 * Read one source's raw object (from the config file or from flags) into its configuration:
 * values checked against their kind, paths resolved against `base` and checked, required keys
 * present. `fail` builds the error for a value (`expected` says what was expected).
 */
function readSource(name: SourceName, raw: Record<string, unknown>, base: string, nameOf: Namer, fail: (key: string, expected: string, value: unknown) => Error, inConfig: boolean): Record<string, unknown> {
  const keys = SOURCES[name].keys as Record<string, SourceKey>;
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(keys)) {
    const v = raw[key];
    if (v === undefined) continue;
    if (spec.kind === 'boolean') {
      if (typeof v !== 'boolean') throw fail(key, 'true or false', v);
      out[key] = v;
      continue;
    }
    if (typeof v !== 'string' || v === '') throw fail(key, 'a non-empty text', v);
    if (spec.choices && !spec.choices.includes(v)) throw fail(key, spec.choices.join(' or '), v);
    if (spec.kind === 'zone' && !isZone(v)) throw fail(key, 'an IANA time zone (UTC, Europe/Rome...)', v);
    if ((spec.kind === 'db' || spec.kind === 'uri') && inConfig && uriHasPassword(v)) {
      throw usageError('E_CONFIG', `${nameOf(name, key)} holds a password; put the URI in an environment variable and name it in "${spec.envKey}"`);
    }
    const isPath = spec.kind === 'dir' || spec.kind === 'file' || (spec.kind === 'db' && !isUri(v));
    out[key] = isPath ? path.resolve(base, v) : v;
  }
  return out;
}

/** Whether a text names a time zone the runtime knows. */
function isZone(z: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: z });
    return true;
  } catch {
    return false;
  }
}

/** Check that the files and folders a source names exist and can be read (named by `nameOf`). */
function checkPaths(name: SourceName, c: Record<string, unknown>, nameOf: Namer): void {
  for (const [key, spec] of Object.entries(SOURCES[name].keys as Record<string, SourceKey>)) {
    const v = c[key];
    if (typeof v !== 'string') continue;
    if (spec.kind === 'dir' || spec.kind === 'file') checkInputPath(v, nameOf(name, key), spec.kind);
    else if (spec.kind === 'db' && !isUri(v)) checkInputPath(v, nameOf(name, key), 'file');
  }
}

/** A required key missing: the first one, or null. */
function missingKey(name: SourceName, c: Record<string, unknown>): string | null {
  for (const [key, spec] of Object.entries(SOURCES[name].keys as Record<string, SourceKey>)) if (spec.required && c[key] === undefined) return key;
  return null;
}

/** The flag standing for a source's key (its first flag's long name for the key it sets). */
function flagOf(name: SourceName, key: string): string {
  const f = SOURCES[name].flags.find((x) => x.key === key);
  return f ? f.flags.split(' ')[0] : `${SOURCES[name].flags[0].flags.split(' ')[0]} (${key})`;
}

/**
 * The sources named by flags, as given (no value checked): the sources whose own flag
 * (`--oldmongo`, `--generic`…) is set, with the values of their flags.
 */
export function flagSources(flags: SourceFlagValues): PipelineSources {
  const out: Record<string, Record<string, unknown>> = {};
  for (const n of SOURCE_NAMES) {
    const first = SOURCES[n].flags[0];
    if (flags[first.attr] === undefined || flags[first.attr] === false) continue;
    const raw: Record<string, unknown> = {};
    for (const f of SOURCES[n].flags) if (flags[f.attr] !== undefined) raw[f.key] = flags[f.attr];
    out[n] = raw;
  }
  return out as PipelineSources;
}

/**
 * Sources from flags (`--oldmongo <dir>`, `--generic <csv> --id-col …`): paths absolute (against
 * `cwd`) and checked; null when no source flag is given.
 * @throws LpclustError E_USAGE_OPTION for a flag of a source given without the source's own flag,
 *   or a source without a flag it needs; E_USAGE_VALUE for a bad value; E_INPUT_MISSING for a path
 */
export function sourcesFromFlags(flags: SourceFlagValues, cwd = process.cwd()): PipelineSources | null {
  const named = flagSources(flags);
  const given = SOURCE_NAMES.filter((n) => named[n] !== undefined);
  for (const n of SOURCE_NAMES) {
    if (given.includes(n)) continue;
    const stray = SOURCES[n].flags.slice(1).find((f) => flags[f.attr] !== undefined);
    if (stray) throw usageError('E_USAGE_OPTION', `\`${stray.flags.split(' ')[0]}\` applies only with \`${SOURCES[n].flags[0].flags.split(' ')[0]}\``, { hint: `give ${SOURCES[n].flags[0].flags}, or drop ${stray.flags.split(' ')[0]}` });
  }
  if (given.length === 0) return null;
  const out: PipelineSources = {};
  for (const n of given) {
    const raw = named[n] as Record<string, unknown>;
    const fail = (key: string, expected: string, v: unknown): Error => usageError('E_USAGE_VALUE', `Expected ${expected} for \`${flagOf(n, key)}\` but received \`${String(v)}\``);
    const c = readSource(n, raw, cwd, flagOf, fail, false);
    const missing = missingKey(n, c);
    if (missing) throw usageError('E_USAGE_OPTION', `\`${flagOf(n, SOURCES[n].flags[0].key)}\` needs \`${flagOf(n, missing)}\``, { hint: `see lpclust etl ${n} --help for what each option means` });
    // Checked here to name the flag; absolute, so the params say which files were read.
    checkPaths(n, c, flagOf);
    (out as Record<string, unknown>)[n] = c;
  }
  return out;
}

/**
 * Sources from the config file's `pipeline.sources` object, paths resolved against the config
 * file's folder and checked; null when the file has no such object.
 * @throws LpclustError E_CONFIG / E_CONFIG_KEY naming the file and key and what was expected;
 *   E_INPUT_MISSING naming the file and key of a path that cannot be read
 */
export function sourcesFromConfig(file: string | undefined, raw: unknown, cwd = process.cwd()): { sources: PipelineSources; base: string } | null {
  if (raw === undefined) return null;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw usageError('E_CONFIG', `${file}: expected "pipeline.sources" to be an object {${SOURCE_NAMES.join(', ')}}`);
  const base = path.dirname(file ?? path.join(cwd, 'x'));
  const r = raw as Record<string, unknown>;
  checkConfigKeys(r, SOURCE_NAMES, file, 'pipeline.sources');
  for (const [k, v] of Object.entries(r)) {
    if (k.startsWith('$')) continue;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw usageError('E_CONFIG', `${file}: expected "pipeline.sources.${k}" to be an object, e.g. {"input": "data/${k}"}, but received ${JSON.stringify(v)}`);
    checkConfigKeys(v as Record<string, unknown>, Object.keys(SOURCES[k as SourceName].keys), file, `pipeline.sources.${k}`);
  }
  const keyOf: Namer = (n, key) => `${file}: pipeline.sources.${n}.${key}`;
  const sources: PipelineSources = {};
  const read: Array<[SourceName, Record<string, unknown>]> = [];
  for (const n of SOURCE_NAMES) {
    const v = r[n] as Record<string, unknown> | undefined;
    if (!v) continue;
    const fail = (key: string, expected: string, value: unknown): Error =>
      usageError('E_CONFIG', `${file}: expected ${expected} for pipeline.sources.${n}.${key} but received ${JSON.stringify(value)}`);
    const c = readSource(n, v, base, keyOf, fail, true);
    const missing = missingKey(n, c);
    // A source whose own input key is missing is "not configured" (e.g. an sql object with only a table), as before.
    if (missing && Object.keys(c).length > 0) throw usageError('E_CONFIG', `${file}: pipeline.sources.${n} needs "${missing}"`, { hint: `the keys of pipeline.sources.${n} are: ${Object.keys(SOURCES[n].keys).join(', ')}` });
    (sources as Record<string, unknown>)[n] = c;
    read.push([n, c]);
  }
  // Checked here to name the config file and key (a missing folder used to crash the ETL stage).
  for (const [n, c] of read) checkPaths(n, c, keyOf);
  return { sources, base };
}

/**
 * Sources from flags (they win) or the config's `pipeline.sources`, paths relative to the config
 * file; null = none configured.
 */
export function configuredSources(flags: SourceFlagValues, configFile: string | undefined, cwd = process.cwd()): { sources: PipelineSources; base: string } | null {
  const fromFlags = sourcesFromFlags(flags, cwd);
  if (fromFlags) return { sources: fromFlags, base: cwd };
  const cfg = readConfigFile({ cwd, configFile });
  const section = cfg.data.pipeline as Record<string, unknown> | undefined;
  return sourcesFromConfig(cfg.file, section?.sources, cwd);
}

/**
 * Check that the files and folders the sources name exist and can be read (databases and live
 * collections are reached only when their stage runs).
 * @throws LpclustError E_INPUT_MISSING naming the source key, the absolute path and the cause
 */
export function checkSourceInputs(sources: PipelineSources): void {
  for (const n of SOURCE_NAMES) {
    const c = sources[n];
    if (c) checkPaths(n, c as Record<string, unknown>, (s, key) => `source ${s}.${key} (${(SOURCES[s].keys as Record<string, SourceKey>)[key].what})`);
  }
}

/** The names of the sources given (configured with something), in run order. */
export function givenSources(sources: PipelineSources): SourceName[] {
  return SOURCE_NAMES.filter((n) => sources[n] !== undefined);
}
