/**
 * The rules file: the old pipeline's per-meter quirks as data (YAML), see `data/rules.yaml`.
 *
 * ```yaml
 * version: 1
 * bogusYears: [1970, 2040]          # record years treated as broken meter clocks (all sources)
 * sources:
 *   oldmongo:                        # one section per registered source (SOURCE_NAMES in sources.ts)
 *     start: 2019-01-01T00:00:00Z    # per-source start date (records before are dropped)
 *     end:   2030-01-01T00:00:00Z    # optional per-source end date
 *     excludeMeters: [BBB6179]       # meters skipped by this source
 *     rules:                         # entries applied in order to the meters they list
 *       - meters: [SYN0001, BBB6017]
 *         scale:                     # register scale corrections, in order
 *           - {factor: 1000, before: 2019-05-14T10:00:00Z}
 *           - {factor: 2, below: 3.0e8}                   # by threshold on the import register
 *           - {divide: 60000, before: 2019-05-30T11:00:00Z}  # divide instead of multiply
 *           - {factor: 0.5, before: ..., registers: ini}  # ini | end | all (default all)
 *         dropBefore: 2019-04-29T13:00:00Z
 *         dropAfter: 2023-04-29T13:00:00Z
 *         dropRegisterBelow: 1000    # drop records whose import register is below (after scaling)
 *         zeroFillHours: [0, 1, 2]   # local hours whose missing slots become 0
 *         exclude: false
 * harmonize:
 *   excludeMeters: [BBB6179, BBB6169]
 * ```
 * Merging for one meter: entries are applied in file order; scalar fields of a later entry
 * override earlier ones; `scale` lists concatenate. The per-source `start` is the default
 * `dropBefore`; a meter's own `dropBefore` wins. Times are ISO 8601 (a bare date = 00:00 UTC;
 * naive times are UTC).
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { inputError } from '../errors.js';
import { parseTimestamp } from './time.js';
import { SOURCE_NAMES, type SourceName } from './sources.js';
import type { MeterRules, ScaleStep } from './types.js';

/** The sources a rules file may configure: every registered source (see sources.ts). */
export const RULE_SOURCES: readonly SourceName[] = SOURCE_NAMES;
/** A source name of the rules file. */
export type RuleSource = SourceName;

/** One rules entry (after validation; instants in ms UTC). */
export interface RuleEntry extends MeterRules {
  /** Meters the entry applies to; `*` matches every meter. */
  meters: string[];
}

/** The rules of one source. */
export interface SourceRules {
  start?: number;
  end?: number;
  excludeMeters: string[];
  rules: RuleEntry[];
}

/** A parsed, validated rules file. */
export interface RulesFile {
  /** Where it was read from ('' for built in / empty). */
  file: string;
  bogusYears?: number[];
  sources: Partial<Record<RuleSource, SourceRules>>;
  harmonize: { excludeMeters: string[] };
}

