/**
 * A pool of worker threads that runs clustering configurations of one dataset at once (the sweep).
 * The dataset and its matrices live on SharedArrayBuffers, so every worker reads the same memory:
 * nothing of size n² is copied per task. The pool also builds the shared Euclidean matrices in
 * parallel, and builds each agglomerative tree once: a configuration that needs a tree being built
 * waits for it and is then only a cut.
 *
 * Ctrl-C (see util/interrupt) stops the workers at once and fails every pending task with an
 * InterruptedError, so that their runs end KILLED.
 */
import { Worker } from 'node:worker_threads';
import { InterruptedError, LpclustError, type ErrorKind } from '../errors.js';
import type { ClusterSpec } from '../cluster/fit.js';
import type { DistanceMatrix } from '../cluster/common.js';
import { EUCLIDEAN_MATRIX_UNIT_ROWS, FULL_MATRIX_MAX_ROWS } from '../cluster/euclidean.js';
import { sharesOf } from '../cluster/registry.js';
import { interruptSignal } from '../util/interrupt.js';
import { workerEntry, type WorkerEntry } from '../util/worker-entry.js';
import { EUCLIDEAN_TILE_ROWS, SILHOUETTE_PARTIALS, silhouetteEuclidean, silhouetteFromPartials, silhouetteLayout, type SilhouetteResult } from '../validate/silhouette.js';
import type { ClusterData, ClusterWorkResult } from './cluster-work.js';
import type { PoolReply, PoolRequest, PoolTask, SerializedError } from './cluster-worker.js';

/** The trees a pool shares (models whose registry entry `shares` a linkage tree): one per metric and linkage. */
export function treeKey(spec: Pick<ClusterSpec, 'metric' | 'linkage'>): string {
  return `${spec.metric} ${spec.linkage ?? 'default'}`;
}

/** Consecutive worker deaths without an answer after which the pool stops restarting them. */
const MAX_DEATHS = 3;

interface Pending {
  task: PoolTask;
  /** Replace the worker once it answers (its heap then goes with it: see {@link ClusterPool.fit}). */
  retire?: boolean;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

function rebuild(e: SerializedError): Error {
  const err = e.kind && e.code ? new LpclustError(e.kind as ErrorKind, e.code, e.message, { ...(e.hint ? { hint: e.hint } : {}), ...(e.where ? { where: e.where } : {}) }) : new Error(e.message);
  if (e.stack) err.stack = e.stack;
  return err;
}

/** A copy of `a` on a SharedArrayBuffer (the workers then read it without copies). */
export function sharedCopy<T extends Float32Array | Float64Array>(a: T): T {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const out = (a instanceof Float32Array ? new Float32Array(new SharedArrayBuffer(a.byteLength)) : new Float64Array(new SharedArrayBuffer(a.byteLength))) as T;
  out.set(a);
  return out;
}

/** Worker threads running {@link PoolTask}s, one at a time each, in the order given. */
export class ClusterPool {
  /** Number of worker threads. */
  readonly size: number;
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, { id: number; pending: Pending }>();
  private readonly queue: Array<{ id: number; pending: Pending }> = [];
  private nextId = 0;
  private closed = false;
  private poll: NodeJS.Timeout | undefined;
  private readonly trees = new Map<string, Promise<Float64Array>>();
  private readonly entry: WorkerEntry;
  /** Workers that died in a row without answering anything; at {@link MAX_DEATHS} the pool gives up. */
  private deaths = 0;
  private broken: Error | undefined;

