/**
 * The full distance matrix of a sample of rows: what FasterCLARA runs FasterPAM on and what the
 * sampled silhouette is computed from. It lives with the DTW code (not in cluster/ or validate/)
 * so that both can use it without importing each other.
 */
import { dtwBlock } from './kernel.js';
import type { SeriesMatrix } from './kernel-js.js';

/**
 * The s × s distance matrix of the rows `idx` (banded DTW, radius 0 = Euclidean), both triangles
 * filled, in the rows' precision: float64 rows give a float64 matrix; float32 rows (sampled mode's
 * profiles) a float32 matrix accumulated in float32, the values the exact mode's float32 DTW matrix
 * holds for the same pairs (and the all-n assignment computes against medoids).
 * @param rows n × dim rows, row-major (only the sampled ones are read)
 * @param idx the s sampled row indices
 * @param radius Sakoe–Chiba radius in slots
 * @returns `{ n: s, data }`, data s × s row-major
 */
export function sampleMatrix(rows: { data: Float64Array; n: number; dim: number }, idx: Int32Array, radius: number): { n: number; data: Float64Array };
export function sampleMatrix(rows: { data: SeriesMatrix; n: number; dim: number }, idx: Int32Array, radius: number): { n: number; data: SeriesMatrix };
export function sampleMatrix(rows: { data: SeriesMatrix; n: number; dim: number }, idx: Int32Array, radius: number): { n: number; data: SeriesMatrix } {
  const { dim: L } = rows;
  const s = idx.length;
  const f32 = rows.data instanceof Float32Array;
  const S = f32 ? new Float32Array(s * L) : new Float64Array(s * L);
  for (let t = 0; t < s; t++) S.set(rows.data.subarray(idx[t] * L, (idx[t] + 1) * L), t * L);
  const D = f32 ? new Float32Array(s * s) : new Float64Array(s * s);
  dtwBlock(S, L, { r0: 0, r1: s, c0: 0, c1: s }, radius, D, { upper: true });
  for (let i = 0; i < s; i++) for (let j = 0; j < i; j++) D[i * s + j] = D[j * s + i];
  return { n: s, data: D };
}
