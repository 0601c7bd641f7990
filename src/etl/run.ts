/**
 * The source-independent ETL driver: takes a source reader (an async stream of one-meter
 * {@link RawSeries}), cleans each meter as it arrives with {@link cleanMeter}, and returns the
 * clean profiles table and the quality report. Memory: one meter's raw records at a time plus
 * the kept days (the output).
 */
import { inputError } from '../errors.js';
import type { ProfileTable } from '../io/profiles.js';
import { log } from '../util/log.js';
import { throwIfInterrupted } from '../util/interrupt.js';
import { cleanMeter, ProfileAccumulator, QualityReport } from './clean.js';
import { emptyRules, rulesFor, type RuleSource, type RulesFile } from './rules.js';
import { ZoneMapper } from './time.js';
import type { CleanOptions, MeterInfo, OnBadRow, RawSeries } from './types.js';

/** What a source reader gets while reading. */
export interface SourceContext {
  /** Count reads and bad rows here: `report.meter(id).recordsRead += ...`, `.badRows++`. */
  report: QualityReport;
  /** `error`: throw on the first unparsable row (naming file, line, field); `skip`: count it. */
  onBadRow: OnBadRow;
  /** The meter description (null when the command was given none). */
  meters: Map<string, MeterInfo> | null;
  /** Zone of the output days; also the default zone for naive input timestamps. */
  zone: ZoneMapper;
}

/**
 * A source of raw series. `read` yields ONE meter at a time (a meter may be yielded more than once
 * only if its parts do not share days — normally once). It must throw LpclustErrors naming the
 * file, line and field for bad input when `onBadRow` is `error`.
 */
export interface EtlSourceReader {
  /** Its registered source (sources.ts): the rules-file section and the run's name. */
  source: RuleSource;
  /** A readable description of the input for messages (paths, masked URIs). */
  describe: string;
  read(ctx: SourceContext): AsyncIterable<RawSeries>;
}

/** Options of {@link cleanSource}. */
export interface CleanSourceOptions {
  clean: CleanOptions;
  rules?: RulesFile;
  meters: Map<string, MeterInfo> | null;
  onBadRow: OnBadRow;
}

/** Result of {@link cleanSource}. */
export interface CleanSourceResult {
  table: ProfileTable;
  report: QualityReport;
}

/**
 * Read a source meter by meter, clean each, and build the clean profiles table.
 * A meter absent from the description is an error (E_INPUT_UNKNOWN_METER) unless `onBadRow` is
 * `skip` (then it is skipped and listed in the report). A source with no record at all is an error
 * (E_INPUT_EMPTY). Scale corrections are logged at info level as they are applied.
 */
export async function cleanSource(reader: EtlSourceReader, o: CleanSourceOptions): Promise<CleanSourceResult> {
  const rules = o.rules ?? emptyRules();
  const clean: CleanOptions = { ...o.clean, bogusYears: rules.bogusYears ?? o.clean.bogusYears };
  const zone = new ZoneMapper(clean.timeZone);
  const report = new QualityReport();
  const acc = new ProfileAccumulator(clean.resolutionMinutes);
  const ctx: SourceContext = { report, onBadRow: o.onBadRow, meters: o.meters, zone };
  let seen = 0;
  for await (const series of reader.read(ctx)) {
    throwIfInterrupted();
    seen++;
    const q = report.meter(series.meter);
    if (q.recordsRead === 0) q.recordsRead = series.n;
    let info: MeterInfo | null = null;
    if (o.meters !== null) {
      info = o.meters.get(series.meter) ?? null;
      if (info === null) {
        if (o.onBadRow === 'skip') {
          if (!report.unknownMeters.includes(series.meter)) report.unknownMeters.push(series.meter);
          q.excluded = true;
          log.warn(`meter ${series.meter}${series.file ? ` (${series.file})` : ''} is not in the meter description: skipped`);
          continue;
        }
        throw inputError('E_INPUT_UNKNOWN_METER', `${series.file ?? reader.describe}: meter ${series.meter} is not in the meter description`, {
          option: 'onBadRow', hint: 'add it to the meter description CSV, or pass `onBadRow` skip to skip unknown meters',
          where: { file: series.file, meter: series.meter },
        });
      }
    }
    const mr = rulesFor(rules, reader.source, series.meter);
    if (mr.exclude) {
      q.excluded = true;
      log.info(`meter ${series.meter}: excluded by the rules`);
      continue;
    }
    const before = q.scaleCorrections.length;
    const days = cleanMeter(series, info, mr, clean, q, zone);
    for (const s of q.scaleCorrections.slice(before)) {
      log.info(`meter ${series.meter}: scale correction (${s.origin}) ×${s.factor} ${s.origin === 'auto' ? 'for records before ' : ''}${s.at}: ${s.records} records`);
    }
    acc.add(days);
  }
  if (seen === 0 || report.metrics().records_read === 0) {
    throw inputError('E_INPUT_EMPTY', `${reader.describe}: the source holds no record`, { hint: 'check the input path and filters' });
  }
  return { table: acc.toTable(), report };
}
