/**
 * Nearest-medoid assignment of many profiles under banded DTW, without any N × N matrix: every row
 * of X (n × L) gets its nearest (and optionally second-nearest) of k candidate series M (k × L),
 * with the exact distance. This is what scores a candidate medoid set on all N profiles (FasterCLARA,
 * cluster/clara.ts), assigns new days (`predict`) and gives the simplified silhouette.
 *
 * On the native kernel the whole chunk (bounds, exact DTW, selection) runs in the addon
 * (native/dtw_kernel.cc: LB_Kim joined with a segment-sum LB_Keogh, exact DTW one pair per SIMD
 * lane). On the TypeScript kernel exact DTW runs in batches: one block call per candidate with the
 * candidate as the block's row and the profiles as its columns. With pruning, lower bounds (LB_Kim,
 * LB_Keogh with the same band, bounds.ts) skip every exact DTW that cannot change the answer: pass A
 * computes the candidate(s) with the smallest bound, pass B only the candidates whose bound does not
 * already exceed the best distance found (the second best with `second`). Labels and distances are identical with and without pruning (the
 * bound is ≤ the distance, and a pruned candidate's distance is strictly larger than the kept one's,
 * so ties still go to the lowest index), and do not depend on how rows are split between worker
 * threads. Pruning is on by default only where it pays: see {@link AssignOptions.prune}.
 */
import { Worker } from 'node:worker_threads';
import { throwIfInterrupted } from '../util/interrupt.js';
import { workerEntry } from '../util/worker-entry.js';
import { envelopes, lbKeogh2, lbKim2, type Envelopes } from './bounds.js';
import { selectKernel, type DtwKernel, type KernelChoice } from './kernel.js';
import { dtypeOf, type SeriesMatrix } from './kernel-js.js';
import { effectiveRadius } from './settings.js';
import { BandedDtw } from './banded.js';
import { accumulateDba, reduceDbaSums, type DbaSums } from './dba-sums.js';

/** Options of an assignment. */
export interface AssignOptions {
  /** Also find the second-nearest candidate (simplified silhouette, FasterPAM-style bookkeeping). */
  second?: boolean;
  /**
   * Use the lower bounds: `true`, `false` (compute every one of the n·k distances) or `auto`
   * (default, see {@link prunes}): with the TypeScript kernel, and with the native assignment of
   * float64 or float32 profiles to their nearest candidate. Measured (bench/scale.ts --assign:
   * 3·10⁵ rows, 12 random rows as centres, L = 24, radius 1, CPU time of one thread, 68 % of the
   * exact DTW calls saved): the native nearest-only assignment takes 1.7× (float64) and 1.5×
   * (float32) less CPU with the bounds; with `second` (57 % saved) it breaks even on float64 and is
   * slower on float32, where the 8-lane exact DTW costs little more than its bookkeeping.
   */
  prune?: boolean | 'auto';
}

/** Result of an assignment of n rows to k candidates. */
export interface AssignResult {
  /** Index of the nearest candidate of every row (ties: lowest index); length n. */
  n1: Int32Array;
  /** DTW distance to it (square root of the summed squared differences, as the matrix holds). */
  d1: Float64Array;
  /** With `second`: the second-nearest candidate and its distance. */
  n2?: Int32Array;
  d2?: Float64Array;
  /** Exact DTW distances computed (n·k without pruning). */
  exactPairs: number;
}

/**
 * Relative slack of the bound test (≥ 1): rounding in the bound's and the kernel's sums must never
 * prune a candidate whose computed distance ties or beats the threshold. A float64 DTW of L slots
 * sums at most 2L − 1 cells, each rounded once or twice, so its relative error stays below
 * (2L + 8)·2⁻⁵³; float32 profiles accumulate in float32 (unit roundoff 2⁻²⁴), so the computed
 * distance of a pair is at least (1 − (2L + 8)·2⁻²⁴) times the exact DTW of the stored float32
 * values. The bound is computed in float64 from those same stored values (and the float32
 * candidates' own envelopes), so it is below that exact DTW but for float64 rounding (≈ 2⁻⁵⁰
 * relative). A candidate is pruned only when its bound exceeds the kept distance × this margin
 * (2L + 8)·2⁻²³: its computed distance is then still strictly larger than the kept one, so it could
 * never have been the nearest, nor won a tie (ties go to the lowest index).
 */
