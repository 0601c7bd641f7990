/**
 * The tracked harmonization stage (run name `harmonization`): read the clean CSVs of the sources
 * given, join them with {@link harmonizeTables}, write the harmonized CSV atomically, and
 * optionally compute the DTW matrix of its L2-normalised rows.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { usageError } from '../errors.js';
import { readProfiles, writeProfiles } from '../io/profiles.js';
import { log } from '../util/log.js';
import { throwIfInterrupted } from '../util/interrupt.js';
import { withRun, type Loggable } from '../tracking/run.js';
import { logProfilesInput } from './datasets.js';
import { checkInputPath, checkOutputFile } from '../io/preflight.js';
import { emptyRules, loadRules, type RulesFile } from '../etl/rules.js';
import { precedenceFor, sourceNaming } from '../etl/sources.js';
import {
  HARMONIZE_SOURCES,
  harmonizeTables,
  type HarmonizeReport,
  type HarmonizeSource,
  type MeterExclusion,
  type SourceTable,
} from '../harmonize/harmonize.js';
import { matrixDigest, normalizeRows } from '../profiles/normalize.js';
import { computeDtwMatrix, type DtwMatrixResult, type MatrixLayout } from '../dtw/index.js';
import type { KernelChoice } from '../dtw/index.js';
import { DEFAULT_RADIUS, dtwSettings, dtwSettingsParams } from '../dtw/settings.js';
import type { NpyDtype } from '../io/npy.js';
import type { StageResult, StageTracking } from './types.js';

/** DTW options of the harmonization stage (`--compute-dtw`). */
export interface HarmonizeDtwOptions {
  /** Output .npy (default: beside the harmonized CSV, `<name>.dtw.npy`). */
  out?: string;
  /** Sakoe–Chiba radius (default 1, as the old pipeline). */
  radius?: number;
  /** Worker threads (default: available cores). */
  workers?: number;
  /** Matrix element type (default float32). */
  dtype?: NpyDtype;
  /** Kernel (default auto). */
  kernel?: KernelChoice;
  /** Overwrite an existing matrix (default false). */
  force?: boolean;
  /** Matrix layout: full n × n (default) or condensed (upper triangle, squareform order). */
  layout?: MatrixLayout;
}

/** Options of {@link runHarmonizeStage}. */
export interface HarmonizeStageOptions {
  /** Clean profiles CSV per source; at least one. */
  sources: Partial<Record<HarmonizeSource, string>>;
  /** Rules YAML (its `harmonize.excludeMeters` and per-source `excludeMeters`); omitted = no rules. */
  rulesFile?: string;
  /** Output harmonized CSV. */
  out: string;
  /** Drop all-zero days (counted per source); default true, as the pipeline (they have no L2 norm). */
  dropZeroDays?: boolean;
  /** Compute the DTW matrix of the result (L2-normalised rows). */
  dtw?: HarmonizeDtwOptions;
}

/** Outputs of {@link runHarmonizeStage}. */
export interface HarmonizeStageOutputs {
  /** Absolute path of the harmonized CSV. */
  out: string;
  rows: number;
  meters: number;
  resolutionMinutes: number;
  /** matrixDigest of the harmonized values (Wh), identifies the dataset. */
  digest: string;
  /** matrixDigest of the L2-normalised rows (what DTW and clustering see); '' when a row cannot be normalised. */
  digestL2: string;
  report: HarmonizeReport;
  /** The DTW matrix, when asked for. */
  dtw?: DtwMatrixResult;
}

/** The exclusions a rules file asks harmonize to apply. */
export function exclusionsFromRules(rules: RulesFile): MeterExclusion[] {
  const out: MeterExclusion[] = rules.harmonize.excludeMeters.map((meter) => ({ meter }));
  for (const source of HARMONIZE_SOURCES) {
    for (const meter of rules.sources[source]?.excludeMeters ?? []) out.push({ meter, sources: [source] });
  }
  return out;
}

/** Matrices logged as artifacts up to this size; a larger one stays where it was written (its path is a tag). */
const MAX_MATRIX_ARTIFACT_BYTES = 256 * 1024 * 1024;

