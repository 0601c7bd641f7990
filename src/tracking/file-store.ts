/**
 * The local tracking store: MLflow's FileStore layout (`./mlruns`), written exactly as MLflow
 * writes it so that `mlflow ui --backend-store-uri ./mlruns` reads every run (see
 * the MLflow reference files in test/fixtures/mlflow/):
 *
 * ```
 * <root>/.trash/                                deleted experiments
 * <root>/<exp_id>/meta.yaml                     experiment
 * <root>/<exp_id>/tags/<key>                    experiment tags
 * <root>/<exp_id>/<run_id>/meta.yaml            run (integer status, integer ms times)
 * <root>/<exp_id>/<run_id>/params/<key>         value, no trailing newline
 * <root>/<exp_id>/<run_id>/tags/<key>           value, no trailing newline
 * <root>/<exp_id>/<run_id>/metrics/<key>        "<ms> <python float> <step>\n" per value
 * <root>/<exp_id>/<run_id>/artifacts/...
 * ```
 *
 * Several processes may write different runs of one experiment at once, and any of them may be
 * killed (`kill -9`, a power cut) or run out of disk at any moment; a reader (lpclust or MLflow)
 * must never see a partial file, because one malformed file makes MLflow fail the listing of the
 * whole experiment. So (with the writers of io/atomic.ts):
 * - every file is written under a temporary name in a folder MLflow does not read as keys (the
 *   run or experiment folder) and renamed into place; folders that must appear complete (dataset
 *   inputs) are staged the same way. Every temporary name is in io/atomic.ts's one registry, which
 *   the CLI's signal handler empties;
 * - params and the first line of a metric are created complete with `link` (fails if the key
 *   exists: a changed param value is detected even across processes); later metric lines are
 *   appended as whole lines with one `O_APPEND` write per key and batch, cut off again if the disk
 *   fills half way;
 * - a run's `meta.yaml` is written right after its folder is made, before anything that makes the
 *   folder look like a run, and the run's owner (tag `lpclust.owner`: pid, host, boot) right after;
 * - experiments are created under a lock file in the root that holds its owner, so a dead owner's
 *   lock is taken over at once.
 * When a store is first written to by a process, runs whose owner is provably gone are marked
 * FAILED and temporary files whose writer is gone are removed ({@link FileStore.recover}).
 */
import { randomInt, randomUUID } from 'node:crypto';
import fs, { promises as fsp } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { externalError, inputError, isLpclustError, usageError } from '../errors.js';
import { checkBatch, checkTag } from './batch-check.js';
import { dumpYaml, ioError, isNotFound, parseMetricValue, parseYaml, pythonFloat, validateKey } from './file-format.js';
import { checkDatasetInputs, datasetMetaYaml, fileStoreDatasetId, fileStoreInputId, inputMetaYaml } from './datasets.js';
import {
  appendWhole,
  copyFileAtomic,
  createDirAtomic,
  createFileAtomic,
  discardTempFile,
  isTempName,
  removeOrphanedTemps,
  reserveTempFile,
  tempPrefixFor,
  writeFileAtomic,
  writeFileAtomicSync,
  writeTempFile,
  type AtomicOptions,
} from '../io/atomic.js';
import { currentOwner, formatOwner, ownerGone, parseOwner, tempOrphaned, type ProcessOwner } from '../io/owner.js';
import { log } from '../util/log.js';
import { FileRegistry } from './file-registry.js';
import type { ModelRegistry, WithRegistry } from './registry.js';
import {
  LIMITS,
  type ArtifactEntry,
  type Batch,
  type CreateRunRequest,
  type Dataset,
  type DatasetInput,
  type Experiment,
  type Metric,
  type Run,
  type RunInfo,
  type RunQuery,
  type RunStatus,
  type TrackingStore,
} from './store.js';

/** MLflow's integer run status codes (RunStatus proto). */
export const STATUS_CODES: Readonly<Record<RunStatus, number>> = {
  RUNNING: 1,
  SCHEDULED: 2,
  FINISHED: 3,
  FAILED: 4,
  KILLED: 5,
};

const STATUS_BY_CODE: Readonly<Record<number, RunStatus>> = { 1: 'RUNNING', 2: 'SCHEDULED', 3: 'FINISHED', 4: 'FAILED', 5: 'KILLED' };

/** MLflow's `SourceType.LOCAL`, the `source_type` of every run lpclust writes. */
const SOURCE_TYPE_LOCAL = 4;

/** The name of the experiment `0` MLflow creates with a new root. */
export const DEFAULT_EXPERIMENT_NAME = 'Default';

/** Folder of deleted experiments. */
const TRASH = '.trash';

/** Lock file (a file, so MLflow's experiment listing, which lists folders, never sees it). */
const LOCK_FILE = '.lpclust.lock';

/**
 * A lock whose owner cannot be checked (another host) is taken to be left by a crashed process
 * after this long (ms); the lock is held only while an experiment or the root is created.
 */
const STALE_LOCK_MS = 30_000;

/**
 * An empty or unreadable lock is taken to be stale after this long (ms). lpclust creates its lock
 * complete (temporary file + link), and versions before that wrote the owner within microseconds
 * of creating the file, so a lock that is still empty after 2 s was left by a process that died or
 * ran out of disk right then.
 */
const UNREADABLE_LOCK_MS = 2_000;

/** Tag of a run holding its writer ({@link formatOwner}), so a later process can tell it is gone. */
export const OWNER_TAG = 'lpclust.owner';

/** Error code tagged (`lpclust.error.code`) on a run marked FAILED because its writer is gone. */
export const OWNER_GONE_CODE = 'E_RUN_OWNER_GONE';

/** The `lpclust.error` of a run whose writer `owner` is gone, marked FAILED by process `me` (pid@host). */
export function ownerGoneReason(owner: ProcessOwner, me: string): string {
  return `the lpclust process ${owner.pid} on ${owner.host} that wrote this run stopped without ending it (killed, crashed, out of memory or the machine restarted); marked FAILED by process ${me}`;
}

/** Say once which runs recovery marked FAILED (nothing when none). */
export function warnRecoveredRuns(ids: readonly string[]): void {
  if (ids.length === 0) return;
  log.warn(`tracking store: marked ${ids.length} run(s) FAILED whose lpclust process stopped without ending them (${ids.slice(0, 3).join(', ')}${ids.length > 3 ? ', …' : ''})`);
}

/** Roots already recovered by this process. */
const recoveredRoots = new Set<string>();

/** Options of a {@link FileStore}. */
export interface FileStoreOptions {
  /** Directory relative paths are resolved against (default: process.cwd()). */
  cwd?: string;
}

