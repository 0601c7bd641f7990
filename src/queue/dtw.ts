/**
 * DTW matrix tiles on a BullMQ job queue (Redis): the submitter (`lpclust dtw --queue URL
 * --shared-dir D`) writes the normalised series once into D, enqueues one job per tile not yet
 * done, and assembles the tiles as the workers (`lpclust worker --queue URL`) write them into D;
 * the matrix writer, checkpoint and sidecar are those of a one-machine run (matrix.ts), so the
 * .npy is the same bytes.
 *
 * Delivery is at least once (a worker killed mid-tile has its job taken again once its lock
 * expires), so everything is idempotent per tile: the job id is derived from the input digest,
 * band, dtype, tile size and tile (enqueuing twice is a no-op), and a tile file is written
 * atomically under a name fixed by the same things (a retried tile rewrites the same bytes). The
 * submitter trusts the files, not the queue's bookkeeping: a tile is done when its file is there,
 * and a job that vanished (Redis restarted without its data) is enqueued again.
 *
 * Jobs carry no secret: paths, sizes and settings only; workers find Redis and the tracking
 * store from their own command line and environment.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import type { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { externalError, inputError, LpclustError } from '../errors.js';
import { writeFileAtomicSync } from '../io/atomic.js';
import { matrixDigest, type Normalization } from '../profiles/normalize.js';
import type { NpyDtype } from '../io/npy.js';
import { log } from '../util/log.js';
import { lpclustVersion, type TileSource } from '../dtw/matrix.js';
import { effectiveRadius, radiusFromJson, radiusParam } from '../dtw/settings.js';
import type { MatrixWorkerData, TileTask } from '../dtw/matrix-worker.js';
import { TilePool } from '../dtw/tile-pool.js';
import { indexTileFile, readTile, transposeTile, writeTileFile, type TileFileHead } from '../dtw/tile-file.js';
import type { KernelChoice } from '../dtw/kernel.js';
import type { QueueUrl } from './connection.js';
import { closeSubmitter, SubmittedJobs, versionSkew, type SharedDirJob } from './jobs.js';

/** The BullMQ queue of DTW tiles. */
export const DTW_QUEUE = 'lpclust-dtw-tiles';

/** Version of the job format; a worker refuses jobs of another. */
export const TILE_JOB_PROTOCOL = 1;

/** What a tile job carries (no secret). */
export interface TileJobData extends SharedDirJob {
  /** Radius as asked (null: full DTW) and as used (clamped to L − 1). */
  radius: number | null;
  effectiveRadius: number;
  dtype: NpyDtype;
  tileSize: number;
  normalization: Normalization;
  kernel: KernelChoice;
  tile: TileTask;
  /** Unix ms when enqueued (for the queue-overhead benchmark). */
  enqueuedAt: number;
}

/** The folder of one matrix job in the shared directory: fixed by the input and settings. */
export function jobKey(inputDigest: string, radius: number | null, dtype: NpyDtype, tileSize: number): string {
  return createHash('sha256').update(`${inputDigest}|${radiusParam(radiusFromJson(radius))}|${dtype}|${tileSize}`).digest('hex').slice(0, 20);
}

/** BullMQ job id of a tile (no ':' — BullMQ reserves it). */
export function tileJobId(key: string, tile: number): string {
  return `dtw-${key}-${tile}`;
}

function tileFileName(tile: number): string {
  return `${tile}.tiles`;
}

/** Options of {@link queueTileSource}. */
export interface QueueSourceOptions {
  queue: QueueUrl;
  sharedDir: string;
  /** The normalised series, n × L (written once into the shared directory). */
  values: Float64Array;
  length: number;
  radius: number | null;
  dtype: NpyDtype;
  tileSize: number;
  normalization: Normalization;
  kernel: KernelChoice;
  layout: 'full' | 'condensed';
  /** Seconds without Redis before the submitter gives up (default 120). */
  unreachableSeconds?: number;
  /** Collects the workers' kernels from their tiles (pass its get() as computeDtwMatrix's kernelInfo). */
  kernels?: TileKernels;
  /** Called with what the submitter saw (tests, bench): tiles enqueued, found done, retried. */
  stats?: QueueStats;
}