/**
 * Run the tracked harmonization stage.
 *
 * Params: `<source>_csv` per source given, `sources`, `rules`, `out`, `precedence`, and with DTW
 * `dtw_radius`, `dtw_dtype`, `dtw_normalization`. Metrics: `<source>_rows_in`, `<source>_excluded`,
 * `<source>_dropped_incomplete`, `<source>_dropped_zero`, `<source>_duplicates`, `<source>_rows_kept` per source given;
 * `rows`, `meters`, `zero_rows`, `resolution_minutes`, `duplicate_keys`, `duplicate_keys_differing`, `seconds`
 * (and `dtw_seconds`, `dtw_pairs` with DTW). Tags: `harmonized_csv` (absolute path),
 * `lpclust.dataset.digest` (raw values), `lpclust.dataset.digest.l2` (normalised rows).
 * Artifacts: `harmonized/<out name>`, `harmonize_report.json`, with DTW `dtw/<sidecar>` (and the
 * matrix when ≤ 256 MiB).
 */
export async function runHarmonizeStage(o: HarmonizeStageOptions, tracking: StageTracking): Promise<StageResult<HarmonizeStageOutputs>> {
  const given = HARMONIZE_SOURCES.filter((s) => o.sources[s] !== undefined);
  if (given.length === 0) {
    throw usageError('E_USAGE_OPTION', `harmonize needs at least one clean CSV: give ${HARMONIZE_SOURCES.map((s) => `--${s}`).join(', ')} (one or more)`);
  }
  // Inputs and the output location are checked before the run exists (a usage mistake leaves no
  // FAILED run); params hold the absolute paths.
  const inputs: Record<string, string> = {};
  for (const s of given) inputs[s] = checkInputPath(o.sources[s]!, `--${s}`);
  const rulesAbs = o.rulesFile === undefined ? '' : checkInputPath(o.rulesFile, '--rules');
  const outAbs = checkOutputFile(o.out, '--out');
  if (o.dtw?.out !== undefined) checkOutputFile(o.dtw.out, '--dtw-out');
  return withRun(
    { store: tracking.store, experimentName: tracking.experimentName, runName: 'harmonization', parentRunId: tracking.parentRunId, tags: tracking.tags },
    async (run) => {
      const precedence = precedenceFor(given);
      const params: Record<string, Loggable> = { sources: given.join(','), rules: rulesAbs, out: outAbs, precedence: precedence.join('>'), drop_zero_days: o.dropZeroDays ?? true };
      for (const s of given) params[sourceNaming(s).harmonizeParam] = inputs[s];
      if (o.dtw) Object.assign(params, dtwSettingsParams(dtwSettings({ radius: o.dtw.radius, dtype: o.dtw.dtype, normalization: 'l2' }), 'dtw_'));
      await run.logParams(params);

      const t0 = performance.now();
      const rules = o.rulesFile === undefined ? emptyRules() : await loadRules(o.rulesFile);
      const tables: SourceTable[] = [];
      for (const source of given) {
        const file = o.sources[source]!;
        tables.push({ source, file, table: await readProfiles(file, { allowMissing: true }) });
        throwIfInterrupted();
      }
      for (const t of tables) await logProfilesInput(run, `clean_${t.source}`, t.file, t.table, 'preprocessing');
      const { table, report } = harmonizeTables(tables, { exclude: exclusionsFromRules(rules), dropZeroDays: o.dropZeroDays ?? true });
      await writeProfiles(o.out, table);
      const seconds = (performance.now() - t0) / 1000;

      const digest = matrixDigest(table.values, table.length);
      let digestL2 = '';
      let normalised: Float64Array | undefined;
      try {
        normalised = normalizeRows(table.values, table.length, 'l2', (i) => `meter ${table.ids[i]} on ${table.dates[i]}`);
        digestL2 = matrixDigest(normalised, table.length);
      } catch (e) {
        // An all-zero day has no L2 norm; the dataset is still valid, but DTW on it is not.
        if (o.dtw) throw e;
        log.warn(`${report.zeroRows} all-zero day(s), e.g. ${(e as Error).message.replace(/^cannot normalise /, '')}: no normalised digest logged; they are kept because of --keep-zero-days, and dtw or cluster with --normalize l2 will refuse them`);
      }

      const metrics: Record<string, number> = {};
      for (const s of given) {
        const c = report.perSource[s]!;
        const p = sourceNaming(s).metricPrefix;
        metrics[`${p}rows_in`] = c.rowsIn;
        metrics[`${p}excluded`] = c.excluded;
        metrics[`${p}dropped_incomplete`] = c.droppedIncomplete;
        metrics[`${p}dropped_zero`] = c.droppedZero;
        metrics[`${p}duplicates`] = c.duplicatesDropped;
        metrics[`${p}rows_kept`] = c.rowsKept;
      }
      Object.assign(metrics, {
        rows: report.rowsOut,
        meters: report.meters,
        zero_rows: report.zeroRows,
        resolution_minutes: report.resolutionMinutes,
        duplicate_keys: report.duplicateKeys,
        duplicate_keys_differing: report.duplicateKeysDiffering,
        seconds,
      });
      const abs = path.resolve(o.out);
      await run.setTags({ harmonized_csv: abs, 'lpclust.dataset.digest': digest, 'lpclust.dataset.digest.l2': digestL2 || undefined });
      await run.logArtifact(abs, 'harmonized');
      await run.logJson(report, 'harmonize_report.json');
      if (report.duplicateKeys > 0) {
        log.warn(`${report.duplicateKeys} (meter, day) pair(s) came from several sources (${report.duplicateKeysDiffering} with different values); kept by precedence ${precedence.join(' > ')}`);
      }

      let dtw: DtwMatrixResult | undefined;
      if (o.dtw && normalised) {
        throwIfInterrupted();
        const out = o.dtw.out ?? defaultDtwPath(o.out);
        dtw = await computeDtwMatrix({
          values: normalised,
          length: table.length,
          out,
          radius: o.dtw.radius ?? DEFAULT_RADIUS,
          dtype: o.dtw.dtype,
          workers: o.dtw.workers,
          kernel: o.dtw.kernel,
          layout: o.dtw.layout,
          force: o.dtw.force,
          normalization: 'l2',
          ids: table.ids,
          dates: table.dates,
        });
        metrics.dtw_seconds = dtw.seconds;
        metrics.dtw_pairs = dtw.pairs;
        await run.setTags({ dtw_matrix: dtw.out });
        await run.logArtifact(dtw.sidecarPath, 'dtw');
        const size = (await fsp.stat(dtw.out)).size;
        if (size <= MAX_MATRIX_ARTIFACT_BYTES) await run.logArtifact(dtw.out, 'dtw');
        else log.info(`DTW matrix ${dtw.out} (${(size / 2 ** 20).toFixed(0)} MiB) not copied into the run; its path is the tag dtw_matrix`);
      }
      await run.logMetrics(metrics);
      return {
        runId: run.runId,
        metrics,
        outputs: { out: abs, rows: report.rowsOut, meters: report.meters, resolutionMinutes: report.resolutionMinutes, digest, digestL2, report, dtw },
      };
    },
  );
}