export function boundMargin(X: SeriesMatrix, L: number): number {
  return 1 + Math.max(1e-9, (2 * L + 8) * (X instanceof Float32Array ? 2 ** -23 : 2 ** -52));
}

/**
 * Whether an assignment prunes: `prune: true/false` as given; `auto` (the default) where it was
 * measured to pay (see {@link AssignOptions.prune}): the TypeScript kernel, and the native
 * assignment of float64 or float32 profiles to their nearest candidate only. Not with `second` on
 * the native kernel (the second-nearest needs a looser threshold: the bounds save fewer calls and at
 * best break even), nor an older addon without the native assignment.
 */
export function prunes(options: AssignOptions, kernel: DtwKernel): boolean {
  if (options.prune === true || options.prune === false) return options.prune;
  if (kernel.name === 'js') return true;
  return typeof kernel.assign === 'function' && !(options.second ?? false);
}

/**
 * The candidates in the profiles' element type, with envelopes of exactly those values. Float32
 * profiles are compared with float32 candidates (distances accumulate in float32, as the float32
 * DTW matrix does).
 */
function candidatesFor(X: SeriesMatrix, M: Float64Array, L: number, env: Envelopes, radius: number): { Mt: SeriesMatrix; env: Envelopes } {
  if (!(X instanceof Float32Array)) return { Mt: M, env };
  const Mt = Float32Array.from(M);
  let same = true;
  for (let i = 0; i < M.length && same; i++) same = Mt[i] === M[i];
  return { Mt, env: same ? env : envelopes(Float64Array.from(Mt), L, radius) };
}

/**
 * Assign rows [r0, r1) of X to the nearest of the candidates M; writes positions 0..r1−r0 of the
 * output arrays. Synchronous: the building block of {@link AssignPool} (one call per chunk). On the
 * native kernel the bounds, the exact DTW and the selection all run in the addon.
 * @param X n × L profiles, row-major (float64, or float32: then the candidates are rounded to float32
 *   and the distances accumulate in float32)
 * @param M k × L candidate series, row-major
 * @param env envelopes of M for this radius (from {@link envelopes}); only read when pruning
 * @returns the number of exact DTW distances computed
 */
