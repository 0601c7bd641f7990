/**
 * `lpclust sync`: upload runs of a local store (the spool, or any `./mlruns`) to a tracking
 * server — params, full metric histories (timestamps and steps kept), tags, artifacts, nesting
 * (parent ids remapped), status, start and end times — idempotently.
 *
 * Each local run is matched to at most one server run, found (in this order) by the server run it
 * continues (`lpclust.remoteRunId`), by its client id (`lpclust.clientRunId`, which also catches a
 * run whose creation answer was lost) or by `lpclust.syncSourceRunId` = the local run id (set on
 * every run sync creates). Only what the server lacks is sent, so running sync twice creates and
 * writes nothing the second time, and an interrupted sync resumes where it stopped.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isLpclustError } from '../errors.js';
import { throwIfInterrupted } from '../util/interrupt.js';
import { log } from '../util/log.js';
import { OWNER_TAG } from './file-store.js';
import { CLIENT_RUN_ID_TAG } from './rest-store.js';
import { REMOTE_RUN_ID_TAG } from './spool.js';
import type { ArtifactEntry, Experiment, Metric, Param, Run, Tag, TrackingStore } from './store.js';

/** Tag of a synced server run holding the id of its local source run. */
export const SYNC_SOURCE_TAG = 'lpclust.syncSourceRunId';

/** Options of {@link syncRuns}. */
export interface SyncOptions {
  /** Only runs of this experiment (by name). */
  experiment?: string;
  /** Called after each run (progress). */
  onRun?: (r: SyncedRun) => void;
}

/** What sync did for one run. */
export interface SyncedRun {
  localRunId: string;
  remoteRunId: string;
  experiment: string;
  runName: string;
  /** True when the server run was created by this sync. */
  created: boolean;
  params: number;
  tags: number;
  /** Metric values uploaded. */
  metrics: number;
  /** Artifact files uploaded. */
  artifacts: number;
  /** True when status / end time were set. */
  ended: boolean;
  /** Set when the run could not be synced (the others still are). */
  error?: string;
}

/** The outcome of a sync. */
export interface SyncReport {
  runs: SyncedRun[];
  created: number;
  updated: number;
  unchanged: number;
  failed: number;
}

/**
 * Upload the runs of `from` to `to` (any two stores; typically a FileStore and a RestStore).
 * Parents are synced before their children so that `mlflow.parentRunId` can be remapped.
 */
export async function syncRuns(from: TrackingStore, to: TrackingStore, options: SyncOptions = {}): Promise<SyncReport> {
  let experiments = await from.listExperiments();
  if (options.experiment !== undefined) {
    experiments = experiments.filter((e) => e.name === options.experiment);
    if (experiments.length === 0) {
      log.warn(`no experiment named "${options.experiment}" in ${from.displayUri}: nothing to sync`);
    }
  }
  const local: Array<{ run: Run; exp: Experiment }> = [];
  for (const exp of experiments) {
    for (const run of await from.searchRuns({ experimentIds: [exp.experimentId] })) local.push({ run, exp });
  }
  const ordered = parentsFirst(local);
  /** local run id (and the server id a spooled run continues) → server run id. */
  const idMap = new Map<string, string>();
  const targetExperiments = new Map<string, Experiment>();
  const report: SyncReport = { runs: [], created: 0, updated: 0, unchanged: 0, failed: 0 };
  for (const { run, exp } of ordered) {
    throwIfInterrupted();
    let r: SyncedRun;
    try {
      let target = targetExperiments.get(exp.name);
      if (!target) {
        target = await to.getOrCreateExperiment(exp.name);
        targetExperiments.set(exp.name, target);
      }
      r = await syncOne(from, to, run, exp.name, target, idMap);
    } catch (e) {
      // Unreachable server or interruption: stop; a conflict on one run: report it and go on.
      if (isLpclustError(e) && (e.code === 'E_TRACKING_UNAVAILABLE' || e.code === 'E_INTERRUPTED')) throw e;
      r = {
        localRunId: run.info.runId, remoteRunId: '', experiment: exp.name, runName: run.info.runName,
        created: false, params: 0, tags: 0, metrics: 0, artifacts: 0, ended: false, error: (e as Error).message,
      };
    }
    report.runs.push(r);
    if (r.error) report.failed++;
    else if (r.created) report.created++;
    else if (r.params || r.tags || r.metrics || r.artifacts || r.ended) report.updated++;
    else report.unchanged++;
    options.onRun?.(r);
  }
  return report;
}

/** Runs ordered so that a parent (by `mlflow.parentRunId`) comes before its children. */
function parentsFirst<T extends { run: Run }>(items: T[]): T[] {
  const byId = new Map(items.map((i) => [i.run.info.runId, i]));
  // A spooled run is known to its children by the server id it continues.
  for (const i of items) {
    const remote = i.run.data.tags[REMOTE_RUN_ID_TAG];
    if (remote && !byId.has(remote)) byId.set(remote, i);
  }
  const out: T[] = [];
  const done = new Set<T>();
  const visit = (i: T, depth: number): void => {
    if (done.has(i) || depth > items.length) return;
    const parent = byId.get(i.run.data.tags['mlflow.parentRunId'] ?? '');
    if (parent && parent !== i) visit(parent, depth + 1);
    if (done.has(i)) return;
    done.add(i);
    out.push(i);
  };
  // Oldest first, so that the order on the server follows the order of the work.
  for (const i of [...items].sort((a, b) => a.run.info.startTime - b.run.info.startTime)) visit(i, 0);
  return out;
}

