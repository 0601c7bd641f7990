/**
 * The SQL historian export format: one headerless text file per meter, `<METER>.txt`, with the six
 * comma-separated columns `timestamp, tagname, energy, quality, qualityDetail, OPCquality`.
 *
 * Import and export energy come as different tags; the export tag of a meter is
 * `Energy_Ameno_2_8_0_<METER>.kWh` and its energy is negated (net energy = import − export). Every
 * other tag of the file is read as import, as the old pipeline did. Energy values are taken as Wh
 * per record (the old pipeline compared them with a bound in Wh, despite the `.kWh` tag suffix).
 * Timestamps are interval starts; naive ones are wall-clock times in the run's time zone.
 */
import { inputError } from '../errors.js';
import { readLines, splitCsvLine } from '../io/csv.js';
import { throwIfInterrupted } from '../util/interrupt.js';
import { IntervalSeriesBuilder, parseNumberStrict, type SourceMeter } from './sql-series.js';
import { parseTimestamp, type ZoneMapper } from './time.js';
import type { OnBadRow } from './types.js';

/** The historian table's columns, in the order of the text export. */
export const HISTORIAN_COLUMNS = ['timestamp', 'tagname', 'energy', 'quality', 'qualityDetail', 'OPCquality'] as const;

/** The export (production) tag of a meter, whose energy is negated. */
export function exportTagFor(meter: string): string {
  return `Energy_Ameno_2_8_0_${meter}.kWh`;
}

/**
 * The meter a historian tag belongs to: the text after the tag's last `_`, without its unit suffix
 * (`Energy_Ameno_1_8_0_BBB6004.kWh` → `BBB6004`). Null when the tag has no such part. Used to
 * split a database table, which holds every meter, into meters.
 */
export function meterOfTag(tag: string): string | null {
  const us = tag.lastIndexOf('_');
  if (us < 0 || us === tag.length - 1) return null;
  const tail = tag.slice(us + 1);
  const dot = tail.indexOf('.');
  const meter = dot < 0 ? tail : tail.slice(0, dot);
  return meter.length > 0 ? meter : null;
}

/** Options of the historian readers. */
export interface HistorianReadOptions {
  /** Zone of naive timestamps (the run's `--timezone`). */
  zone: ZoneMapper;
  /** Fail on the first bad row (`error`, default) or skip and count it (`skip`). */
  onBadRow: OnBadRow;
}

/**
 * Adds historian rows of one meter to a series, validating each: the shared row logic of the text
 * files and the database tables, so both give the same series for the same rows.
 */
export class HistorianRowSink {
  readonly builder: IntervalSeriesBuilder;
  private readonly exportTag: string;
  private readonly opts: HistorianReadOptions;
  private readonly tagIndex = new Map<string, number>();
  /** Rows seen (good and bad). */
  recordsRead = 0;
  /** Rows skipped as bad (only with `skip`). */
  badRows = 0;

  constructor(meter: string, source: string, opts: HistorianReadOptions, withLines: boolean) {
    this.builder = new IntervalSeriesBuilder(meter, source, withLines, true);
    this.exportTag = exportTagFor(meter);
    this.opts = opts;
  }