export function assignChunk(
  X: SeriesMatrix,
  L: number,
  r0: number,
  r1: number,
  M: Float64Array,
  env: Envelopes,
  kernel: DtwKernel,
  radius: number,
  options: AssignOptions,
  out: { n1: Int32Array; d1: Float64Array; n2?: Int32Array; d2?: Float64Array },
): number {
  const k = M.length / L;
  const h = r1 - r0;
  const r = effectiveRadius(radius, L);
  const second = options.second ?? false;
  const prune = prunes(options, kernel);
  const c = candidatesFor(X, M, L, env, radius);
  if (kernel.assign) {
    return kernel.assign(X, c.Mt, L, r0, r1, r, c.env.upper, c.env.lower, second, prune, boundMargin(X, L), out.n1, out.d1, second ? out.n2! : null, second ? out.d2! : null);
  }
  const Mt = c.Mt;
  const dist = new Float64Array(h * k).fill(NaN);
  let exact = 0;
  if (!prune) {
    // Every distance, as the same block calls the pruned path makes (candidate as the row).
    const block = X instanceof Float32Array ? new Float32Array(h) : new Float64Array(h);
    for (let j = 0; j < k; j++) {
      kernel.block(Mt, X, L, { r0: j, r1: j + 1, c0: r0, c1: r1 }, r, block, false);
      for (let i = 0; i < h; i++) dist[i * k + j] = block[i];
    }
    exact = h * k;
  } else {
    const lb = new Float64Array(h * k);
    for (let i = 0; i < h; i++) {
      const qOff = (r0 + i) * L;
      for (let j = 0; j < k; j++) {
        const kim = lbKim2(X, qOff, Mt, j * L, L);
        const keogh = lbKeogh2(X, qOff, c.env, j);
        lb[i * k + j] = Math.sqrt(kim > keogh ? kim : keogh);
      }
    }
    // Pass A: the candidate(s) with the smallest bound (the likely winners).
    const want = new Uint8Array(h * k);
    const need = second && k > 1 ? 2 : 1;
    for (let i = 0; i < h; i++) {
      for (let t = 0; t < need; t++) {
        let b = -1;
        for (let j = 0; j < k; j++) if (!want[i * k + j] && (b < 0 || lb[i * k + j] < lb[i * k + b])) b = j;
        want[i * k + b] = 1;
      }
    }
    exact += computeWanted(X, L, r0, h, Mt, k, kernel, r, want, dist);
    // Pass B: every candidate whose bound does not exceed the best (second best) distance so far.
    want.fill(0);
    const margin = boundMargin(X, L);
    for (let i = 0; i < h; i++) {
      let b1 = Infinity;
      let b2 = Infinity;
      for (let j = 0; j < k; j++) {
        const d = dist[i * k + j];
        if (Number.isNaN(d)) continue; // not computed
        if (d < b1) {
          b2 = b1;
          b1 = d;
        } else if (d < b2) b2 = d;
      }
      const thr = (second ? b2 : b1) * margin;
      for (let j = 0; j < k; j++) if (Number.isNaN(dist[i * k + j]) && !(lb[i * k + j] > thr)) want[i * k + j] = 1;
    }
    exact += computeWanted(X, L, r0, h, Mt, k, kernel, r, want, dist);
  }
  // Nearest and second nearest among the computed distances (pruned ones are strictly larger).
  const { n1, d1, n2, d2 } = out;
  for (let i = 0; i < h; i++) {
    let b1 = Infinity;
    let b2 = Infinity;
    let i1 = 0;
    let i2 = 0;
    for (let j = 0; j < k; j++) {
      const d = dist[i * k + j];
      if (Number.isNaN(d)) continue;
      if (d < b1) {
        b2 = b1;
        i2 = i1;
        b1 = d;
        i1 = j;
      } else if (d < b2) {
        b2 = d;
        i2 = j;
      }
    }
    n1[i] = i1;
    d1[i] = b1;
    if (second && n2 && d2) {
      n2[i] = i2;
      d2[i] = b2;
    }
  }
  return exact;
}

/** Compute dist[i, j] for every wanted pair, one block call per candidate over its gathered rows. */
function computeWanted(X: SeriesMatrix, L: number, r0: number, h: number, M: SeriesMatrix, k: number, kernel: DtwKernel, r: number, want: Uint8Array, dist: Float64Array): number {
  let total = 0;
  const rows = new Int32Array(h);
  const make = (len: number): SeriesMatrix => (X instanceof Float32Array ? new Float32Array(len) : new Float64Array(len));
  let G = make(0);
  let out = make(0);
  for (let j = 0; j < k; j++) {
    let cnt = 0;
    for (let i = 0; i < h; i++) if (want[i * k + j]) rows[cnt++] = i;
    if (cnt === 0) continue;
    if (G.length < cnt * L) {
      G = make(cnt * L);
      out = make(cnt);
    }
    for (let t = 0; t < cnt; t++) G.set(X.subarray((r0 + rows[t]) * L, (r0 + rows[t] + 1) * L), t * L);
    kernel.block(M, G, L, { r0: j, r1: j + 1, c0: 0, c1: cnt }, r, out, false);
    for (let t = 0; t < cnt; t++) dist[rows[t] * k + j] = out[t];
    total += cnt;
  }
  return total;
}

/** Rows per task of {@link AssignPool}. */
export const ASSIGN_CHUNK_ROWS = 8192;

/** What an assignment worker starts with. */
export interface AssignWorkerData {
  /** n × L profiles on a SharedArrayBuffer. */
  X: SharedArrayBuffer;
  /** Their element type. */
  dtype: 'float32' | 'float64';
  L: number;
  kernel: KernelChoice;
}

/** main → assignment worker. */
export interface AssignRequest {
  id: number;
  M: Float64Array;
  radius: number;
  r0: number;
  r1: number;
  options: AssignOptions;
}

