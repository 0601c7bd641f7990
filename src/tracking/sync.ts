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
 *
 * A sync state (a JSON file in the source store, {@link SYNC_STATE_FILE}) remembers, per server,
 * the server run of each local run and a digest of what was uploaded; a run whose digest has not
 * changed costs no request on the next sync. The server's runs of an experiment are read once
 * (paged) instead of searched for run by run. Tags that point at runs (`mlflow.parentRunId`,
 * `lpclust.child.*`, `lpclust.reused.*`, `lpclust.reused_from`) are rewritten to the server's ids;
 * those pointing at runs synced later (a parent's `lpclust.child.*`) are set once those exist.
 */
import { createHash } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { isLpclustError } from '../errors.js';
import { withScratchDir, writeFileAtomic } from '../io/atomic.js';
import { throwIfInterrupted } from '../util/interrupt.js';
import { log } from '../util/log.js';
import { OWNER_TAG } from './file-store.js';
import { CLIENT_RUN_ID_TAG } from './rest-store.js';
import { REMOTE_RUN_ID_TAG } from './spool.js';
import { SYNC_STATE_FILE } from './sync-state-name.js';
import type { ArtifactEntry, Experiment, Metric, Param, Run, Tag, TrackingStore } from './store.js';

/** Tag of a synced server run holding the id of its local source run. */
export const SYNC_SOURCE_TAG = 'lpclust.syncSourceRunId';

/** File name of the sync state in the root of the source store. */
export { SYNC_STATE_FILE };

/** Tags whose value is a run id, rewritten to the server's id by sync. */
const RUN_POINTER_TAG = /^(mlflow\.parentRunId|lpclust\.child\..+|lpclust\.reused\..+|lpclust\.reused_from)$/;

/** Options of {@link syncRuns}. */
export interface SyncOptions {
  /** Only runs of this experiment (by name). */
  experiment?: string;
  /** Called once with the number of local runs to go through (before the first {@link onRun}). */
  onStart?: (total: number) => void;
  /** Called after each run (progress). */
  onRun?: (r: SyncedRun) => void;
  /** The sync state file (read, then written atomically); omitted = no state, every run is compared with the server. */
  statePath?: string;
  /** Ignore the state's digests: compare every run with the server (the state is still written). */
  full?: boolean;
}

/** The sync state file: per server (its display URI), per local run id, what was uploaded. */
interface SyncState {
  format: 'lpclust-sync-state';
  version: 1;
  targets: Record<string, Record<string, { remoteRunId: string; digest: string }>>;
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
  /** True when the sync state showed the run unchanged since it was uploaded (no request made). */
  skipped?: boolean;
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
  /** Of the unchanged runs, those the sync state vouched for without asking the server. */
  skipped: number;
  /** Run-pointer tags (`lpclust.child.*`, ...) set after the runs they point at were synced. */
  pointerTags: number;
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
  options.onStart?.(ordered.length);
  const state = options.statePath ? await readState(options.statePath) : null;
  if (state) state.targets[to.displayUri] ??= {};
  const known = state ? state.targets[to.displayUri] : {};
  /** local run id (and the server id a spooled run continues) → server run id. */
  const idMap = new Map<string, string>();
  const targets = new Map<string, { experiment: Experiment; index: TargetIndex }>();
  const deferred: DeferredTags[] = [];
  const report: SyncReport = { runs: [], created: 0, updated: 0, unchanged: 0, failed: 0, skipped: 0, pointerTags: 0 };
  const save = async (): Promise<void> => {
    if (state && options.statePath) await writeFileAtomic(options.statePath, JSON.stringify(state, null, 1) + '\n');
  };
  try {
    for (const { run, exp } of ordered) {
      throwIfInterrupted();
      const localId = run.info.runId;
      let r: SyncedRun;
      try {
        const digest = await runDigest(from, run);
        const prior = known[localId];
        if (prior && prior.digest === digest && !options.full) {
          remember(idMap, run, prior.remoteRunId);
          r = {
            localRunId: localId, remoteRunId: prior.remoteRunId, experiment: exp.name, runName: run.info.runName,
            created: false, params: 0, tags: 0, metrics: 0, artifacts: 0, ended: false, skipped: true,
          };
        } else {
          let target = targets.get(exp.name);
          if (!target) {
            const experiment = await to.getOrCreateExperiment(exp.name);
            target = { experiment, index: await indexTarget(to, experiment.experimentId) };
            targets.set(exp.name, target);
          }
          delete known[localId];
          const done = await syncOne(from, to, run, exp.name, target.experiment, target.index, idMap);
          r = done.synced;
          if (done.deferred) deferred.push({ ...done.deferred, localId, digest });
          else known[localId] = { remoteRunId: r.remoteRunId, digest };
        }
      } catch (e) {
        // Unreachable server or interruption: stop; a conflict on one run: report it and go on.
        if (isLpclustError(e) && (e.code === 'E_TRACKING_UNAVAILABLE' || e.code === 'E_INTERRUPTED')) throw e;
        r = {
          localRunId: localId, remoteRunId: '', experiment: exp.name, runName: run.info.runName,
          created: false, params: 0, tags: 0, metrics: 0, artifacts: 0, ended: false, error: (e as Error).message,
        };
      }
      report.runs.push(r);
      if (r.error) report.failed++;
      else if (r.created) report.created++;
      else if (r.params || r.tags || r.metrics || r.artifacts || r.ended) report.updated++;
      else report.unchanged++;
      if (r.skipped) report.skipped++;
      options.onRun?.(r);
    }
    // Tags pointing at runs synced after their holder (a parent's lpclust.child.*), now that those exist.
    for (const d of deferred) {
      throwIfInterrupted();
      const tags: Tag[] = [];
      let unresolved = false;
      for (const [key, value] of Object.entries(d.pointers)) {
        const mapped = idMap.get(value);
        if (mapped === undefined) unresolved = true;
        else if (d.remoteTags[key] !== mapped) tags.push({ key, value: mapped });
      }
      if (tags.length > 0) await to.logBatch(d.remoteRunId, { tags });
      report.pointerTags += tags.length;
      // A pointer at a run that could not be synced is tried again on the next sync.
      if (!unresolved) known[d.localId] = { remoteRunId: d.remoteRunId, digest: d.digest };
    }
  } finally {
    await save();
  }
  return report;
}

/** Tags of a synced run that point at runs not synced yet (local ids), set after the loop. */
interface DeferredTags {
  localId: string;
  digest: string;
  remoteRunId: string;
  /** Tag key → local run id it points at. */
  pointers: Record<string, string>;
  /** The server run's tags when it was synced. */
  remoteTags: Record<string, string>;
}

/** The server runs of one experiment, by the ids sync matches local runs with. */
interface TargetIndex {
  byId: Map<string, Run>;
  byClientId: Map<string, Run>;
  bySource: Map<string, Run>;
}

/** Read every run of a server experiment once (paged), instead of searching for each local run. */
async function indexTarget(to: TrackingStore, experimentId: string): Promise<TargetIndex> {
  const index: TargetIndex = { byId: new Map(), byClientId: new Map(), bySource: new Map() };
  for (const r of await to.searchRuns({ experimentIds: [experimentId] })) addToIndex(index, r);
  return index;
}

function addToIndex(index: TargetIndex, r: Run): void {
  index.byId.set(r.info.runId, r);
  const client = r.data.tags[CLIENT_RUN_ID_TAG];
  if (client && !index.byClientId.has(client)) index.byClientId.set(client, r);
  const source = r.data.tags[SYNC_SOURCE_TAG];
  if (source && !index.bySource.has(source)) index.bySource.set(source, r);
}

function remember(idMap: Map<string, string>, run: Run, remoteId: string): void {
  idMap.set(run.info.runId, remoteId);
  const continued = run.data.tags[REMOTE_RUN_ID_TAG];
  if (continued) idMap.set(continued, remoteId);
}

async function readState(file: string): Promise<SyncState> {
  const empty: SyncState = { format: 'lpclust-sync-state', version: 1, targets: {} };
  if (!existsSync(file)) return empty;
  try {
    const s = JSON.parse(await fsp.readFile(file, 'utf8')) as SyncState;
    if (s.format === 'lpclust-sync-state' && s.version === 1 && s.targets && typeof s.targets === 'object') return s;
  } catch {
    // An unreadable state only costs time: every run is compared with the server again.
  }
  log.warn(`${file} is not a sync state lpclust can read; comparing every run with the server (it will be rewritten)`);
  return empty;
}

/**
 * SHA-256 of everything sync uploads for a run: info, params, tags, every metric value and the
 * artifact files (path and size). Read from the local store only.
 */
async function runDigest(from: TrackingStore, run: Run): Promise<string> {
  const h = createHash('sha256');
  const i = run.info;
  const sorted = (o: Record<string, unknown>): Array<[string, unknown]> => Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  h.update(JSON.stringify(['v1', i.runName, i.userId, i.status, i.startTime, i.endTime, i.lifecycleStage, sorted(run.data.params), sorted(run.data.tags)]));
  for (const key of Object.keys(run.data.metrics).sort()) {
    h.update(`\n${key}\n`);
    for (const m of await from.getMetricHistory(i.runId, key)) h.update(`${m.step} ${m.timestamp} ${m.value}\n`);
  }
  for (const f of await listFiles(from, i.runId)) h.update(`\n${f.path} ${f.size ?? ''}`);
  // Only when there are any, so that the digest of a run without inputs is what older versions recorded.
  const inputs = await from.getRunInputs(i.runId);
  if (inputs.length > 0) h.update(`\ninputs ${JSON.stringify(inputs.map((x) => [x.dataset.name, x.dataset.digest, x.tags.map((t) => [t.key, t.value])]))}`);
  return h.digest('hex');
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

function findTarget(index: TargetIndex, run: Run): Run | null {
  const remoteId = run.data.tags[REMOTE_RUN_ID_TAG];
  const continued = remoteId ? index.byId.get(remoteId) : undefined;
  if (continued && continued.info.lifecycleStage === 'active') return continued;
  const clientId = run.data.tags[CLIENT_RUN_ID_TAG];
  const byClient = clientId ? index.byClientId.get(clientId) : undefined;
  if (byClient) return byClient;
  return index.bySource.get(run.info.runId) ?? null;
}

async function syncOne(
  from: TrackingStore,
  to: TrackingStore,
  run: Run,
  experimentName: string,
  target: Experiment,
  index: TargetIndex,
  idMap: Map<string, string>,
): Promise<{ synced: SyncedRun; deferred?: Omit<DeferredTags, 'localId' | 'digest'> }> {
  const localId = run.info.runId;
  const tags: Record<string, string> = { ...run.data.tags, [SYNC_SOURCE_TAG]: localId };
  // The local writer's process means nothing in the target store (and must not make it look gone there).
  delete tags[OWNER_TAG];
  // Run pointers hold the server's ids; those not synced yet are set after the loop.
  const pointers: Record<string, string> = {};
  for (const [key, value] of Object.entries(tags)) {
    if (!RUN_POINTER_TAG.test(key)) continue;
    const mapped = idMap.get(value);
    if (mapped !== undefined) tags[key] = mapped;
    else if (key !== 'mlflow.parentRunId') {
      pointers[key] = value;
      delete tags[key];
    }
  }
  let remote = findTarget(index, run);
  let created = false;
  let createdTags = 0;
  if (!remote) {
    const list = Object.entries(tags).map(([key, value]) => ({ key, value }));
    const info = await to.createRun({ experimentId: target.experimentId, runName: run.info.runName, userId: run.info.userId, startTime: run.info.startTime, tags: list });
    created = true;
    createdTags = list.length;
    remote = { info, data: { params: {}, metrics: {}, tags: Object.fromEntries(Object.entries(tags)) } };
    addToIndex(index, remote);
  }
  const remoteId = remote.info.runId;
  remember(idMap, run, remoteId);

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

  // Dataset inputs the target run lacks (by name and digest, as stores identify a dataset).
  const inputs = await from.getRunInputs(localId);
  if (inputs.length > 0) {
    const haveInputs = created ? new Set<string>() : new Set((await to.getRunInputs(remoteId)).map((i) => `${i.dataset.name}\u0000${i.dataset.digest}`));
    const missing = inputs.filter((i) => !haveInputs.has(`${i.dataset.name}\u0000${i.dataset.digest}`));
    if (missing.length > 0) await to.logInputs(remoteId, missing);
  }

  const artifacts = await syncArtifacts(from, to, localId, remoteId, created);

  let ended = false;
  const li = run.info;
  if (li.status !== remote.info.status || (li.endTime !== null && li.endTime !== remote.info.endTime)) {
    await to.updateRun(remoteId, li.status, li.endTime ?? Date.now());
    ended = true;
  }
  const synced: SyncedRun = {
    localRunId: localId, remoteRunId: remoteId, experiment: experimentName, runName: run.info.runName,
    created, params: params.length, tags: createdTags + tagList.length, metrics: metrics.length, artifacts, ended,
  };
  return Object.keys(pointers).length > 0 ? { synced, deferred: { remoteRunId: remoteId, pointers, remoteTags: { ...remote.data.tags } } } : { synced };
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
  await withScratchDir('lpclust-sync-', async (tmp) => {
    for (const f of missing) {
      throwIfInterrupted();
      const local = await from.downloadArtifacts(localId, f.path, tmp);
      const dir = path.posix.dirname(f.path);
      await to.logArtifact(remoteId, local, dir === '.' ? undefined : dir);
      await fsp.rm(local, { force: true });
    }
  });
  return missing.length;
}
