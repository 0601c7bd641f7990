/**
 * One parser per kind of option value, shared by every command (issue 13). A value comes from a
 * flag (a text), an environment variable or `.env` (a text) or the config file (a JSON value); a
 * wrong value is always `E_USAGE_VALUE`, with a message naming the flag (and, when it did not come
 * from the command line, the variable or config key), what was expected and what was received.
 *
 * Light on purpose (start-up time): only the error type and the light library parsers are imported.
 */
import { usageError } from '../errors.js';
import { parseMemoryBudget } from '../cluster/scale-choice.js';
import { parseMinClusterShare, parseSelect } from '../validate/metrics.js';
import { parseRadius } from '../dtw/settings.js';

/** The kinds of option values. */
export type ValueKind =
  | 'text'
  | 'path'
  | 'url'
  | 'switch'
  | 'posInt'
  | 'nonNegInt'
  | 'sampleSize'
  | 'k'
  | 'kOrRange'
  | 'kRange'
  | 'posNumber'
  | 'nonNegNumber'
  | 'share'
  | 'size'
  | 'choice'
  | 'list'
  | 'statusList'
  | 'intList'
  | 'radius'
  | 'minutes'
  | 'timezone'
  | 'day'
  | 'score'
  | 'port'
  | 'repeat';

/** What a parser is told about the value it parses. */
export interface ParseContext {
  /** The flag as typed, e.g. `--radius` or `-k`. */
  flag: string;
  /** Where the value came from when not the command line, e.g. `environment LPCLUST_WORKERS`. */
  where?: string;
  /** Allowed values of `choice` and `list`. */
  choices?: readonly string[];
}

/** `` `--radius` `` or `` `--radius` (environment LPCLUST_RADIUS) ``: the option as a message names it. */
export function optionLabel(c: ParseContext): string {
  return `\`${c.flag}\`${c.where ? ` (${c.where})` : ''}`;
}

function bad(what: string, raw: unknown, c: ParseContext, hint?: string) {
  const shown = typeof raw === 'string' ? raw : JSON.stringify(raw);
  return usageError('E_USAGE_VALUE', `Expected ${what} for ${optionLabel(c)} but received \`${shown}\``, hint ? { hint } : undefined);
}

/** The text of a raw value; JSON numbers and booleans of the config file become their text. */
function text(raw: unknown, c: ParseContext, what: string): string {
  if (typeof raw === 'string') return raw;
  if (typeof raw === 'number' || typeof raw === 'boolean') return String(raw);
  throw bad(what, raw, c);
}

/** A decimal integer ≥ `min` (no sign, exponent, fraction or hexadecimal). */
function integer(raw: unknown, c: ParseContext, min: number, what: string): number {
  const s = text(raw, c, what).trim();
  const v = Number(s);
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(v) || v < min) throw bad(what, raw, c);
  return v;
}

/** A finite decimal number (`2`, `0.25`, `.5`), > 0 or ≥ 0. */
function decimal(raw: unknown, c: ParseContext, positive: boolean, what: string): number {
  const s = text(raw, c, what).trim();
  const v = Number(s);
  if (s === '' || !/^(\d+(\.\d*)?|\.\d+)$/.test(s) || !Number.isFinite(v) || (positive ? v <= 0 : v < 0)) throw bad(what, raw, c);
  return v;
}

function splitList(raw: unknown, c: ParseContext, what: string): string[] {
  const items = text(raw, c, what)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0) throw bad(what, raw, c);
  return items;
}

/** `a..b` with 2 ≤ a ≤ b. */
export function parseKRangeText(raw: unknown, c: ParseContext): [number, number] {
  const what = 'a k range a..b with 2 ≤ a ≤ b';
  const m = /^\s*(\d+)\s*\.\.\s*(\d+)\s*$/.exec(text(raw, c, what));
  const a = m ? Number(m[1]) : Number.NaN;
  const b = m ? Number(m[2]) : Number.NaN;
  if (!m || a < 2 || b < a) throw bad(what, raw, c);
  return [a, b];
}

const RUN_STATUSES = ['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED'] as const;

