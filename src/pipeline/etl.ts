/**
 * The tracked ETL stages: one MLflow run per `etl` command (run names `etl_oldmongo`, `etl_sql`,
 * `etl_newmongo`, `etl_generic`). Every source plugs into {@link runEtlStage} with its
 * {@link EtlSourceReader}; the stage cleans, writes the clean profiles CSV atomically (nothing is
 * written on failure), and logs params, metrics, the CSV and the quality report.
 */
import path from 'node:path';
import { writeProfiles } from '../io/profiles.js';
import { log } from '../util/log.js';
import { maskSecrets } from '../util/mask.js';
import { withRun, type Loggable } from '../tracking/run.js';
import { logRawSourceInput } from './datasets.js';
import { checkInputPath, checkOutputFile } from '../io/preflight.js';
import { DEFAULT_CLEAN_OPTIONS, type CleanOptions, type OnBadRow } from '../etl/types.js';
import { cleanSource, type EtlSourceReader } from '../etl/run.js';
import { sourceNaming } from '../etl/sources.js';
import { emptyRules, loadRules, type RulesFile } from '../etl/rules.js';
import { readMeterDescription } from '../etl/meters.js';
import type { QualityReport } from '../etl/clean.js';
import type { StageResult, StageTracking } from './types.js';
import { checkMongoUri, dumpNewMongo, newMongoFilter, type NewMongoQuery } from '../etl/newmongo.js';
import { maskUri } from '../util/mask.js';

/** Options of {@link runEtlStage}, shared by every source. */
export interface EtlStageOptions {
  /** The source reader (old Mongo folder, SQL historian, new Mongo, generic CSV). */
  reader: EtlSourceReader;
  /** MLflow run name, e.g. `etl_oldmongo`. */
  runName: string;
  /** Output clean profiles CSV. */
  out: string;
  /** Meter description CSV; omitted = no description (outlier bound 200 kW, no production). */
  metersFile?: string;
  /** Rules YAML; omitted = no rules. */
  rulesFile?: string;
  /** Cleaning options (resolution, zone, fill window, auto-scale...). Missing fields take defaults. */
  clean?: Partial<CleanOptions>;
  /** Bad rows: `error` (default) or `skip`. */
  onBadRow?: OnBadRow;
  /** Source-specific params to log (they are secret-masked again before logging). */
  params?: Record<string, Loggable | undefined>;
}

/** Outputs of {@link runEtlStage}. */
export interface EtlStageOutputs {
  /** Absolute path of the written CSV. */
  out: string;
  /** Rows written (meter-days). */
  rows: number;
  /** Meters with at least one kept day. */
  meters: number;
  /** The quality report (per-meter counts). */
  report: QualityReport;
}

/**
 * Run one tracked ETL stage. Params logged: source, input description, out, meters, rules,
 * resolution, timezone, fill_window, night_max_slots, auto_scale, reject_outliers, on_bad_row and
 * the source's own params. Metrics: see `QualityReport.metrics()` plus `rows` and `seconds` and
 * `records_per_second`. Artifacts: `clean/<out name>`, `quality/quality_report.csv`,
 * `quality/quality_report.json`. Tag: `clean_<source>_csv` = the absolute output path.
 */
export async function runEtlStage(o: EtlStageOptions, tracking: StageTracking): Promise<StageResult<EtlStageOutputs>> {
  const clean: CleanOptions = { ...DEFAULT_CLEAN_OPTIONS, ...o.clean, bogusYears: o.clean?.bogusYears ?? [...DEFAULT_CLEAN_OPTIONS.bogusYears] };
  const onBadRow = o.onBadRow ?? 'error';
  // Files checked before the run exists (a usage mistake leaves no FAILED run); params hold absolute paths.
  const metersAbs = o.metersFile === undefined ? '' : checkInputPath(o.metersFile, '--meters');
  const rulesAbs = o.rulesFile === undefined ? '' : checkInputPath(o.rulesFile, '--rules');
  const outAbs = checkOutputFile(o.out, '--out');
  return withRun({ store: tracking.store, experimentName: tracking.experimentName, runName: o.runName, parentRunId: tracking.parentRunId, tags: tracking.tags }, async (run) => {
    const params: Record<string, Loggable | undefined> = {
      source: o.reader.source,
      input: maskSecrets(o.reader.describe),
      out: outAbs,
      meters: metersAbs,
      rules: rulesAbs,
      resolution: clean.resolutionMinutes,
      timezone: clean.timeZone,
      fill_window: clean.fillWindowHours,
      night_max_slots: clean.nightMaxSlots,
      auto_scale: clean.autoScale,
      reject_outliers: clean.rejectOutliers,
      production_night_zero: clean.productionNightZero,
      dst_policy: 'drop',
      on_bad_row: onBadRow,
    };
    for (const [k, v] of Object.entries(o.params ?? {})) params[k] = typeof v === 'string' ? maskSecrets(v) : v;
    await run.logParams(params);
    const t0 = performance.now();
    const meters = o.metersFile === undefined ? null : await readMeterDescription(o.metersFile);
    const rules: RulesFile = o.rulesFile === undefined ? emptyRules() : await loadRules(o.rulesFile);
    const { table, report } = await cleanSource(o.reader, { clean, rules, meters, onBadRow });
    const seconds = (performance.now() - t0) / 1000;
    const read = report.metrics();
    await logRawSourceInput(run, o.reader.source, o.reader.describe, read.records_read, read.meters);
    await writeProfiles(o.out, table);
    const totals = report.metrics();
    const metrics: Record<string, number> = {
      ...totals,
      rows: table.n,
      seconds,
      records_per_second: seconds > 0 ? totals.records_read / seconds : 0,
    };
    await run.logMetrics(metrics);
    const abs = path.resolve(o.out);
    await run.setTags({ [sourceNaming(o.reader.source).cleanTag]: abs });
    await run.logArtifact(abs, 'clean');
    await run.logText(report.toCsv(), 'quality/quality_report.csv');
    await run.logJson(report.toJson(), 'quality/quality_report.json');
    if (table.n === 0) log.warn(`${o.reader.describe}: no complete day was kept; ${o.out} holds only the header`);
    return {
      runId: run.runId,
      metrics,
      outputs: { out: abs, rows: table.n, meters: totals.meters_with_days, report },
    };
  });
}

