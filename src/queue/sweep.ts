/**
 * Sweep configurations on the BullMQ job queue (`lpclust sweep --queue URL --shared-dir D`): the
 * submitter makes the dataset and DTW matrix once into D (its --out-dir must be inside D), sends
 * one job per configuration, and writes the summary, stability and charts from the results as a
 * local sweep does. A worker (`lpclust worker`) reads the profiles and the matrix once per sweep
 * and keeps them while that sweep's jobs come, runs each configuration as the nested run of the
 * submitter's parent run — logged to the tracking store of the worker's own settings (it must be
 * the submitter's: the job carries no credential) — and returns its metrics, cluster sizes and
 * labels.
 */
import { hostname } from 'node:os';
import path from 'node:path';
import type { Job } from 'bullmq';
import { externalError, InterruptedError } from '../errors.js';
import type { ClusterSpec, InitName, MetricName, ModelName } from '../cluster/fit.js';
import type { Linkage } from '../cluster/agglomerative.js';
import type { Normalization } from '../profiles/normalize.js';
import type { TrackingStore } from '../tracking/store.js';
import { interruptSignal } from '../util/interrupt.js';
import { log } from '../util/log.js';
import { lpclustVersion } from '../dtw/matrix.js';
import type { QueueUrl } from './connection.js';
import { versionSkew } from './jobs.js';

/** The BullMQ queue of sweep configurations. */
export const SWEEP_QUEUE = 'lpclust-sweep-configs';

/** Version of the job format. */
export const SWEEP_JOB_PROTOCOL = 1;

/** One configuration as a job (no secret: paths relative to the shared directory and settings). */
export interface SweepJobData {
  protocol: number;
  lpclustVersion: string;
  sharedDir: string;
  /** Profiles CSV, DTW matrix and the configuration's output directory, relative to the shared directory. */
  in: string;
  dtw?: string;
  outDir: string;
  /** The parent run's experiment (the worker's store must be the submitter's). */
  experimentId: string;
  parentRunId: string;
  cfg: string;
  model: ModelName;
  metric: MetricName;
  k: number;
  seed: number;
  radius: number;
  normalize: Normalization;
  nInit?: number;
  linkage?: Linkage;
  init?: InitName;
}

/** What a worker returns for a configuration. */
export interface SweepJobResult {
  status: 'FINISHED' | 'FAILED';
  runId: string;
  error?: string;
  metrics: Record<string, number>;
  sizes: number[];
  /** Int32 labels, little-endian, base64 (FINISHED only). */
  labels?: string;
}

/** A configuration to run. */
export interface QueuedConfig {
  model: ModelName;
  metric: MetricName;
  k: number;
  seed: number;
  cfg: string;
}

/** Options of {@link runConfigsOnQueue}. */
export interface SweepQueueOptions {
  queue: QueueUrl;
  sharedDir: string;
  in: string;
  dtw?: string;
  runDir: string;
  experimentId: string;
  parentRunId: string;
  radius: number;
  normalize: Normalization;
  nInit?: number;
  linkage?: Linkage;
  init?: InitName;
  /** Called as each configuration ends (its log line). */
  onDone: (i: number, r: SweepJobResult) => void;
}

/** A path inside the shared directory, relative to it. @throws when it is outside */
export function insideShared(sharedDir: string, p: string, what: string): string {
  const rel = path.relative(path.resolve(sharedDir), path.resolve(p));
  if (rel.startsWith('..') || path.isAbsolute(rel)) {
    throw externalError('E_QUEUE_SHARED_DIR', `${what} ${path.resolve(p)} is not inside the shared directory ${path.resolve(sharedDir)}: the workers could not see it`, {
      hint: 'give --out-dir (and --in) inside --shared-dir when the sweep runs on a queue',
    });
  }
  return rel;
}

/**
 * Run the configurations as jobs and return each one's result, in the configurations' order.
 * Ctrl-C removes the jobs not yet started; a job refused by a worker (another lpclust version)
 * stops the sweep with the worker's reason.
 */
