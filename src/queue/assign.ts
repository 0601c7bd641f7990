/**
 * Large-N assignment steps on the BullMQ job queue: in sampled mode (`--scale sampled` with
 * `--queue URL --shared-dir D`) the scoring of each candidate medoid set on all N profiles, and
 * every other nearest-centre assignment of the run, is split by row ranges into jobs that
 * `lpclust worker` processes compute (the same processes that take DTW tiles and sweep
 * configurations).
 *
 * The submitter ({@link QueueAssigner}) writes the normalised profiles once into D under a name
 * fixed by their digest (`assign-<digest>/input.f64`, float64, or `input.f32`, float32: sampled
 * mode's DTW profiles, as this machine holds them; atomic), then for each candidate
 * set enqueues one job per row range carrying the range, the candidate series, the band and the
 * dtype (no secret, no profile). A worker reads the profiles once per dataset onto shared memory,
 * computes each range's nearest and second-nearest candidate with the same function this machine's
 * threads run (dtw/assign.ts's assignChunk, native kernel when it loads) and writes a result file
 * atomically under a name fixed by the candidate set and the range. The submitter places every
 * range's rows at their own positions, so labels, distances and the total deviation summed from
 * them in row order are identical to a one-machine run, whatever the split and whichever worker
 * took a range.
 *
 * Delivery is at least once, as for tiles (queue/dtw.ts): a worker killed mid-job has its job taken
 * again once the lock expires, a job id is derived from the candidate set and the range (enqueuing
 * twice is a no-op), a retried job rewrites the same bytes, and the submitter trusts the result
 * files, not the queue's bookkeeping (a job lost with a Redis restart is enqueued again).
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { Worker as Thread } from 'node:worker_threads';
import type { Job, Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { externalError, inputError, LpclustError } from '../errors.js';
import { writeFileAtomicSync } from '../io/atomic.js';
import { matrixDigest } from '../profiles/normalize.js';
import { log } from '../util/log.js';
import { workerEntry } from '../util/worker-entry.js';
import { lpclustVersion } from '../dtw/matrix.js';
import type { AssignOptions, AssignResult } from '../dtw/assign.js';
import type { Assigner } from '../dtw/assigner.js';
import type { KernelChoice } from '../dtw/kernel.js';
import { dtypeOf } from '../dtw/kernel-js.js';
import type { AssignThreadData, AssignThreadReply, AssignThreadRequest } from './assign-thread.js';
import type { QueueUrl } from './connection.js';
import { closeSubmitter, SubmittedJobs, versionSkew, type SharedDirJob } from './jobs.js';

/** The BullMQ queue of row-range assignment jobs. */
export const ASSIGN_QUEUE = 'lpclust-assign-rows';

/** Version of the job and result format; a worker refuses jobs of another. */
export const ASSIGN_JOB_PROTOCOL = 1;

/** Default rows per job: large enough that the queue's few milliseconds per job stay small beside the DTW work. */
export const DEFAULT_ASSIGN_JOB_ROWS = 32_768;

/** What an assignment job carries (no secret, no profile: the rows are read from the shared directory). */
export interface AssignJobData extends SharedDirJob {
  /** `dir` is the dataset's folder (`assign-<digest>`) holding `input.f64` (or `.f32`), the n × L rows of `inputDigest`. */
  /**
   * Element type of the rows, the precision distances accumulate in: that of the submitter's rows
   * (float32 for sampled mode's DTW profiles). A worker without float32 refuses such jobs by name.
   */
  dtype: 'float32' | 'float64';
  /** Key of the candidate set, band and options (names the result files). */
  round: string;
  /** Rows [r0, r1). */
  r0: number;
  r1: number;
  /** Sakoe–Chiba radius as the assignment takes it (0 = Euclidean). */
  radius: number;
  /** k × L candidate series, float64 little-endian, base64. */
  centres: string;
  k: number;
  second: boolean;
  prune?: boolean | 'auto';
  kernel: KernelChoice;
  /** Unix ms when enqueued (for the queue-overhead benchmark). */
  enqueuedAt: number;
}

