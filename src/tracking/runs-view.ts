/**
 * What `lpclust runs` shows: experiments with their runs as a tree (nested runs under their
 * parent), and one run in detail (params, latest metrics with history length, tags, artifacts).
 * Collecting (store → plain data, also the `--json` output) is kept apart from formatting (data →
 * terminal text) so both can be tested and reused.
 */
import { inputError, isLpclustError, usageError } from '../errors.js';
import { latestMetric } from './file-store.js';
import type { ArtifactEntry, Experiment, Run, RunStatus, TrackingStore } from './store.js';

/** One run of a listing, in tree order. */
export interface RunRow {
  runId: string;
  runName: string;
  status: RunStatus;
  /** ms since the epoch. */
  startTime: number;
  /** ms since the epoch; null while running. */
  endTime: number | null;
  /** endTime − startTime in ms; null while running. */
  durationMs: number | null;
  /** The parent's run id (tag `mlflow.parentRunId`), or null. */
  parentRunId: string | null;
  /** Nesting depth in the tree (0 = top level). */
  depth: number;
  params: Record<string, string>;
  /** Latest value of each metric. */
  metrics: Record<string, number>;
}

/** One experiment of a listing. */
export interface ExperimentView {
  experimentId: string;
  name: string;
  /** Runs in the experiment (all of them, whatever `limit` shows). */
  runCount: number;
  /** Shown runs in tree order (parents before their children). */
  runs: RunRow[];
  /** Top-level runs left out by the limit. */
  omittedTopLevel: number;
}

/** Everything `lpclust runs` prints. */
export interface RunsView {
  trackingUri: string;
  experiments: ExperimentView[];
}

/** Options of {@link collectRunsView}. */
export interface RunsViewOptions {
  /** Only this experiment (error if it does not exist). */
  experimentName?: string;
  /** At most this many top-level runs per experiment, newest first, each with all its nested runs (0 = all). */
  limit?: number;
  /** Only runs with one of these statuses. */
  statuses?: RunStatus[];
}

/**
 * Read the experiments and runs of a store for display.
 * @throws LpclustError E_EXPERIMENT_NOT_FOUND when `experimentName` names no experiment.
 */
export async function collectRunsView(store: TrackingStore, options: RunsViewOptions = {}): Promise<RunsView> {
  let experiments: Experiment[];
  if (options.experimentName !== undefined) {
    const exp = await store.getExperimentByName(options.experimentName);
    if (!exp) {
      const names = (await store.listExperiments()).map((e) => e.name);
      throw inputError('E_EXPERIMENT_NOT_FOUND', `no experiment named ${JSON.stringify(options.experimentName)} in ${store.displayUri}`, {
        hint: names.length > 0 ? `experiments: ${names.map((n) => JSON.stringify(n)).join(', ')}` : 'the store holds no experiment yet',
      });
    }
    experiments = [exp];
  } else {
    experiments = await store.listExperiments();
  }
  const out: ExperimentView[] = [];
  for (const exp of experiments) {
    const runs = await store.searchRuns({ experimentIds: [exp.experimentId], statuses: options.statuses });
    const tree = treeOrder(runs, options.limit ?? 0);
    // The empty Default experiment of a new store is noise in a listing of everything.
    if (options.experimentName === undefined && runs.length === 0 && exp.experimentId === '0') continue;
    out.push({ experimentId: exp.experimentId, name: exp.name, runCount: runs.length, runs: tree.rows, omittedTopLevel: tree.omitted });
  }
  return { trackingUri: store.displayUri, experiments: out };
}

/** Runs (newest first) in tree order: each top-level run followed by its descendants. */
function treeOrder(runs: Run[], limit: number): { rows: RunRow[]; omitted: number } {
  const ids = new Set(runs.map((r) => r.info.runId));
  const children = new Map<string, Run[]>();
  const top: Run[] = [];
  for (const r of runs) {
    const parent = r.data.tags['mlflow.parentRunId'];
    if (parent && ids.has(parent) && parent !== r.info.runId) {
      const list = children.get(parent) ?? [];
      list.push(r);
      children.set(parent, list);
    } else {
      top.push(r);
    }
  }
  const rows: RunRow[] = [];
  const seen = new Set<string>();
  const visit = (r: Run, depth: number): void => {
    if (seen.has(r.info.runId)) return; // a cycle of parent tags: show each run once
    seen.add(r.info.runId);
    rows.push(rowOf(r, depth));
    // Children oldest first: they usually are the stages of the parent, in order.
    const kids = [...(children.get(r.info.runId) ?? [])].sort((a, b) => a.info.startTime - b.info.startTime);
    for (const k of kids) visit(k, depth + 1);
  };
  const shown = limit > 0 ? top.slice(0, limit) : top;
  for (const r of shown) visit(r, 0);
  return { rows, omitted: top.length - shown.length };
}

