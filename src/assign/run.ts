/**
 * `lpclust assign`, the day-ahead job, as a library: one tracked run that takes the days of a
 * window from a source (or a profiles CSV, e.g. a day-ahead forecast), cleans and harmonizes them
 * with the model's contract (resolution, slots, normalisation), assigns each meter-day to a
 * cluster, writes `id,date,cluster,distance,margin,novel`, hands the rows to the sinks, and logs
 * monitoring metrics with the day as the step (cluster shares, distances, novel days, drift).
 */
import path from 'node:path';
import { inputError, usageError } from '../errors.js';
import { writeLinesAtomic } from '../io/atomic.js';
import { csvField } from '../io/csv.js';
import { readProfiles, type ProfileTable } from '../io/profiles.js';
import { checkInputPath, checkOutputFile } from '../io/preflight.js';
import { ZoneMapper } from '../etl/time.js';
import { cleanSource, type EtlSourceReader } from '../etl/run.js';
import { DEFAULT_CLEAN_OPTIONS, type CleanOptions, type OnBadRow } from '../etl/types.js';
import { emptyRules, loadRules, type RuleSource, type RulesFile } from '../etl/rules.js';
import { readMeterDescription } from '../etl/meters.js';
import { harmonizeTables, type HarmonizeSource } from '../harmonize/harmonize.js';
import { exclusionsFromRules } from '../pipeline/harmonize.js';
import { checkInputSlots, type Prediction } from '../model/predict.js';
import type { LoadedModel } from '../model/resolve.js';
import { withRun, type ActiveRun, type Loggable } from '../tracking/run.js';
import { datasetName, logProfilesInput, logRawSourceInput } from '../pipeline/datasets.js';
import type { Metric } from '../tracking/store.js';
import type { StageResult, StageTracking } from '../pipeline/types.js';
import { log } from '../util/log.js';
import { maskSecrets } from '../util/mask.js';
import { jsDistance, psi } from './drift.js';
import { quantileSorted } from '../model/reference.js';
import type { AssignmentRow, AssignSink } from './sinks.js';
import { dayNumber, dayTimestamp, resolveWindow, type DayWindow } from './window.js';

/** Tag set on the run when a drift score passes its threshold. */
export const RETRAIN_TAG = 'lpclust.retrain_recommended';

/** Where the days come from. */
export type AssignInput =
  /** A profiles CSV in the harmonized format (`id,date,HH:MM...`, Wh per slot): harmonized data or a day-ahead forecast. */
  | { kind: 'profiles'; file: string }
  /**
   * A raw source read through the ETL readers. `open` gets the window (a live source queries only
   * those days) and returns the reader and a cleanup for temporary files.
   */
  | {
      kind: 'source';
      source: RuleSource;
      /** Readable description (paths, masked URIs). */
      describe: string;
      open: (w: DayWindow) => Promise<{ reader: EtlSourceReader; cleanup?: () => Promise<void>; rawArtifact?: { file: string; dir: string } }>;
      /** The source's cleaning defaults (as its `etl` command uses). */
      clean?: Partial<CleanOptions>;
      /** Source params to log (masked again). */
      params?: Record<string, Loggable>;
    };

/** Options of {@link runAssign}. */
export interface AssignOptions {
  model: LoadedModel;
  /** `--model` as given (masked before logging). */
  modelSpec: string;
  input: AssignInput;
  /** `--days N` (window of N days ending at `until`). */
  days?: number;
  since?: string;
  until?: string;
  /** `--timezone`; default the model's recorded zone, else UTC. */
  timezone?: string;
  /** `--resolution` in minutes; must equal the model's when given. */
  resolution?: number;
  metersFile?: string;
  rulesFile?: string;
  onBadRow?: OnBadRow;
  fillWindowHours?: number;
  /** Assignments CSV to write. */
  out: string;
  /** PSI of the window's shares against the training shares above which retraining is recommended. */
  psiThreshold?: number;
  /** Jensen–Shannon distance threshold, likewise. */
  jsThreshold?: number;
  sinks?: AssignSink[];
  /** Current time (ms) for the default `until` (tests); default Date.now(). */
  now?: number;
}

