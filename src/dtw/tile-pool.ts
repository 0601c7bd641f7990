/**
 * A long-lived pool of DTW worker threads (matrix-worker.ts) that computes tiles on demand, one
 * promise per tile: what a queue worker needs, where tiles arrive one by one from Redis rather
 * than as the fixed list `runWorkers` (matrix.ts) hands out.
 */
import { Worker } from 'node:worker_threads';
import { workerEntry } from '../util/worker-entry.js';
import type { MatrixWorkerData, TileRequest, TileTask, WorkerReply } from './matrix-worker.js';

interface Pending {
  t: TileTask;
  resolve: (rows: Float32Array | Float64Array) => void;
  reject: (e: Error) => void;
}

/** See the module comment. Tiles come back as rows only (h × w, diagonal tiles with both halves). */
export class TilePool {
  private readonly idle: Worker[] = [];
  private readonly queue: Pending[] = [];
  private readonly busy = new Map<Worker, Pending>();
  private readonly workers: Worker[] = [];
  private failure: Error | null = null;
  /** The kernel the threads run (known once the first thread is ready). */
  kernel: { name: 'native' | 'js'; isa: string } | null = null;

  /** @param threads worker threads; `wd` as for the matrix (its `layout`/`mirror` are overridden) */
  constructor(threads: number, wd: MatrixWorkerData) {
    const entry = workerEntry(import.meta.url, 'matrix-worker');
    const data: MatrixWorkerData = { ...wd, layout: 'full', mirror: false };
    for (let k = 0; k < threads; k++) {
      const w = new Worker(entry.script, { workerData: data, eval: entry.eval });
      this.workers.push(w);
      w.on('message', (m: WorkerReply) => {
        if ('ready' in m) {
          this.kernel ??= { name: m.ready.kernel === 'js' ? 'js' : 'native', isa: m.ready.isa };
          this.idle.push(w);
          return this.pump();
        }
        const p = this.busy.get(w);
        this.busy.delete(w);
        if ('error' in m) p?.reject(Object.assign(new Error(m.error.message), { code: m.error.code }));
        else p?.resolve(m.rows);
        this.idle.push(w);
        this.pump();
      });
      w.on('error', (e) => this.fail(e));
      w.on('exit', (code) => {
        if (code !== 0) this.fail(new Error(`DTW worker thread exited with code ${code}`));
      });
    }
  }

  /** Compute one tile. */
  run(t: TileTask): Promise<Float32Array | Float64Array> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.queue.push({ t, resolve, reject });
      this.pump();
    });
  }

  /** Stop every thread (tiles not yet computed are rejected). */
  async close(): Promise<void> {
    this.fail(new Error('the tile pool was closed'));
    await Promise.allSettled(this.workers.map((w) => w.terminate()));
  }

  private pump(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const w = this.idle.pop()!;
      const p = this.queue.shift()!;
      this.busy.set(w, p);
      w.postMessage({ ...p.t } satisfies TileRequest);
    }
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const p of this.queue.splice(0)) p.reject(e);
    for (const p of this.busy.values()) p.reject(e);
    this.busy.clear();
  }
}