  /**
   * @param size worker threads (≥ 1)
   * @param options.entry the worker module (default: cluster-worker; tests give a failing one)
   */
  constructor(size: number, options: { entry?: WorkerEntry } = {}) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`Expected at least one worker but received ${size}`);
    this.size = size;
    this.entry = options.entry ?? workerEntry(import.meta.url, 'cluster-worker');
    for (let i = 0; i < size; i++) this.spawn();
  }

  private spawn(): void {
    const w = new Worker(this.entry.script, { eval: this.entry.eval, ...(this.entry.workerData !== undefined ? { workerData: this.entry.workerData } : {}) });
    this.workers.push(w);
    this.idle.push(w);
    w.on('message', (m: PoolReply) => {
      const job = this.busy.get(w);
      if (!job || job.id !== m.id) return;
      this.deaths = 0;
      this.busy.delete(w);
      if (job.pending.retire && !this.closed) this.retire(w);
      else this.idle.push(w);
      if ('error' in m) job.pending.reject(rebuild(m.error));
      else job.pending.resolve(m.result);
      this.pump();
    });
    // A worker that dies (out of memory, a crash) fails its task and a fresh one takes its place;
    // workers that keep dying without answering (they cannot even start) break the pool instead
    // of being restarted for ever. 'error' and 'exit' both come for one death: handled once.
    let dead = false;
    const died = (why: string): void => {
      if (this.closed || dead || this.retired.has(w)) return;
      dead = true;
      const job = this.busy.get(w);
      this.busy.delete(w);
      const i = this.workers.indexOf(w);
      if (i >= 0) this.workers.splice(i, 1);
      const at = this.idle.indexOf(w);
      if (at >= 0) this.idle.splice(at, 1);
      const error = new Error(`a clustering worker thread stopped (${why})`);
      job?.pending.reject(error);
      if (++this.deaths >= MAX_DEATHS) {
        this.broken = new Error(`${MAX_DEATHS} clustering worker threads in a row stopped without answering; last: ${why}`);
        for (const j of this.queue.splice(0)) j.pending.reject(this.broken);
        if (this.workers.length === 0) void this.close();
        return;
      }
      this.spawn();
      this.pump();
    };
    w.on('error', (e) => died(e.message));
    w.on('exit', (code) => {
      if (code !== 0) died(`exit code ${code}`);
    });
  }

  /** Workers replaced after a task that asked for it; their exit is no death. */
  private readonly retired = new WeakSet<Worker>();

  /**
   * Replace `w` by a fresh worker. A task that allocated a large working array (an agglomerative
   * tree's n(n−1)/2 float64 distances: 1.6 GB at 20,000 rows) leaves it as garbage that the worker's
   * heap may keep for a long while; ending the worker gives the memory back now, before the next
   * large allocation elsewhere.
   */
  private retire(w: Worker): void {
    this.retired.add(w);
    const i = this.workers.indexOf(w);
    if (i >= 0) this.workers.splice(i, 1);
    void w.terminate();
    this.spawn();
  }

  private pump(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const w = this.idle.shift()!;
      const job = this.queue.shift()!;
      this.busy.set(w, job);
      w.postMessage({ id: job.id, task: job.pending.task } satisfies PoolRequest);
    }
    if (this.busy.size === 0 && this.queue.length === 0) {
      if (this.poll) clearInterval(this.poll);
      this.poll = undefined;
    } else if (!this.poll) {
      // Workers do not see the main thread's interrupt flag: watch it here.
      this.poll = setInterval(() => {
        const signal = interruptSignal();
        if (signal) void this.abort(new InterruptedError(signal));
      }, 50);
    }
  }

  /** Queue a task; resolves with the worker's result. */
  private submit<T>(task: PoolTask, retire = false): Promise<T> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.closed) return Promise.reject(new Error('the clustering pool is closed'));
    const signal = interruptSignal();
    if (signal) return Promise.reject(new InterruptedError(signal));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, pending: { task, resolve: resolve as (v: unknown) => void, reject, ...(retire ? { retire } : {}) } });
      this.pump();
    });
  }

  /**
   * Fit one configuration on `data` (arrays on SharedArrayBuffers) and validate it. Agglomerative
   * trees are keyed by metric and linkage: the first configuration builds the tree, every other
   * one waits for it and cuts it at its own k.
   * @param options.retire replace the worker that builds a tree once it is done (frees the tree's
   *   working matrix at once; the sweep asks for it when that matrix is large)
   */
  async fit(data: ClusterData, spec: ClusterSpec, options: { retire?: boolean } = {}): Promise<ClusterWorkResult> {
    if (sharesOf(spec) !== 'linkage-tree' || spec.precomputedLinkage) return this.submit<ClusterWorkResult>({ kind: 'fit', data, spec });
    const key = treeKey(spec);
    const tree = this.trees.get(key);
    if (tree) return this.submit<ClusterWorkResult>({ kind: 'fit', data, spec: { ...spec, precomputedLinkage: await tree } });
    const first = this.submit<ClusterWorkResult>({ kind: 'fit', data, spec }, options.retire ?? false);
    const built = first.then((r) => r.fit.linkageMatrix!);
    this.trees.set(key, built);
    // A failed build is not kept: the next configuration tries again (and reports its own error);
    // those already waiting get this error. Handled here so that nobody waiting is no crash.
    built.catch(() => {
      if (this.trees.get(key) === built) this.trees.delete(key);
    });
    return first;
  }

  /** Whether the tree `spec` cuts is built (or being built) in this pool. */
  hasTree(spec: ClusterSpec): boolean {
    return this.trees.has(treeKey(spec));
  }

  /**
   * The exact Euclidean distance matrix of X (`euclideanDistanceMatrix`), its 64-row units spread
   * over the workers, on a SharedArrayBuffer.
   * @param X n × L rows on a SharedArrayBuffer
   */
  async euclideanDistances(X: Float64Array, L: number): Promise<Float64Array> {
    const n = X.length / L;
    const out = new Float64Array(new SharedArrayBuffer(8 * n * n));
    const units: Array<Promise<unknown>> = [];
    for (let i0 = 0; i0 < n; i0 += EUCLIDEAN_TILE_ROWS) units.push(this.submit({ kind: 'euclidean-rows', X, L, out, i0 }));
    await Promise.all(units);
    return out;
  }

  /**
   * k-medoids' Euclidean matrix of the rows (`euclideanMatrix`), on a SharedArrayBuffer: up to
   * 12,000 rows the float64 one, which is bit for bit the exact matrix of {@link euclideanDistances}
   * (pass that as `exact` and it is returned as it is, not built twice); above, float32 (4·n²
   * bytes), its 128-row units spread over the workers.
   */
  async kmedoidsMatrix(X: Float64Array, L: number, exact?: Float64Array): Promise<DistanceMatrix> {
    const n = X.length / L;
    if (n <= FULL_MATRIX_MAX_ROWS) return { n, data: exact ?? (await this.euclideanDistances(X, L)) };
    const out = new Float32Array(new SharedArrayBuffer(4 * n * n));
    const units: Array<Promise<unknown>> = [];
    for (let r0 = 0; r0 < n; r0 += EUCLIDEAN_MATRIX_UNIT_ROWS) units.push(this.submit({ kind: 'kmedoids-rows', X, L, out, r0 }));
    await Promise.all(units);
    return { n, data: out };
  }

  /**
   * The Euclidean silhouette of a labelling (`silhouetteEuclidean`), its partial sums spread over
   * the workers: the same value to the last bit as on one thread.
   * @param X n × L rows; labels in 0..k−1, length n
   */
  async silhouetteEuclidean(X: Float64Array, L: number, labels: ArrayLike<number>, k?: number): Promise<SilhouetteResult> {
    const { layout, idx } = silhouetteLayout(X, L, labels, k, true);
    const parts = await Promise.all(Array.from({ length: SILHOUETTE_PARTIALS }, (_, part) => this.submit<Float64Array>({ kind: 'silhouette-partial', layout, part })));
    return silhouetteFromPartials(layout, idx, parts);
  }

  /** Stop every worker and fail what is pending or queued with `reason`. */
  async abort(reason: Error): Promise<void> {
    const jobs = [...this.busy.values(), ...this.queue];
    this.busy.clear();
    this.queue.length = 0;
    await this.close();
    for (const j of jobs) j.pending.reject(reason);
  }

  /** Stop the workers (pending tasks are not answered any more). Idempotent. */
  async close(): Promise<void> {
    if (this.poll) clearInterval(this.poll);
    this.poll = undefined;
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled(this.workers.map((w) => w.terminate()));
  }
}

/** Below this many rows the Euclidean silhouette stays on the calling thread (starting threads costs more). */
export const THREADED_SILHOUETTE_MIN_ROWS = 5000;

/**
 * The Euclidean silhouette on up to `threads` worker threads (at most {@link SILHOUETTE_PARTIALS}),
 * or on the calling thread below {@link THREADED_SILHOUETTE_MIN_ROWS} rows or with one thread: the
 * same bits either way.
 */
export async function silhouetteOnThreads(X: Float64Array, L: number, labels: ArrayLike<number>, k: number, threads: number): Promise<SilhouetteResult> {
  const n = X.length / L;
  const size = Math.min(threads, SILHOUETTE_PARTIALS);
  if (n < THREADED_SILHOUETTE_MIN_ROWS || size <= 1) return silhouetteEuclidean(X, L, labels, k);
  const pool = new ClusterPool(size);
  try {
    return await pool.silhouetteEuclidean(X, L, labels, k);
  } finally {
    await pool.close();
  }
}