/** Monitoring of one day. */
export interface DayStats {
  date: string;
  /** Metric step: days since 1970-01-01. */
  step: number;
  /** Metric timestamp: local midnight of the day, ms UTC. */
  timestamp: number;
  rows: number;
  shares: number[];
  distanceMean: number;
  distanceP95: number;
  /** NaN when the model has no novelty bound. */
  novelShare: number;
  psi: number;
  js: number;
}

/** Outputs of {@link runAssign}. */
export interface AssignOutputs {
  out: string;
  window: DayWindow;
  timezone: string;
  rows: AssignmentRow[];
  days: DayStats[];
  /** Shares of the whole window, length k. */
  windowShares: number[];
  psi: number;
  js: number;
  retrainRecommended: boolean;
  /** What could not be computed for lack of a training reference (empty for current models). */
  missing: string[];
  /** Rows left out before predicting (outside the window, degenerate, incomplete), by reason. */
  skipped: Record<string, number>;
  sinks: string[];
}

/** What {@link prepareAssign} settles before a run exists. */
export interface PreparedAssign {
  zone: ZoneMapper;
  /** Null for a profiles input without an explicit window (every row is assigned). */
  window: DayWindow | null;
  out: string;
  metersFile?: string;
  rulesFile?: string;
  inFile?: string;
}

/**
 * Check the options against the model before a run starts: the time zone and resolution must be
 * the model's (a mismatch names both), the window must be a valid range, the files must exist.
 * @throws LpclustError (usage) naming the option
 */
export function prepareAssign(o: AssignOptions): PreparedAssign {
  const m = o.model.model;
  const modelZone = m.reference?.timezone ?? null;
  if (o.timezone !== undefined && modelZone !== null && o.timezone !== modelZone) {
    throw usageError('E_ASSIGN_TIMEZONE', `\`timezone ${o.timezone}\` differs from the model's time zone ${modelZone} (its days and slot labels are local to ${modelZone})`, {
      option: 'timezone',
      hint: `leave \`timezone\` out (the model's zone is used), or train a model on data in ${o.timezone}`,
    });
  }
  const zone = new ZoneMapper(o.timezone ?? modelZone ?? 'UTC');
  if (o.resolution !== undefined && o.resolution !== m.input.resolution_minutes) {
    throw usageError('E_ASSIGN_RESOLUTION', `\`resolution ${o.resolution}\` differs from the model's ${m.input.resolution_minutes}-minute resolution (${m.input.slots.length} slots)`, {
      option: 'resolution',
      hint: `leave \`resolution\` out: assign cleans the data at the model's resolution (${m.input.resolution_minutes} minutes)`,
    });
  }
  const explicit = o.days !== undefined || o.since !== undefined || o.until !== undefined;
  const window = o.input.kind === 'profiles' && !explicit ? null : resolveWindow(o, zone, o.now ?? Date.now());
  const out = checkOutputFile(o.out, '--out');
  const metersFile = o.metersFile === undefined ? undefined : checkInputPath(o.metersFile, '--meters');
  const rulesFile = o.rulesFile === undefined ? undefined : checkInputPath(o.rulesFile, '--rules');
  const inFile = o.input.kind === 'profiles' ? checkInputPath(o.input.file, '--in') : undefined;
  return { zone, window, out, metersFile, rulesFile, inFile };
}

/** The training shares the drift is measured against, and what is missing from the model. */
function trainingShares(lm: LoadedModel): { shares: number[]; from: string; missing: string[] } {
  const m = lm.model;
  if (m.reference) return { shares: m.reference.cluster_shares, from: 'the model\'s training reference (shares of its training days as predicted)', missing: [] };
  const total = m.training.cluster_sizes.reduce((a, b) => a + b, 0);
  return {
    shares: m.training.cluster_sizes.map((c) => c / total),
    from: 'the fitted training cluster sizes (the model has no training reference)',
    missing: ['novel (the model stores no 99th percentile of training distances)', 'drift against predicted training shares (fitted cluster sizes used instead)'],
  };
}