export async function runConfigsOnQueue(configs: readonly QueuedConfig[], o: SweepQueueOptions): Promise<SweepJobResult[]> {
  const { Queue, QueueEvents } = await import('bullmq');
  const { openRedis, duplicateQuietly } = await import('./connection.js');
  const conn = await openRedis(o.queue);
  const eventsConn = duplicateQuietly(conn);
  const queue = new Queue(SWEEP_QUEUE, { connection: conn });
  const events = new QueueEvents(SWEEP_QUEUE, { connection: eventsConn });
  const shared = path.resolve(o.sharedDir);
  const results: SweepJobResult[] = new Array(configs.length);
  const ids = configs.map((c) => `sweep-${o.parentRunId}-${c.cfg}`);
  try {
    await events.waitUntilReady();
    const jobs = await queue.addBulk(
      configs.map((c, i) => ({
        name: 'config',
        data: {
          protocol: SWEEP_JOB_PROTOCOL,
          lpclustVersion: lpclustVersion(),
          sharedDir: shared,
          in: insideShared(shared, o.in, 'the profiles'),
          ...(o.dtw ? { dtw: insideShared(shared, o.dtw, 'the DTW matrix') } : {}),
          outDir: insideShared(shared, path.join(o.runDir, 'configs', c.cfg), '--out-dir'),
          experimentId: o.experimentId,
          parentRunId: o.parentRunId,
          cfg: c.cfg,
          model: c.model,
          metric: c.metric,
          k: c.k,
          seed: c.seed,
          radius: o.radius,
          normalize: o.normalize,
          nInit: o.nInit,
          linkage: o.linkage,
          init: o.init,
        } satisfies SweepJobData,
        opts: { jobId: ids[i], attempts: 2, removeOnComplete: { age: 3600 }, removeOnFail: { age: 24 * 3600 } },
      })),
    );
    log.info(`${jobs.length} configuration job(s) on the queue ${o.queue.masked} (${SWEEP_QUEUE}); waiting for \`lpclust worker --queue …\` processes`);
    // One watcher for Ctrl-C, cleared at the end (a timer left behind would keep the process alive).
    let timer: NodeJS.Timeout | undefined;
    const stop = new Promise<never>((_, reject) => {
      timer = setInterval(() => {
        if (interruptSignal() !== null) reject(new InterruptedError(interruptSignal() ?? 'SIGINT'));
      }, 100);
    });
    stop.catch(() => undefined);
    try {
      await Promise.race([
        stop,
        Promise.all(
          jobs.map(async (job, i) => {
            let r: SweepJobResult;
            try {
              r = (await job.waitUntilFinished(events)) as SweepJobResult;
            } catch (e) {
              throw externalError('E_QUEUE_JOB_FAILED', `a worker gave up on ${configs[i].cfg}: ${(e as Error).message}`, { hint: 'see the worker logs; fix the cause and run the sweep again' });
            }
            results[i] = r;
            o.onDone(i, r);
          }),
        ),
      ]);
    } finally {
      clearInterval(timer);
    }
  } catch (e) {
    let removed = 0;
    for (const id of ids) removed += (await queue.remove(id).catch(() => 0)) > 0 ? 1 : 0;
    if (removed > 0) log.info(`removed ${removed} pending configuration job(s) from the queue`);
    throw e;
  } finally {
    await Promise.race([Promise.allSettled([events.close(), queue.close()]), new Promise((r) => setTimeout(r, 3000))]);
    conn.disconnect();
    eventsConn.disconnect();
  }
  return results;
}

/** What a worker keeps between jobs of the same sweep: the profiles and the checked matrix. */
interface SweepCache {
  key: string;
  preloaded?: { matrix: Float32Array | Float64Array; path: string };
}

/**
 * The processor of configuration jobs, for `lpclust worker`: runs one configuration as a nested
 * run in `store` and returns its result (a failing configuration is a FAILED result, as in a
 * local sweep, not a failed job).
 */
