/**
 * The TypeScript DTW kernel: same semantics as {@link dtwNaive} (the definition in reference.ts),
 * computed only inside the Sakoe–Chiba band with two reused rows, and the same block contract as
 * the native kernel. Used with `--kernel js` and whenever the native addon cannot load.
 *
 * Precision: the float64 path accumulates in float64 and equals `dtwNaive` bit for bit. The
 * float32 path rounds every operation to float32 (Math.fround), exactly as the native float32 path
 * does in hardware, so the two kernels return identical float32 values.
 */

/** Element type of a kernel path. */
export type DtwPrecision = 'float32' | 'float64';

/** Rows × columns of the distance matrix a block call fills: rows [r0, r1), columns [c0, c1). */
export interface DtwBlock {
  r0: number;
  r1: number;
  c0: number;
  c1: number;
}

/** Series matrix: n × L values, row-major. */
export type SeriesMatrix = Float32Array | Float64Array;

/** The element type of a series matrix, as job data, worker data and file names spell it. */
export function dtypeOf(a: SeriesMatrix): DtwPrecision {
  return a instanceof Float32Array ? 'float32' : 'float64';
}

import { effectiveRadius } from './settings.js';

/** Reusable scratch rows (L + 1 entries each) so that many pairs allocate nothing. */
export class DtwScratch {
  prev: Float64Array;
  cur: Float64Array;
  constructor(L: number) {
    this.prev = new Float64Array(L + 1);
    this.cur = new Float64Array(L + 1);
  }
  ensure(L: number): void {
    if (this.prev.length < L + 1) {
      this.prev = new Float64Array(L + 1);
      this.cur = new Float64Array(L + 1);
    }
  }
}

const shared = new DtwScratch(128);

/**
 * Banded DTW of a[aOff .. aOff+L) against b[bOff .. bOff+L), float64 accumulation.
 * Rows are indexed by a, columns by b; column j lives at index j + 1 of the scratch rows so that
 * index 0 is the "column −1" border (always +∞ except the start cell's predecessor).
 */
function pair64(a: SeriesMatrix, aOff: number, b: SeriesMatrix, bOff: number, L: number, r: number, s: DtwScratch): number {
  let prev = s.prev;
  let cur = s.cur;
  prev.fill(Infinity, 0, L + 1);
  prev[0] = 0;
  for (let i = 0; i < L; i++) {
    const jlo = i - r > 0 ? i - r : 0;
    const jhi = i + r < L - 1 ? i + r : L - 1;
    const ai = a[aOff + i];
    cur[jlo] = Infinity;
    let left = Infinity;
    for (let j = jlo; j <= jhi; j++) {
      const d = ai - b[bOff + j];
      let m = prev[j] < prev[j + 1] ? prev[j] : prev[j + 1];
      if (left < m) m = left;
      left = d * d + m;
      cur[j + 1] = left;
    }
    if (jhi + 2 <= L) cur[jhi + 2] = Infinity;
    const t = prev;
    prev = cur;
    cur = t;
  }
  return Math.sqrt(prev[L]);
}

/** As {@link pair64} with every operation rounded to float32 (matches the native float32 path). */
function pair32(a: SeriesMatrix, aOff: number, b: SeriesMatrix, bOff: number, L: number, r: number, s: DtwScratch): number {
  const f = Math.fround;
  let prev = s.prev;
  let cur = s.cur;
  prev.fill(Infinity, 0, L + 1);
  prev[0] = 0;
  for (let i = 0; i < L; i++) {
    const jlo = i - r > 0 ? i - r : 0;
    const jhi = i + r < L - 1 ? i + r : L - 1;
    const ai = f(a[aOff + i]);
    cur[jlo] = Infinity;
    let left = Infinity;
    for (let j = jlo; j <= jhi; j++) {
      const d = f(ai - f(b[bOff + j]));
      let m = prev[j] < prev[j + 1] ? prev[j] : prev[j + 1];
      if (left < m) m = left;
      left = f(f(d * d) + m);
      cur[j + 1] = left;
    }
    if (jhi + 2 <= L) cur[jhi + 2] = Infinity;
    const t = prev;
    prev = cur;
    cur = t;
  }
  return f(Math.sqrt(prev[L]));
}

/**
 * DTW distance between two series of the same length L.
 * @param a series, length L
 * @param b series, length L
 * @param radius Sakoe–Chiba radius in slots (|i − j| ≤ radius); `Infinity` (default) for full DTW
 * @param precision `float64` (default) or `float32` (every operation rounded to float32)
 */
export function dtwDistanceJs(a: ArrayLike<number>, b: ArrayLike<number>, radius = Infinity, precision: DtwPrecision = 'float64'): number {
  const L = a.length;
  if (b.length !== L) throw new RangeError(`dtwDistance: series lengths differ (${L} and ${b.length})`);
  if (L === 0) return 0;
  shared.ensure(L);
  const A = a instanceof Float64Array || a instanceof Float32Array ? a : Float64Array.from(a);
  const B = b instanceof Float64Array || b instanceof Float32Array ? b : Float64Array.from(b);
  const r = effectiveRadius(radius, L);
  return precision === 'float32' ? pair32(A, 0, B, 0, L, r, shared) : pair64(A, 0, B, 0, L, r, shared);
}

/**
 * Fill the block {r0, r1, c0, c1} of the distance matrix of the n × L series matrix `data`
 * into the caller-owned `out`, (r1 − r0) × (c1 − c0) row-major: out[(i − r0)·(c1 − c0) + (j − c0)]
 * = DTW(row i, row j). With `upper`, only cells with j > i are computed (j = i gets 0, j < i is left
 * untouched); the row with the smaller index is always the first series, so a value never depends
 * on which block computed it.
 * @param data n × L series, row-major
 * @param L series length
 * @param radius band radius (`Infinity` for full DTW)
 * @param precision accumulation precision (see module doc)
 */
export function dtwBlockJs(
  data: SeriesMatrix,
  L: number,
  block: DtwBlock,
  radius: number,
  out: Float32Array | Float64Array,
  precision: DtwPrecision = out instanceof Float32Array ? 'float32' : 'float64',
  upper = false,
): void {
  const { r0, r1, c0, c1 } = block;
  const w = c1 - c0;
  const r = effectiveRadius(radius, L);
  const s = new DtwScratch(L);
  const pair = precision === 'float32' ? pair32 : pair64;
  for (let i = r0; i < r1; i++) {
    const o = (i - r0) * w - c0;
    for (let j = c0; j < c1; j++) {
      if (upper && j <= i) {
        if (j === i) out[o + j] = 0;
        continue;
      }
      out[o + j] = i <= j ? pair(data, i * L, data, j * L, L, r, s) : pair(data, j * L, data, i * L, L, r, s);
    }
  }
}

/**
 * Distances from each of the n series in `data` to each of the k series in `centres`
 * (one-to-many and series-vs-centres), into `out` n × k row-major (allocated when omitted).
 * The series is the first argument of DTW, the centre the second.
 */
export function dtwToManyJs(
  data: SeriesMatrix,
  centres: SeriesMatrix,
  L: number,
  radius: number,
  out?: Float64Array,
  precision: DtwPrecision = 'float64',
): Float64Array {
  const n = data.length / L;
  const k = centres.length / L;
  const res = out ?? new Float64Array(n * k);
  const r = effectiveRadius(radius, L);
  const s = new DtwScratch(L);
  const pair = precision === 'float32' ? pair32 : pair64;
  for (let i = 0; i < n; i++) for (let c = 0; c < k; c++) res[i * k + c] = pair(data, i * L, centres, c * L, L, r, s);
  return res;
}