/**
 * Resolve a `file:` URI or a plain path to an absolute directory: `file:./mlruns` and `file:mlruns`
 * are relative to `cwd`, `file:///abs/mlruns` and `file:/abs` absolute.
 */
export function fileUriToPath(uri: string, cwd: string = process.cwd()): string {
  if (uri.startsWith('file://')) {
    try {
      return path.resolve(fileURLToPath(uri));
    } catch (e) {
      throw usageError('E_TRACKING_URI', `cannot read the tracking URI ${JSON.stringify(uri)}: ${(e as Error).message}`, {
        hint: 'use file:./mlruns, file:///absolute/path or a plain directory path',
      });
    }
  }
  const p = uri.startsWith('file:') ? decodeURIComponent(uri.slice('file:'.length)) : uri;
  if (p === '') throw usageError('E_TRACKING_URI', `the tracking URI ${JSON.stringify(uri)} names no directory`);
  return path.resolve(cwd, p);
}

interface RunLocation {
  experimentId: string;
  dir: string;
}


/** `fn` over `items` with at most `limit` calls in flight, results in input order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Parallel reads per store call: small files, many of them; enough to hide latency, few enough for file handles. */
const READ_CONCURRENCY = 16;

/** What {@link FileStore.recover} did. */
export interface RecoveryReport {
  /** Ids of runs marked FAILED because their writer is gone. */
  failedRuns: string[];
  /** Temporary files and empty folders removed. */
  removed: string[];
}

/** Folders of an experiment that are not runs (MLflow's reserved names). */
const RESERVED_EXPERIMENT_FOLDERS = new Set(['tags', 'datasets', 'traces', 'models']);

/** The model registry's folder at the store root (MLflow's FileStore keeps registered models there). */
const REGISTRY_FOLDER = 'models';

/**
 * The creation marker of run or experiment `id`: the temporary file of its `meta.yaml`, written in
 * the parent folder before the folder is made and removed only once the folder is complete (see
 * {@link FileStore.createRun}). Its name holds the creator's pid.
 */
function creationMarkerTarget(parent: string, id: string): string {
  return path.join(parent, `${id}.meta.yaml`);
}

/**
 * Whether `id` (a folder in `parent`) is being created by a live process: its creation markers in
 * `parent`. Markers of gone creators are removed; returns 'live', 'gone' (only gone markers were
 * there) or 'none'.
 */
function creationState(parent: string, id: string, removed: string[]): 'live' | 'gone' | 'none' {
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch {
    return 'none';
  }
  const prefix = tempPrefixFor(creationMarkerTarget(parent, id));
  let state: 'live' | 'gone' | 'none' = 'none';
  for (const name of names.filter((n) => n.startsWith(prefix))) {
    if (!tempOrphaned(name)) return 'live';
    fs.rmSync(path.join(parent, name), { force: true });
    removed.push(path.join(parent, name));
    state = 'gone';
  }
  return state;
}

/** rmdir `dir` unless a live process is creating it (rmdir itself fails unless the folder is empty). */
function removeAbandonedFolder(parent: string, id: string, removed: string[]): void {
  if (creationState(parent, id, removed) === 'live') return;
  try {
    fs.rmdirSync(path.join(parent, id));
    removed.push(path.join(parent, id));
  } catch {
    // Not empty (e.g. a run folder of an older lpclust, tags before meta.yaml), or removed meanwhile.
  }
}

/**
 * Make the metric files under `dir` readable by MLflow after their writer died: an empty file
 * (left by versions that created it before writing) is removed, a cut-off last line is cut.
 * @returns the latest modification time seen (ms), 0 when none
 */
function repairMetricFiles(dir: string): number {
  let latest = 0;
  const walk = (d: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const f = path.join(d, e.name);
      if (e.isDirectory()) {
        walk(f);
        continue;
      }
      if (!e.isFile() || tempOrphaned(e.name)) continue;
      const st = fs.statSync(f);
      latest = Math.max(latest, Math.trunc(st.mtimeMs));
      const text = fs.readFileSync(f, 'utf8');
      const whole = text.lastIndexOf('\n') + 1;
      if (text.slice(0, whole).trim() === '') fs.rmSync(f, { force: true });
      else if (whole < text.length) fs.truncateSync(f, Buffer.byteLength(text.slice(0, whole)));
    }
  };
  walk(dir);
  return latest;
}

function truncateTo(s: string, n: number): string {
  return s.length > n ? s.slice(0, n - 1) + '…' : s;
}

/** {@link removeOrphanedTemps} in `dir` and its sub-folders down to `depth` levels. */
function removeOrphanedTempsUnder(dir: string, depth: number): string[] {
  const removed = removeOrphanedTemps(dir);
  if (depth > 0) {
    let entries: fs.Dirent[] = [];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      // Gone.
    }
    for (const e of entries) if (e.isDirectory()) removed.push(...removeOrphanedTempsUnder(path.join(dir, e.name), depth - 1));
  }
  return removed;
}