export function sweepProcessor(o: { sharedDir?: string; threads: number; store: TrackingStore }): (job: Job<SweepJobData>) => Promise<SweepJobResult> {
  let cache: SweepCache | null = null;
  return async (job) => {
    const { UnrecoverableError } = await import('bullmq');
    const d = job.data;
    const skew = versionSkew(d, SWEEP_JOB_PROTOCOL);
    if (skew) throw new UnrecoverableError(skew);
    const { runClusterStage, loadCheckedDtwMatrix } = await import('../pipeline/cluster.js');
    const { readProfiles } = await import('../io/profiles.js');
    const root = o.sharedDir ? path.resolve(o.sharedDir) : d.sharedDir;
    const inFile = path.join(root, d.in);
    const dtwFile = d.dtw ? path.join(root, d.dtw) : undefined;
    const key = `${inFile}|${dtwFile ?? ''}|${d.radius}|${d.normalize}`;
    if (cache?.key !== key) {
      // Once per sweep: the matrix is read and checked here, not by every configuration.
      const table = await readProfiles(inFile);
      const preloaded = dtwFile ? { matrix: (await loadCheckedDtwMatrix(table, inFile, dtwFile, d.radius, d.normalize, { shared: true })).data, path: dtwFile } : undefined;
      cache = { key, ...(preloaded ? { preloaded } : {}) };
      log.info(`sweep ${d.parentRunId}: ${table.n} profiles${dtwFile ? ' and the DTW matrix' : ''} read from ${root}`);
    }
    const tags = { 'lpclust.stage': 'clustering', 'lpclust.sweep.config': d.cfg, 'lpclust.worker.host': hostname() };
    // The nested run goes into the parent's experiment of this worker's store: it must be the submitter's.
    const parent = await o.store.getRun(d.parentRunId).catch(() => null);
    const experiment = parent ? (await o.store.listExperiments()).find((e) => e.experimentId === parent.info.experimentId) : undefined;
    if (!parent || !experiment) {
      throw new UnrecoverableError(`worker on ${hostname()}: the sweep's parent run ${d.parentRunId} is not in this worker's tracking store ${o.store.displayUri}; point the worker at the submitter's (--tracking-uri or MLFLOW_TRACKING_URI, credentials from its own environment)`);
    }
    try {
      const spec = { model: d.model, metric: d.metric, k: d.k, seed: d.seed } satisfies Partial<ClusterSpec>;
      const res = await runClusterStage(
        { in: inFile, ...spec, dtw: dtwFile, radius: d.radius, normalize: d.normalize, nInit: d.nInit, linkage: d.linkage, init: d.init, outDir: path.join(root, d.outDir), workers: o.threads, plots: false, ...(cache.preloaded ? { preloaded: cache.preloaded } : {}) },
        { store: o.store, experimentName: experiment.name, parentRunId: d.parentRunId, tags },
      );
      const l = res.outputs.fit.labels;
      return { status: 'FINISHED', runId: res.runId, metrics: res.metrics, sizes: res.outputs.clusterSizes, labels: Buffer.from(l.buffer, l.byteOffset, l.byteLength).toString('base64') };
    } catch (e) {
      const runs = await o.store.searchRuns({ experimentIds: [d.experimentId], tags: { 'mlflow.parentRunId': d.parentRunId, 'lpclust.sweep.config': d.cfg }, maxResults: 1 }).catch(() => []);
      log.warn(`${d.cfg}: ${(e as Error).message}`);
      return { status: 'FAILED', runId: runs[0]?.info.runId ?? '', error: (e as Error).message, metrics: {}, sizes: [] };
    }
  };
}

/** Labels of a FINISHED result. */
export function labelsOf(r: SweepJobResult): Int32Array | undefined {
  if (!r.labels) return undefined;
  const b = Buffer.from(r.labels, 'base64');
  return new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/**
 * Take configuration jobs (one at a time: a configuration uses `threads` threads itself) until
 * `close()` is called.
 */
export async function startSweepWorker(o: { queue: QueueUrl; sharedDir?: string; threads: number; store: TrackingStore; lockMs?: number }): Promise<{ close: () => Promise<void>; configs: () => number }> {
  const { Worker } = await import('bullmq');
  const { openRedis } = await import('./connection.js');
  const conn = await openRedis(o.queue);
  const processor = sweepProcessor(o);
  let configs = 0;
  const worker = new Worker<SweepJobData, SweepJobResult>(
    SWEEP_QUEUE,
    async (job) => {
      const r = await processor(job);
      configs++;
      log.info(`${job.data.cfg}: ${r.status}${r.error ? ` (${r.error})` : ''}`);
      return r;
    },
    { connection: conn, concurrency: 1, lockDuration: o.lockMs ?? 30_000, maxStalledCount: 5 },
  );
  worker.on('failed', (job, err) => log.warn(`${job?.data.cfg ?? 'configuration'}: ${err.message}`));
  worker.on('error', (err) => log.warn(`queue: ${err.message}`));
  return {
    configs: () => configs,
    close: async () => {
      await worker.close();
      conn.disconnect();
    },
  };
}
