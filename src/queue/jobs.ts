/**
 * The submitter's side of jobs whose results are files in the shared directory (DTW tiles,
 * queue/dtw.ts; assignment row ranges, queue/assign.ts): which jobs are still outstanding, what
 * the queue's events say about them (a worker that stopped answering, a job given up for good),
 * whether Redis answers, jobs lost with a Redis restart, and taking the pending ones off the queue
 * on Ctrl-C or a failure. The files, not the queue's bookkeeping, say when a job is done.
 */
import { hostname } from 'node:os';
import type { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { externalError, InterruptedError } from '../errors.js';
import { interruptSignal } from '../util/interrupt.js';
import { log } from '../util/log.js';
import { lpclustVersion } from '../dtw/matrix.js';
import { unreachable, type QueueUrl } from './connection.js';

/** What every job whose inputs and results are files in the shared directory carries (no secret). */
export interface SharedDirJob {
  /** Version of the job format. */
  protocol: number;
  /** lpclust version of the submitter: a worker of another version refuses the job. */
  lpclustVersion: string;
  /** The shared directory as the submitter sees it (a worker may mount it elsewhere: --shared-dir). */
  sharedDir: string;
  /** The job's folder inside the shared directory. */
  dir: string;
  /** Digest of the n × L float64 input (profiles/normalize.ts matrixDigest). */
  inputDigest: string;
  n: number;
  L: number;
}

/**
 * Why this worker refuses a job made by another lpclust version or job format (the submitter shows
 * it), or null when it takes it.
 */
export function versionSkew(d: { protocol: number; lpclustVersion: string }, protocol: number): string | null {
  const mine = lpclustVersion();
  if (d.protocol === protocol && d.lpclustVersion === mine) return null;
  return `lpclust worker ${mine} on ${hostname()} refuses a job of lpclust ${d.lpclustVersion} (job format ${d.protocol}, this worker's ${protocol}): run the same lpclust version on the submitter and every worker`;
}

/** How {@link SubmittedJobs} speaks of its jobs. */
export interface JobWording<T> {
  /** One job, for messages: `tile 12`, `assignment job of rows 0–99`. */
  name: (t: T) => string;
  /** What a retried job is called in the stalled message (`tile`, `job`). */
  unit: string;
  /** What kind of job, in counts: `tile`, `assignment`. */
  kind: string;
  /** The hint of a job given up for good. */
  failHint: string;
}

/** The outstanding jobs of one submission (see the module comment). */
export class SubmittedJobs<T> {
  /** Job id → the job's task, until its result file is read. */
  readonly outstanding = new Map<string, T>();
  /** Set when a job failed for good (version skew, a worker's error after its retries). */
  failure: Error | null = null;
  /** Unix ms since Redis stopped answering, or null. */
  downSince: number | null = null;
  private wake: (() => void) | null = null;
  private lastProgress = Date.now();
  private lastCheck = Date.now();

  constructor(
    private readonly queue: Queue,
    events: QueueEvents,
    conn: Redis,
    private readonly url: QueueUrl,
    private readonly words: JobWording<T>,
    stats: { retried: number },
  ) {
    events.on('completed', ({ jobId }) => {
      if (this.outstanding.has(jobId)) this.poke();
    });
    events.on('stalled', ({ jobId }) => {
      const t = this.outstanding.get(jobId);
      if (t === undefined) return;
      stats.retried++;
      log.warn(`${words.name(t)}: its worker stopped answering (lock expired); the ${words.unit} is retried by another worker`);
    });
    events.on('failed', ({ jobId, failedReason }) => {
      const t = this.outstanding.get(jobId);
      if (t === undefined) return;
      queue.getJobState(jobId).then(
        (state) => {
          if (state === 'failed') {
            this.failure ??= externalError('E_QUEUE_JOB_FAILED', `a worker gave up on ${words.name(t)}: ${failedReason}`, { hint: words.failHint });
            this.poke();
          } else {
            log.info(`${words.name(t)}: attempt failed (${failedReason}); it is retried`);
          }
        },
        // The state cannot be read: the submitter is closing the queue after an earlier failure
        // (several jobs fail at once when a worker refuses them all), or Redis is away, in which
        // case the 5-second check of outstanding jobs finds the failure. Unhandled, this rejection
        // would end the process with an internal error instead of the failure's own message.
        () => {},
      );
    });
    conn.on('close', () => {
      this.downSince ??= Date.now();
    });
    conn.on('ready', () => {
      if (this.downSince !== null) log.info(`the job queue at ${url.masked} answers again`);
      this.downSince = null;
    });
  }

  private poke(): void {
    this.wake?.();
  }

  /**
   * Throw what stops the submission: a job failed for good, Ctrl-C (`shouldStop`), or Redis gone
   * for longer than `unreachableMs`.
   */
  check(unreachableMs: number, shouldStop: () => boolean = () => interruptSignal() !== null): void {
    if (this.failure) throw this.failure;
    if (shouldStop()) throw new InterruptedError(interruptSignal() ?? 'SIGINT');
    if (this.downSince !== null && Date.now() - this.downSince > unreachableMs) throw unreachable(this.url, `no connection for ${Math.round((Date.now() - this.downSince) / 1000)} s`);
  }

  /** Record that results arrived (the lost-job check waits for 5 s without any). */
  progressed(): void {
    this.lastProgress = Date.now();
  }

  /**
   * After 5 s without a result: make sure every outstanding job is still on the queue (Redis may
   * have been restarted without its data) and enqueue again those that are not and have no
   * result file (re-adding an existing id is a no-op); a job found failed for good whose event
   * was missed (it failed before the event stream was read) stops the submission as the event would.
   */
  async requeueLost(hasResult: (t: T) => boolean, enqueue: (tasks: T[]) => Promise<void>): Promise<void> {
    if (Date.now() - this.lastProgress <= 5000 || Date.now() - this.lastCheck <= 5000 || this.downSince !== null) return;
    this.lastCheck = Date.now();
    const lost: T[] = [];
    for (const [id, t] of this.outstanding) {
      const state = await this.queue.getJobState(id);
      if (state === 'unknown' && !hasResult(t)) lost.push(t);
      if (state === 'failed' && !this.failure) {
        const job = await this.queue.getJob(id);
        this.failure = externalError('E_QUEUE_JOB_FAILED', `a worker gave up on ${this.words.name(t)}: ${job?.failedReason ?? 'no reason recorded'}`, { hint: this.words.failHint });
        return;
      }
    }
    if (lost.length > 0) {
      log.warn(`${lost.length} ${this.words.kind} job(s) were no longer on the queue (was Redis restarted without its data?); enqueued again`);
      await enqueue(lost);
    }
  }

  /** Wait up to `ms` for a job to complete (or fail). */
  async nap(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wake = null;
  }

  /** Ctrl-C or a failure: take the outstanding jobs not yet started off the queue (running ones finish and leave their result, which a rerun finds). */
  async removePending(): Promise<void> {
    if (this.outstanding.size === 0 || this.downSince !== null) return;
    let removed = 0;
    await Promise.race([
      (async () => {
        for (const id of this.outstanding.keys()) removed += (await this.queue.remove(id).catch(() => 0)) > 0 ? 1 : 0;
      })(),
      new Promise((r) => setTimeout(r, 5000)),
    ]);
    log.info(`removed ${removed} pending ${this.words.kind} job(s) from the queue`);
  }
}

/** Close a submitter's queue, events and both connections (waiting at most 3 s for a gone Redis). */
export async function closeSubmitter(queue: Queue, events: QueueEvents, conn: Redis, eventsConn: Redis): Promise<void> {
  await Promise.race([Promise.allSettled([events.close(), queue.close()]), new Promise((r) => setTimeout(r, 3000))]);
  conn.disconnect();
  eventsConn.disconnect();
}
