/**
 * Worker thread of the tiled DTW matrix (see matrix.ts). It receives tiles of the upper triangle,
 * runs the kernel on each, and sends the tile's rows (and, for the full layout, its columns as
 * rows) back to the main thread, which writes whole bands of rows at once (matrix-writer.ts). The
 * buffers travel by transfer, not copy, and come back for reuse, so a worker allocates a few and
 * memory does not grow with N here.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { selectKernel, type KernelChoice } from './kernel.js';
import { loadNative } from './native.js';

/** What the main thread passes at start. */
export interface MatrixWorkerData {
  /** n × L series (already in the output precision), shared with every worker. */
  values: SharedArrayBuffer;
  dtype: 'float32' | 'float64';
  n: number;
  L: number;
  /** Radius already clamped to [0, L − 1]. */
  radius: number;
  kernel: KernelChoice;
  tileSize: number;
  /** Full layout: the mirrored columns are sent too; condensed: only the rows (upper triangle). */
  layout: 'full' | 'condensed';
  /** Send the mirrored columns of off-diagonal tiles of the full layout (default true; tile files keep rows only). */
  mirror?: boolean;
}

/** A tile request: rows [r0, r1) × columns [c0, c1), with r0 ≤ c0. */
export interface TileTask {
  tile: number;
  r0: number;
  r1: number;
  c0: number;
  c1: number;
}

/** A tile request as posted: with buffers of T² elements to reuse (transferred). */
export interface TileRequest extends TileTask {
  buffers?: ArrayBuffer[];
}

/**
 * Worker replies. `done` carries the tile's rows, h × w row-major (`rows`), and for the full layout
 * off the diagonal its columns, w × h (`cols`); both are views on transferred T² buffers.
 */
export type WorkerReply =
  | { done: number; rows: Float32Array | Float64Array; cols: Float32Array | Float64Array | null }
  | { error: { message: string; code?: string } }
  | { ready: { kernel: string; isa: string } };

function main(): void {
  const port = parentPort!;
  const d = workerData as MatrixWorkerData;
  const Ctor = d.dtype === 'float32' ? Float32Array : Float64Array;
  const bytes = Ctor.BYTES_PER_ELEMENT;
  const values = d.dtype === 'float32' ? new Float32Array(d.values) : new Float64Array(d.values);
  const kernel = selectKernel(d.kernel);
  const T = d.tileSize;
  // The addon's tile() runs the kernel and the transposes below in one native call (issue 16).
  const addon = kernel.name === 'native' ? loadNative() : null;
  const nativeTile = addon?.tile ? addon.tile.bind(addon) : null;
  const pool: ArrayBuffer[] = [];
  const take = (): ArrayBuffer => pool.pop() ?? new ArrayBuffer(T * T * bytes);
  port.postMessage({ ready: { kernel: kernel.name, isa: kernel.isa } } satisfies WorkerReply);
  port.on('message', (t: TileRequest | { close: true }) => {
    if ('close' in t) {
      port.close();
      return;
    }
    try {
      if (t.buffers) pool.push(...t.buffers);
      const h = t.r1 - t.r0;
      const w = t.c1 - t.c0;
      const diagonal = t.r0 === t.c0;
      const full = d.layout === 'full';
      const tile = new Ctor(take(), 0, h * w);
      const mirror = full && !diagonal && d.mirror !== false ? new Ctor(take(), 0, w * h) : null;
      if (nativeTile) {
        nativeTile(values, d.L, t.r0, t.r1, t.c0, t.c1, d.radius, tile, mirror, full);
        const transfer = mirror ? [tile.buffer, mirror.buffer] : [tile.buffer];
        port.postMessage({ done: t.tile, rows: tile, cols: mirror } satisfies WorkerReply, transfer as ArrayBuffer[]);
        return;
      }
      kernel.block(values, values, d.L, { r0: t.r0, r1: t.r1, c0: t.c0, c1: t.c1 }, d.radius, tile, diagonal);
      // Transposes go by 64 × 64 blocks: a plain strided loop misses the cache on every store and
      // cost more than the DTW itself at L = 24.
      const B = 64;
      if (diagonal && full) {
        // Fill the lower half from the upper one so every row segment is written whole.
        for (let ib = 0; ib < h; ib += B) {
          for (let jb = 0; jb <= ib; jb += B) {
            const ie = Math.min(h, ib + B);
            const je = Math.min(w, jb + B);
            for (let i = ib; i < ie; i++) for (let j = jb; j < je && j < i; j++) tile[i * w + j] = tile[j * w + i];
          }
        }
      } else if (mirror) {
        for (let ib = 0; ib < h; ib += B) {
          for (let jb = 0; jb < w; jb += B) {
            const ie = Math.min(h, ib + B);
            const je = Math.min(w, jb + B);
            for (let j = jb; j < je; j++) for (let i = ib; i < ie; i++) mirror[j * h + i] = tile[i * w + j];
          }
        }
      }
      const transfer = mirror ? [tile.buffer, mirror.buffer] : [tile.buffer];
      port.postMessage({ done: t.tile, rows: tile, cols: mirror } satisfies WorkerReply, transfer as ArrayBuffer[]);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      port.postMessage({ error: { message: err.message, code: err.code } } satisfies WorkerReply);
    }
  });
}

main();
