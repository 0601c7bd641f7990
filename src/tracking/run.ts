/**
 * The run context: start a run with the standard MLflow tags, log to it, and always end it —
 * FINISHED on success, FAILED on error (with the error as a tag), KILLED on SIGINT/SIGTERM.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isLpclustError, InterruptedError } from '../errors.js';
import { withScratchDir } from '../io/atomic.js';
import { throwIfInterrupted } from '../util/interrupt.js';
import { maskSecrets } from '../util/mask.js';
import { invocation } from '../util/invocation.js';
import { log } from '../util/log.js';
import { launchDefaults } from './launcher.js';
import { commandLineText, endNote, NOTE_TAG, startNote } from './run-note.js';
import { LIMITS, type DatasetInput, type Metric, type RunInfo, type RunStatus, type TrackingStore } from './store.js';

/** Values accepted as params, metrics-by-name and tags. */
export type Loggable = string | number | boolean;

/** Options of {@link startRun} / {@link withRun}. */
export interface RunOptions {
  store: TrackingStore;
  experimentName: string;
  /** `mlflow.runName`, e.g. `kmeans dtw k=12`. */
  runName: string;
  /**
   * Makes this a nested run (tag `mlflow.parentRunId`). Without it, a run started under
   * `mlflow run` nests under the launcher's run ({@link launchDefaults}).
   */
  parentRunId?: string;
  /** Extra tags set at creation. */
  tags?: Record<string, string>;
  /**
   * `mlflow.source.name`, what the MLflow UI shows as the run's source (default `lpclust <command>`).
   * The UI shows only what follows the last `/`, so it holds no paths: the command line is in the note.
   */
  sourceName?: string;
  /** The command line of a top-level run's note (`mlflow.note.content`; default: this process's, masked). */
  commandLine?: string;
}

/** Nested runs this process started, by parent run id (for the parent's note). */
const childRuns = new Map<string, number>();

/** Runs started by this process and not yet ended; ended KILLED by {@link endActiveRuns}. */
const activeRuns = new Map<string, ActiveRun>();

/** A run being written. Every text is secret-masked before it reaches the store. */
export class ActiveRun {
  readonly store: TrackingStore;
  readonly info: RunInfo;
  private ended = false;
  private readonly loggedParams = new Map<string, string>();
  /** The command line of a top-level run's note; undefined for nested runs (the note is once per parent). */
  noteCommandLine?: string;

  constructor(store: TrackingStore, info: RunInfo) {
    this.store = store;
    this.info = info;
  }

  /** The run id (32 hex characters). */
  get runId(): string {
    return this.info.runId;
  }

  /** The experiment id. */
  get experimentId(): string {
    return this.info.experimentId;
  }

  /**
   * Log params. A value longer than MLflow accepts is not cut silently: the full value goes to the
   * artifact `params/<key>.txt` and the param holds a prefix plus ` …sha256:<hash>`.
   * Logging the same key twice with the same value is a no-op; with another value it is an error.
   */
  async logParams(params: Record<string, Loggable | undefined | null>): Promise<void> {
    const batch: Array<{ key: string; value: string }> = [];
    const long: Array<{ key: string; value: string }> = [];
    for (const [key, raw] of Object.entries(params)) {
      if (raw === undefined || raw === null) continue;
      const value = maskSecrets(String(raw));
      if (this.loggedParams.get(key) === value) continue;
      let stored = value;
      if (value.length > LIMITS.paramValue) {
        const hash = createHash('sha256').update(value).digest('hex');
        const suffix = ` …sha256:${hash}`;
        stored = value.slice(0, LIMITS.paramValue - suffix.length) + suffix;
        long.push({ key, value });
      }
      batch.push({ key, value: stored });
    }
    if (batch.length === 0) return;
    // The params first: a rejected change of value must not overwrite the artifact of the old one.
    await this.store.logBatch(this.runId, { params: batch });
    for (const { key, value } of long) await this.logText(value, `params/${key}.txt`);
    for (const { key } of batch) this.loggedParams.set(key, maskSecrets(String(params[key])));
  }

  /** Log metrics at one step (default 0) with the current time. Non-finite values are logged as MLflow does (nan, inf). */
  async logMetrics(metrics: Record<string, number | undefined>, step = 0): Promise<void> {
    const timestamp = Date.now();
    const list: Metric[] = [];
    for (const [key, value] of Object.entries(metrics)) {
      if (value === undefined) continue;
      list.push({ key, value, timestamp, step });
    }
    if (list.length > 0) await this.store.logBatch(this.runId, { metrics: list });
  }