/** A short human summary of an ETL stage result (printed by the commands). */
export function etlSummary(name: string, r: StageResult<EtlStageOutputs>): string {
  const m = r.metrics;
  const lines = [
    `${name}: ${r.outputs.rows} complete days of ${m.meters_with_days} meter(s) → ${r.outputs.out}`,
    `  records read ${m.records_read}, dropped ${m.records_dropped} (bad row ${m.records_dropped_bad_row}, bogus year ${m.records_dropped_bogus_year}, before ${m.records_dropped_before}, after ${m.records_dropped_after}, below threshold ${m.records_dropped_below_threshold}, no value ${m.records_dropped_missing_value}), duplicates ${m.duplicates_collapsed}`,
    `  scale corrections ${m.scale_corrections} (auto ${m.scale_corrections_auto}), counter resets ${m.counter_resets}, outliers ${m.outliers_rejected}, slots filled ${m.slots_filled}, zero-filled ${m.slots_zero_filled}`,
    `  days kept ${m.days_kept}, dropped ${m.days_dropped} (incomplete ${m.days_dropped_incomplete}, DST ${m.days_dropped_dst}); run ${r.runId}`,
  ];
  for (const q of r.outputs.report.meters()) {
    for (const s of q.scaleCorrections) lines.push(`  ${q.meter}: ${s.origin} scale ×${s.factor} ${s.at} (${s.records} records)`);
  }
  return lines.join('\n');
}

/** Options of {@link runNewMongoLoadStage}. */
export interface NewMongoLoadOptions {
  /** The live collection to read (URI, database, collection, date window). */
  query: NewMongoQuery;
  /** Where to write the raw CSV (also logged as the artifact `raw_newmongo/<name>`). */
  rawOut: string;
}

/** Outputs of {@link runNewMongoLoadStage}. */
export interface NewMongoLoadOutputs {
  /** Absolute path of the raw CSV. */
  raw: string;
  documents: number;
  meters: number;
}

/**
 * The tracked `load_newmongo` stage: stream the live collection's `active_sum` documents into a raw
 * CSV and log it as the artifact `raw_newmongo/<file>` (as the old loader did), so the following
 * `etl_newmongo` run — which reads that CSV with {@link newMongoExportSource} — can be redone
 * offline from the artifact. Params: uri (password masked), db, collection, since, until.
 * Metrics: documents, meters, off_grid_values. Tag: `raw_newmongo_csv` (absolute path).
 */
export async function runNewMongoLoadStage(o: NewMongoLoadOptions, tracking: StageTracking): Promise<StageResult<NewMongoLoadOutputs>> {
  checkMongoUri(o.query.uri);
  return withRun({ store: tracking.store, experimentName: tracking.experimentName, runName: 'load_newmongo', parentRunId: tracking.parentRunId, tags: tracking.tags }, async (run) => {
    await run.logParams({
      uri: maskUri(o.query.uri),
      db: o.query.db,
      collection: o.query.collection,
      since: o.query.since ?? '',
      until: o.query.until ?? '',
      filter: JSON.stringify(newMongoFilter(o.query)),
    });
    const counts = await dumpNewMongo(o.query, o.rawOut);
    const metrics = { documents: counts.documents, meters: counts.meters, off_grid_values: counts.offGridValues };
    await run.logMetrics(metrics);
    const abs = path.resolve(o.rawOut);
    await run.logArtifact(abs, 'raw_newmongo');
    await run.setTags({ raw_newmongo_csv: abs });
    if (counts.offGridValues > 0) log.warn(`load_newmongo: ${counts.offGridValues} values at times off the quarter-hour grid were not written`);
    return { runId: run.runId, metrics, outputs: { raw: abs, documents: counts.documents, meters: counts.meters } };
  });
}