  /**
   * Add one row. `where` describes its place for messages (`file.txt:12` or `table T, meter M, row 7`).
   * @throws LpclustError E_INPUT_TIMESTAMP / E_INPUT_NUMBER / E_INPUT_VALUE unless skipping.
   */
  add(ts: unknown, tag: unknown, energy: unknown, where: string, line: number, file: string): void {
    this.recordsRead++;
    const tsText = typeof ts === 'string' ? ts.trim() : ts instanceof Date ? ts.toISOString() : '';
    const t = tsText === '' ? NaN : parseTimestamp(tsText, this.opts.zone);
    if (Number.isNaN(t)) {
      this.bad('E_INPUT_TIMESTAMP', `${where}: field "timestamp": expected a date-time like 2021-09-01 00:15:00 but found "${String(ts ?? '')}"`, line, file, 'timestamp');
      return;
    }
    if (typeof tag !== 'string' || tag.trim() === '') {
      this.bad('E_INPUT_VALUE', `${where}: field "tagname": expected a tag name but found an empty value`, line, file, 'tagname');
      return;
    }
    const wh = parseNumberStrict(energy);
    if (wh === null) {
      this.bad('E_INPUT_NUMBER', `${where}: field "energy": expected a number but found "${String(energy ?? '')}"`, line, file, 'energy');
      return;
    }
    const name = tag.trim();
    let ti = this.tagIndex.get(name);
    if (ti === undefined) {
      ti = this.tagIndex.size;
      this.tagIndex.set(name, ti);
    }
    this.builder.push(t, name === this.exportTag ? -wh : wh, line, ti);
  }

  private bad(code: string, message: string, line: number, file: string, field: string): void {
    if (this.opts.onBadRow === 'skip') {
      this.badRows++;
      return;
    }
    throw inputError(code, message, {
      where: { file, line: line > 0 ? line : undefined, field, meter: this.builder.meter },
      hint: 'fix the row, or pass --on-bad-row skip to skip and count bad rows',
    });
  }

  /** The meter's result (import and export tags merged per instant, see the builder). */
  result(): SourceMeter {
    const series = this.builder.build();
    return { series, recordsRead: this.recordsRead, badRows: this.badRows, duplicates: this.builder.duplicates };
  }
}

/**
 * Read one historian text export (`<METER>.txt`, no header, six columns). Empty lines are ignored.
 * Streams the file line by line; memory holds only this meter's records.
 * @throws LpclustError E_INPUT_MISSING (no file), E_INPUT_COLUMNS (not six fields),
 *   E_INPUT_TIMESTAMP / E_INPUT_NUMBER (unparsable field), E_INPUT_EMPTY (no rows).
 */
export async function readHistorianFile(file: string, meter: string, opts: HistorianReadOptions): Promise<SourceMeter> {
  const sink = new HistorianRowSink(meter, file, opts, true);
  for await (const { line, lineNo } of readLines(file)) {
    if (line.trim() === '') continue;
    if ((lineNo & 0xffff) === 0) throwIfInterrupted();
    const f = splitCsvLine(line);
    if (f.length !== HISTORIAN_COLUMNS.length) {
      if (lineNo === 1 && f[0]?.trim().toLowerCase() === 'timestamp') {
        throw inputError('E_INPUT_HEADER', `${file}:1: found a header line, but historian exports have none (expected ${HISTORIAN_COLUMNS.length} data fields: ${HISTORIAN_COLUMNS.join(', ')})`, {
          where: { file, line: 1 },
          hint: 'remove the header line',
        });
      }
      if (opts.onBadRow === 'skip') {
        sink.recordsRead++;
        sink.badRows++;
        continue;
      }
      throw inputError(
        'E_INPUT_COLUMNS',
        `${file}:${lineNo}: expected ${HISTORIAN_COLUMNS.length} comma-separated fields (${HISTORIAN_COLUMNS.join(', ')}) but found ${f.length}`,
        { where: { file, line: lineNo, meter }, hint: 'fix the row, or pass --on-bad-row skip to skip and count bad rows' },
      );
    }
    if (lineNo === 1 && f[0]!.trim().toLowerCase() === 'timestamp') {
      throw inputError('E_INPUT_HEADER', `${file}:1: found a header line, but historian exports have none`, { where: { file, line: 1 }, hint: 'remove the header line' });
    }
    sink.add(f[0], f[1], f[2], `${file}:${lineNo}`, lineNo, file);
  }
  if (sink.recordsRead === 0) {
    throw inputError('E_INPUT_EMPTY', `${file}: no rows (an empty historian export for meter ${meter})`, { where: { file, meter }, hint: 'remove the empty file or re-export the meter' });
  }
  return sink.result();
}
