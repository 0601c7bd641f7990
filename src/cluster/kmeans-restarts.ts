/**
 * The restarts of one k-means fit on several threads, synchronously: the calling thread and up to
 * `threads − 1` helper worker threads take restarts from one shared counter, and the calling
 * thread waits (`Atomics.wait`) for the ones a helper took. Every restart starts from centres
 * drawn beforehand by the caller, so its result depends on nothing else: whoever computes it, the
 * bits are the same, and the fit does not depend on the number of threads.
 *
 * Helpers are started once per process, on first use, and do not keep it alive (`unref`). The
 * calling thread never depends on a helper: it waits for a restart a helper took only as long as
 * it took itself for its slowest restart (times four, at least a second), then computes that
 * restart itself; a helper that fails marks its restart and the caller computes it (and raises
 * its error, if it is one the data cause).
 */
import { availableParallelism } from 'node:os';
import { Worker, isMainThread } from 'node:worker_threads';
import { workerEntry } from '../util/worker-entry.js';
import { throwIfInterrupted } from '../util/interrupt.js';
import type { Rows } from './common.js';
import { lloydHamerly, type KMeansState } from './kmeans-lloyd.js';

/** The restarts of one fit. */
export interface RestartJob {
  rows: Rows;
  k: number;
  maxIter: number;
  /** Absolute tolerance on the total squared centre shift. */
  tolAbs: number;
  nInit: number;
  /** Starting centres of every restart, nInit × k × dim (on a SharedArrayBuffer). */
  inits: Float64Array;
}

/** A {@link RestartJob} laid out on shared memory, as posted to the helpers. */
export interface SharedRestarts {
  /** n × dim rows. */
  data: Float64Array;
  n: number;
  dim: number;
  k: number;
  maxIter: number;
  tolAbs: number;
  nInit: number;
  inits: Float64Array;
  /** Results: final centres, nInit × k × dim. */
  centres: Float64Array;
  /** Results: labels, nInit × n. */
  labels: Int32Array;
  /** Results: inertia, iterations, re-seeded empty clusters of each restart, nInit × 3. */
  numbers: Float64Array;
  /** [0]: next restart to take; [1 + i]: {@link FREE}, {@link HELPER}, {@link DONE}, {@link FAILED} or {@link CALLER}. */
  state: Int32Array;
}

/** Restart not started. */
const FREE = 0;
/** A helper computes it. */
const HELPER = 1;
/** A helper computed it: its result is in the shared arrays. */
const DONE = 2;
/** A helper failed on it. */
const FAILED = 3;
/** The calling thread computes it (its result stays local). */
const CALLER = 4;

/** Below this much work per restart (n·dim·k) the restarts stay on the calling thread. */
const THREADED_MIN_WORK = 200_000;

/**
 * Threads for the restarts when the caller does not say: one per core on the main thread once
 * n·dim·k ≥ 200,000 (below, starting a thread costs more than it saves), else 1. On a worker thread
 * 1: a sweep runs one configuration per thread already.
 */
export function defaultKMeansThreads(n: number, dim: number, k: number): number {
  if (!isMainThread || n * dim * k < THREADED_MIN_WORK) return 1;
  return availableParallelism();
}

const helpers: Worker[] = [];

/** At least `count` live helper threads (started once, not keeping the process alive). */
function ensureHelpers(count: number): Worker[] {
  while (helpers.length < count) {
    const entry = workerEntry(import.meta.url, 'kmeans-worker');
    const w = new Worker(entry.script, { eval: entry.eval });
    w.unref();
    const drop = (): void => {
      const i = helpers.indexOf(w);
      if (i >= 0) helpers.splice(i, 1);
    };
    // A helper that dies is replaced at the next fit; the restart it held is computed by the
    // caller once its patience runs out.
    w.on('error', drop);
    w.on('exit', drop);
    helpers.push(w);
  }
  return helpers.slice(0, count);
}

/** Stop the helper threads (tests; the process does not wait for them anyway). */
export async function closeKMeansHelpers(): Promise<void> {
  const all = helpers.splice(0);
  await Promise.allSettled(all.map((w) => w.terminate()));
}

function share<T extends Float64Array | Int32Array>(a: T): T {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const out = (a instanceof Float64Array ? new Float64Array(new SharedArrayBuffer(a.byteLength)) : new Int32Array(new SharedArrayBuffer(a.byteLength))) as T;
  out.set(a);
  return out;
}