/** main → assignment worker: the DBA sums of a chunk of rows (cluster/dba.ts). */
export interface DbaRequest {
  id: number;
  kind: 'dba';
  centres: Float64Array;
  k: number;
  /** Centre of each row of the chunk. */
  labels: Int32Array;
  active: Uint8Array;
  radius: number;
  r0: number;
  r1: number;
}

/** assignment worker → main. */
export type AssignReply =
  | { id: number; n1: Int32Array; d1: Float64Array; n2?: Int32Array; d2?: Float64Array; exact: number }
  | { id: number; sums: Float64Array; counts: Float64Array; cost: Float64Array }
  | { id: number; error: string };

/**
 * Assigns all n profiles of one dataset to candidate sets, on `workers` threads over one shared copy
 * of the profiles (in the calling thread when `workers` ≤ 1). Results do not depend on `workers`.
 * Call {@link close} when done.
 */
export class AssignPool {
  readonly n: number;
  readonly L: number;
  readonly X: SeriesMatrix;
  readonly dtype: 'float32' | 'float64';
  private readonly workers: Worker[] = [];
  private readonly kernelChoice: KernelChoice;
  private nextId = 0;

  /**
   * @param X n × L profiles, float64 or float32 (copied once onto a SharedArrayBuffer when workers are used)
   * @param workers worker threads (≤ 1: none)
   */
  constructor(X: SeriesMatrix, L: number, workers: number, kernel: KernelChoice = 'auto') {
    this.L = L;
    this.n = X.length / L;
    this.dtype = dtypeOf(X);
    this.kernelChoice = kernel;
    const threads = Math.min(workers, Math.ceil(this.n / ASSIGN_CHUNK_ROWS));
    if (threads > 1) {
      let shared = X;
      if (!(X.buffer instanceof SharedArrayBuffer)) {
        shared = X instanceof Float32Array ? new Float32Array(new SharedArrayBuffer(X.byteLength)) : new Float64Array(new SharedArrayBuffer(X.byteLength));
        shared.set(X);
      }
      this.X = shared;
      const entry = workerEntry(import.meta.url, 'assign-worker');
      const workerData: AssignWorkerData = { X: shared.buffer as SharedArrayBuffer, dtype: this.dtype, L, kernel };
      for (let i = 0; i < threads; i++) {
        const w = new Worker(entry.script, { eval: entry.eval, workerData });
        this.workers.push(w);
      }
    } else {
      this.X = X;
    }
  }

  /**
   * Nearest (and with `second`, second-nearest) candidate of every row.
   * @param M k × L candidate series
   * @param radius Sakoe–Chiba radius (0 = Euclidean distance)
   */
  async assign(M: Float64Array, radius: number, options: AssignOptions = {}): Promise<AssignResult> {
    const { n, L } = this;
    const second = options.second ?? false;
    const res: AssignResult = { n1: new Int32Array(n), d1: new Float64Array(n), exactPairs: 0 };
    if (second) {
      res.n2 = new Int32Array(n);
      res.d2 = new Float64Array(n);
    }
    if (this.workers.length === 0) {
      const env = envelopes(M, L, radius);
      const kernel = selectKernel(this.kernelChoice);
      for (let r0 = 0; r0 < n; r0 += ASSIGN_CHUNK_ROWS) {
        throwIfInterrupted();
        const r1 = Math.min(n, r0 + ASSIGN_CHUNK_ROWS);
        res.exactPairs += assignChunk(this.X, L, r0, r1, M, env, kernel, radius, options, {
          n1: res.n1.subarray(r0, r1),
          d1: res.d1.subarray(r0, r1),
          ...(second ? { n2: res.n2!.subarray(r0, r1), d2: res.d2!.subarray(r0, r1) } : {}),
        });
      }
      return res;
    }
    await this.dispatch(
      (id, r0, r1) => ({ id, M, radius, r0, r1, options }) satisfies AssignRequest,
      (m, r0) => {
        const r = m as Extract<AssignReply, { n1: Int32Array }>;
        res.n1.set(r.n1, r0);
        res.d1.set(r.d1, r0);
        if (second) {
          res.n2!.set(r.n2!, r0);
          res.d2!.set(r.d2!, r0);
        }
        res.exactPairs += r.exact;
      },
    );
    return res;
  }