/** Counters of a {@link QueueAssigner} (tests, bench, the run's log line). */
export interface AssignQueueStats {
  /** Candidate sets assigned. */
  rounds: number;
  /** Jobs enqueued, and ranges whose result file was already in the shared directory. */
  enqueued: number;
  foundDone: number;
  /** Jobs taken again after their worker stopped answering. */
  retried: number;
  /** Results read, and ms from enqueue to a result being read, summed. */
  delivered: number;
  latencyMs: number;
}

/** A fresh {@link AssignQueueStats}. */
export function newAssignQueueStats(): AssignQueueStats {
  return { rounds: 0, enqueued: 0, foundDone: 0, retried: 0, delivered: 0, latencyMs: 0 };
}

const RESULT_MAGIC = Buffer.from('LPASGN01', 'latin1');

/** Head of a result file. */
interface ResultHead {
  round: string;
  r0: number;
  r1: number;
  second: boolean;
  exact: number;
  kernel: 'native' | 'js';
  isa: string;
}

/** One range's answer. */
interface RangeResult {
  n1: Int32Array;
  d1: Float64Array;
  n2?: Int32Array;
  d2?: Float64Array;
  exact: number;
}

/**
 * A result file: `LPASGN01`, uint32 length H of the JSON head, the head, then the h nearest
 * indices (int32), their distances (float64) and, with `second`, the second-nearest indices and
 * distances (little-endian).
 */
function encodeResult(head: ResultHead, r: RangeResult): Uint8Array {
  const json = Buffer.from(JSON.stringify(head), 'utf8');
  const pre = Buffer.alloc(12);
  RESULT_MAGIC.copy(pre, 0);
  pre.writeUInt32LE(json.length, 8);
  const parts: Uint8Array[] = [pre, json, asBytes(r.n1), asBytes(r.d1)];
  if (head.second) parts.push(asBytes(r.n2!), asBytes(r.d2!));
  return Buffer.concat(parts);
}