/** Parse `raw` as a value of `kind`; throws `E_USAGE_VALUE` naming the option. */
export function parseValue(kind: ValueKind, raw: unknown, c: ParseContext): unknown {
  switch (kind) {
    case 'text':
    case 'path': {
      const what = kind === 'path' ? 'a path' : 'a non-empty text';
      const s = text(raw, c, what);
      if (s === '') throw bad(what, raw, c);
      return s;
    }
    case 'url': {
      const s = text(raw, c, 'a URL');
      if (!/^[a-z][a-z0-9+.-]*:\/\/./i.test(s)) throw bad('a URL such as redis://host:6379/0', raw, c);
      return s;
    }
    case 'switch': {
      if (typeof raw === 'boolean') return raw;
      const s = text(raw, c, 'true or false').trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(s)) return true;
      if (['0', 'false', 'no', 'off'].includes(s)) return false;
      throw bad('true or false', raw, c);
    }
    case 'repeat':
      return Array.isArray(raw) ? raw.map((r) => parseValue('text', r, c)) : [parseValue('text', raw, c)];
    case 'posInt':
      return integer(raw, c, 1, 'a positive integer');
    case 'nonNegInt':
      return integer(raw, c, 0, 'a non-negative integer');
    case 'sampleSize':
      return integer(raw, c, 2, 'an integer ≥ 2');
    case 'port': {
      const v = integer(raw, c, 0, 'a port 0..65535');
      if (v > 65535) throw bad('a port 0..65535', raw, c);
      return v;
    }
    case 'k': {
      const v = integer(raw, c, 0, 'an integer k ≥ 2, or 0 to choose k');
      if (v === 1) throw usageError('E_USAGE_K', `Expected an integer k ≥ 2, or 0 to choose k, for ${optionLabel(c)} but received \`1\``);
      return v;
    }
    case 'kOrRange': {
      // The sweep's `-k 3..20` of earlier releases: kept for one release (the caller warns).
      if (/\.\./.test(text(raw, c, 'an integer k ≥ 2'))) return { range: parseKRangeText(raw, c), deprecated: true };
      const v = integer(raw, c, 2, 'an integer k ≥ 2');
      return { range: [v, v], deprecated: false };
    }
    case 'kRange':
      return parseKRangeText(raw, c);
    case 'posNumber':
      return decimal(raw, c, true, 'a positive number');
    case 'nonNegNumber':
      return decimal(raw, c, false, 'a non-negative number');
    case 'share':
      return parseMinClusterShare(raw, optionLabel(c).replace(/^`|`(?= \(|$)/g, ''));
    case 'size':
      return parseMemoryBudget(text(raw, c, 'a size such as 4G'), optionLabel(c).replace(/^`|`(?= \(|$)/g, ''));
    case 'score':
      return parseSelect(text(raw, c, 'a score'), optionLabel(c).replace(/^`|`(?= \(|$)/g, '')).key;
    case 'radius':
      return parseRadius(text(raw, c, 'a non-negative integer or none').trim(), optionLabel(c).replace(/^`|`(?= \(|$)/g, ''));
    case 'choice': {
      const allowed = c.choices ?? [];
      const s = text(raw, c, allowed.join('|'));
      if (!allowed.includes(s)) throw bad(allowed.join('|'), raw, c);
      return s;
    }
    case 'list': {
      const allowed = c.choices ?? [];
      const what = `a comma-separated list of ${allowed.join('|')}`;
      const items = splitList(raw, c, what);
      for (const i of items) if (!allowed.includes(i)) throw bad(what, i, c);
      return [...new Set(items)];
    }
    case 'statusList': {
      const what = `${RUN_STATUSES.join('|')} (comma-separated)`;
      return splitList(raw, c, what).map((part) => {
        const s = part.toUpperCase();
        if (!(RUN_STATUSES as readonly string[]).includes(s)) throw bad(what, part, c);
        return s;
      });
    }
    case 'intList': {
      const what = 'a comma-separated list of non-negative integers';
      const items = text(raw, c, what)
        .split(',')
        .map((s) => s.trim());
      if (items.some((s) => !/^\d+$/.test(s))) throw bad(what, raw, c);
      return [...new Set(items.map(Number))];
    }
    case 'minutes': {
      const v = integer(raw, c, 1, 'a positive integer');
      if (1440 % v !== 0) throw bad('a number of minutes that divides a day (15, 30, 60...)', raw, c);
      return v;
    }
    case 'timezone': {
      const z = text(raw, c, 'an IANA time zone');
      try {
        if (z === '') throw new RangeError('empty');
        new Intl.DateTimeFormat('en', { timeZone: z });
      } catch {
        throw bad('an IANA time zone', raw, c, 'a name of the IANA time zone database, e.g. UTC, Europe/Rome, Australia/Sydney');
      }
      return z;
    }
    case 'day': {
      const s = text(raw, c, 'a day YYYY-MM-DD');
      const t = Date.parse(`${s}T00:00:00Z`);
      if (!/^\d{4}-\d{2}-\d{2}$/.test(s) || Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== s) throw bad('a day YYYY-MM-DD', raw, c);
      return s;
    }
  }
}