/** A rules file with no rules. */
export function emptyRules(): RulesFile {
  return { file: '', sources: {}, harmonize: { excludeMeters: [] } };
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Validate a parsed YAML document as a rules file.
 * @param file used in messages only
 * @throws LpclustError E_RULES with the path of the offending key
 */
export function parseRules(doc: unknown, file: string): RulesFile {
  const fail = (path: string, expected: string, found: unknown): never => {
    throw inputError('E_RULES', `${file}: at \`${path}\` expected ${expected} but found ${JSON.stringify(found) ?? String(found)}`, {
      hint: 'see data/rules.yaml for the format',
      where: { file, field: path },
    });
  };
  const out = emptyRules();
  out.file = file;
  if (doc === null || doc === undefined) return out;
  if (!isObj(doc)) fail('(top)', 'a mapping', doc);
  const d = doc as Obj;
  for (const k of Object.keys(d)) if (!['version', 'bogusYears', 'sources', 'harmonize'].includes(k)) fail(k, 'one of version, bogusYears, sources, harmonize', k);
  if (d.version !== undefined && d.version !== 1) fail('version', '1', d.version);
  const time = (path: string, v: unknown): number => {
    const s = v instanceof Date ? v.toISOString() : typeof v === 'string' ? v : undefined;
    const ms = s === undefined ? NaN : parseTimestamp(s);
    if (Number.isNaN(ms)) fail(path, 'an ISO 8601 time such as 2019-05-14T10:00:00Z', v);
    return ms;
  };
  const num = (path: string, v: unknown): number => {
    if (typeof v !== 'number' || !Number.isFinite(v)) fail(path, 'a number', v);
    return v as number;
  };
  const strList = (path: string, v: unknown): string[] => {
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' || typeof x === 'number')) fail(path, 'a list of meter ids', v);
    return (v as unknown[]).map(String);
  };
  if (d.bogusYears !== undefined) {
    if (!Array.isArray(d.bogusYears)) fail('bogusYears', 'a list of years', d.bogusYears);
    out.bogusYears = (d.bogusYears as unknown[]).map((y, i) => num(`bogusYears[${i}]`, y));
  }
  if (d.harmonize !== undefined) {
    if (!isObj(d.harmonize)) fail('harmonize', 'a mapping', d.harmonize);
    const h = d.harmonize as Obj;
    if (h.excludeMeters !== undefined) out.harmonize.excludeMeters = strList('harmonize.excludeMeters', h.excludeMeters);
  }
  if (d.sources !== undefined) {
    if (!isObj(d.sources)) fail('sources', 'a mapping', d.sources);
    for (const [name, sv] of Object.entries(d.sources as Obj)) {
      const p = `sources.${name}`;
      if (!(RULE_SOURCES as readonly string[]).includes(name)) fail(p, `a source name (${RULE_SOURCES.join(', ')})`, name);
      if (!isObj(sv)) fail(p, 'a mapping', sv);
      const s = sv as Obj;
      const sr: SourceRules = { excludeMeters: [], rules: [] };
      for (const k of Object.keys(s)) if (!['start', 'end', 'excludeMeters', 'rules'].includes(k)) fail(`${p}.${k}`, 'one of start, end, excludeMeters, rules', k);
      if (s.start !== undefined) sr.start = time(`${p}.start`, s.start);
      if (s.end !== undefined) sr.end = time(`${p}.end`, s.end);
      if (s.excludeMeters !== undefined) sr.excludeMeters = strList(`${p}.excludeMeters`, s.excludeMeters);
      if (s.rules !== undefined) {
        if (!Array.isArray(s.rules)) fail(`${p}.rules`, 'a list of entries', s.rules);
        (s.rules as unknown[]).forEach((ev, i) => {
          const ep = `${p}.rules[${i}]`;
          if (!isObj(ev)) fail(ep, 'a mapping', ev);
          const e = ev as Obj;
          const allowed = ['meters', 'scale', 'dropBefore', 'dropAfter', 'dropRegisterBelow', 'zeroFillHours', 'exclude', 'note'];
          for (const k of Object.keys(e)) if (!allowed.includes(k)) fail(`${ep}.${k}`, `one of ${allowed.join(', ')}`, k);
          const entry: RuleEntry = { meters: strList(`${ep}.meters`, e.meters) };
          if (e.scale !== undefined) {
            if (!Array.isArray(e.scale)) fail(`${ep}.scale`, 'a list of steps', e.scale);
            entry.scale = (e.scale as unknown[]).map((stv, j) => {
              const sp = `${ep}.scale[${j}]`;
              if (!isObj(stv)) fail(sp, 'a mapping with factor', stv);
              const st = stv as Obj;
              for (const k of Object.keys(st)) if (!['factor', 'divide', 'before', 'after', 'above', 'below', 'registers'].includes(k)) fail(`${sp}.${k}`, 'one of factor, divide, before, after, above, below, registers', k);
              if ((st.factor === undefined) === (st.divide === undefined)) fail(sp, 'exactly one of factor (multiply) or divide', st);
              let step: ScaleStep;
              if (st.divide !== undefined) {
                const dv = num(`${sp}.divide`, st.divide);
                if (!(dv > 0)) fail(`${sp}.divide`, 'a positive number', st.divide);
                step = { factor: 1 / dv, divisor: dv };
              } else {
                step = { factor: num(`${sp}.factor`, st.factor) };
                if (!(step.factor > 0)) fail(`${sp}.factor`, 'a positive number', st.factor);
              }
              if (st.before !== undefined) step.before = time(`${sp}.before`, st.before);
              if (st.after !== undefined) step.after = time(`${sp}.after`, st.after);
              if (st.above !== undefined) step.above = num(`${sp}.above`, st.above);
              if (st.below !== undefined) step.below = num(`${sp}.below`, st.below);
              if (st.registers !== undefined) {
                if (st.registers !== 'all' && st.registers !== 'ini' && st.registers !== 'end') fail(`${sp}.registers`, 'all, ini or end', st.registers);
                step.registers = st.registers as ScaleStep['registers'];
              }
              return step;
            });
          }
          if (e.dropBefore !== undefined) entry.dropBefore = time(`${ep}.dropBefore`, e.dropBefore);
          if (e.dropAfter !== undefined) entry.dropAfter = time(`${ep}.dropAfter`, e.dropAfter);
          if (e.dropRegisterBelow !== undefined) entry.dropRegisterBelow = num(`${ep}.dropRegisterBelow`, e.dropRegisterBelow);
          if (e.zeroFillHours !== undefined) {
            if (!Array.isArray(e.zeroFillHours) || !e.zeroFillHours.every((h) => Number.isInteger(h) && (h as number) >= 0 && (h as number) <= 23)) {
              fail(`${ep}.zeroFillHours`, 'a list of hours 0–23', e.zeroFillHours);
            }
            entry.zeroFillHours = e.zeroFillHours as number[];
          }
          if (e.exclude !== undefined) {
            if (typeof e.exclude !== 'boolean') fail(`${ep}.exclude`, 'true or false', e.exclude);
            entry.exclude = e.exclude as boolean;
          }
          sr.rules.push(entry);
        });
      }
      out.sources[name as RuleSource] = sr;
    }
  }
  return out;
}

/**
 * Read and validate a rules file.
 * @throws LpclustError E_INPUT_MISSING (no file), E_RULES (invalid YAML or content)
 */
export async function loadRules(file: string): Promise<RulesFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw inputError('E_INPUT_MISSING', `cannot read rules file ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`, {
      where: { file },
      cause: e,
    });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw inputError('E_RULES', `${file}: not valid YAML: ${(e as Error).message.split('\n')[0]}`, { where: { file }, cause: e });
  }
  return parseRules(doc, file);
}

/**
 * The merged rules of one meter in one source (see the module comment for the merge order).
 * `exclude` is true when the source lists the meter in `excludeMeters` or an entry says so.
 */
export function rulesFor(rules: RulesFile, source: RuleSource, meter: string): MeterRules {
  const s = rules.sources[source];
  const out: MeterRules = {};
  if (s === undefined) return out;
  if (s.start !== undefined) out.dropBefore = s.start;
  if (s.end !== undefined) out.dropAfter = s.end;
  if (s.excludeMeters.includes(meter)) out.exclude = true;
  for (const e of s.rules) {
    if (!e.meters.includes(meter) && !e.meters.includes('*')) continue;
    if (e.scale !== undefined) out.scale = [...(out.scale ?? []), ...e.scale];
    if (e.dropBefore !== undefined) out.dropBefore = e.dropBefore;
    if (e.dropAfter !== undefined) out.dropAfter = e.dropAfter;
    if (e.dropRegisterBelow !== undefined) out.dropRegisterBelow = e.dropRegisterBelow;
    if (e.zeroFillHours !== undefined) out.zeroFillHours = e.zeroFillHours;
    if (e.exclude !== undefined) out.exclude = e.exclude;
  }
  return out;
}