function asBytes(a: Int32Array | Float32Array | Float64Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Read a result file and check it answers rows [r0, r1) of `round`. */
function decodeResult(file: string, round: string, r0: number, r1: number, second: boolean): RangeResult {
  const b = readFileSync(file);
  const bad = (why: string): Error => inputError('E_QUEUE_RESULT_UNREADABLE', `${file} is not the assignment of rows ${r0}–${r1 - 1}: ${why}`, { hint: 'remove it and run the command again', where: { file } });
  if (b.length < 12 || !b.subarray(0, 8).equals(RESULT_MAGIC)) throw bad('it does not start with the result signature');
  const hlen = b.readUInt32LE(8);
  let head: ResultHead;
  try {
    head = JSON.parse(b.subarray(12, 12 + hlen).toString('utf8')) as ResultHead;
  } catch {
    throw bad('its head is not JSON');
  }
  if (head.round !== round || head.r0 !== r0 || head.r1 !== r1 || head.second !== second) throw bad('it answers another candidate set or range');
  const h = r1 - r0;
  const want = 12 + hlen + h * 12 * (second ? 2 : 1);
  if (b.length !== want) throw bad(`it holds ${b.length} bytes, ${want} expected`);
  // Copies: the values are not 8-byte aligned inside the file.
  let pos = 12 + hlen;
  const take = <T extends Int32Array | Float64Array>(C: new (buf: ArrayBuffer) => T, bytes: number): T => {
    const v = new C(b.buffer.slice(b.byteOffset + pos, b.byteOffset + pos + bytes) as ArrayBuffer);
    pos += bytes;
    return v;
  };
  const n1 = take(Int32Array, 4 * h);
  const d1 = take(Float64Array, 8 * h);
  return second ? { n1, d1, n2: take(Int32Array, 4 * h), d2: take(Float64Array, 8 * h), exact: head.exact } : { n1, d1, exact: head.exact };
}

function resultName(round: string, r0: number): string {
  return `${round}-${r0}.bin`;
}

/** BullMQ job id of a range (no ':' — BullMQ reserves it). */
export function assignJobId(round: string, r0: number): string {
  return `asg-${round}-${r0}`;
}

/** Options of {@link QueueAssigner.open}. */
export interface QueueAssignerOptions {
  queue: QueueUrl;
  /** A directory this machine and every worker see. */
  sharedDir: string;
  /** The normalised rows, n × L (float32: sampled mode's DTW profiles). */
  X: Float32Array | Float64Array;
  L: number;
  /** Rows per job (default {@link DEFAULT_ASSIGN_JOB_ROWS}); does not change any result. */
  rowsPerJob?: number;
  kernel?: KernelChoice;
  /** Seconds without Redis before the submitter gives up (default 120). */
  unreachableSeconds?: number;
  stats?: AssignQueueStats;
}

/**
 * The {@link Assigner} of the job queue (see the module comment). Open with {@link open}, close
 * when done: closing removes the dataset's folder from the shared directory.
 */
export class QueueAssigner implements Assigner {
  readonly n: number;
  readonly L: number;
  /** Element type of the rows the jobs carry (the protocol's `dtype`). */
  readonly dtype: 'float32' | 'float64';
  readonly stats: AssignQueueStats;
  private readonly jobs: SubmittedJobs<{ r0: number; r1: number }>;

  private constructor(
    private readonly o: QueueAssignerOptions,
    private readonly inputDigest: string,
    private readonly shared: string,
    private readonly dir: string,
    private readonly conn: Redis,
    private readonly eventsConn: Redis,
    private readonly queue: Queue,
    private readonly events: QueueEvents,
  ) {
    this.L = o.L;
    this.n = o.X.length / o.L;
    this.dtype = dtypeOf(o.X);
    this.stats = o.stats ?? newAssignQueueStats();
    this.jobs = new SubmittedJobs(
      queue,
      events,
      conn,
      o.queue,
      { name: (t) => `assignment job of rows ${t.r0}–${t.r1 - 1}`, unit: 'job', kind: 'assignment', failHint: 'see the worker logs; fix the cause and run the same command again' },
      this.stats,
    );
  }

  /**
   * Write the rows into the shared directory (once: an existing copy of the same size is kept, its
   * name being their digest) and connect to the queue.
   * @throws LpclustError E_WRITE (shared directory not writable), E_QUEUE_UNREACHABLE
   */
  static async open(o: QueueAssignerOptions): Promise<QueueAssigner> {
    const { Queue: BullQueue, QueueEvents: BullEvents } = await import('bullmq');
    const { openRedis, duplicateQuietly } = await import('./connection.js');
    if (o.rowsPerJob !== undefined && !(Number.isInteger(o.rowsPerJob) && o.rowsPerJob >= 1)) throw new RangeError(`Expected a positive integer of rows per job but received ${o.rowsPerJob}`);
    const inputDigest = matrixDigest(o.X, o.L);
    const shared = path.resolve(o.sharedDir);
    const dir = `assign-${inputDigest.slice(0, 20)}`;
    try {
      mkdirSync(path.join(shared, dir, 'results'), { recursive: true });
      const input = path.join(shared, dir, inputFile(dtypeOf(o.X)));
      if (!existsSync(input) || statSync(input).size !== o.X.byteLength) writeFileAtomicSync(input, asBytes(o.X));
    } catch (e) {
      if (e instanceof LpclustError) throw e;
      throw externalError('E_WRITE', `cannot write into the shared directory ${shared}: ${(e as Error).message}`, { option: 'sharedDir', hint: 'give `sharedDir` a directory this machine and every worker can write' });
    }
    const conn = await openRedis(o.queue);
    const eventsConn = duplicateQuietly(conn);
    const queue = new BullQueue(ASSIGN_QUEUE, { connection: conn });
    const events = new BullEvents(ASSIGN_QUEUE, { connection: eventsConn });
    await events.waitUntilReady();
    log.info(`${o.X.length / o.L} profiles written to ${path.join(shared, dir)}; assignments go to the queue ${o.queue.masked} (${ASSIGN_QUEUE}) for \`lpclust worker --queue …\` processes`);
    return new QueueAssigner(o, inputDigest, shared, dir, conn, eventsConn, queue, events);
  }

  /** Nearest (and with `second`, second-nearest) candidate of every row, computed by the workers. */
  async assign(M: Float64Array, radius: number, options: AssignOptions = {}): Promise<AssignResult> {
    const { n, L } = this;
    if (M.length === 0 || M.length % L !== 0) throw new RangeError(`Expected k × ${L} candidate values but received ${M.length}`);
    const second = options.second ?? false;
    const kernel = this.o.kernel ?? 'auto';
    const prune = options.prune;
    const round = createHash('sha256')
      .update(`${this.inputDigest}|${radius}|${second}|${prune ?? 'default'}|${kernel}|`)
      .update(asBytes(M))
      .digest('hex')
      .slice(0, 20);
    const resultsDir = path.join(this.shared, this.dir, 'results');
    const step = this.o.rowsPerJob ?? DEFAULT_ASSIGN_JOB_ROWS;
    const res: AssignResult = { n1: new Int32Array(n), d1: new Float64Array(n), exactPairs: 0, ...(second ? { n2: new Int32Array(n), d2: new Float64Array(n) } : {}) };
    const enqueuedAt = Date.now();
    const place = (r0: number, file: string): void => {
      const r1 = Math.min(n, r0 + step);
      const r = decodeResult(file, round, r0, r1, second);
      res.n1.set(r.n1, r0);
      res.d1.set(r.d1, r0);
      if (second) {
        res.n2!.set(r.n2!, r0);
        res.d2!.set(r.d2!, r0);
      }
      res.exactPairs += r.exact;
      rmSync(file, { force: true });
      this.stats.delivered++;
      this.stats.latencyMs += Date.now() - enqueuedAt;
    };
    const common = {
      protocol: ASSIGN_JOB_PROTOCOL,
      lpclustVersion: lpclustVersion(),
      sharedDir: this.shared,
      dir: this.dir,
      inputDigest: this.inputDigest,
      n,
      L,
      dtype: this.dtype,
      round,
      radius,
      centres: Buffer.from(asBytes(M)).toString('base64'),
      k: M.length / L,
      second,
      ...(prune !== undefined ? { prune } : {}),
      kernel,
    };
    const enqueue = async (ranges: Array<{ r0: number; r1: number }>): Promise<void> => {
      const now = Date.now();
      for (let a = 0; a < ranges.length; a += 500) {
        await this.queue.addBulk(
          ranges.slice(a, a + 500).map(({ r0, r1 }) => ({
            name: 'rows',
            data: { ...common, r0, r1, enqueuedAt: now } satisfies AssignJobData,
            opts: { jobId: assignJobId(round, r0), attempts: 3, backoff: { type: 'fixed', delay: 1000 }, removeOnComplete: true, removeOnFail: { age: 24 * 3600 } },
          })),
        );
      }
      this.stats.enqueued += ranges.length;
    };
    this.stats.rounds++;
    const jobs = this.jobs;
    const outstanding = jobs.outstanding;
    outstanding.clear();
    jobs.failure = null;
    const fileOf = (t: { r0: number }): string => path.join(resultsDir, resultName(round, t.r0));
    try {
      // Ranges already answered in the shared directory (a rerun after a crash) are not enqueued again.
      const fresh: Array<{ r0: number; r1: number }> = [];
      for (let r0 = 0; r0 < n; r0 += step) {
        const t = { r0, r1: Math.min(n, r0 + step) };
        if (existsSync(fileOf(t))) {
          place(r0, fileOf(t));
          this.stats.foundDone++;
        } else {
          outstanding.set(assignJobId(round, r0), t);
          fresh.push(t);
        }
      }
      await enqueue(fresh);
      log.debug(`${fresh.length} assignment job(s) of ${step} rows on the queue ${this.o.queue.masked}`);
      jobs.progressed();
      const unreachableMs = (this.o.unreachableSeconds ?? 120) * 1000;
      const hasResult = (t: { r0: number }): boolean => existsSync(fileOf(t));
      while (outstanding.size > 0) {
        jobs.check(unreachableMs);
        let got = 0;
        for (const [id, t] of outstanding) {
          if (!hasResult(t)) continue;
          place(t.r0, fileOf(t));
          outstanding.delete(id);
          got++;
        }
        if (got > 0) jobs.progressed();
        await jobs.requeueLost(hasResult, enqueue);
        if (outstanding.size > 0) await jobs.nap(100);
      }
    } catch (e) {
      // Ctrl-C or a failure: take this round's jobs not yet started off the queue.
      await jobs.removePending();
      outstanding.clear();
      throw e;
    }
    return res;
  }

  /** Disconnect and remove the dataset's folder from the shared directory. */
  async close(): Promise<void> {
    await closeSubmitter(this.queue, this.events, this.conn, this.eventsConn);
    rmSync(path.join(this.shared, this.dir), { recursive: true, force: true });
  }
}

/** Worker threads over one dataset's rows, one job at a time per thread. */
class AssignThreads {
  private readonly threads: Thread[] = [];
  private readonly idle: Thread[] = [];
  private readonly waiting: Array<{ req: Omit<AssignThreadRequest, 'id'>; resolve: (r: RangeResult) => void; reject: (e: Error) => void }> = [];
  private readonly busy = new Map<Thread, { resolve: (r: RangeResult) => void; reject: (e: Error) => void }>();
  private failure: Error | null = null;
  private nextId = 0;
  kernel: { name: 'native' | 'js'; isa: string } | null = null;

  constructor(count: number, data: AssignThreadData) {
    const entry = workerEntry(import.meta.url, 'assign-thread');
    for (let i = 0; i < count; i++) {
      const t = new Thread(entry.script, { eval: entry.eval, workerData: data });
      this.threads.push(t);
      t.on('message', (m: AssignThreadReply) => {
        if ('ready' in m) {
          this.kernel ??= { name: m.ready.kernel, isa: m.ready.isa };
        } else {
          const p = this.busy.get(t);
          this.busy.delete(t);
          if ('error' in m) p?.reject(new Error(m.error));
          else p?.resolve(m);
        }
        this.idle.push(t);
        this.pump();
      });
      t.on('error', (e) => this.fail(e));
      t.on('exit', (code) => {
        if (code !== 0) this.fail(new Error(`assignment worker thread exited with code ${code}`));
      });
    }
  }

  run(req: Omit<AssignThreadRequest, 'id'>): Promise<RangeResult> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting.push({ req, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.idle.length > 0 && this.waiting.length > 0) {
      const t = this.idle.pop()!;
      const w = this.waiting.shift()!;
      this.busy.set(t, w);
      t.postMessage({ id: this.nextId++, ...w.req } satisfies AssignThreadRequest);
    }
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const w of this.waiting.splice(0)) w.reject(e);
    for (const p of this.busy.values()) p.reject(e);
    this.busy.clear();
  }

  async close(): Promise<void> {
    this.fail(new Error('the assignment threads were closed'));
    await Promise.allSettled(this.threads.map((t) => t.terminate()));
  }
}