  /** Log one metric value. */
  async logMetric(key: string, value: number, step = 0): Promise<void> {
    await this.logMetrics({ [key]: value }, step);
  }

  /** Set tags (values masked and cut to the tag limit). */
  async setTags(tags: Record<string, Loggable | undefined | null>): Promise<void> {
    const list = Object.entries(tags)
      .filter(([, v]) => v !== undefined && v !== null)
      .map(([key, v]) => ({ key, value: truncate(maskSecrets(String(v)), LIMITS.tagValue) }));
    if (list.length > 0) await this.store.logBatch(this.runId, { tags: list });
  }

  /** Record datasets this run read (MLflow's `log_inputs`); texts are masked when they are built. */
  async logInputs(inputs: DatasetInput[]): Promise<void> {
    await this.store.logInputs(this.runId, inputs);
  }

  /** Copy a file or directory into the run's artifacts (under `artifactPath`, a directory). */
  async logArtifact(localPath: string, artifactPath?: string): Promise<void> {
    await this.store.logArtifact(this.runId, localPath, artifactPath);
  }

  /** Write a text (masked) as an artifact file at `artifactFile` (e.g. `reports/quality.json`). */
  async logText(text: string, artifactFile: string): Promise<void> {
    await withScratchDir('lpclust-artifact-', async (dir) => {
      const local = path.join(dir, path.basename(artifactFile));
      await fsp.writeFile(local, maskSecrets(text));
      const parent = path.posix.dirname(artifactFile);
      await this.logArtifact(local, parent === '.' ? undefined : parent);
    });
  }

  /** Write a JSON value as an artifact file. */
  async logJson(value: unknown, artifactFile: string): Promise<void> {
    await this.logText(JSON.stringify(value, null, 2) + '\n', artifactFile);
  }

  /** True once ended. */
  get isEnded(): boolean {
    return this.ended;
  }

  /** End the run with a status (idempotent). */
  async end(status: RunStatus = 'FINISHED'): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    activeRuns.delete(this.runId);
    await this.store.updateRun(this.runId, status, Date.now());
  }

  /** End synchronously if the store can (signal handlers); returns false otherwise. */
  endSync(status: RunStatus): boolean {
    if (this.ended) return true;
    if (!this.store.updateRunSync) return false;
    const ok = this.store.updateRunSync(this.runId, status, Date.now());
    if (ok) {
      this.ended = true;
      activeRuns.delete(this.runId);
    }
    return ok;
  }
}

/** The standard MLflow tags of a new run. */
export function standardTags(opts: Pick<RunOptions, 'runName' | 'parentRunId' | 'sourceName'>): Record<string, string> {
  const tags: Record<string, string> = {
    'mlflow.runName': opts.runName,
    'mlflow.user': currentUser(),
    'mlflow.source.name': maskSecrets(opts.sourceName ?? sourceNameOfProcess()),
    'mlflow.source.type': 'LOCAL',
  };
  const commit = gitCommit();
  if (commit) tags['mlflow.source.git.commit'] = commit;
  if (opts.parentRunId) tags['mlflow.parentRunId'] = opts.parentRunId;
  return tags;
}

/** Start a run; prefer {@link withRun}, which also ends it. */
export async function startRun(opts: RunOptions): Promise<ActiveRun> {
  // After Ctrl-C no new run may start (it could be left RUNNING when the process exits).
  throwIfInterrupted();
  const experiment = await opts.store.getOrCreateExperiment(opts.experimentName);
  const runName = truncate(maskSecrets(opts.runName), LIMITS.tagValue);
  const parentRunId = opts.parentRunId ?? launchDefaults.parentRunId;
  const tags = { ...standardTags({ ...opts, runName, parentRunId }), ...(opts.tags ?? {}) };
  // A top-level run describes itself in the UI from the start (a killed run keeps its command line).
  const commandLine = parentRunId ? undefined : maskSecrets(opts.commandLine ?? commandLineText(process.argv.slice(2)));
  if (commandLine !== undefined && tags[NOTE_TAG] === undefined) tags[NOTE_TAG] = startNote(commandLine);
  throwIfInterrupted();
  const info = await opts.store.createRun({
    experimentId: experiment.experimentId,
    runName,
    userId: tags['mlflow.user'],
    startTime: Date.now(),
    tags: Object.entries(tags).map(([key, value]) => ({ key, value: truncate(maskSecrets(value), LIMITS.tagValue) })),
  });
  const run = new ActiveRun(opts.store, info);
  run.noteCommandLine = commandLine;
  if (parentRunId) childRuns.set(parentRunId, (childRuns.get(parentRunId) ?? 0) + 1);
  activeRuns.set(info.runId, run);
  return run;
}