async function findTarget(to: TrackingStore, experimentId: string, run: Run): Promise<Run | null> {
  const remoteId = run.data.tags[REMOTE_RUN_ID_TAG];
  if (remoteId) {
    try {
      const r = await to.getRun(remoteId);
      if (r.info.experimentId === experimentId && r.info.lifecycleStage === 'active') return r;
    } catch (e) {
      if (!(isLpclustError(e) && e.code === 'E_RUN_NOT_FOUND')) throw e;
    }
  }
  const clientId = run.data.tags[CLIENT_RUN_ID_TAG];
  if (clientId) {
    const [r] = await to.searchRuns({ experimentIds: [experimentId], tags: { [CLIENT_RUN_ID_TAG]: clientId }, maxResults: 1 });
    if (r) return r;
  }
  const [r] = await to.searchRuns({ experimentIds: [experimentId], tags: { [SYNC_SOURCE_TAG]: run.info.runId }, maxResults: 1 });
  return r ?? null;
}

async function syncOne(from: TrackingStore, to: TrackingStore, run: Run, experimentName: string, target: Experiment, idMap: Map<string, string>): Promise<SyncedRun> {
  const localId = run.info.runId;
  const tags: Record<string, string> = { ...run.data.tags, [SYNC_SOURCE_TAG]: localId };
  // The local writer's process means nothing in the target store (and must not make it look gone there).
  delete tags[OWNER_TAG];
  const parent = tags['mlflow.parentRunId'];
  if (parent !== undefined) tags['mlflow.parentRunId'] = idMap.get(parent) ?? parent;
  let remote = await findTarget(to, target.experimentId, run);
  let created = false;
  if (!remote) {
    const info = await to.createRun({
      experimentId: target.experimentId,
      runName: run.info.runName,
      userId: run.info.userId,
      startTime: run.info.startTime,
      tags: Object.entries(tags).map(([key, value]) => ({ key, value })),
    });
    created = true;
    remote = { info, data: { params: {}, metrics: {}, tags: Object.fromEntries(Object.entries(tags)) } };
  }
  const remoteId = remote.info.runId;
  idMap.set(localId, remoteId);
  if (run.data.tags[REMOTE_RUN_ID_TAG]) idMap.set(run.data.tags[REMOTE_RUN_ID_TAG], remoteId);

  // Params: a value the server already has is skipped; a different one is a conflict (the server says so).
  const params: Param[] = Object.entries(run.data.params)
    .filter(([k, v]) => remote!.data.params[k] !== v)
    .map(([key, value]) => ({ key, value }));
  const tagList: Tag[] = Object.entries(tags)
    .filter(([k, v]) => remote!.data.tags[k] !== v && k !== 'mlflow.runName')
    .map(([key, value]) => ({ key, value }));
  if (tags['mlflow.runName'] !== undefined && remote.data.tags['mlflow.runName'] !== tags['mlflow.runName']) tagList.push({ key: 'mlflow.runName', value: tags['mlflow.runName'] });

  // Metrics: every value of every history the server lacks, compared as (step, timestamp, value) multisets.
  const metrics: Metric[] = [];
  for (const key of Object.keys(run.data.metrics)) {
    const history = await from.getMetricHistory(localId, key);
    const have = new Map<string, number>();
    if (!created && remote.data.metrics[key] !== undefined) {
      for (const m of await to.getMetricHistory(remoteId, key)) {
        const id = metricId(m);
        have.set(id, (have.get(id) ?? 0) + 1);
      }
    }
    for (const m of history) {
      const id = metricId(m);
      const n = have.get(id) ?? 0;
      if (n > 0) have.set(id, n - 1);
      else metrics.push(m);
    }
  }
  if (params.length || tagList.length || metrics.length) await to.logBatch(remoteId, { params, tags: tagList, metrics });

  const artifacts = await syncArtifacts(from, to, localId, remoteId, created);

  let ended = false;
  const li = run.info;
  if (li.status !== remote.info.status || (li.endTime !== null && li.endTime !== remote.info.endTime)) {
    await to.updateRun(remoteId, li.status, li.endTime ?? Date.now());
    ended = true;
  }
  return {
    localRunId: localId, remoteRunId: remoteId, experiment: experimentName, runName: run.info.runName,
    created, params: params.length, tags: tagList.length, metrics: metrics.length, artifacts, ended,
  };
}

function metricId(m: Metric): string {
  return `${m.step}\u0000${m.timestamp}\u0000${Number.isNaN(m.value) ? 'nan' : String(m.value)}`;
}

/** Every file below `dir` (recursive listing). */
async function listFiles(store: TrackingStore, runId: string, dir = ''): Promise<ArtifactEntry[]> {
  const out: ArtifactEntry[] = [];
  for (const e of await store.listArtifacts(runId, dir)) {
    if (e.isDir) out.push(...(await listFiles(store, runId, e.path)));
    else out.push(e);
  }
  return out;
}

/** Upload the artifact files the server lacks (or has with another size); returns how many. */
async function syncArtifacts(from: TrackingStore, to: TrackingStore, localId: string, remoteId: string, created: boolean): Promise<number> {
  const files = await listFiles(from, localId);
  if (files.length === 0) return 0;
  const have = new Map<string, number | undefined>();
  if (!created) for (const e of await listFiles(to, remoteId)) have.set(e.path, e.size);
  const missing = files.filter((f) => !have.has(f.path) || (f.size !== undefined && have.get(f.path) !== undefined && have.get(f.path) !== f.size));
  if (missing.length === 0) return 0;
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'lpclust-sync-'));
  try {
    for (const f of missing) {
      throwIfInterrupted();
      const local = await from.downloadArtifacts(localId, f.path, tmp);
      const dir = path.posix.dirname(f.path);
      await to.logArtifact(remoteId, local, dir === '.' ? undefined : dir);
      await fsp.rm(local, { force: true });
    }
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
  }
  return missing.length;
}
