/**
 * MLflow's file-store text formats, shared by the FileStore, its registry, the batch checks and the
 * model artifact: Python's float text for metric values, PyYAML-compatible meta.yaml, MLflow's
 * rules for param/metric/tag names, and file-access errors that name the file. Its own module so
 * that those importers do not import the FileStore (nor each other) for them.
 */
import YAML from 'yaml';
import { externalError, inputError, isLpclustError, usageError } from '../errors.js';
import { LIMITS } from './store.js';

/**
 * Python's `repr(float)` text of a number, as MLflow writes metric values: `0.9`, `3.0`, `1e+21`,
 * `1e-05`, `nan`, `inf`, `-inf`, `-0.0`.
 */
export function pythonFloat(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  // toExponential() without digits gives the shortest round-trip digits, as Python's repr does.
  const [mant, expText] = Math.abs(x).toExponential().split('e');
  const digits = mant.replace('.', '');
  const exp = Number(expText);
  if (exp >= -4 && exp < 16) {
    if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
    const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
    const frac = digits.slice(exp + 1);
    return `${sign}${intPart}.${frac === '' ? '0' : frac}`;
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const e = Math.abs(exp).toString().padStart(2, '0');
  return `${sign}${m}e${exp < 0 ? '-' : '+'}${e}`;
}

/** Parse a metric value as MLflow's reader does (Python float text, also NaN/Infinity). */
export function parseMetricValue(text: string): number {
  switch (text.trim().toLowerCase()) {
    case 'nan':
    case '-nan':
    case '+nan':
      return NaN;
    case 'inf':
    case '+inf':
    case 'infinity':
    case '+infinity':
      return Infinity;
    case '-inf':
    case '-infinity':
      return -Infinity;
  }
  const v = Number(text);
  if (text.trim() === '' || Number.isNaN(v)) throw new Error(`not a number: ${JSON.stringify(text)}`);
  return v;
}

/**
 * Check a param, metric or tag key as MLflow does: letters, digits, `_ - . space /`, no `..`,
 * no `//`, no leading or trailing `/`, at most {@link LIMITS.keyLength} characters.
 * @throws LpclustError E_TRACKING_KEY
 */
export function validateKey(kind: 'param' | 'metric' | 'tag', key: string): void {
  const bad = (why: string): never => {
    throw usageError('E_TRACKING_KEY', `invalid ${kind} name ${JSON.stringify(key)}: ${why}`, {
      hint: 'names may hold letters, digits, _ - . space and / (as a folder separator)',
    });
  };
  if (typeof key !== 'string' || key === '') bad('expected a non-empty name');
  if (key.length > LIMITS.keyLength) bad(`expected at most ${LIMITS.keyLength} characters, found ${key.length}`);
  if (!/^[\p{L}\p{N}_\-. /]+$/u.test(key)) bad('it contains a character other than letters, digits, _ - . space /');
  if (key.includes('..')) bad('it contains ".."');
  if (key.includes('//')) bad('it contains "//"');
  if (key.startsWith('/')) bad('it starts with "/"');
  if (key.endsWith('/')) bad('it ends with "/"');
  if (key.split('/').some((s) => s === '.')) bad('it has a "." path segment');
}

/** Sorted-key YAML as PyYAML's `safe_dump` writes it (YAML 1.1 quoting, single quotes, no folding). */
export function dumpYaml(obj: Record<string, unknown>): string {
  const sorted: Record<string, unknown> = {};
  for (const k of Object.keys(obj).sort()) sorted[k] = obj[k];
  return YAML.stringify(sorted, { version: '1.1', singleQuote: true, lineWidth: 0 });
}

/** Parse a meta.yaml (YAML 1.1, as PyYAML reads it). @throws LpclustError E_TRACKING_META */
export function parseYaml(text: string, file: string): Record<string, unknown> {
  try {
    const v = YAML.parse(text, { version: '1.1' }) as unknown;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('expected a mapping');
    return v as Record<string, unknown>;
  } catch (e) {
    throw inputError('E_TRACKING_META', `${file} is not a valid meta.yaml: ${(e as Error).message}`, { where: { file } });
  }
}

/** A file-system error as an lpclust error naming the file (lpclust errors pass through). */
export function ioError(what: string, file: string, e: unknown): Error {
  if (isLpclustError(e)) return e;
  const err = e as NodeJS.ErrnoException;
  const why = err?.code === 'ENOSPC' ? 'the disk is full' : (err?.message ?? String(e));
  return externalError('E_TRACKING_IO', `cannot ${what} ${file}: ${why}`, {
    hint: 'check free space and permissions of the tracking store directory',
    cause: e,
    where: { file },
  });
}

/** True for a missing file or folder (also a file where a folder was expected). */
export function isNotFound(e: unknown): boolean {
  const c = (e as NodeJS.ErrnoException)?.code;
  return c === 'ENOENT' || c === 'ENOTDIR';
}