/**
 * Run `fn` inside a tracked run and end it: FINISHED when `fn` resolves, KILLED when it throws an
 * {@link InterruptedError}, FAILED otherwise (tags `lpclust.error` and `lpclust.error.code`).
 * The error is re-thrown.
 */
export async function withRun<T>(opts: RunOptions, fn: (run: ActiveRun) => Promise<T>): Promise<T> {
  const run = await startRun(opts);
  try {
    const result = await fn(run);
    await describeRun(run, 'FINISHED');
    await run.end('FINISHED');
    return result;
  } catch (e) {
    await failRun(run, e);
    throw e;
  }
}

/** End a run after an error: KILLED for an interruption, FAILED otherwise, with the error as tags. */
export async function failRun(run: ActiveRun, e: unknown): Promise<void> {
  if (run.isEnded) return;
  const interrupted = e instanceof InterruptedError;
  try {
    await run.setTags({
      'lpclust.error': e instanceof Error ? e.message : String(e),
      'lpclust.error.code': isLpclustError(e) ? e.code : 'E_INTERNAL',
    });
  } catch {
    // The store may be what failed; ending the run matters more than the tag.
  }
  // After Ctrl-C the run ends at once: its note keeps the command line it started with.
  if (!interrupted) await describeRun(run, 'FAILED', e instanceof Error ? e.message : String(e));
  await run.end(interrupted ? 'KILLED' : 'FAILED');
}

/**
 * Replace a top-level run's note with its ending: status, key figures, nested runs (what the UI's
 * description shows). A store that fails here does not change how the run ends.
 */
async function describeRun(run: ActiveRun, status: RunStatus, error?: string): Promise<void> {
  if (run.noteCommandLine === undefined) return;
  try {
    const data = await run.store.getRun(run.runId);
    await run.setTags({ [NOTE_TAG]: endNote(run.noteCommandLine, data, status, childRuns.get(run.runId) ?? 0, error) });
  } catch (e) {
    log.debug(`run ${run.runId}: could not write its description: ${(e as Error).message}`);
  }
}

/** Runs of this process not yet ended. */
export function activeRunList(): ActiveRun[] {
  return [...activeRuns.values()];
}

/**
 * End every active run of this process with `status` (KILLED on a signal), children before parents.
 * Synchronous where the store allows, so it works from a signal handler.
 * @returns the runs that could not be ended synchronously.
 */
export function endActiveRunsSync(status: RunStatus): ActiveRun[] {
  const pending: ActiveRun[] = [];
  for (const run of activeRunList().reverse()) {
    if (!run.endSync(status)) pending.push(run);
  }
  return pending;
}

function truncate(s: string, n: number): string {
  return s.length <= n ? s : s.slice(0, n - 1) + '…';
}

let cachedUser: string | undefined;
function currentUser(): string {
  if (cachedUser === undefined) {
    try {
      cachedUser = process.env.LOGNAME || process.env.USER || os.userInfo().username || 'unknown';
    } catch {
      cachedUser = 'unknown';
    }
  }
  return cachedUser;
}

/** `lpclust <command>`: no path in it, since the MLflow UI shows a source's last path segment only. */
function sourceNameOfProcess(): string {
  return invocation.command ? `lpclust ${invocation.command}` : 'lpclust';
}

let cachedCommit: string | null | undefined;
/** The git commit of the working directory's checkout, or null outside one. */
export function gitCommit(cwd = process.cwd()): string | null {
  if (cachedCommit !== undefined) return cachedCommit;
  try {
    cachedCommit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd, stdio: ['ignore', 'pipe', 'ignore'], timeout: 2000 }).toString().trim() || null;
  } catch {
    cachedCommit = null;
  }
  return cachedCommit;
}
