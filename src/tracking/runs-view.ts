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
  /** Direct nested runs left out of the listing (by `children` or `limit`); 0 when all are shown. */
  hiddenChildren: number;
}

/** One experiment of a listing. */
export interface ExperimentView {
  experimentId: string;
  name: string;
  /** Runs in the experiment (all of them, whatever `limit` shows). */
  runCount: number;
  /** Shown runs in tree order (parents before their children), at most `limit` of them. */
  runs: RunRow[];
  /** Top-level runs left out by the limit (with their nested runs). */
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
  /**
   * At most this many runs per experiment (nested ones included), newest top-level runs first,
   * each followed by its nested runs (0 = all). What is left out is counted.
   */
  limit?: number;
  /** At most this many direct nested runs under each run, oldest first (0 = all); the rest are counted. */
  children?: number;
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
    const tree = treeOrder(runs, options.limit ?? 0, options.children ?? 0);
    // The empty Default experiment of a new store is noise in a listing of everything.
    if (options.experimentName === undefined && runs.length === 0 && exp.experimentId === '0') continue;
    out.push({ experimentId: exp.experimentId, name: exp.name, runCount: runs.length, runs: tree.rows, omittedTopLevel: tree.omitted });
  }
  return { trackingUri: store.displayUri, experiments: out };
}

/**
 * Runs (newest first) in tree order: each top-level run followed by its descendants, at most
 * `limit` rows in all and `maxChildren` direct children per run (0 = no cap).
 */
function treeOrder(runs: Run[], limit: number, maxChildren: number): { rows: RunRow[]; omitted: number } {
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
  const full = (): boolean => limit > 0 && rows.length >= limit;
  const visit = (r: Run, depth: number): void => {
    if (seen.has(r.info.runId)) return; // a cycle of parent tags: show each run once
    seen.add(r.info.runId);
    const row = rowOf(r, depth);
    rows.push(row);
    // Children oldest first: they usually are the stages of the parent, in order.
    const kids = [...(children.get(r.info.runId) ?? [])].sort((a, b) => a.info.startTime - b.info.startTime);
    let shown = 0;
    for (const k of kids) {
      if ((maxChildren > 0 && shown >= maxChildren) || full()) break;
      visit(k, depth + 1);
      shown++;
    }
    row.hiddenChildren = kids.length - shown;
  };
  let shownTop = 0;
  for (const r of top) {
    if (full()) break;
    visit(r, 0);
    shownTop++;
  }
  return { rows, omitted: top.length - shownTop };
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
    hiddenChildren: 0,
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
  /** The datasets the run read (MLflow dataset inputs), with their context (`training`, …). */
  datasets: Array<{ name: string; digest: string; context: string; source: string }>;
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
  const datasets = (await store.getRunInputs(runId)).map(({ dataset: d, tags }) => ({
    name: d.name,
    digest: d.digest,
    context: tags.find((t) => t.key === 'mlflow.data.context')?.value ?? '',
    source: sourceUri(d.source),
  }));
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
    datasets,
  };
}