function computeRestart(job: SharedRestarts, i: number): KMeansState {
  const kd = job.k * job.dim;
  return lloydHamerly({ data: job.data, n: job.n, dim: job.dim }, job.inits.slice(i * kd, (i + 1) * kd), job.k, job.maxIter, job.tolAbs);
}

/**
 * A helper's part: take restarts from the shared counter until none is left, and publish each
 * result (unless the caller took the restart over meanwhile).
 */
export function helpWithRestarts(job: SharedRestarts): void {
  const { state, nInit } = job;
  const kd = job.k * job.dim;
  for (;;) {
    const i = Atomics.add(state, 0, 1);
    if (i >= nInit) return;
    if (Atomics.compareExchange(state, 1 + i, FREE, HELPER) !== FREE) continue;
    let outcome = FAILED;
    try {
      const r = computeRestart(job, i);
      job.centres.set(r.centres, i * kd);
      job.labels.set(r.labels, i * job.n);
      job.numbers[3 * i] = r.inertia;
      job.numbers[3 * i + 1] = r.nIter;
      job.numbers[3 * i + 2] = r.emptyReseeds;
      outcome = DONE;
    } catch {
      // The caller computes this restart again and raises the error itself.
    }
    if (Atomics.compareExchange(state, 1 + i, HELPER, outcome) === HELPER) Atomics.notify(state, 1 + i);
  }
}

/**
 * Run the restarts of `job` on `threads` threads (the calling one included) and return their
 * results in restart order.
 */
export function runRestarts(job: RestartJob, threads: number): KMeansState[] {
  const { rows, k, nInit } = job;
  const kd = k * rows.dim;
  const local = (i: number): KMeansState => lloydHamerly(rows, job.inits.slice(i * kd, (i + 1) * kd), k, job.maxIter, job.tolAbs);
  if (threads <= 1 || nInit <= 1) {
    const out: KMeansState[] = [];
    for (let i = 0; i < nInit; i++) {
      throwIfInterrupted();
      out.push(local(i));
    }
    return out;
  }
  const shared: SharedRestarts = {
    data: share(rows.data),
    n: rows.n,
    dim: rows.dim,
    k,
    maxIter: job.maxIter,
    tolAbs: job.tolAbs,
    nInit,
    inits: share(job.inits),
    centres: new Float64Array(new SharedArrayBuffer(8 * nInit * kd)),
    labels: new Int32Array(new SharedArrayBuffer(4 * nInit * rows.n)),
    numbers: new Float64Array(new SharedArrayBuffer(8 * nInit * 3)),
    state: new Int32Array(new SharedArrayBuffer(4 * (nInit + 1))),
  };
  for (const w of ensureHelpers(threads - 1)) w.postMessage(shared);
  const { state } = shared;
  const out: Array<KMeansState | undefined> = new Array(nInit);
  let slowest = 0;
  const mine = (i: number): void => {
    throwIfInterrupted();
    const t0 = performance.now();
    out[i] = local(i);
    slowest = Math.max(slowest, performance.now() - t0);
  };
  for (;;) {
    const i = Atomics.add(state, 0, 1);
    if (i >= nInit) break;
    Atomics.store(state, 1 + i, CALLER);
    mine(i);
  }
  // What is left was taken by helpers: wait for each, or compute it here when a helper failed or
  // keeps it longer than the caller's patience.
  const patience = Math.max(1000, 4 * slowest);
  for (let i = 0; i < nInit; i++) {
    if (out[i]) continue;
    const started = performance.now();
    for (;;) {
      const s = Atomics.load(state, 1 + i);
      if (s === DONE) {
        out[i] = {
          centres: shared.centres.slice(i * kd, (i + 1) * kd),
          labels: shared.labels.slice(i * rows.n, (i + 1) * rows.n),
          inertia: shared.numbers[3 * i],
          nIter: shared.numbers[3 * i + 1],
          emptyReseeds: shared.numbers[3 * i + 2],
        };
        break;
      }
      const left = patience - (performance.now() - started);
      if (s === FAILED || left <= 0) {
        if (s === FAILED || Atomics.compareExchange(state, 1 + i, s, CALLER) === s) {
          mine(i);
          break;
        }
        continue;
      }
      Atomics.wait(state, 1 + i, s, left);
    }
  }
  return out as KMeansState[];
}