/** The rows' file in a dataset's folder: `input.f64` or `input.f32`. */
function inputFile(dtype: 'float32' | 'float64'): string {
  return dtype === 'float32' ? 'input.f32' : 'input.f64';
}

/** Read `file` (n × L values, `bytes` long) straight onto shared memory for the threads. */
function readShared(file: string, bytes: number): SharedArrayBuffer {
  const sab = new SharedArrayBuffer(bytes);
  const view = new Uint8Array(sab);
  const fd = openSync(file, 'r');
  try {
    if (fstatSync(fd).size !== bytes) throw new Error(`it holds ${fstatSync(fd).size} bytes, ${bytes} expected`);
    let off = 0;
    while (off < bytes) {
      const got = readSync(fd, view, off, bytes - off, off);
      if (got === 0) throw new Error('it ends early');
      off += got;
    }
  } finally {
    closeSync(fd);
  }
  return sab;
}

/** Options of {@link startAssignWorker}. */
export interface AssignWorkerOptions {
  queue: QueueUrl;
  /** Where this machine sees the shared directory (default: the submitter's path in each job). */
  sharedDir?: string;
  /** Worker threads, also the number of jobs taken at once. */
  threads: number;
  /** Milliseconds a job's lock lasts without renewal before another worker may take it (default 30000). */
  lockMs?: number;
}