/** The kernels the workers' tiles say they were computed with, for the sidecar. */
export class TileKernels {
  private readonly seen = new Map<string, 'native' | 'js'>();

  add(head: TileFileHead): void {
    this.seen.set(head.isa, head.kernel);
  }

  /** The first kernel seen and every instruction set, comma-separated (undefined before any tile). */
  get(): { name: 'native' | 'js'; isa: string } | undefined {
    const first = this.seen.values().next();
    return first.done ? undefined : { name: first.value, isa: [...this.seen.keys()].join(',') };
  }
}

/** Counters of a queued matrix. */
export interface QueueStats {
  enqueued: number;
  foundDone: number;
  retried: number;
  /** ms from enqueue to the tile's file being read, summed. */
  latencyMs: number;
  delivered: number;
}

/** A fresh {@link QueueStats}. */
export function newQueueStats(): QueueStats {
  return { enqueued: 0, foundDone: 0, retried: 0, latencyMs: 0, delivered: 0 };
}

/**
 * The tile source of a queued matrix: enqueue, wait for tile files, deliver them to the writer.
 * Ctrl-C removes the jobs not yet taken; a job that fails for good (version skew, a worker's error
 * after its retries) stops the matrix with the worker's message.
 */
export function queueTileSource(o: QueueSourceOptions): TileSource {
  return async (todo, onDone, shouldStop) => {
    const { Queue, QueueEvents } = await import('bullmq');
    const { openRedis, duplicateQuietly } = await import('./connection.js');
    const n = o.values.length / o.length;
    const inputDigest = matrixDigest(o.values, o.length);
    const key = jobKey(inputDigest, o.radius, o.dtype, o.tileSize);
    const shared = path.resolve(o.sharedDir);
    const jobDir = path.join(shared, `dtw-${key}`);
    const tilesDir = path.join(jobDir, 'tiles');
    try {
      mkdirSync(tilesDir, { recursive: true });
      const input = path.join(jobDir, 'input.f64');
      if (!existsSync(input) || statSync(input).size !== o.values.byteLength) {
        writeFileAtomicSync(input, new Uint8Array(o.values.buffer, o.values.byteOffset, o.values.byteLength));
      }
    } catch (e) {
      if (e instanceof LpclustError) throw e;
      throw externalError('E_WRITE', `cannot write into the shared directory ${shared}: ${(e as Error).message}`, { option: 'sharedDir', hint: 'give `sharedDir` a directory this machine and every worker can write' });
    }
    const stats = o.stats ?? newQueueStats();
    const conn = await openRedis(o.queue);
    const eventsConn = duplicateQuietly(conn);
    const queue: Queue = new Queue(DTW_QUEUE, { connection: conn });
    const events = new QueueEvents(DTW_QUEUE, { connection: eventsConn });
    const jobs = new SubmittedJobs<TileTask>(queue, events, conn, o.queue, { name: (t) => `tile ${t.tile}`, unit: 'tile', kind: 'tile', failHint: 'see the worker logs; fix the cause and run the same command again (finished tiles are kept)' }, stats);
    const outstanding = jobs.outstanding;
    // Events of jobs that fail at once (a version-skewed worker) are only seen once the stream is read.
    await events.waitUntilReady();

    const common: Omit<TileJobData, 'tile' | 'enqueuedAt'> = {
      protocol: TILE_JOB_PROTOCOL,
      lpclustVersion: lpclustVersion(),
      sharedDir: shared,
      dir: `dtw-${key}`,
      inputDigest,
      n,
      L: o.length,
      radius: o.radius,
      dtype: o.dtype,
      tileSize: o.tileSize,
      normalization: o.normalization,
      kernel: o.kernel,
      effectiveRadius: effectiveRadius(radiusFromJson(o.radius), o.length),
    };
    const enqueue = async (tiles: TileTask[]): Promise<void> => {
      const now = Date.now();
      for (let a = 0; a < tiles.length; a += 500) {
        await queue.addBulk(
          tiles.slice(a, a + 500).map((t) => ({
            name: 'tile',
            data: { ...common, tile: t, enqueuedAt: now } satisfies TileJobData,
            opts: { jobId: tileJobId(key, t.tile), attempts: 3, backoff: { type: 'fixed', delay: 1000 }, removeOnComplete: true, removeOnFail: { age: 24 * 3600 } },
          })),
        );
      }
      stats.enqueued += tiles.length;
    };
    const enqueuedAt = Date.now();
    const deliver = (t: TileTask, file: string): void => {
      const ix = indexTileFile(file);
      for (const k of ['inputDigest', 'n', 'L', 'radius', 'dtype', 'tileSize'] as const) {
        if (ix.head[k] !== ({ inputDigest, n, L: o.length, radius: o.radius, dtype: o.dtype, tileSize: o.tileSize } as const)[k]) {
          throw inputError('E_DTW_TILES_FOREIGN', `${file} belongs to another matrix (${k} differs)`, { hint: `remove ${tilesDir} and run the command again`, where: { file } });
        }
      }
      o.kernels?.add(ix.head);
      const rows = readTile(ix, t);
      onDone(t, rows, o.layout === 'full' && t.r0 !== t.c0 ? transposeTile(rows, t.r1 - t.r0, t.c1 - t.c0) : null);
      stats.delivered++;
      stats.latencyMs += Date.now() - enqueuedAt;
    };

    try {
      // Tiles already in the shared directory (a rerun after Ctrl-C or a crash) are not enqueued again.
      const present = new Set(readdirSync(tilesDir).filter((f) => /^\d+\.tiles$/.test(f)));
      const fresh: TileTask[] = [];
      for (const t of todo) {
        if (present.has(tileFileName(t.tile))) {
          deliver(t, path.join(tilesDir, tileFileName(t.tile)));
          stats.foundDone++;
        } else {
          const id = tileJobId(key, t.tile);
          outstanding.set(id, t);
          fresh.push(t);
        }
      }
      if (stats.foundDone > 0) log.info(`${stats.foundDone} tile(s) already in ${tilesDir}`);
      await enqueue(fresh);
      log.info(`${fresh.length} tile job(s) on the queue ${o.queue.masked} (${DTW_QUEUE}); waiting for \`lpclust worker --queue …\` processes`);
      jobs.progressed();
      const unreachableMs = (o.unreachableSeconds ?? 120) * 1000;
      const hasTile = (t: TileTask): boolean => existsSync(path.join(tilesDir, tileFileName(t.tile)));
      while (outstanding.size > 0) {
        jobs.check(unreachableMs, shouldStop);
        let got = 0;
        for (const [id, t] of outstanding) {
          if (!hasTile(t)) continue;
          deliver(t, path.join(tilesDir, tileFileName(t.tile)));
          outstanding.delete(id);
          got++;
        }
        if (got > 0) jobs.progressed();
        await jobs.requeueLost(hasTile, enqueue);
        if (outstanding.size > 0) await jobs.nap(200);
      }
    } catch (e) {
      // Ctrl-C or a failure: take our jobs not yet started off the queue (running ones finish and
      // leave their tile in the shared directory, where a rerun finds it).
      await jobs.removePending();
      throw e;
    } finally {
      await closeSubmitter(queue, events, conn, eventsConn);
    }
    // Every tile is in the matrix now: the shared copies are not needed any more.
    rmSync(jobDir, { recursive: true, force: true });
  };
}