function rowOf(r: Run, depth: number): RunRow {
  const end = r.info.endTime;
  return {
    runId: r.info.runId,
    runName: r.info.runName || r.data.tags['mlflow.runName'] || '',
    status: r.info.status,
    startTime: r.info.startTime,
    endTime: end,
    durationMs: end === null ? null : Math.max(0, end - r.info.startTime),
    parentRunId: r.data.tags['mlflow.parentRunId'] ?? null,
    depth,
    params: r.data.params,
    metrics: r.data.metrics,
  };
}

/** One metric of a run in detail. */
export interface MetricDetail {
  /** Latest value (max by step, timestamp, value). */
  value: number;
  step: number;
  /** ms since the epoch. */
  timestamp: number;
  /** Values logged in all. */
  historyLength: number;
}

/** Everything `lpclust runs show` prints. */
export interface RunDetail {
  trackingUri: string;
  experimentName: string;
  info: Run['info'];
  durationMs: number | null;
  parentRunId: string | null;
  params: Record<string, string>;
  metrics: Record<string, MetricDetail>;
  tags: Record<string, string>;
  /** Every artifact file (recursive), `/`-separated paths. */
  artifacts: ArtifactEntry[];
  /** Artifact files not listed because of the cap. */
  artifactsOmitted: number;
  /** Direct nested runs. */
  children: Array<{ runId: string; runName: string; status: RunStatus }>;
}

/** Most artifact files listed by {@link collectRunDetail}. */
const MAX_ARTIFACTS = 500;

/**
 * Find a run by its id or by a unique prefix of at least 6 characters (as `lpclust runs` shows 8).
 * @throws LpclustError E_RUN_NOT_FOUND, E_RUN_AMBIGUOUS
 */
export async function resolveRun(store: TrackingStore, idOrPrefix: string): Promise<Run> {
  const id = idOrPrefix.trim();
  if (!/^[0-9a-zA-Z_-]+$/.test(id)) {
    throw usageError('E_USAGE_VALUE', `Expected a run id (32 hexadecimal characters, or a unique prefix) but received ${JSON.stringify(idOrPrefix)}`);
  }
  try {
    return await store.getRun(id);
  } catch (e) {
    if (!(isLpclustError(e) && e.code === 'E_RUN_NOT_FOUND') || id.length < 6 || id.length >= 32) throw e;
  }
  const matches: Run[] = [];
  for (const exp of await store.listExperiments()) {
    for (const r of await store.searchRuns({ experimentIds: [exp.experimentId] })) if (r.info.runId.startsWith(id)) matches.push(r);
  }
  if (matches.length === 1) return matches[0];
  if (matches.length === 0) {
    throw inputError('E_RUN_NOT_FOUND', `no run with id or id prefix ${JSON.stringify(id)} in ${store.displayUri}`, { hint: 'list the runs with `lpclust runs`' });
  }
  throw inputError('E_RUN_AMBIGUOUS', `the id prefix ${JSON.stringify(id)} matches ${matches.length} runs: ${matches.map((r) => r.info.runId).join(', ')}`, {
    hint: 'give more characters of the run id',
  });
}

/** Read one run in detail: params, metrics with history length, tags, artifacts and nested runs. */
export async function collectRunDetail(store: TrackingStore, idOrPrefix: string): Promise<RunDetail> {
  const run = await resolveRun(store, idOrPrefix);
  const runId = run.info.runId;
  const metrics: Record<string, MetricDetail> = {};
  for (const key of Object.keys(run.data.metrics).sort()) {
    const history = await store.getMetricHistory(runId, key);
    const best = latestMetric(history);
    if (best) metrics[key] = { value: best.value, step: best.step, timestamp: best.timestamp, historyLength: history.length };
  }
  const artifacts: ArtifactEntry[] = [];
  let omitted = 0;
  const walk = async (dir: string | undefined): Promise<void> => {
    for (const entry of await store.listArtifacts(runId, dir)) {
      if (entry.isDir) await walk(entry.path);
      else if (artifacts.length < MAX_ARTIFACTS) artifacts.push(entry);
      else omitted++;
    }
  };
  await walk(undefined);
  const experiments = await store.listExperiments();
  const experimentName = experiments.find((e) => e.experimentId === run.info.experimentId)?.name ?? run.info.experimentId;
  const siblings = await store.searchRuns({ experimentIds: [run.info.experimentId], tags: { 'mlflow.parentRunId': runId } });
  return {
    trackingUri: store.displayUri,
    experimentName,
    info: run.info,
    durationMs: run.info.endTime === null ? null : Math.max(0, run.info.endTime - run.info.startTime),
    parentRunId: run.data.tags['mlflow.parentRunId'] ?? null,
    params: sortKeys(run.data.params),
    metrics,
    tags: sortKeys(run.data.tags),
    artifacts,
    artifactsOmitted: omitted,
    children: siblings
      .sort((a, b) => a.info.startTime - b.info.startTime)
      .map((r) => ({ runId: r.info.runId, runName: r.info.runName, status: r.info.status })),
  };
}

