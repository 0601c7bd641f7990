/**
 * The DTW settings value: the Sakoe–Chiba radius, the matrix dtype and the normalisation of the
 * series, with the one default radius, the one parser of a radius typed by a user, the one clamp
 * to a series length and the one pair of conversions to and from each stored form.
 *
 * A radius travels in three forms, and each is kept exactly as lpclust has always written it so
 * that params, sidecars and model artifacts stay byte-identical:
 * - in memory: an integer ≥ 0, or `Infinity` for no band (full DTW) — {@link Radius};
 * - MLflow params and command lines: the integer, or the string `none` — {@link radiusParam};
 * - JSON (matrix sidecars, checkpoints, tile heads, model artifacts): the integer, or `null` —
 *   {@link radiusJson}.
 *
 * The TypeScript side owns the rule: the native kernel (native/dtw_kernel.cc) receives a radius
 * already clamped by {@link effectiveRadius} and trusts it.
 */
import { usageError } from '../errors.js';
import type { NpyDtype } from '../io/npy.js';
import type { Normalization } from '../profiles/normalize.js';

/** Sakoe–Chiba radius in slots (|i − j| ≤ r): an integer ≥ 0, or {@link NO_BAND}. */
export type Radius = number;

/** The radius meaning "no band": full DTW. */
export const NO_BAND: Radius = Infinity;

/** Which kernel to use: `auto` (native when it loads, else TypeScript with one warning), `native` or `js`. */
export type KernelChoice = 'auto' | 'native' | 'js';

/** All kernel choices, for option parsing. */
export const KERNEL_CHOICES: readonly KernelChoice[] = ['auto', 'native', 'js'];

/** How a DTW matrix file holds its values: `full` n × n, or `condensed` (upper triangle, SciPy order). */
export type MatrixLayout = 'full' | 'condensed';

/** The layouts `lpclust dtw --layout` writes. */
export const MATRIX_LAYOUTS: readonly MatrixLayout[] = ['full', 'condensed'];

/**
 * Default radius, in slots: 1, the old Python pipeline's (dtaidistance `window=2`). The only place
 * the default is written.
 */
export const DEFAULT_RADIUS: Radius = 1;

/** A radius as an MLflow param or on a command line: the integer, or `none` for no band. */
export type RadiusParam = number | 'none';

/** A radius as JSON: the integer, or `null` for no band. */
export type RadiusJson = number | null;

/** Whether `r` is a valid {@link Radius}: an integer ≥ 0 or `Infinity`. */
export function isRadius(r: unknown): r is Radius {
  return r === NO_BAND || (typeof r === 'number' && Number.isInteger(r) && r >= 0);
}

/**
 * Check a radius given to the library: an integer ≥ 0 or `Infinity` (full DTW).
 * @param what the option's name, as the caller knows it (e.g. `radius`)
 * @throws LpclustError E_USAGE_RADIUS
 */
export function checkRadius(radius: number, what = 'radius'): Radius {
  if (isRadius(radius)) return radius;
  throw usageError('E_USAGE_RADIUS', `Expected a non-negative integer for \`${what}\` but received \`${radius}\``);
}

/**
 * Parse a radius typed by a user (flag, environment, config file): decimal digits (surrounding
 * blanks allowed) for a radius in slots, or `none` for full DTW. `0x10`, `1e1`, `1.0`, `-1` and the
 * empty string are refused: they are numbers to JavaScript but not radii a user means.
 * @param optionName the option as the user wrote it, named in the error (e.g. `--radius`)
 * @throws LpclustError E_USAGE_VALUE
 */
export function parseRadius(raw: string, optionName: string): Radius {
  const s = raw.trim();
  if (s === 'none') return NO_BAND;
  const v = Number(s);
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(v)) {
    throw usageError('E_USAGE_VALUE', `Expected a non-negative integer (slots) or \`none\` (full DTW) for \`${optionName}\` but received \`${raw}\``);
  }
  return v;
}

/** The MLflow param form of a radius: the integer, or `none` for full DTW. */
export function radiusParam(r: Radius): RadiusParam {
  return r === NO_BAND ? 'none' : r;
}

/**
 * A radius back from its param form (as logged, or as a fit's params hold it). Absent means the
 * default.
 * @throws LpclustError E_USAGE_VALUE for a string that is not a radius
 */
export function radiusFromParam(s: string | number | undefined): Radius {
  if (s === undefined) return DEFAULT_RADIUS;
  if (typeof s === 'number') return checkRadius(s);
  return parseRadius(s, 'radius');
}

/** The JSON form of a radius (sidecars, checkpoints, model artifacts): the integer, or `null`. */
export function radiusJson(r: Radius): RadiusJson {
  return r === NO_BAND ? null : r;
}

/** A radius back from its JSON form: `null` is full DTW. */
export function radiusFromJson(v: RadiusJson): Radius {
  return v === null ? NO_BAND : v;
}

/**
 * Band radius actually used for series of length L, in [0, L − 1]: `Infinity` (no band) and any
 * radius ≥ L − 1 both mean full DTW. The one clamp: every kernel (TypeScript, native, banded DBA,
 * envelopes) gets its radius from here.
 */
export function effectiveRadius(radius: Radius, L: number): number {
  return Math.max(0, Math.min(Math.floor(radius), L - 1));
}

/** What a DTW distance matrix is computed with. */
export interface DtwSettings {
  /** Sakoe–Chiba radius in slots, or `Infinity` for full DTW. */
  radius: Radius;
  /** Element type of the stored matrix (and the kernel's accumulation precision). */
  dtype: NpyDtype;
  /** How each profile was normalised before DTW. */
  normalization: Normalization;
}

/** Defaults of {@link DtwSettings}: radius 1, float32, L2-normalised profiles. */
export const DEFAULT_DTW_SETTINGS: Readonly<DtwSettings> = Object.freeze({ radius: DEFAULT_RADIUS, dtype: 'float32', normalization: 'l2' });

/** Settings with the defaults filled in. */
export function dtwSettings(s: Partial<DtwSettings> = {}): DtwSettings {
  return { radius: s.radius ?? DEFAULT_RADIUS, dtype: s.dtype ?? DEFAULT_DTW_SETTINGS.dtype, normalization: s.normalization ?? DEFAULT_DTW_SETTINGS.normalization };
}

/** The JSON form of {@link DtwSettings}, as a matrix sidecar holds it. */
export interface DtwSettingsJson {
  radius: RadiusJson;
  dtype: NpyDtype;
  normalization: Normalization;
}

/** The JSON form of DTW settings (the sidecar's `radius`, `dtype`, `normalization`). */
export function dtwSettingsJson(s: DtwSettings): DtwSettingsJson {
  return { radius: radiusJson(s.radius), dtype: s.dtype, normalization: s.normalization };
}

/** DTW settings back from their JSON form (e.g. a matrix sidecar). */
export function dtwSettingsFromJson(j: DtwSettingsJson): DtwSettings {
  return { radius: radiusFromJson(j.radius), dtype: j.dtype, normalization: j.normalization };
}

/**
 * The MLflow params of DTW settings: `<prefix>radius`, `<prefix>dtype`, `<prefix>normalization`
 * (e.g. `dtw_radius` with prefix `dtw_`, as harmonize and validate log them).
 */
export function dtwSettingsParams(s: DtwSettings, prefix = ''): Record<string, string | number> {
  return { [`${prefix}radius`]: radiusParam(s.radius), [`${prefix}dtype`]: s.dtype, [`${prefix}normalization`]: s.normalization };
}