  /**
   * DBA sums (dba-sums.ts) of every row whose centre is `active`, aligned to its centre: computed
   * by chunks of {@link ASSIGN_CHUNK_ROWS} rows on the worker threads (in this thread without
   * workers) and added in chunk order, so the result does not depend on the number of threads.
   * @param centres k × L centres
   * @param labels centre of every row (length n)
   * @param active which centres to sum (length k)
   * @param radius Sakoe–Chiba radius (already an integer in [0, L − 1])
   */
  async dbaAccumulate(centres: Float64Array, k: number, labels: Int32Array, active: Uint8Array, radius: number): Promise<DbaSums> {
    const { n, L } = this;
    if (labels.length !== n) throw new RangeError(`Expected ${n} labels but received ${labels.length}`);
    if (this.workers.length === 0) return accumulateDba(this.X, L, centres, k, labels, active, new BandedDtw(L, radius), ASSIGN_CHUNK_ROWS);
    const parts: DbaSums[] = [];
    await this.dispatch(
      (id, r0, r1) => ({ id, kind: 'dba', centres, k, labels: labels.slice(r0, r1), active, radius, r0, r1 }) satisfies DbaRequest,
      (m, r0) => {
        const r = m as Extract<AssignReply, { sums: Float64Array }>;
        parts[r0 / ASSIGN_CHUNK_ROWS] = { sums: r.sums, counts: r.counts, cost: r.cost };
      },
    );
    return reduceDbaSums(parts);
  }

  /**
   * Hand the chunks of rows to the workers (each takes the next when it answers) and pass every
   * answer, with its chunk's first row, to `take`.
   */
  private async dispatch(request: (id: number, r0: number, r1: number) => AssignRequest | DbaRequest, take: (m: AssignReply, r0: number) => void): Promise<void> {
    const { n } = this;
    const chunks: number[] = [];
    for (let r0 = 0; r0 < n; r0 += ASSIGN_CHUNK_ROWS) chunks.push(r0);
    let next = 0;
    const runOn = (w: Worker): Promise<void> =>
      new Promise<void>((resolve, reject) => {
        const step = (): void => {
          try {
            throwIfInterrupted();
          } catch (e) {
            cleanup();
            reject(e);
            return;
          }
          if (next >= chunks.length) {
            cleanup();
            resolve();
            return;
          }
          const r0 = chunks[next++];
          const r1 = Math.min(n, r0 + ASSIGN_CHUNK_ROWS);
          const id = this.nextId++;
          pendingId = id;
          pendingR0 = r0;
          w.postMessage(request(id, r0, r1));
        };
        let pendingId = -1;
        let pendingR0 = 0;
        const onMessage = (m: AssignReply): void => {
          if (m.id !== pendingId) return;
          if ('error' in m) {
            cleanup();
            reject(new Error(`a DTW assignment worker failed: ${m.error}`));
            return;
          }
          take(m, pendingR0);
          step();
        };
        const onError = (e: Error): void => {
          cleanup();
          reject(new Error(`a DTW assignment worker stopped: ${e.message}`));
        };
        const onExit = (code: number): void => {
          cleanup();
          reject(new Error(`a DTW assignment worker exited (code ${code})`));
        };
        const cleanup = (): void => {
          w.off('message', onMessage);
          w.off('error', onError);
          w.off('exit', onExit);
        };
        w.on('message', onMessage);
        w.on('error', onError);
        w.on('exit', onExit);
        step();
      });
    await Promise.all(this.workers.map(runOn));
  }

  /** Stop the worker threads. */
  async close(): Promise<void> {
    await Promise.all(this.workers.splice(0).map((w) => w.terminate()));
  }
}

/**
 * One-shot assignment of X to the candidates M (a pool opened and closed around it).
 * @param workers worker threads (default 1: the calling thread)
 */
export async function assignNearest(X: SeriesMatrix, L: number, M: Float64Array, radius: number, options: AssignOptions & { workers?: number; kernel?: KernelChoice } = {}): Promise<AssignResult> {
  const pool = new AssignPool(X, L, options.workers ?? 1, options.kernel ?? 'auto');
  try {
    return await pool.assign(M, radius, options);
  } finally {
    await pool.close();
  }
}