function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const k of Object.keys(o).sort()) out[k] = o[k];
  return out;
}

// ------------------------------------------------------------------ formatting

/** Options of the formatters. */
export interface FormatOptions {
  /** "Now" in ms, for the elapsed time of running runs (default Date.now()). */
  now?: number;
  /** Colour statuses with ANSI codes. */
  color?: boolean;
  /** Show times in UTC instead of the local time zone. */
  utc?: boolean;
}

/** A metric value in a few significant digits (integers as they are). */
export function formatMetricValue(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(3).replace(/\.?0+e/, 'e');
  return String(Number(v.toPrecision(4)));
}

/** A duration in ms as `850ms`, `12.3s`, `4m 05s`, `2h 03m`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const totalS = Math.round(s);
  const m = Math.floor(totalS / 60);
  if (m < 60) return `${m}m ${String(totalS % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  return `${h}h ${String(m % 60).padStart(2, '0')}m`;
}

/** A time in ms as `YYYY-MM-DD HH:MM:SS` (local time, or UTC). */
export function formatTime(ms: number, utc = false): string {
  const d = new Date(ms);
  const p = (n: number): string => String(n).padStart(2, '0');
  const [y, mo, da, h, mi, se] = utc
    ? [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()]
    : [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds()];
  return `${y}-${p(mo)}-${p(da)} ${p(h)}:${p(mi)}:${p(se)}`;
}

const STATUS_COLOR: Record<RunStatus, string> = { RUNNING: '36', SCHEDULED: '36', FINISHED: '32', FAILED: '31', KILLED: '33' };

function paint(text: string, status: RunStatus, color: boolean | undefined): string {
  return color ? `\x1b[${STATUS_COLOR[status]}m${text}\x1b[0m` : text;
}

/** Params shown in a listing: short values only, at most 4. */
function keyParams(params: Record<string, string>): string {
  return Object.keys(params)
    .sort()
    .filter((k) => params[k].length <= 24 && k.length <= 24)
    .slice(0, 4)
    .map((k) => `${k}=${params[k]}`)
    .join(' ');
}

/** Metrics shown in a listing: at most 4. */
function keyMetrics(metrics: Record<string, number>): string {
  return Object.keys(metrics)
    .sort()
    .slice(0, 4)
    .map((k) => `${k}=${formatMetricValue(metrics[k])}`)
    .join(' ');
}

function clip(s: string, n: number): string {
  return s.length <= n ? s : s.slice(0, n - 1) + '…';
}

/** Tree prefixes (`├─ `, `└─ `, `│  `) of rows in tree order. */
function treePrefixes(rows: RunRow[]): string[] {
  return rows.map((row, i) => {
    if (row.depth === 0) return '';
    let prefix = '';
    for (let level = 1; level <= row.depth; level++) {
      // Is there a later row at this level before the tree climbs above it?
      let more = false;
      for (let j = i + 1; j < rows.length && rows[j].depth >= level; j++) {
        if (rows[j].depth === level) {
          more = true;
          break;
        }
      }
      if (level === row.depth) prefix += more ? '├─ ' : '└─ ';
      else prefix += more ? '│  ' : '   ';
    }
    return prefix;
  });
}