/**
 * Take assignment jobs until `close()`: for each, the nearest candidates of its rows on this
 * machine's threads, written as a result file into the shared directory. A dataset's rows are read
 * once and kept while its jobs come.
 */
export async function startAssignWorker(o: AssignWorkerOptions): Promise<{ close: () => Promise<void>; jobs: () => number }> {
  const { Worker, UnrecoverableError } = await import('bullmq');
  const { openRedis } = await import('./connection.js');
  const conn = await openRedis(o.queue);
  const mine = lpclustVersion();
  let current: { key: string; threads: AssignThreads } | null = null;
  let jobs = 0;
  const threadsFor = (d: AssignJobData, root: string): AssignThreads => {
    const key = `${root}|${d.dir}`;
    if (current?.key === key) return current.threads;
    void current?.threads.close();
    current = null;
    const file = path.join(root, d.dir, inputFile(d.dtype));
    const f32 = d.dtype === 'float32';
    let sab: SharedArrayBuffer;
    try {
      sab = readShared(file, d.n * d.L * (f32 ? 4 : 8));
    } catch (e) {
      throw new UnrecoverableError(`worker on ${hostname()} cannot read ${file} (${(e as Error).message}): is the shared directory mounted there? (give it with --shared-dir)`);
    }
    if (matrixDigest(f32 ? new Float32Array(sab) : new Float64Array(sab), d.L) !== d.inputDigest) throw new UnrecoverableError(`worker on ${hostname()}: ${file} is not the input of this job (its digest differs)`);
    const threads = new AssignThreads(o.threads, { X: sab, dtype: d.dtype, L: d.L, kernel: d.kernel });
    current = { key, threads };
    log.info(`new assignment dataset ${d.dir}: ${d.n} profiles of ${d.L} values read from ${file}`);
    return threads;
  };
  const lockMs = o.lockMs ?? 30_000;
  const worker = new Worker<AssignJobData>(
    ASSIGN_QUEUE,
    async (job: Job<AssignJobData>) => {
      const d = job.data;
      const skew = versionSkew(d, ASSIGN_JOB_PROTOCOL);
      if (skew) throw new UnrecoverableError(skew);
      if (d.dtype !== 'float64' && d.dtype !== 'float32') throw new UnrecoverableError(`worker on ${hostname()}: assignment jobs of ${String(d.dtype)} rows are not known to lpclust ${mine}`);
      if (job.attemptsStarted > 1) log.warn(`assignment job of rows ${d.r0}–${d.r1 - 1}: retried (attempt ${job.attemptsStarted}), after a worker stopped or failed`);
      const root = o.sharedDir ? path.resolve(o.sharedDir) : d.sharedDir;
      const threads = threadsFor(d, root);
      const b = Buffer.from(d.centres, 'base64');
      const M = new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
      if (M.length !== d.k * d.L) throw new UnrecoverableError(`assignment job ${job.id}: ${M.length} candidate values, ${d.k} × ${d.L} expected`);
      const options: AssignOptions = { second: d.second, ...(d.prune !== undefined ? { prune: d.prune } : {}) };
      const r = await threads.run({ M, radius: d.radius, r0: d.r0, r1: d.r1, options });
      const kernel = threads.kernel ?? { name: d.kernel === 'js' ? 'js' : 'native', isa: 'unknown' };
      const dir = path.join(root, d.dir, 'results');
      const bytes = encodeResult({ round: d.round, r0: d.r0, r1: d.r1, second: d.second, exact: r.exact, kernel: kernel.name, isa: kernel.isa }, r);
      try {
        writeFileAtomicSync(path.join(dir, resultName(d.round, d.r0)), bytes);
      } catch (e) {
        // Another worker cannot do better when the folder is gone (the submitter finished or was stopped).
        if (!existsSync(dir)) throw new UnrecoverableError(`the shared directory ${dir} is gone (the submitter finished or gave up)`);
        throw e;
      }
      jobs++;
      return { r0: d.r0 };
    },
    { connection: conn, concurrency: o.threads, lockDuration: lockMs, stalledInterval: Math.max(500, Math.floor(lockMs / 2)), maxStalledCount: 5, autorun: true },
  );
  worker.on('failed', (job, err) => log.warn(`assignment job of rows ${job ? `${job.data.r0}–${job.data.r1 - 1}` : '?'}: ${err.message}`));
  worker.on('error', (err) => log.warn(`queue: ${err.message}`));
  return {
    jobs: () => jobs,
    close: async () => {
      await worker.close();
      await (current as { threads: AssignThreads } | null)?.threads.close();
      conn.disconnect();
    },
  };
}