/** The `uri` of a dataset's source JSON, or the text itself. */
function sourceUri(source: string): string {
  try {
    const uri = (JSON.parse(source) as { uri?: unknown }).uri;
    return typeof uri === 'string' ? uri : source;
  } catch {
    return source;
  }
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
  /** Characters per line of `lpclust runs` (lines are fitted to it); 0 or undefined = no limit. */
  width?: number;
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

/**
 * Params shown first in a listing, in this order: what tells runs of a stage apart (the model and
 * its settings for clustering runs and their parents, the sources for ETL and harmonization, the
 * band for DTW, the grid of a sweep). Others are left to `lpclust runs show` and `--json`.
 */
export const KEY_PARAMS: readonly string[] = [
  'model', 'metric', 'k', 'seed', 'linkage', 'models', 'metrics', 'seeds', 'k_range', 'select', 'source', 'radius',
];

/**
 * Metrics shown first in a listing, in this order: validation scores of clustering runs (and of
 * the pipeline parents that copy them), the best score of a sweep, then the counts that summarise
 * ETL, harmonization and DTW runs.
 */
export const KEY_METRICS: ReadonlyArray<string | RegExp> = [
  'Silhouette Score', 'Silhouette DTW', 'DB Index', 'Calinski-Harabasz', 'Peak Match Score',
  /^best /, 'mean seed ARI', 'configurations', 'failed_configurations',
  'rows', 'meters', 'zero_rows', 'dtw_pairs', 'pairs', 'seconds',
];

/**
 * The key params of a row as `key=value`, in {@link KEY_PARAMS} order, without those its name
 * already states (a clustering run named "kmeans dtw k=12" shows its seed, not its model).
 */
export function keyParams(params: Record<string, string>, runName = ''): string[] {
  const words = new Set(runName.split(/[\s_]+/));
  return KEY_PARAMS.filter((k) => params[k] !== undefined && params[k] !== '' && params[k].length <= 40)
    .filter((k) => !words.has(`${k}=${params[k]}`) && !(/\D/.test(params[k]) && words.has(params[k])))
    .map((k) => `${k}=${params[k]}`);
}

/**
 * Short labels of the long metric names in a listing line (a legend under the listing spells
 * them out); other metrics keep their names.
 */
export const METRIC_LABELS: Readonly<Record<string, string>> = {
  'Silhouette Score': 'Sil',
  'Silhouette DTW': 'SilDTW',
  'DB Index': 'DB',
  'Calinski-Harabasz': 'CH',
  'Peak Match Score': 'Peak',
};

/** The key metrics of a row, in {@link KEY_METRICS} order, with their listing labels. */
export function keyMetrics(metrics: Record<string, number>): Array<{ name: string; text: string }> {
  const names = Object.keys(metrics);
  const out: string[] = [];
  for (const want of KEY_METRICS) {
    for (const k of names) {
      if ((typeof want === 'string' ? k === want : want.test(k)) && !out.includes(k)) out.push(k);
    }
  }
  return out.map((k) => ({ name: k, text: `${METRIC_LABELS[k] ?? k}=${formatMetricValue(metrics[k])}` }));
}

/**
 * As many items as fit in `room` characters (0 = no limit): params in at most half the room when
 * there are metrics, then ` | ` and metrics; ` …` ends a line that left some out.
 * @returns the text and the metrics shown (for the legend)
 */
function fitValues(params: string[], metrics: Array<{ name: string; text: string }>, room: number): { text: string; shown: string[] } {
  if (room <= 0) {
    return { text: [params.join(' '), metrics.map((m) => m.text).join(' ')].filter((x) => x !== '').join(' | '), shown: metrics.map((m) => m.name) };
  }
  const budget = room - 2; // room for ' …'
  let text = '';
  let cut = false;
  for (const p of params) {
    const next = text === '' ? p : `${text} ${p}`;
    if (next.length > (metrics.length > 0 ? Math.floor(budget / 2) : budget)) {
      cut = true;
      break;
    }
    text = next;
  }
  const shown: string[] = [];
  for (const m of metrics) {
    const next = text === '' ? m.text : shown.length === 0 ? `${text} | ${m.text}` : `${text} ${m.text}`;
    if (next.length > budget) {
      cut = true;
      break;
    }
    text = next;
    shown.push(m.name);
  }
  return { text: cut ? `${text} …`.trimStart() : text, shown };
}

function clip(s: string, n: number): string {
  return s.length <= n ? s : s.slice(0, n - 1) + '…';
}

/** Tree prefixes (`├─ `, `└─ `, `│  `) of lines given by their depths, in tree order. */
function treePrefixes(depths: readonly number[]): string[] {
  return depths.map((depth, i) => {
    if (depth === 0) return '';
    let prefix = '';
    for (let level = 1; level <= depth; level++) {
      // Is there a later line at this level before the tree climbs above it?
      let more = false;
      for (let j = i + 1; j < depths.length && depths[j] >= level; j++) {
        if (depths[j] === level) {
          more = true;
          break;
        }
      }
      if (level === depth) prefix += more ? '├─ ' : '└─ ';
      else prefix += more ? '│  ' : '   ';
    }
    return prefix;
  });
}

/** A line of the listing: a run, or the count of nested runs left out under one. */
type ListLine = { depth: number; row: RunRow } | { depth: number; hidden: number; parent: RunRow };

/**
 * The terminal text of `lpclust runs`: per experiment, the runs as a tree, each line fitted to
 * `options.width` (name, status, start of top-level runs, duration, then the key params and
 * metrics that fit; see {@link KEY_PARAMS}, {@link KEY_METRICS}).
 */
export function formatRunsView(view: RunsView, options: FormatOptions = {}): string {
  const now = options.now ?? Date.now();
  const width = options.width && options.width > 0 ? options.width : 0;
  const fit = (line: string): string => (width > 0 ? clip(line, width) : line);
  const lines: string[] = [`Tracking store: ${view.trackingUri}`];
  if (view.experiments.length === 0) {
    lines.push('', 'No runs yet. Runs appear here once an lpclust command has been run.');
    return lines.join('\n') + '\n';
  }
  for (const exp of view.experiments) {
    lines.push('', fit(`Experiment "${exp.name}" (id ${exp.experimentId}): ${exp.runCount} run${exp.runCount === 1 ? '' : 's'}`));
    if (exp.runs.length === 0) continue;
    // A run's hidden children are counted on a line after its last shown descendant.
    const list: ListLine[] = [];
    const pending: Array<{ depth: number; hidden: number; parent: RunRow }> = [];
    for (const row of exp.runs) {
      while (pending.length > 0 && pending[pending.length - 1].depth > row.depth) list.push(pending.pop()!);
      list.push({ depth: row.depth, row });
      if (row.hiddenChildren > 0) pending.push({ depth: row.depth + 1, hidden: row.hiddenChildren, parent: row });
    }
    while (pending.length > 0) list.push(pending.pop()!);
    const prefixes = treePrefixes(list.map((l) => l.depth));
    const nameCap = width > 0 ? Math.max(16, Math.min(40, Math.floor(width / 3.3))) : 40;
    const names = list.map((l, i) => ('row' in l ? prefixes[i] + clip(l.row.runName || '(unnamed)', Math.max(8, nameCap - prefixes[i].length)) : ''));
    const nameWidth = Math.max(4, ...names.map((n) => n.length));
    const statusWidth = Math.max(6, ...exp.runs.map((r) => r.status.length));
    // Month, day and minute: the year and seconds are in `lpclust runs show` and --json.
    const startWidth = 11;
    const durations = exp.runs.map((r) => (r.durationMs !== null ? formatDuration(r.durationMs) : r.status === 'RUNNING' ? `${formatDuration(Math.max(0, now - r.startTime))}…` : '-'));
    const durationWidth = Math.max(6, ...durations.map((d) => d.length));
    const fixed = 2 + 8 + 2 + nameWidth + 2 + statusWidth + 2 + startWidth + 2 + durationWidth + 2;
    const room = width > 0 ? Math.max(0, width - fixed) : 0;
    lines.push(fit(`  ${'RUN ID'.padEnd(8)}  ${'NAME'.padEnd(nameWidth)}  ${'STATUS'.padEnd(statusWidth)}  ${'START'.padEnd(startWidth)}  ${'TIME'.padEnd(durationWidth)}  PARAMS | METRICS`));
    let r = 0;
    const labelled = new Set<string>();
    list.forEach((l, i) => {
      if (!('row' in l)) {
        const what = `… and ${l.hidden} more nested run${l.hidden === 1 ? '' : 's'} (lpclust runs show ${l.parent.runId.slice(0, 8)}; --children 0 shows all)`;
        lines.push(fit(`  ${''.padEnd(8)}  ${prefixes[i]}${what}`));
        return;
      }
      const row = l.row;
      const start = row.depth === 0 ? formatTime(row.startTime, options.utc).slice(5, 16) : '';
      const values = fitValues(keyParams(row.params, row.runName), keyMetrics(row.metrics), width > 0 ? Math.max(room, 1) : 0);
      for (const m of values.shown) if (METRIC_LABELS[m]) labelled.add(m);
      const status = paint(row.status.padEnd(statusWidth), row.status, options.color);
      const head = `  ${row.runId.slice(0, 8)}  ${names[i].padEnd(nameWidth)}  `;
      const tail = `  ${start.padEnd(startWidth)}  ${durations[r].padEnd(durationWidth)}  ${values.text}`.trimEnd();
      // Fitted without the colour codes (they take no room on screen).
      const plain = head + row.status.padEnd(statusWidth) + tail;
      lines.push(width > 0 && plain.length > width ? clip(plain, width) : head + status + tail);
      r++;
    });
    if (exp.omittedTopLevel > 0) lines.push(fit(`  … ${exp.omittedTopLevel} older top-level run${exp.omittedTopLevel === 1 ? '' : 's'} not shown (--limit 0 shows all)`));
    if (labelled.size > 0) lines.push(fit(`  ${[...labelled].map((m) => `${METRIC_LABELS[m]} = ${m}`).join(', ')}`));
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
  if (d.datasets.length > 0) section('Datasets', d.datasets.map((x) => [x.name, `${x.digest}  ${x.context || '-'}`, x.source]));
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