/** Who holds a lock, for an error message. */
function readLockOwner(lock: string): string {
  try {
    const o = parseOwner(fs.readFileSync(lock, 'utf8'));
    return o ? `held by process ${o.pid} on ${o.host}` : 'holder unknown';
  } catch {
    return 'released meanwhile';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** An 18-digit random experiment id, as MLflow makes them. */
function newExperimentId(): string {
  let s = String(randomInt(1, 10));
  while (s.length < 18) s += String(randomInt(0, 10));
  return s;
}

function toInt(v: unknown): number | null {
  if (v === null || v === undefined || v === '') return null;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? Math.trunc(n) : null;
}

/** The local MLflow FileStore. */
export class FileStore implements TrackingStore, WithRegistry {
  /** Absolute root directory (`mlruns`). */
  readonly root: string;
  readonly displayUri: string;
  private readonly runDirs = new Map<string, RunLocation>();
  private rootReady = false;

  /** @param uri a `file:` URI or a plain directory path */
  constructor(uri: string, options: FileStoreOptions = {}) {
    this.root = fileUriToPath(uri, options.cwd ?? process.cwd());
    this.displayUri = pathToFileURL(this.root).href;
  }

  /** The model registry under `<root>/models/` (MLflow's FileStore layout). */
  registry(): ModelRegistry {
    return new FileRegistry({ root: this.root, displayUri: this.displayUri, ensureRoot: () => this.ensureRoot(), withLock: (fn) => this.withLock(fn) });
  }

  // ---------------------------------------------------------------- files

  /** Write a file atomically, its temporary file in `tmpDir` (a folder MLflow does not read as keys). */
  private async writeAtomic(target: string, data: string | Uint8Array, tmpDir: string): Promise<void> {
    await writeFileAtomic(target, data, this.atomic(tmpDir, 'write'));
  }

  /** Options of the io/atomic.ts writers: no fsync (many small files; a kill leaves the page cache intact), store errors. */
  private atomic(tmpDir: string, what: string): AtomicOptions {
    return { tmpDir, durable: false, error: (t, e) => ioError(what, t, e) };
  }

  // ---------------------------------------------------------------- root and lock

  /**
   * Create the root if needed. A root without `.trash` has not been set up by MLflow or lpclust:
   * then `.trash` and the `Default` experiment `0` are created, as MLflow does with a new root.
   */
  private async ensureRoot(): Promise<void> {
    if (this.rootReady) return;
    try {
      await fsp.mkdir(this.root, { recursive: true });
    } catch (e) {
      throw ioError('create the tracking store', this.root, e);
    }
    if (!fs.existsSync(path.join(this.root, TRASH))) {
      await this.withLock(async () => {
        if (fs.existsSync(path.join(this.root, TRASH))) return;
        const zero = path.join(this.root, '0');
        if (!fs.existsSync(path.join(zero, 'meta.yaml'))) await this.writeExperimentDir('0', DEFAULT_EXPERIMENT_NAME);
        await fsp.mkdir(path.join(this.root, TRASH), { recursive: true });
      });
    }
    this.rootReady = true;
  }

  /**
   * Run `fn` holding the store's lock file. The lock is created complete — its owner
   * ({@link formatOwner}) and a nonce written to a temporary file that is then `link`ed to the
   * lock's name — so it never exists empty, even on a full disk. A lock whose owner is provably
   * gone is taken over at once; see {@link lockStaleness} for the others.
   */
  private async withLock<T>(fn: () => Promise<T>): Promise<T> {
    const lock = path.join(this.root, LOCK_FILE);
    const mine = `${formatOwner(currentOwner())}\nnonce=${randomUUID()}\n`;
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      if (await createFileAtomic(lock, mine, this.atomic(this.root, 'create the lock file'))) break;
      const stale = this.lockStaleness(lock);
      if (stale) {
        await this.breakLock(lock, stale);
        continue;
      }
      if (Date.now() - started > 2 * STALE_LOCK_MS) {
        throw externalError('E_TRACKING_LOCK', `the tracking store is locked by ${lock} (${readLockOwner(lock)})`, {
          hint: 'another lpclust process holds it; if none is running, delete the file',
          where: { file: lock },
        });
      }
      await sleep(Math.min(5 + attempt * 5, 50) + randomInt(0, 10));
    }
    try {
      return await fn();
    } finally {
      // Remove the lock only if it still is ours (a process that wrongly judged it stale may have replaced it).
      try {
        if (fs.readFileSync(lock, 'utf8') === mine) await fsp.rm(lock, { force: true });
      } catch {
        // Gone already.
      }
    }
  }

  /**
   * Why the lock file is stale, or null while it may be held: stale when its owner ran on this
   * host and is provably gone (pid not running, reused, or rebooted since), when it is empty or
   * unreadable and older than {@link UNREADABLE_LOCK_MS}, or when its owner is on another host
   * (cannot be checked) and it is older than {@link STALE_LOCK_MS}.
   */
  private lockStaleness(lock: string): { text: string; why: string } | null {
    let text: string;
    let age: number;
    try {
      age = Date.now() - fs.statSync(lock).mtimeMs;
      text = fs.readFileSync(lock, 'utf8');
    } catch {
      return null; // Released meanwhile: try again.
    }
    const owner = parseOwner(text);
    if (!owner) return age > UNREADABLE_LOCK_MS ? { text, why: text.trim() === '' ? 'empty' : 'unreadable' } : null;
    if (ownerGone(owner)) return { text, why: `its owner ${owner.pid}@${owner.host} is gone` };
    if (owner.host !== currentOwner().host && age > STALE_LOCK_MS) return { text, why: `held by ${owner.pid}@${owner.host} for ${Math.round(age / 1000)} s` };
    return null;
  }

  /**
   * Remove a stale lock. It is renamed aside first (atomic: two processes cannot both take it);
   * if what was renamed is not the lock judged stale (another process replaced it meanwhile), it is
   * put back.
   */
  private async breakLock(lock: string, stale: { text: string; why: string }): Promise<void> {
    const aside = reserveTempFile(lock);
    try {
      try {
        await fsp.rename(lock, aside);
      } catch {
        return; // Another process removed it first.
      }
      let text = '';
      try {
        text = await fsp.readFile(aside, 'utf8');
      } catch {
        // Unreadable: treat as the stale one.
      }
      if (text !== stale.text && text !== '') {
        // A live lock taken in between: give it back (link fails only if a third process holds the name now).
        await fsp.link(aside, lock).catch(() => undefined);
      } else {
        log.debug(`tracking store: removed a stale lock ${lock} (${stale.why})`);
      }
    } finally {
      await discardTempFile(aside);
    }
  }

  // ---------------------------------------------------------------- recovery

  /**
   * Clean up after processes that died while writing this store (`kill -9`, a crash, a power cut,
   * a full disk), once per root and process, before this process creates its first run:
   * - runs left RUNNING whose owner (tag `lpclust.owner`) is provably gone — same host, and its pid
   *   no longer runs, was reused, or the machine rebooted since — are marked FAILED, with the tags
   *   `lpclust.error` (why) and `lpclust.error.code` = `E_RUN_OWNER_GONE`, an end time at their
   *   last write, a cut-off last metric line removed and missing run folders made; so is a run
   *   left RUNNING without an owner tag whose creation marker (see {@link createRun}) names a gone
   *   process. Runs of other hosts, of live processes and of older lpclust versions (no owner tag,
   *   no marker) are left alone;
   * - temporary files whose writer is provably gone are removed (in the store, and in the output
   *   folder of a run marked FAILED, tag `lpclust.out_dir`), and so are empty run or
   *   experiment folders whose creator is gone (killed between `mkdir` and `meta.yaml`).
   * Problems are logged as warnings: recovery never fails the command that triggered it.
   */
  async recover(): Promise<RecoveryReport> {
    const report: RecoveryReport = { failedRuns: [], removed: [] };
    if (recoveredRoots.has(this.root)) return report;
    recoveredRoots.add(this.root);
    try {
      for (const id of await this.experimentIds()) {
        const expDir = path.join(this.root, id);
        if (!fs.existsSync(path.join(expDir, 'meta.yaml'))) {
          removeAbandonedFolder(this.root, id, report.removed);
          continue;
        }
        let entries: fs.Dirent[];
        try {
          entries = fs.readdirSync(expDir, { withFileTypes: true });
        } catch {
          continue;
        }
        for (const d of entries) {
          if (!d.isDirectory() || d.name.startsWith('.') || RESERVED_EXPERIMENT_FOLDERS.has(d.name)) continue;
          try {
            const failed = this.recoverRun(expDir, d.name, report);
            if (failed) report.failedRuns.push(failed);
          } catch (e) {
            log.warn(`tracking store: could not check run folder ${path.join(expDir, d.name)}: ${(e as Error).message}`);
          }
        }
        // Last: the creation markers of runs were evidence above.
        report.removed.push(...removeOrphanedTemps(expDir));
      }
      report.removed.push(...removeOrphanedTemps(this.root));
    } catch (e) {
      log.warn(`tracking store: could not check ${this.root} for runs left by stopped processes: ${(e as Error).message}`);
    }
    warnRecoveredRuns(report.failedRuns);
    if (report.removed.length > 0) log.debug(`tracking store: removed ${report.removed.length} temporary file(s) or empty folder(s) left by stopped processes`);
    return report;
  }

  /** Recover one run folder (see {@link recover}); returns the run id when it was marked FAILED. */
  private recoverRun(expDir: string, runId: string, report: RecoveryReport): string | null {
    const dir = path.join(expDir, runId);
    report.removed.push(...removeOrphanedTemps(dir));
    const metaFile = path.join(dir, 'meta.yaml');
    let text: string;
    try {
      text = fs.readFileSync(metaFile, 'utf8');
    } catch (e) {
      if (isNotFound(e)) removeAbandonedFolder(expDir, runId, report.removed);
      return null;
    }
    // Nearly every run has ended, and its top-level status line says so: skip the YAML parse
    // (about 0.5 ms a run, so that a store of 1,000 runs cost every command half a second at start).
    const statusLine = /^status:[ \t]*(\d+)[ \t]*$/m.exec(text);
    if (statusLine && Number(statusLine[1]) !== STATUS_CODES.RUNNING) return null;
    const meta = parseYaml(text, metaFile);
    if (meta.status !== STATUS_CODES.RUNNING || meta.lifecycle_stage === 'deleted') return null;
    const tagsDir = path.join(dir, 'tags');
    let why: string;
    let ownerText: string | undefined;
    try {
      ownerText = fs.readFileSync(path.join(tagsDir, OWNER_TAG), 'utf8');
    } catch {
      ownerText = undefined;
    }
    const me = formatOwner(currentOwner()).split(' ')[0];
    if (ownerText !== undefined) {
      const owner = parseOwner(ownerText);
      if (!owner || !ownerGone(owner)) return null;
      why = ownerGoneReason(owner, me);
    } else {
      // No owner yet: being created. Its creation marker says by whom; without one it is a run of
      // an older lpclust or of another tool, left alone.
      if (creationState(expDir, runId, report.removed) !== 'gone') return null;
      why = `the lpclust process that created this run stopped while creating it; marked FAILED by process ${me}`;
    }
    for (const sub of ['metrics', 'params', 'artifacts', 'tags']) fs.mkdirSync(path.join(dir, sub), { recursive: true });
    const lastWrite = repairMetricFiles(path.join(dir, 'metrics'));
    const start = toInt(meta.start_time) ?? 0;
    const end = Math.max(start, lastWrite, Math.trunc(fs.statSync(metaFile).mtimeMs));
    const opts = this.atomic(dir, 'write');
    writeFileAtomicSync(path.join(tagsDir, 'lpclust.error'), truncateTo(why, LIMITS.tagValue), opts);
    writeFileAtomicSync(path.join(tagsDir, 'lpclust.error.code'), OWNER_GONE_CODE, opts);
    writeFileAtomicSync(metaFile, dumpYaml({ ...meta, status: STATUS_CODES.FAILED, end_time: end }), opts);
    // The run's output folder (pipeline, sweep) holds the temporary files of its unfinished outputs.
    try {
      const outDir = fs.readFileSync(path.join(tagsDir, 'lpclust.out_dir'), 'utf8');
      if (path.isAbsolute(outDir)) report.removed.push(...removeOrphanedTempsUnder(outDir, 4));
    } catch {
      // No output folder recorded.
    }
    return path.basename(dir);
  }

  // ---------------------------------------------------------------- experiments

  private async writeExperimentDir(id: string, name: string): Promise<Experiment> {
    const dir = path.join(this.root, id);
    const now = Date.now();
    const artifactLocation = pathToFileURL(dir).href;
    const meta = dumpYaml({
      artifact_location: artifactLocation,
      creation_time: now,
      experiment_id: id,
      last_update_time: now,
      lifecycle_stage: 'active',
      name,
    });
    // As for runs: meta.yaml's temporary file in the root is the creation marker while the folder is empty.
    const marker = await writeTempFile(creationMarkerTarget(this.root, id), meta, this.root, { error: (_t, e) => ioError('create experiment', dir, e) });
    try {
      // Non-recursive mkdir: EEXIST means the random id is taken.
      await fsp.mkdir(dir);
    } catch (e) {
      await discardTempFile(marker);
      throw e;
    }
    try {
      await fsp.rename(marker, path.join(dir, 'meta.yaml'));
    } catch (e) {
      // A full disk: no experiment folder without its meta.yaml is left behind.
      await fsp.rmdir(dir).catch(() => undefined);
      throw ioError('create experiment', dir, e);
    } finally {
      await discardTempFile(marker);
    }
    return { experimentId: id, name, artifactLocation, lifecycleStage: 'active', creationTime: now, lastUpdateTime: now, tags: {} };
  }

  private async readExperiment(id: string): Promise<Experiment | null> {
    const dir = path.join(this.root, id);
    const file = path.join(dir, 'meta.yaml');
    let text: string;
    try {
      text = await fsp.readFile(file, 'utf8');
    } catch (e) {
      if (isNotFound(e)) return null; // a folder being created, or not an experiment
      throw ioError('read', file, e);
    }
    const m = parseYaml(text, file);
    const tags = await this.readKeyValues(path.join(dir, 'tags'));
    return {
      experimentId: String(m.experiment_id ?? id),
      name: String(m.name ?? ''),
      artifactLocation: String(m.artifact_location ?? pathToFileURL(dir).href),
      lifecycleStage: m.lifecycle_stage === 'deleted' ? 'deleted' : 'active',
      creationTime: toInt(m.creation_time) ?? undefined,
      lastUpdateTime: toInt(m.last_update_time) ?? undefined,
      tags,
    };
  }

  private async experimentIds(): Promise<string[]> {
    let entries: fs.Dirent[];
    try {
      entries = await fsp.readdir(this.root, { withFileTypes: true });
    } catch (e) {
      if (isNotFound(e)) return [];
      throw ioError('list', this.root, e);
    }
    // `models/` at the root is the model registry's (file-registry.ts), not an experiment.
    return entries.filter((d) => d.isDirectory() && !d.name.startsWith('.') && d.name !== REGISTRY_FOLDER).map((d) => d.name);
  }

  async listExperiments(): Promise<Experiment[]> {
    const all = await mapLimit(await this.experimentIds(), READ_CONCURRENCY, (id) => this.readExperiment(id));
    const out = all.filter((e): e is Experiment => e !== null && e.lifecycleStage === 'active');
    return out.sort((a, b) => (a.creationTime ?? 0) - (b.creationTime ?? 0) || a.experimentId.localeCompare(b.experimentId));
  }

  async getExperimentByName(name: string): Promise<Experiment | null> {
    return (await this.listExperiments()).find((e) => e.name === name) ?? null;
  }

  async getOrCreateExperiment(name: string): Promise<Experiment> {
    if (typeof name !== 'string' || name.trim() === '') throw usageError('E_TRACKING_EXPERIMENT', `Expected a non-empty experiment name but received ${JSON.stringify(name)}`);
    await this.ensureRoot();
    const found = await this.getExperimentByName(name);
    if (found) return found;
    return this.withLock(async () => {
      // Re-scan under the lock: another process may have created it meanwhile.
      const again = await this.getExperimentByName(name);
      if (again) return again;
      for (;;) {
        try {
          return await this.writeExperimentDir(newExperimentId(), name);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError('create experiment', name, e);
        }
      }
    });
  }

  // ---------------------------------------------------------------- runs

  /** Where a run lives; scans experiments once per unknown id. */
  private async locateRun(runId: string): Promise<RunLocation> {
    const known = this.runDirs.get(runId);
    if (known) return known;
    if (/^[0-9a-zA-Z_-]+$/.test(runId)) {
      for (const id of await this.experimentIds()) {
        const dir = path.join(this.root, id, runId);
        if (fs.existsSync(path.join(dir, 'meta.yaml'))) {
          const loc = { experimentId: id, dir };
          this.runDirs.set(runId, loc);
          return loc;
        }
      }
    }
    throw inputError('E_RUN_NOT_FOUND', `no run ${JSON.stringify(runId)} in the tracking store ${this.displayUri}`, {
      hint: 'list the runs with `lpclust runs`',
    });
  }

  async createRun(request: CreateRunRequest): Promise<RunInfo> {
    await this.ensureRoot();
    const expDir = path.join(this.root, request.experimentId);
    const exp = await this.readExperiment(request.experimentId);
    if (!exp) throw inputError('E_EXPERIMENT_NOT_FOUND', `no experiment with id ${request.experimentId} in ${this.displayUri}`);
    for (const t of request.tags) checkTag(t.key, t.value);
    await this.recover();
    const runId = randomUUID().replace(/-/g, '');
    const dir = path.join(expDir, runId);
    const startTime = Math.trunc(request.startTime);
    const info: RunInfo = {
      runId,
      experimentId: request.experimentId,
      runName: request.runName,
      userId: request.userId,
      status: 'RUNNING',
      startTime,
      endTime: null,
      artifactUri: pathToFileURL(path.join(dir, 'artifacts')).href,
      lifecycleStage: 'active',
    };
    const tags = [...request.tags];
    if (request.runName && !tags.some((t) => t.key === 'mlflow.runName')) tags.push({ key: 'mlflow.runName', value: request.runName });
    // The complete meta.yaml is written first to a temporary file in the experiment folder: the
    // run's creation marker, whose name holds this pid, kept until the run has its owner tag.
    // Then the folder, meta.yaml linked in at once (a folder with tags, params or metrics but no
    // meta.yaml is a malformed run to MLflow), the owner, the folders MLflow 3 requires, the tags.
    // A process killed anywhere in between leaves an empty folder or a RUNNING run without owner
    // next to its marker, which recover() then resolves.
    const marker = await writeTempFile(creationMarkerTarget(expDir, runId), runMetaYaml(info), expDir, { error: (_t, e) => ioError('create run', dir, e) });
    let made = false;
    try {
      await fsp.mkdir(dir);
      made = true;
      await fsp.link(marker, path.join(dir, 'meta.yaml'));
      await fsp.mkdir(path.join(dir, 'tags'));
      if (!tags.some((t) => t.key === OWNER_TAG)) await this.writeAtomic(path.join(dir, 'tags', OWNER_TAG), formatOwner(currentOwner()), dir);
      await discardTempFile(marker);
      for (const sub of ['metrics', 'params', 'artifacts']) await fsp.mkdir(path.join(dir, sub));
      await mapLimit(tags, READ_CONCURRENCY, (t) => this.writeAtomic(path.join(dir, 'tags', t.key), t.value, dir));
    } catch (e) {
      // Nobody will know this run's id: remove it rather than leave a run that never ends.
      if (made) await fsp.rm(dir, { recursive: true, force: true }).catch(() => undefined);
      await discardTempFile(marker);
      throw ioError('create run', dir, e);
    }
    this.runDirs.set(runId, { experimentId: request.experimentId, dir });
    return info;
  }

  async logBatch(runId: string, batch: Batch): Promise<void> {
    const params = batch.params ?? [];
    const metrics = batch.metrics ?? [];
    const tags = batch.tags ?? [];
    // Validate everything first: a rejected batch writes nothing.
    checkBatch(batch);
    const loc = await this.locateRun(runId);
    await mapLimit(params, READ_CONCURRENCY, (p) => this.writeParam(loc, p.key, p.value));
    // One O_APPEND write per key: lines of one batch never interleave with another writer's.
    const byKey = new Map<string, string>();
    for (const m of metrics) byKey.set(m.key, (byKey.get(m.key) ?? '') + `${m.timestamp} ${pythonFloat(m.value)} ${m.step}\n`);
    await mapLimit([...byKey], READ_CONCURRENCY, async ([key, lines]) => {
      const file = path.join(loc.dir, 'metrics', key);
      try {
        await fsp.mkdir(path.dirname(file), { recursive: true });
        // Created complete with its first lines (MLflow fails on an empty metric file), then appended to.
        if (await createFileAtomic(file, lines, this.atomic(loc.dir, 'write'))) return;
        await appendWhole(file, lines);
      } catch (e) {
        throw ioError('append to', file, e);
      }
    });
    // Tags may be overwritten: the last value of a key in the batch wins, as in MLflow.
    const lastTags = new Map(tags.map((t) => [t.key, t.value]));
    await mapLimit([...lastTags], READ_CONCURRENCY, ([key, value]) => this.writeAtomic(path.join(loc.dir, 'tags', key), value, loc.dir));
    // MLflow keeps run_name in meta.yaml equal to the mlflow.runName tag.
    const runName = lastTags.get('mlflow.runName');
    if (runName !== undefined) await this.rewriteMeta(loc, (m) => ({ ...m, run_name: runName }));
  }

  // ---------------------------------------------------------------- dataset inputs

  /**
   * MLflow's FileStore layout: the dataset once per experiment in `<exp>/datasets/<md5(name+digest)>/meta.yaml`,
   * the link in `<run>/inputs/<md5(dataset id + run id)>/meta.yaml` with the input tags. Both are
   * created complete and never rewritten (a dataset logged again by another run is the same one).
   */
  async logInputs(runId: string, inputs: DatasetInput[]): Promise<void> {
    checkDatasetInputs(inputs);
    if (inputs.length === 0) return;
    const loc = await this.locateRun(runId);
    const expDir = path.dirname(loc.dir);
    for (const input of inputs) {
      const datasetId = fileStoreDatasetId(input.dataset.name, input.dataset.digest);
      const inputDir = path.join(loc.dir, 'inputs', fileStoreInputId(datasetId, runId));
      try {
        // The dataset before the input that names it: a reader never meets a link to nothing.
        await this.createMetaFolder(path.join(expDir, 'datasets', datasetId), datasetMetaYaml(input.dataset), loc.dir);
        await this.createMetaFolder(inputDir, inputMetaYaml(datasetId, input.tags), loc.dir);
      } catch (e) {
        throw ioError('log the dataset input', inputDir, e);
      }
    }
  }

  /**
   * Create `dir` with its `meta.yaml`, complete or not at all: MLflow fails to read a run whose
   * `inputs/<id>/` has no meta.yaml. The folder is made under a temporary name in `stageIn` (the
   * run's folder, which MLflow reads by sub-folder name and recover() sweeps) and renamed into place.
   * @returns false when it already exists (another run logged the same dataset)
   */
  private async createMetaFolder(dir: string, text: string, stageIn: string): Promise<boolean> {
    if (fs.existsSync(path.join(dir, 'meta.yaml'))) return false;
    await fsp.mkdir(path.dirname(dir), { recursive: true });
    return createDirAtomic(dir, stageIn, (stage) => fsp.writeFile(path.join(stage, 'meta.yaml'), text));
  }

  async getRunInputs(runId: string): Promise<DatasetInput[]> {
    const loc = await this.locateRun(runId);
    const inputsDir = path.join(loc.dir, 'inputs');
    let entries: fs.Dirent[];
    try {
      entries = await fsp.readdir(inputsDir, { withFileTypes: true });
    } catch (e) {
      if (isNotFound(e)) return [];
      throw ioError('list', inputsDir, e);
    }
    const found: Array<{ mtime: number; input: DatasetInput }> = [];
    for (const d of entries) {
      if (!d.isDirectory()) continue;
      const file = path.join(inputsDir, d.name, 'meta.yaml');
      let link: Record<string, unknown>;
      let mtime: number;
      try {
        link = parseYaml(await fsp.readFile(file, 'utf8'), file);
        mtime = (await fsp.stat(file)).mtimeMs;
      } catch (e) {
        if (isNotFound(e)) continue;
        throw isLpclustError(e) ? e : ioError('read', file, e);
      }
      if (link.source_type !== 'DATASET') continue;
      const datasetFile = path.join(path.dirname(loc.dir), 'datasets', String(link.source_id), 'meta.yaml');
      let m: Record<string, unknown>;
      try {
        m = parseYaml(await fsp.readFile(datasetFile, 'utf8'), datasetFile);
      } catch (e) {
        if (isNotFound(e)) continue;
        throw isLpclustError(e) ? e : ioError('read', datasetFile, e);
      }
      const text = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : String(v));
      const tags = link.tags && typeof link.tags === 'object' ? Object.entries(link.tags as Record<string, unknown>).map(([key, value]) => ({ key, value: String(value) })) : [];
      const dataset: Dataset = { name: String(m.name ?? ''), digest: String(m.digest ?? ''), sourceType: String(m.source_type ?? ''), source: String(m.source ?? '') };
      const schema = text(m.schema);
      const profile = text(m.profile);
      if (schema !== undefined) dataset.schema = schema;
      if (profile !== undefined) dataset.profile = profile;
      found.push({ mtime, input: { dataset, tags } });
    }
    return found.sort((a, b) => a.mtime - b.mtime).map((f) => f.input);
  }

  /** Create a param file; an existing one must hold the same value. */
  private async writeParam(loc: RunLocation, key: string, value: string): Promise<void> {
    const target = path.join(loc.dir, 'params', key);
    try {
      await fsp.mkdir(path.dirname(target), { recursive: true });
    } catch (e) {
      throw ioError('write', target, e);
    }
    if (await createFileAtomic(target, value, this.atomic(loc.dir, 'write'))) return;
    let old: string;
    try {
      old = await fsp.readFile(target, 'utf8');
    } catch (e) {
      throw ioError('read', target, e);
    }
    if (old !== value) {
      throw usageError(
        'E_PARAM_CHANGED',
        `param ${key} of run ${path.basename(loc.dir)} already has the value ${JSON.stringify(clip(old))}; cannot change it to ${JSON.stringify(clip(value))}`,
        { hint: 'params are written once per run; start a new run, or log the changing value as a metric or tag' },
      );
    }
  }

  private async readRunMeta(loc: RunLocation): Promise<Record<string, unknown>> {
    const file = path.join(loc.dir, 'meta.yaml');
    try {
      return parseYaml(await fsp.readFile(file, 'utf8'), file);
    } catch (e) {
      throw ioError('read', file, e);
    }
  }

  private async rewriteMeta(loc: RunLocation, change: (m: Record<string, unknown>) => Record<string, unknown>): Promise<void> {
    const m = change(await this.readRunMeta(loc));
    await this.writeAtomic(path.join(loc.dir, 'meta.yaml'), dumpYaml(m), loc.dir);
  }

  async updateRun(runId: string, status: RunStatus, endTime: number): Promise<void> {
    const code = statusCode(status);
    const loc = await this.locateRun(runId);
    await this.rewriteMeta(loc, (m) => ({ ...m, status: code, end_time: Math.trunc(endTime) }));
  }

  /** Synchronous {@link updateRun} for signal handlers; false when the run cannot be found or written. */
  updateRunSync(runId: string, status: RunStatus, endTime: number): boolean {
    const loc = this.runDirs.get(runId);
    if (!loc) return false;
    try {
      const file = path.join(loc.dir, 'meta.yaml');
      const m = parseYaml(fs.readFileSync(file, 'utf8'), file);
      writeFileAtomicSync(file, dumpYaml({ ...m, status: statusCode(status), end_time: Math.trunc(endTime) }), this.atomic(loc.dir, 'write'));
      return true;
    } catch {
      return false;
    }
  }

  private async readRunInfo(loc: RunLocation): Promise<RunInfo> {
    const m = await this.readRunMeta(loc);
    return runInfoFromMeta(m, loc, path.join(loc.dir, 'meta.yaml'));
  }

  /** Files under `dir` as `key → content`, keys `/`-joined (nested folders). */
  private async readKeyValues(dir: string): Promise<Record<string, string>> {
    const files: string[] = [];
    const walk = async (sub: string): Promise<void> => {
      let entries: fs.Dirent[];
      try {
        entries = await fsp.readdir(path.join(dir, sub), { withFileTypes: true });
      } catch (e) {
        if (isNotFound(e)) return;
        throw ioError('list', path.join(dir, sub), e);
      }
      for (const d of entries) {
        if (isTempName(d.name)) continue; // a write in progress
        const rel = sub ? `${sub}/${d.name}` : d.name;
        if (d.isDirectory()) await walk(rel);
        else if (d.isFile()) files.push(rel);
      }
    };
    await walk('');
    const texts = await mapLimit(files, READ_CONCURRENCY, async (rel) => {
      try {
        return await fsp.readFile(path.join(dir, rel), 'utf8');
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw ioError('read', path.join(dir, rel), e);
      }
    });
    const out: Record<string, string> = {};
    files.forEach((rel, i) => {
      const text = texts[i];
      if (text !== undefined) out[rel] = text;
    });
    return out;
  }

  private async readMetricFile(file: string, key: string): Promise<Metric[]> {
    let text: string;
    try {
      text = await fsp.readFile(file, 'utf8');
    } catch (e) {
      if (isNotFound(e)) return [];
      throw ioError('read', file, e);
    }
    return parseMetricLines(text, file, key);
  }

  private async readRun(loc: RunLocation): Promise<Run> {
    const [info, params, tags, metricTexts] = await Promise.all([
      this.readRunInfo(loc),
      this.readKeyValues(path.join(loc.dir, 'params')),
      this.readKeyValues(path.join(loc.dir, 'tags')),
      this.readKeyValues(path.join(loc.dir, 'metrics')),
    ]);
    const metrics: Record<string, number> = {};
    for (const [key, text] of Object.entries(metricTexts)) {
      const latest = latestMetric(parseMetricLines(text, path.join(loc.dir, 'metrics', key), key));
      if (latest) metrics[key] = latest.value;
    }
    if (!info.runName && tags['mlflow.runName']) info.runName = tags['mlflow.runName'];
    return { info, data: { params, metrics, tags } };
  }

  async getRun(runId: string): Promise<Run> {
    return this.readRun(await this.locateRun(runId));
  }

  async searchRuns(query: RunQuery): Promise<Run[]> {
    const runs: Run[] = [];
    for (const expId of query.experimentIds) {
      const expDir = path.join(this.root, expId);
      let entries: fs.Dirent[];
      try {
        entries = await fsp.readdir(expDir, { withFileTypes: true });
      } catch (e) {
        if (isNotFound(e)) continue;
        throw ioError('list', expDir, e);
      }
      const dirs = entries.filter((d) => d.isDirectory() && d.name !== 'tags' && !d.name.startsWith('.')).map((d) => ({ experimentId: expId, dir: path.join(expDir, d.name) }));
      const read = await mapLimit(dirs, READ_CONCURRENCY, async (loc) => {
        if (!fs.existsSync(path.join(loc.dir, 'meta.yaml'))) return null; // being created
        try {
          return { loc, run: await this.readRun(loc) };
        } catch (e) {
          // A run deleted between listing and reading is not an error.
          if (isLpclustError(e) && (e.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return null;
          throw e;
        }
      });
      for (const item of read) {
        if (!item) continue;
        const { loc, run } = item;
        if (run.info.lifecycleStage !== 'active' || run.info.experimentId !== expId) continue;
        this.runDirs.set(run.info.runId, loc);
        if (query.statuses && !query.statuses.includes(run.info.status)) continue;
        if (query.params && !Object.entries(query.params).every(([k, v]) => run.data.params[k] === v)) continue;
        if (query.tags && !Object.entries(query.tags).every(([k, v]) => run.data.tags[k] === v)) continue;
        runs.push(run);
      }
    }
    runs.sort((a, b) => b.info.startTime - a.info.startTime || a.info.runId.localeCompare(b.info.runId));
    return query.maxResults !== undefined ? runs.slice(0, query.maxResults) : runs;
  }

  async getMetricHistory(runId: string, key: string): Promise<Metric[]> {
    validateKey('metric', key);
    const loc = await this.locateRun(runId);
    return this.readMetricFile(path.join(loc.dir, 'metrics', key), key);
  }

  // ---------------------------------------------------------------- artifacts

  /** The local artifact root of a run. */
  async artifactRoot(runId: string): Promise<string> {
    const loc = await this.locateRun(runId);
    return path.join(loc.dir, 'artifacts');
  }

  /** Check an artifact path (relative, `/`-separated, inside the root) and return it normalised. */
  private artifactRel(p: string | undefined): string {
    if (p === undefined || p === '' || p === '.') return '';
    const norm = path.posix.normalize(p.replace(/\\/g, '/')).replace(/\/+$/, '');
    if (norm.startsWith('/') || norm === '..' || norm.startsWith('../')) {
      throw usageError('E_ARTIFACT_PATH', `invalid artifact path ${JSON.stringify(p)}: expected a relative path inside the run's artifacts`);
    }
    return norm === '.' ? '' : norm;
  }

  /**
   * Copy a local file into `artifactPath/<file name>`, or the *contents* of a local directory into
   * `artifactPath` (MLflow's `log_artifact` / `log_artifacts`). Each file is copied atomically.
   */
  async logArtifact(runId: string, localPath: string, artifactPath?: string): Promise<void> {
    const loc = await this.locateRun(runId);
    const rel = this.artifactRel(artifactPath);
    const destDir = path.join(loc.dir, 'artifacts', ...rel.split('/').filter(Boolean));
    let st: fs.Stats;
    try {
      st = await fsp.stat(localPath);
    } catch (e) {
      throw inputError('E_ARTIFACT_SOURCE', `cannot log artifact ${localPath}: ${(e as Error).message}`, { where: { file: localPath } });
    }
    if (st.isDirectory()) await this.copyTree(localPath, destDir, loc.dir);
    else await this.copyFile(localPath, path.join(destDir, path.basename(localPath)), loc.dir);
  }

  private async copyFile(src: string, dest: string, tmpDir: string): Promise<void> {
    await copyFileAtomic(src, dest, this.atomic(tmpDir, 'copy artifact to'));
  }

  private async copyTree(srcDir: string, destDir: string, tmpDir: string): Promise<void> {
    await fsp.mkdir(destDir, { recursive: true });
    for (const d of await fsp.readdir(srcDir, { withFileTypes: true })) {
      const s = path.join(srcDir, d.name);
      const t = path.join(destDir, d.name);
      if (d.isDirectory()) await this.copyTree(s, t, tmpDir);
      else if (d.isFile() || d.isSymbolicLink()) await this.copyFile(s, t, tmpDir);
    }
  }

  async listArtifacts(runId: string, artifactPath?: string): Promise<ArtifactEntry[]> {
    const rel = this.artifactRel(artifactPath);
    const root = await this.artifactRoot(runId);
    const dir = path.join(root, ...rel.split('/').filter(Boolean));
    let entries: fs.Dirent[];
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch (e) {
      if (isNotFound(e)) return [];
      throw ioError('list', dir, e);
    }
    const out: ArtifactEntry[] = [];
    for (const d of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const p = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) out.push({ path: p, isDir: true });
      else out.push({ path: p, isDir: false, size: (await fsp.stat(path.join(dir, d.name))).size });
    }
    return out;
  }

  async downloadArtifacts(runId: string, artifactPath: string, destDir: string): Promise<string> {
    const rel = this.artifactRel(artifactPath);
    const root = await this.artifactRoot(runId);
    const src = path.join(root, ...rel.split('/').filter(Boolean));
    let st: fs.Stats;
    try {
      st = await fsp.stat(src);
    } catch {
      throw inputError('E_ARTIFACT_NOT_FOUND', `run ${runId} has no artifact ${JSON.stringify(artifactPath)}`, {
        hint: `list them with \`lpclust runs show ${runId}\``,
      });
    }
    const dest = rel ? path.join(destDir, path.basename(src)) : destDir;
    await fsp.mkdir(destDir, { recursive: true });
    if (st.isDirectory()) await this.copyTree(src, dest, destDir);
    else await this.copyFile(src, dest, destDir);
    return dest;
  }
}

/** Parse a metric file: `<ms> <value> <step>` lines (MLflow before 1.0 wrote no step: step 0). */
function parseMetricLines(text: string, file: string, key: string): Metric[] {
  const out: Metric[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const parts = line.trim().split(/\s+/);
    try {
      if (parts.length < 2 || parts.length > 3) throw new Error(`expected "<ms> <value> <step>", found ${JSON.stringify(line)}`);
      const timestamp = Number(parts[0]);
      const step = parts.length === 3 ? Number(parts[2]) : 0;
      if (!Number.isInteger(timestamp) || !Number.isInteger(step)) throw new Error(`expected integer time and step, found ${JSON.stringify(line)}`);
      out.push({ key, timestamp, value: parseMetricValue(parts[1]), step });
    } catch (e) {
      throw inputError('E_TRACKING_METRIC', `${file} line ${i + 1}: ${(e as Error).message}`, { where: { file, line: i + 1 } });
    }
  });
  return out;
}