/** The terminal text of `lpclust runs`. */
export function formatRunsView(view: RunsView, options: FormatOptions = {}): string {
  const now = options.now ?? Date.now();
  const lines: string[] = [`Tracking store: ${view.trackingUri}`];
  if (view.experiments.length === 0) {
    lines.push('', 'No runs yet. Runs appear here once an lpclust command has been run.');
    return lines.join('\n') + '\n';
  }
  for (const exp of view.experiments) {
    lines.push('', `Experiment "${exp.name}" (id ${exp.experimentId}): ${exp.runCount} run${exp.runCount === 1 ? '' : 's'}`);
    if (exp.runs.length === 0) continue;
    const prefixes = treePrefixes(exp.runs);
    const names = exp.runs.map((r, i) => prefixes[i] + clip(r.runName || '(unnamed)', 40));
    const nameWidth = Math.max(4, ...names.map((n) => n.length));
    const header = `  ${'RUN ID'.padEnd(8)}  ${'NAME'.padEnd(nameWidth)}  ${'STATUS'.padEnd(9)}  ${'START'.padEnd(19)}  ${'DURATION'.padEnd(9)}  PARAMS | METRICS`;
    lines.push(header);
    exp.runs.forEach((r, i) => {
      const duration = r.durationMs !== null ? formatDuration(r.durationMs) : r.status === 'RUNNING' ? `${formatDuration(Math.max(0, now - r.startTime))}…` : '-';
      const pm = [keyParams(r.params), keyMetrics(r.metrics)].filter((s) => s !== '').join(' | ');
      lines.push(
        `  ${r.runId.slice(0, 8)}  ${names[i].padEnd(nameWidth)}  ${paint(r.status.padEnd(9), r.status, options.color)}  ${formatTime(r.startTime, options.utc)}  ${duration.padEnd(9)}  ${pm}`.trimEnd(),
      );
    });
    if (exp.omittedTopLevel > 0) lines.push(`  … ${exp.omittedTopLevel} older run${exp.omittedTopLevel === 1 ? '' : 's'} not shown (use --limit 0 to show all)`);
  }
  return lines.join('\n') + '\n';
}

function formatSize(bytes: number | undefined): string {
  if (bytes === undefined) return '';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** The terminal text of `lpclust runs show`. */
export function formatRunDetail(d: RunDetail, options: FormatOptions = {}): string {
  const now = options.now ?? Date.now();
  const i = d.info;
  const duration = d.durationMs !== null ? formatDuration(d.durationMs) : i.status === 'RUNNING' ? `${formatDuration(Math.max(0, now - i.startTime))} so far` : '-';
  const lines = [
    `Run ${i.runId}  ${paint(i.status, i.status, options.color)}`,
    `  name:        ${i.runName || '(unnamed)'}`,
    `  experiment:  ${d.experimentName} (id ${i.experimentId})`,
    `  user:        ${i.userId}`,
    `  start:       ${formatTime(i.startTime, options.utc)}`,
    `  end:         ${i.endTime === null ? '-' : formatTime(i.endTime, options.utc)}`,
    `  duration:    ${duration}`,
  ];
  if (d.parentRunId) lines.push(`  parent run:  ${d.parentRunId}`);
  lines.push(`  artifacts:   ${i.artifactUri}`);
  const section = (title: string, entries: string[][]): void => {
    lines.push('', `${title} (${entries.length})`);
    if (entries.length === 0) {
      lines.push('  (none)');
      return;
    }
    const w = Math.min(40, Math.max(...entries.map((e) => e[0].length)));
    for (const [k, ...rest] of entries) lines.push(`  ${k.padEnd(w)}  ${rest.join('  ')}`.trimEnd());
  };
  section(
    'Params',
    Object.entries(d.params).map(([k, v]) => [k, clip(v.replace(/\n/g, '⏎'), 200)]),
  );
  section(
    'Metrics',
    Object.entries(d.metrics).map(([k, m]) => [k, formatMetricValue(m.value), `(step ${m.step}${m.historyLength > 1 ? `, ${m.historyLength} values` : ''})`]),
  );
  section(
    'Tags',
    Object.entries(d.tags).map(([k, v]) => [k, clip(v.replace(/\n/g, '⏎'), 200)]),
  );
  section(
    'Artifacts',
    d.artifacts.map((a) => [a.path, formatSize(a.size)]),
  );
  if (d.artifactsOmitted > 0) lines.push(`  … ${d.artifactsOmitted} more files`);
  if (d.children.length > 0) {
    lines.push('', `Nested runs (${d.children.length})`);
    for (const c of d.children) lines.push(`  ${c.runId}  ${paint(c.status.padEnd(9), c.status, options.color)}  ${c.runName}`.trimEnd());
  }
  return lines.join('\n') + '\n';
}