/** `data/harmonized.csv` → `data/harmonized.dtw.npy`. */
export function defaultDtwPath(csv: string): string {
  const ext = path.extname(csv);
  return path.join(path.dirname(csv), `${path.basename(csv, ext)}.dtw.npy`);
}

/** A short human summary of a harmonization result (printed by the command). */
export function harmonizeSummary(r: StageResult<HarmonizeStageOutputs>): string {
  const { report } = r.outputs;
  const lines = [`harmonized ${r.outputs.rows} days of ${r.outputs.meters} meter(s) at ${report.resolutionMinutes} min → ${r.outputs.out}`];
  for (const s of HARMONIZE_SOURCES) {
    const c = report.perSource[s];
    if (!c) continue;
    lines.push(`  ${s.padEnd(8)} ${c.file}: ${c.rowsIn} in, ${c.excluded} excluded, ${c.droppedIncomplete} incomplete, ${c.droppedZero ? `${c.droppedZero} all-zero, ` : ''}${c.duplicatesDropped} duplicates, ${c.rowsKept} kept`);
  }
  for (const [s, meters] of Object.entries(report.excludedMeters)) lines.push(`  excluded from ${s}: ${meters.join(', ')}`);
  if (report.duplicateKeys > 0) {
    lines.push(`  ${report.duplicateKeys} duplicate (meter, day) pairs across sources, ${report.duplicateKeysDiffering} with different values; kept ${report.precedence.join(' > ')}`);
  }
  if (r.outputs.dtw) lines.push(`  DTW matrix ${r.outputs.dtw.rows}×${r.outputs.dtw.rows} (${r.outputs.dtw.seconds.toFixed(1)} s) → ${r.outputs.dtw.out}`);
  lines.push(`  dataset digest ${r.outputs.digest.slice(0, 16)}…; run ${r.runId}`);
  return lines.join('\n');
}