function clip(s: string): string {
  return s.length > 80 ? s.slice(0, 77) + '...' : s;
}

function statusCode(status: RunStatus): number {
  const code = STATUS_CODES[status];
  if (code === undefined) throw usageError('E_TRACKING_STATUS', `Expected a run status RUNNING|SCHEDULED|FINISHED|FAILED|KILLED but received ${JSON.stringify(status)}`);
  return code;
}

/** The run meta.yaml text, exactly as MLflow's FileStore writes it. */
export function runMetaYaml(info: RunInfo): string {
  return dumpYaml({
    artifact_uri: info.artifactUri,
    end_time: info.endTime === null ? null : Math.trunc(info.endTime),
    entry_point_name: '',
    experiment_id: info.experimentId,
    lifecycle_stage: info.lifecycleStage,
    run_id: info.runId,
    run_name: info.runName,
    run_uuid: info.runId,
    source_name: '',
    source_type: SOURCE_TYPE_LOCAL,
    source_version: '',
    start_time: Math.trunc(info.startTime),
    status: STATUS_CODES[info.status],
    tags: [],
    user_id: info.userId,
  });
}

function runInfoFromMeta(m: Record<string, unknown>, loc: RunLocation, file: string): RunInfo {
  const runId = String(m.run_id ?? m.run_uuid ?? path.basename(loc.dir));
  const rawStatus = m.status;
  let status: RunStatus | undefined;
  if (typeof rawStatus === 'number') status = STATUS_BY_CODE[rawStatus];
  else if (typeof rawStatus === 'string') status = (STATUS_BY_CODE[Number(rawStatus)] ?? (rawStatus in STATUS_CODES ? rawStatus : undefined)) as RunStatus | undefined;
  if (!status) throw inputError('E_TRACKING_META', `${file}: expected an integer status 1-5 but found ${JSON.stringify(rawStatus)}`, { where: { file } });
  return {
    runId,
    experimentId: String(m.experiment_id ?? loc.experimentId),
    runName: m.run_name === null || m.run_name === undefined ? '' : String(m.run_name),
    userId: m.user_id === null || m.user_id === undefined ? '' : String(m.user_id),
    status,
    startTime: toInt(m.start_time) ?? 0,
    endTime: toInt(m.end_time),
    artifactUri: String(m.artifact_uri ?? pathToFileURL(path.join(loc.dir, 'artifacts')).href),
    lifecycleStage: m.lifecycle_stage === 'deleted' ? 'deleted' : 'active',
  };
}

/** The latest value of a metric history as MLflow defines it: max by (step, timestamp, value). */
export function latestMetric(history: Metric[]): Metric | undefined {
  let best: Metric | undefined;
  for (const m of history) {
    if (
      !best ||
      m.step > best.step ||
      (m.step === best.step && (m.timestamp > best.timestamp || (m.timestamp === best.timestamp && m.value > best.value)))
    ) {
      best = m;
    }
  }
  return best;
}