/** Options of {@link processTileJobs}. */
export interface TileWorkerOptions {
  queue: QueueUrl;
  /** Where this machine sees the shared directory (default: the submitter's path in each job). */
  sharedDir?: string;
  /** Worker threads, also the number of jobs taken at once. */
  threads: number;
  /** Milliseconds a job's lock lasts without renewal before another worker may take it (default 30000). */
  lockMs?: number;
  /** Polled; true closes the worker after the jobs in hand. */
  shouldStop: () => boolean;
}

/**
 * Take tile jobs until stopped: compute each tile with the DTW kernel on worker threads and write
 * its tile file atomically into the shared directory. The series of a matrix are read once and
 * kept while its jobs come.
 */
export async function processTileJobs(o: TileWorkerOptions): Promise<{ tiles: number }> {
  const { Worker, UnrecoverableError } = await import('bullmq');
  const { openRedis } = await import('./connection.js');
  const conn: Redis = await openRedis(o.queue);
  const mine = lpclustVersion();
  let current: { key: string; pool: TilePool } | null = null;
  let tiles = 0;
  const poolFor = (d: TileJobData, root: string): TilePool => {
    const key = `${root}|${d.dir}`;
    if (current?.key === key) return current.pool;
    void current?.pool.close();
    const file = path.join(root, d.dir, 'input.f64');
    let buf: Buffer;
    try {
      buf = readFileSync(file);
    } catch (e) {
      throw new UnrecoverableError(`worker on ${hostname()} cannot read ${file} (${(e as Error).message}): is the shared directory mounted there? (give it with --shared-dir)`);
    }
    const values = new Float64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    if (values.length !== d.n * d.L || matrixDigest(values, d.L) !== d.inputDigest) {
      throw new UnrecoverableError(`worker on ${hostname()}: ${file} is not the input of this job (its digest differs)`);
    }
    const bytes = d.dtype === 'float32' ? 4 : 8;
    const sab = new SharedArrayBuffer(values.length * bytes);
    (d.dtype === 'float32' ? new Float32Array(sab) : new Float64Array(sab)).set(values);
    const wd: MatrixWorkerData = { values: sab, dtype: d.dtype, n: d.n, L: d.L, radius: d.effectiveRadius, kernel: d.kernel, tileSize: d.tileSize, layout: 'full', mirror: false };
    const pool = new TilePool(o.threads, wd);
    current = { key, pool };
    log.info(`new matrix ${d.dir}: ${d.n} series of ${d.L} values read from ${file}`);
    return pool;
  };
  const lockMs = o.lockMs ?? 30_000;
  const worker = new Worker<TileJobData>(
    DTW_QUEUE,
    async (job: Job<TileJobData>) => {
      const d = job.data;
      const skew = versionSkew(d, TILE_JOB_PROTOCOL);
      if (skew) throw new UnrecoverableError(skew);
      if (job.attemptsStarted > 1) log.warn(`tile ${d.tile.tile}: retried (attempt ${job.attemptsStarted}), after a worker stopped or failed`);
      const root = o.sharedDir ? path.resolve(o.sharedDir) : d.sharedDir;
      const pool = poolFor(d, root);
      const rows = await pool.run(d.tile);
      const head: TileFileHead = {
        format: 'lpclust-dtw-tiles',
        formatVersion: 1,
        inputDigest: d.inputDigest,
        n: d.n,
        L: d.L,
        radius: d.radius,
        dtype: d.dtype,
        tileSize: d.tileSize,
        normalization: d.normalization,
        tiles: [d.tile.tile],
        kernel: pool.kernel?.name ?? (d.kernel === 'js' ? 'js' : 'native'),
        isa: pool.kernel?.isa ?? 'unknown',
        lpclustVersion: mine,
      };
      const dir = path.join(root, d.dir, 'tiles');
      try {
        writeTileFile(path.join(dir, tileFileName(d.tile.tile)), head, d.tile, rows);
      } catch (e) {
        // Another worker cannot do better when the directory is gone (the submitter finished or was stopped).
        if (!existsSync(dir)) throw new UnrecoverableError(`the shared directory ${dir} is gone (the submitter finished or gave up)`);
        throw e;
      }
      tiles++;
      return { tile: d.tile.tile };
    },
    { connection: conn, concurrency: o.threads, lockDuration: lockMs, stalledInterval: Math.max(500, Math.floor(lockMs / 2)), maxStalledCount: 5, autorun: true },
  );
  worker.on('failed', (job, err) => log.warn(`tile ${job?.data.tile.tile ?? '?'}: ${err.message}`));
  worker.on('error', (err) => log.warn(`queue: ${err.message}`));
  log.info(`worker on ${hostname()} (lpclust ${mine}, ${o.threads} thread(s)) takes DTW tiles from ${o.queue.masked}`);
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (o.shouldStop()) {
        clearInterval(timer);
        resolve();
      }
    }, 100);
  });
  log.info('stopping: finishing the tiles in hand');
  await worker.close();
  await (current as { pool: TilePool } | null)?.pool.close();
  conn.disconnect();
  return { tiles };
}
