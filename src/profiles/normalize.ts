/**
 * Row normalisation applied before DTW and clustering, and the digest that ties a DTW matrix to
 * the exact data it was computed from.
 */
import { createHash } from 'node:crypto';
import { inputError } from '../errors.js';

/** How rows are normalised: `l2` (unit Euclidean norm, the old pipeline's), `zscore` or `none`. */
export type Normalization = 'l2' | 'zscore' | 'none';

/** All normalisations, for option parsing. */
export const NORMALIZATIONS: readonly Normalization[] = ['l2', 'zscore', 'none'];

/**
 * Normalise each row of an n × L row-major matrix into a new array.
 * An all-zero row (l2) or a constant row (zscore) cannot be normalised: it is an error naming the
 * row, unless `labels` is omitted, in which case the row number is named.
 * @param values n × L values, row-major
 * @param L slots per row
 * @param labels optional `id date` text of each row, for error messages
 * @param options `shared`: the result lives on a SharedArrayBuffer (same values); `float32`: a
 *   Float32Array (sampled mode), each value computed in float64 and rounded once
 */
export function normalizeRows(
  values: Float64Array,
  L: number,
  method: Normalization,
  labels?: (i: number) => string,
  options?: { shared?: boolean; float32?: false },
): Float64Array;
export function normalizeRows(values: Float64Array, L: number, method: Normalization, labels: ((i: number) => string) | undefined, options: { shared?: boolean; float32: true }): Float32Array;
export function normalizeRows(values: Float64Array, L: number, method: Normalization, labels?: (i: number) => string, options?: { shared?: boolean; float32?: boolean }): Float32Array | Float64Array;
export function normalizeRows(
  values: Float64Array,
  L: number,
  method: Normalization,
  labels?: (i: number) => string,
  options: { shared?: boolean; float32?: boolean } = {},
): Float32Array | Float64Array {
  // Shared: on a SharedArrayBuffer, which worker threads read without a copy (dtw/assign.ts).
  // float32 (sampled mode's profiles): each value computed in float64 as below, rounded once when stored.
  const bytes = (options.float32 ? 4 : 8) * values.length;
  const buffer = options.shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
  const out = options.float32 ? new Float32Array(buffer) : new Float64Array(buffer);
  // l2 and zscore write every element below: only `none` needs the copy.
  if (method === 'none') {
    out.set(values);
    return out;
  }
  const n = values.length / L;
  for (let i = 0; i < n; i++) {
    const base = i * L;
    if (method === 'l2') {
      let ss = 0;
      for (let j = 0; j < L; j++) ss += values[base + j] * values[base + j];
      const norm = Math.sqrt(ss);
      if (!Number.isFinite(norm)) throw degenerate(i, tooLarge(values, base, L), labels, 'check the units and the source data');
      if (!(norm > 0)) {
        throw degenerate(i, 'an all-zero profile has no L2 norm', labels,
          'drop all-zero days with `lpclust harmonize` (it drops them unless given --keep-zero-days; the pipeline drops them too), or choose --normalize none');
      }
      for (let j = 0; j < L; j++) out[base + j] = values[base + j] / norm;
    } else {
      let mean = 0;
      for (let j = 0; j < L; j++) mean += values[base + j];
      mean /= L;
      let ss = 0;
      for (let j = 0; j < L; j++) ss += (values[base + j] - mean) ** 2;
      const sd = Math.sqrt(ss / L);
      if (!Number.isFinite(sd)) throw degenerate(i, tooLarge(values, base, L), labels, 'check the units and the source data');
      if (!(sd > 0)) {
        throw degenerate(i, 'a constant profile has no standard deviation', labels, 'choose --normalize l2 (a constant non-zero day has an L2 norm) or --normalize none');
      }
      for (let j = 0; j < L; j++) out[base + j] = (values[base + j] - mean) / sd;
    }
  }
  return out;
}

/** Why a row's norm overflowed: its largest value, with its slot index. */
function tooLarge(values: Float64Array, base: number, L: number): string {
  let j = 0;
  for (let t = 1; t < L; t++) if (!(Math.abs(values[base + t]) <= Math.abs(values[base + j]))) j = t;
  return `its values are too large to normalise (${values[base + j]} in slot ${j + 1} of ${L}; the sum of squares overflows double precision)`;
}

function degenerate(i: number, why: string, labels: ((i: number) => string) | undefined, hint: string): Error {
  const who = labels ? labels(i) : `row ${i + 1}`;
  const overflow = why.startsWith('its values are too large');
  return inputError(overflow ? 'E_INPUT_RANGE' : 'E_DEGENERATE_PROFILE', `cannot normalise ${who}: ${why}`, { hint });
}

/**
 * SHA-256 (hex) of a matrix's bytes (float64, or float32: sampled mode's profiles) little-endian
 * plus its element type and shape; identifies data exactly.
 */
export function matrixDigest(values: Float32Array | Float64Array, L: number): string {
  const h = createHash('sha256');
  h.update(`${values instanceof Float32Array ? 'float32' : 'float64'} ${values.length / L}x${L}\n`);
  h.update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  return h.digest('hex');
}