function sortedCopy(values: number[]): Float64Array {
  return Float64Array.from(values).sort();
}

/** True when a row cannot be normalised by the model's normalisation (it would stop the whole batch). */
function degenerate(values: Float64Array, base: number, L: number, norm: string): string | null {
  let ss = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let j = base; j < base + L; j++) {
    const v = values[j];
    if (!Number.isFinite(v)) return 'incomplete';
    ss += v * v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (norm === 'l2' && !(ss > 0)) return 'all_zero';
  if (norm === 'zscore' && min === max) return 'constant';
  return null;
}

/**
 * Run the day-ahead job as one tracked run (name `assign <since>..<until>`, tag
 * `lpclust.stage=assign`). Params: model, model_run_id, model_kind, normalization, resolution,
 * timezone, since, until, input, out, thresholds, sinks (masked). Metrics with the day as step
 * (days since 1970-01-01) and local midnight as timestamp: `assign/rows`, `assign/share/<c>`,
 * `assign/distance_mean`, `assign/distance_p95`, `assign/novel_share`, `drift/psi`, `drift/js`;
 * at the last day's step: `drift/window_psi`, `drift/window_js` (the whole window's shares).
 * A threshold passed sets {@link RETRAIN_TAG} and warns; it is not a failure.
 */
export async function runAssign(o: AssignOptions, tracking: StageTracking): Promise<StageResult<AssignOutputs>> {
  const prep = prepareAssign(o);
  const lm = o.model;
  const m = lm.model;
  const k = m.k;
  const L = m.input.slots.length;
  const win = prep.window;
  const runName = win ? (win.since === win.until ? `assign ${win.since}` : `assign ${win.since}..${win.until}`) : `assign ${path.basename(prep.inFile ?? '')}`;
  // A profiles CSV is read and checked against the model before the run exists: a wrong file
  // leaves no FAILED run behind (a raw source is only read inside the run, which logs the read).
  const profiles = prep.inFile === undefined ? null : await readProfiles(prep.inFile);
  if (profiles) checkInputSlots(m, profiles.slots, prep.inFile!);
  return withRun({ store: tracking.store, experimentName: tracking.experimentName, runName, parentRunId: tracking.parentRunId, tags: { 'lpclust.stage': 'assign', ...(tracking.tags ?? {}) } }, async (run) => {
    const sinks = o.sinks ?? [];
    const params: Record<string, Loggable | undefined> = {
      model: maskSecrets(lm.source),
      model_run_id: m.run_id ?? '',
      model_kind: `${m.model} ${m.metric} k=${k}`,
      normalization: m.normalization,
      resolution: m.input.resolution_minutes,
      timezone: prep.zone.zone,
      since: win?.since ?? '',
      until: win?.until ?? '',
      days: o.days,
      input: o.input.kind === 'profiles' ? prep.inFile : maskSecrets(o.input.describe),
      source: o.input.kind === 'profiles' ? 'profiles' : o.input.source,
      out: prep.out,
      meters: prep.metersFile ?? '',
      rules: prep.rulesFile ?? '',
      drift_threshold: o.psiThreshold,
      js_threshold: o.jsThreshold,
      sinks: sinks.map((s) => s.display).join(' '),
    };
    if (o.input.kind === 'source') for (const [key, v] of Object.entries(o.input.params ?? {})) params[key] = typeof v === 'string' ? maskSecrets(v) : v;
    await run.logParams(params);
    if (profiles) await logProfilesInput(run, datasetName(prep.inFile!), prep.inFile!, profiles, 'inference');

    // 1. The days, at the model's contract.
    const skipped: Record<string, number> = {};
    const seen = { latest: '' };
    const table = profiles ?? (await loadDays(o, prep, skipped, seen, run));
    if (!profiles) checkInputSlots(m, table.slots, o.input.kind === 'source' ? o.input.describe : '');

    // 2. The window and the rows the model can take.
    const keep: number[] = [];
    const examples: Record<string, string[]> = {};
    for (let i = 0; i < table.n; i++) {
      const d = table.dates[i];
      if (win && (d < win.since || d > win.until)) {
        skipped.outside_window = (skipped.outside_window ?? 0) + 1;
        continue;
      }
      const why = degenerate(table.values, i * L, L, m.normalization);
      if (why) {
        skipped[why] = (skipped[why] ?? 0) + 1;
        if (!examples[why]) examples[why] = [];
        if (examples[why].length < 3) examples[why].push(`${table.ids[i]} on ${d}`);
        continue;
      }
      keep.push(i);
    }
    // One warning per reason (a daily job over many meters would otherwise print a line per day).
    for (const [why, list] of Object.entries(examples)) {
      const what = why === 'all_zero' ? 'every slot is 0 (no L2 norm)' : why === 'constant' ? 'a constant day (no standard deviation for zscore)' : 'a slot has no value';
      const n = skipped[why];
      log.warn(`${n} meter-day${n === 1 ? '' : 's'} not assigned: ${what} (${list.join(', ')}${n > list.length ? ', ...' : ''})`);
    }
    if (keep.length === 0) {
      const last = table.dates.reduce((a, b) => (b > a ? b : a), seen.latest);
      throw inputError('E_ASSIGN_NO_DAYS', `${o.input.kind === 'profiles' ? prep.inFile : o.input.describe}: no complete day to assign${win ? `${win.since === win.until ? ` on ${win.since}` : ` between ${win.since} and ${win.until}`} (${prep.zone.zone})` : ''}${inWindow(skipped)}${last ? `; the latest day in the input is ${last}` : '; the input holds no complete day'}`, {
        hint: win ? 'check --until/--days (the default is yesterday in the model\'s time zone), and that the source has data for those days' : 'check the input file',
      });
    }
    const values = new Float64Array(keep.length * L);
    keep.forEach((row, r) => values.set(table.values.subarray(row * L, row * L + L), r * L));
    const ids = keep.map((i) => table.ids[i]);
    const dates = keep.map((i) => table.dates[i]);

    // 3. Predict.
    const pred: Prediction = lm.predictor.predict(values, (r) => `meter ${ids[r]} on ${dates[r]}`);
    const p99 = m.reference?.distance.p99;
    const rows: AssignmentRow[] = ids.map((id, r) => ({
      id,
      date: dates[r],
      cluster: pred.labels[r],
      distance: pred.distance[r],
      margin: pred.margin[r],
      novel: p99 === undefined ? null : pred.distance[r] > p99,
    }));
    await writeLinesAtomic(
      prep.out,
      'id,date,cluster,distance,margin,novel',
      rows.length,
      (i) => {
        const r = rows[i];
        return `${csvField(r.id)},${r.date},${r.cluster},${r.distance},${r.margin},${r.novel === null ? '' : r.novel}`;
      },
    );

    // 4. Monitoring: per day, then the window.
    const ref = trainingShares(lm);
    const byDay = new Map<string, number[]>();
    rows.forEach((r, i) => {
      const list = byDay.get(r.date);
      if (list) list.push(i);
      else byDay.set(r.date, [i]);
    });
    const days: DayStats[] = [];
    const metricList: Metric[] = [];
    for (const date of [...byDay.keys()].sort()) {
      const idx = byDay.get(date)!;
      const counts = new Array<number>(k).fill(0);
      let sum = 0;
      let novel = 0;
      for (const i of idx) {
        counts[rows[i].cluster]++;
        sum += rows[i].distance;
        if (rows[i].novel) novel++;
      }
      const shares = counts.map((c) => c / idx.length);
      const dist = sortedCopy(idx.map((i) => rows[i].distance));
      const s: DayStats = {
        date,
        step: dayNumber(date),
        timestamp: dayTimestamp(date, prep.zone),
        rows: idx.length,
        shares,
        distanceMean: sum / idx.length,
        distanceP95: quantileSorted(dist, 0.95),
        novelShare: p99 === undefined ? NaN : novel / idx.length,
        psi: psi(ref.shares, counts),
        js: jsDistance(ref.shares, counts),
      };
      days.push(s);
      const at = (key: string, value: number): void => {
        metricList.push({ key, value, step: s.step, timestamp: s.timestamp });
      };
      at('assign/rows', s.rows);
      shares.forEach((v, c) => at(`assign/share/${c}`, v));
      at('assign/distance_mean', s.distanceMean);
      at('assign/distance_p95', s.distanceP95);
      if (p99 !== undefined) at('assign/novel_share', s.novelShare);
      at('drift/psi', s.psi);
      at('drift/js', s.js);
    }
    const windowCounts = new Array<number>(k).fill(0);
    for (const r of rows) windowCounts[r.cluster]++;
    const windowShares = windowCounts.map((c) => c / rows.length);
    const windowPsi = psi(ref.shares, windowCounts);
    const windowJs = jsDistance(ref.shares, windowCounts);
    const lastDay = days[days.length - 1];
    metricList.push({ key: 'drift/window_psi', value: windowPsi, step: lastDay.step, timestamp: lastDay.timestamp });
    metricList.push({ key: 'drift/window_js', value: windowJs, step: lastDay.step, timestamp: lastDay.timestamp });
    await logMetricList(run, metricList);

    const reasons: string[] = [];
    if (o.psiThreshold !== undefined && windowPsi > o.psiThreshold) reasons.push(`PSI ${windowPsi.toFixed(4)} > ${o.psiThreshold}`);
    if (o.jsThreshold !== undefined && windowJs > o.jsThreshold) reasons.push(`Jensen–Shannon distance ${windowJs.toFixed(4)} > ${o.jsThreshold}`);
    const span = `${days[0].date}..${lastDay.date}`;
    const tags: Record<string, string> = { 'lpclust.assign.reference': ref.from };
    if (ref.missing.length > 0) {
      tags['lpclust.assign.missing'] = ref.missing.join('; ');
      log.warn(`the model (${lm.source}) was saved without a training reference: not computed: ${ref.missing.join('; ')}. Refit it with this lpclust to get them.`);
    }
    if (reasons.length > 0) {
      tags[RETRAIN_TAG] = 'true';
      tags['lpclust.retrain_reason'] = `cluster shares of ${span} drifted from the training shares: ${reasons.join(', ')}`;
      log.warn(`drift: the cluster shares of ${span} moved away from the training shares (${reasons.join(', ')}); retraining is recommended (tag ${RETRAIN_TAG}=true)`);
    } else if (o.psiThreshold !== undefined || o.jsThreshold !== undefined) {
      tags[RETRAIN_TAG] = 'false';
    }
    await run.setTags(tags);
    await run.logArtifact(prep.out, 'assign');
    await run.logJson({ window: win, timezone: prep.zone.zone, rows: rows.length, skipped, training_shares: ref.shares, training_shares_from: ref.from, window_shares: windowShares, psi: windowPsi, js: windowJs, days }, 'assign/summary.json');

    // 5. The sinks, after everything else: a failing sink fails the run, with the CSV and metrics kept.
    const ctx = { runId: run.runId, model: maskSecrets(lm.source), modelRunId: m.run_id, since: win?.since ?? days[0].date, until: win?.until ?? lastDay.date };
    for (const sink of sinks) {
      await sink.write(rows, ctx);
      log.info(`assign: ${rows.length} rows upserted into ${sink.display}`);
    }
    const metrics: Record<string, number> = { 'assign/rows': rows.length, 'drift/window_psi': windowPsi, 'drift/window_js': windowJs };
    return {
      runId: run.runId,
      metrics,
      outputs: {
        out: prep.out,
        window: win ?? { since: days[0].date, until: lastDay.date },
        timezone: prep.zone.zone,
        rows,
        days,
        windowShares,
        psi: windowPsi,
        js: windowJs,
        retrainRecommended: reasons.length > 0,
        missing: ref.missing,
        skipped,
        sinks: sinks.map((s) => s.display),
      },
    };
  });
}

