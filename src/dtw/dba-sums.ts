/**
 * DTW k-means' barycentre sums (DBA, cluster/dba.ts) over chunks of rows: what the assignment pool's
 * worker threads compute for a DBA update, and how their chunk sums are added up.
 */
import type { BandedDtw } from './banded.js';
import type { SeriesMatrix } from './kernel-js.js';
import { loadNative } from './native.js';

/** Per-centre DBA sums over some rows: k × L sums and counts of aligned member values, k summed squared DTW costs. */
export interface DbaSums {
  sums: Float64Array;
  counts: Float64Array;
  cost: Float64Array;
}

/**
 * DBA sums of rows [r0, r1) of X: every row whose centre (labels[i − r0]) is `active` is aligned to
 * its centre and its values added along the warping path, in row order. In the native addon when it
 * loads (the same operations in the same order: identical sums), else with `dtw` in TypeScript.
 * @param native use the addon when it loads (default true; false: TypeScript, for tests)
 */
export function accumulateDbaChunk(X: SeriesMatrix, L: number, r0: number, r1: number, labels: Int32Array, centres: Float64Array, k: number, active: Uint8Array, dtw: BandedDtw, native = true): DbaSums {
  const out: DbaSums = { sums: new Float64Array(k * L), counts: new Float64Array(k * L), cost: new Float64Array(k) };
  const addon = native ? loadNative() : null;
  if (addon?.dbaAccumulate) {
    addon.dbaAccumulate(X, L, r0, r1, labels, centres.subarray(0, k * L), active, dtw.r, out.sums, out.counts, out.cost);
    return out;
  }
  for (let i = r0; i < r1; i++) {
    const c = labels[i - r0];
    if (!active[c]) continue;
    out.cost[c] += dtw.accumulate(X, i * L, centres, c * L, out.sums, out.counts, c * L);
  }
  return out;
}

/**
 * Add chunk sums in chunk order (the order fixes the rounding: the total does not depend on which
 * thread summed which chunk). With one chunk this is the row-order sum.
 */
export function reduceDbaSums(parts: DbaSums[]): DbaSums {
  const total: DbaSums = { sums: Float64Array.from(parts[0].sums), counts: Float64Array.from(parts[0].counts), cost: Float64Array.from(parts[0].cost) };
  for (let p = 1; p < parts.length; p++) {
    for (const key of ['sums', 'counts', 'cost'] as const) {
      const a = total[key];
      const b = parts[p][key];
      for (let i = 0; i < a.length; i++) a[i] += b[i];
    }
  }
  return total;
}

/**
 * DBA sums of all rows in this thread, by the same chunks of rows as the worker threads use.
 * @param chunkRows rows per chunk (the assignment pool's, ASSIGN_CHUNK_ROWS): fixes the rounding
 */
export function accumulateDba(X: SeriesMatrix, L: number, centres: Float64Array, k: number, labels: Int32Array, active: Uint8Array, dtw: BandedDtw, chunkRows: number): DbaSums {
  const n = labels.length;
  const parts: DbaSums[] = [];
  for (let r0 = 0; r0 < n; r0 += chunkRows) {
    const r1 = Math.min(n, r0 + chunkRows);
    parts.push(accumulateDbaChunk(X, L, r0, r1, labels.subarray(r0, r1), centres, k, active, dtw));
  }
  return reduceDbaSums(parts);
}

