/**
 * Worker thread of the tiled DTW matrix (see matrix.ts). It receives tiles of the upper triangle,
 * runs the kernel on each, and writes the tile's rows (and, mirrored, its columns) into the
 * `.partial` .npy file at their offsets with positional writes on its own file descriptor. Only
 * two tile buffers are held, so memory does not grow with N.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { selectKernel, type KernelChoice } from './kernel.js';

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
  /** Path of the `.partial` .npy file (already sized). */
  file: string;
  /** Byte offset of element (0, 0). */
  dataOffset: number;
  tileSize: number;
}

/** A tile request: rows [r0, r1) × columns [c0, c1), with r0 ≤ c0. */
export interface TileTask {
  tile: number;
  r0: number;
  r1: number;
  c0: number;
  c1: number;
}

/** Worker replies. */
export type WorkerReply = { done: number } | { error: { message: string; code?: string } } | { ready: { kernel: string; isa: string } };

function main(): void {
  const port = parentPort!;
  const d = workerData as MatrixWorkerData;
  const Ctor = d.dtype === 'float32' ? Float32Array : Float64Array;
  const bytes = Ctor.BYTES_PER_ELEMENT;
  const values = d.dtype === 'float32' ? new Float32Array(d.values) : new Float64Array(d.values);
  const kernel = selectKernel(d.kernel);
  const T = d.tileSize;
  const tile = new Ctor(T * T);
  const mirror = new Ctor(T * T);
  const fd = openSync(d.file, 'r+');
  const write = (arr: Float32Array | Float64Array, start: number, count: number, elementIndex: number): void => {
    const view = new Uint8Array(arr.buffer, arr.byteOffset + start * bytes, count * bytes);
    let off = 0;
    const pos = d.dataOffset + elementIndex * bytes;
    while (off < view.length) off += writeSync(fd, view, off, view.length - off, pos + off);
  };
  port.postMessage({ ready: { kernel: kernel.name, isa: kernel.isa } } satisfies WorkerReply);
  port.on('message', (t: TileTask | { close: true }) => {
    if ('close' in t) {
      closeSync(fd);
      port.close();
      return;
    }
    try {
      const h = t.r1 - t.r0;
      const w = t.c1 - t.c0;
      const diagonal = t.r0 === t.c0;
      kernel.block(values, values, d.L, t, d.radius, tile, diagonal);
      // Transposes go by 64 × 64 blocks: a plain strided loop misses the cache on every store and
      // cost more than the DTW itself at L = 24.
      const B = 64;
      if (diagonal) {
        // Fill the lower half from the upper one so every row segment is written whole.
        for (let ib = 0; ib < h; ib += B) {
          for (let jb = 0; jb <= ib; jb += B) {
            const ie = Math.min(h, ib + B);
            const je = Math.min(w, jb + B);
            for (let i = ib; i < ie; i++) for (let j = jb; j < je && j < i; j++) tile[i * w + j] = tile[j * w + i];
          }
        }
      } else {
        for (let ib = 0; ib < h; ib += B) {
          for (let jb = 0; jb < w; jb += B) {
            const ie = Math.min(h, ib + B);
            const je = Math.min(w, jb + B);
            for (let j = jb; j < je; j++) for (let i = ib; i < ie; i++) mirror[j * h + i] = tile[i * w + j];
          }
        }
      }
      for (let i = 0; i < h; i++) write(tile, i * w, w, (t.r0 + i) * d.n + t.c0);
      if (!diagonal) for (let j = 0; j < w; j++) write(mirror, j * h, h, (t.c0 + j) * d.n + t.r0);
      port.postMessage({ done: t.tile } satisfies WorkerReply);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      port.postMessage({ error: { message: err.message, code: err.code } } satisfies WorkerReply);
    }
  });
}

main();