/** Metrics in batches (MLflow accepts at most 1000 per batch). */
async function logMetricList(run: ActiveRun, list: Metric[]): Promise<void> {
  for (let i = 0; i < list.length; i += 1000) await run.store.logBatch(run.runId, { metrics: list.slice(i, i + 1000) });
}

/** Read a source's days, cleaned and harmonized at the model's resolution and zone. */
async function loadDays(o: AssignOptions, prep: PreparedAssign, skipped: Record<string, number>, seen: { latest: string }, run: ActiveRun): Promise<ProfileTable> {
  const input = o.input;
  if (input.kind !== 'source') throw new TypeError('loadDays reads a source, not a profiles CSV');
  const clean: CleanOptions = {
    ...DEFAULT_CLEAN_OPTIONS,
    ...input.clean,
    resolutionMinutes: o.model.model.input.resolution_minutes,
    timeZone: prep.zone.zone,
    ...(o.fillWindowHours === undefined ? {} : { fillWindowHours: o.fillWindowHours }),
    bogusYears: [...DEFAULT_CLEAN_OPTIONS.bogusYears],
  };
  const meters = prep.metersFile === undefined ? null : await readMeterDescription(prep.metersFile);
  const rules: RulesFile = prep.rulesFile === undefined ? emptyRules() : await loadRules(prep.rulesFile);
  const { reader, cleanup, rawArtifact } = await input.open(prep.window!);
  try {
    // A live read is logged as the ETL logs it, so that the run can be redone offline from it.
    if (rawArtifact) await run.logArtifact(rawArtifact.file, rawArtifact.dir);
    const { table: cleaned, report: read } = await cleanSource(reader, { clean, rules, meters, onBadRow: o.onBadRow ?? 'error' });
    const totals = read.metrics();
    await logRawSourceInput(run, input.source, input.describe, totals.records_read, totals.meters, 'inference');
    // An export or a table holds more days than the window: the counts below are the window's.
    const table = windowRows(cleaned, prep.window!, skipped);
    for (const d of cleaned.dates) if (d > seen.latest) seen.latest = d;
    // Harmonize as training did: the rules' excluded meters, incomplete and all-zero days dropped.
    const hs: HarmonizeSource = input.source;
    const { table: out, report } = harmonizeTables([{ source: hs, file: input.describe, table }], { exclude: exclusionsFromRules(rules), dropZeroDays: true });
    const c = report.perSource[hs]!;
    if (c.excluded) skipped.excluded_meter = c.excluded;
    if (c.droppedZero) skipped.all_zero = (skipped.all_zero ?? 0) + c.droppedZero;
    if (c.droppedIncomplete) skipped.incomplete = (skipped.incomplete ?? 0) + c.droppedIncomplete;
    return out;
  } finally {
    await cleanup?.();
  }
}

/** The rows of `t` inside the window (those outside are counted in `skipped.outside_window`). */
function windowRows(t: ProfileTable, w: DayWindow, skipped: Record<string, number>): ProfileTable {
  const L = t.length;
  const keep: number[] = [];
  for (let i = 0; i < t.n; i++) if (t.dates[i] >= w.since && t.dates[i] <= w.until) keep.push(i);
  if (keep.length < t.n) skipped.outside_window = (skipped.outside_window ?? 0) + t.n - keep.length;
  const values = new Float64Array(keep.length * L);
  keep.forEach((row, r) => values.set(t.values.subarray(row * L, row * L + L), r * L));
  return { ids: keep.map((i) => t.ids[i]), dates: keep.map((i) => t.dates[i]), slots: t.slots, values, n: keep.length, length: L };
}

/** The days of the window left out, in words (for the error when none is left): ` (3 incomplete, 1 all zero)`. */
function inWindow(skipped: Record<string, number>): string {
  const parts = Object.entries(skipped).filter(([k]) => k !== 'outside_window').map(([k, v]) => `${v} ${k.replace(/_/g, ' ')}`);
  return parts.length > 0 ? ` (the window's meter-days left out: ${parts.join(', ')})` : '';
}
