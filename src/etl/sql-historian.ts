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
import { splitCsvLine } from '../io/csv.js';
import { throwIfInterrupted } from '../util/interrupt.js';
import { lineBatches } from './series.js';
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
 * (`Energy_Ameno_1_8_0_SYN0001.kWh` → `SYN0001`). Null when the tag has no such part. Used to
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
  /** +1 for import tags, −1 for the export tag, by tag index. */
  private readonly tagSign: number[] = [];
  private lastTag: string | undefined;
  private lastTagIndex = 0;
  /** Rows seen (good and bad). */
  recordsRead = 0;
  /** Rows skipped as bad (only with `skip`). */
  badRows = 0;

  private readonly describe: (line: number) => string;
  private readonly file: string;
  private readonly fileLines: boolean;

  /**
   * @param meter the meter
   * @param source file or table description (kept on the series for messages)
   * @param opts zone and bad-row policy
   * @param fileLines `line` numbers passed to {@link add} are lines of `source` (text files) rather
   *   than row counters (database results)
   * @param describe the place of a row for messages, built only when a message is needed
   */
  constructor(meter: string, source: string, opts: HistorianReadOptions, fileLines: boolean, describe: (line: number) => string) {
    this.builder = new IntervalSeriesBuilder(meter, source, fileLines, true);
    this.exportTag = exportTagFor(meter);
    this.opts = opts;
    this.file = source;
    this.fileLines = fileLines;
    this.describe = describe;
  }

  /**
   * Add one row; `line` is its file line or row number (see the constructor).
   * @throws LpclustError E_INPUT_TIMESTAMP / E_INPUT_NUMBER / E_INPUT_VALUE unless skipping.
   */
  add(ts: unknown, tag: unknown, energy: unknown, line: number): void {
    this.recordsRead++;
    let tsText = typeof ts === 'string' ? ts : ts instanceof Date ? ts.toISOString() : '';
    if (tsText.length > 0 && (tsText.charCodeAt(0) <= 32 || tsText.charCodeAt(tsText.length - 1) <= 32)) tsText = tsText.trim();
    const t = tsText === '' ? NaN : parseTimestamp(tsText, this.opts.zone);
    if (Number.isNaN(t)) {
      this.bad('E_INPUT_TIMESTAMP', line, 'timestamp', `expected a date-time like 2021-09-01 00:15:00 but found "${String(ts ?? '')}"`);
      return;
    }
    // Rows of one tag usually follow each other: reuse the previous tag's index without a lookup.
    let ti: number;
    if (tag === this.lastTag) ti = this.lastTagIndex;
    else {
      const name = typeof tag === 'string' ? tag.trim() : '';
      if (name === '') {
        this.bad('E_INPUT_VALUE', line, 'tagname', 'expected a tag name but found an empty value');
        return;
      }
      let idx = this.tagIndex.get(name);
      if (idx === undefined) {
        idx = this.tagIndex.size;
        this.tagIndex.set(name, idx);
        this.tagSign.push(name === this.exportTag ? -1 : 1);
      }
      ti = idx;
      this.lastTag = tag as string;
      this.lastTagIndex = idx;
    }
    const wh = parseNumberStrict(energy);
    if (wh === null) {
      this.bad('E_INPUT_NUMBER', line, 'energy', `expected a number but found "${String(energy ?? '')}"`);
      return;
    }
    this.builder.push(t, this.tagSign[ti]! * wh, line, ti);
  }

  private bad(code: string, line: number, field: string, what: string): void {
    if (this.opts.onBadRow === 'skip') {
      this.badRows++;
      return;
    }
    throw inputError(code, `${this.describe(line)}: field "${field}": ${what}`, {
      where: { file: this.file, line: this.fileLines ? line : undefined, field, meter: this.builder.meter },
      option: 'onBadRow', hint: 'fix the row, or pass `onBadRow` skip to skip and count bad rows',
    });
  }

  /** The meter's result (import and export tags merged per instant, see the builder). */
  result(): SourceMeter {
    const series = this.builder.build();
    return { series, recordsRead: this.recordsRead, badRows: this.badRows, duplicates: this.builder.duplicates };
  }
}

/**
 * The fields of one text line. Without quotes (the usual case) only the three fields used are cut
 * out, and the others are counted, which is much cheaper than splitting all six.
 */
function historianFields(line: string): string[] {
  if (line.indexOf('"') >= 0) return splitCsvLine(line);
  const c1 = line.indexOf(',');
  const c2 = c1 < 0 ? -1 : line.indexOf(',', c1 + 1);
  const c3 = c2 < 0 ? -1 : line.indexOf(',', c2 + 1);
  const c4 = c3 < 0 ? -1 : line.indexOf(',', c3 + 1);
  const c5 = c4 < 0 ? -1 : line.indexOf(',', c4 + 1);
  if (c5 < 0 || line.indexOf(',', c5 + 1) >= 0) return splitCsvLine(line);
  return [line.slice(0, c1), line.slice(c1 + 1, c2), line.slice(c2 + 1, c3), '', '', ''];
}

/**
 * Read one historian text export (`<METER>.txt`, no header, six columns). Empty lines are ignored.
 * Streams the file line by line; memory holds only this meter's records.
 * @throws LpclustError E_INPUT_MISSING (no file), E_INPUT_COLUMNS (not six fields),
 *   E_INPUT_TIMESTAMP / E_INPUT_NUMBER (unparsable field), E_INPUT_EMPTY (no rows).
 */
export async function readHistorianFile(file: string, meter: string, opts: HistorianReadOptions): Promise<SourceMeter> {
  const sink = new HistorianRowSink(meter, file, opts, true, (line) => `${file}:${line}`);
  for await (const { lines, firstLineNo } of lineBatches(file)) {
    throwIfInterrupted();
    for (let k = 0; k < lines.length; k++) {
      const line = lines[k]!;
      const lineNo = firstLineNo + k;
      if (line.length === 0 || line.trim() === '') continue;
      const f = historianFields(line);
      if (lineNo === 1 && f[0]!.trim().toLowerCase() === 'timestamp') {
        throw inputError('E_INPUT_HEADER', `${file}:1: found a header line, but historian exports have none (expected ${HISTORIAN_COLUMNS.length} data fields: ${HISTORIAN_COLUMNS.join(', ')})`, {
          where: { file, line: 1 },
          hint: 'remove the header line',
        });
      }
      if (f.length !== HISTORIAN_COLUMNS.length) {
        if (opts.onBadRow === 'skip') {
          sink.recordsRead++;
          sink.badRows++;
          continue;
        }
        throw inputError(
          'E_INPUT_COLUMNS',
          `${file}:${lineNo}: expected ${HISTORIAN_COLUMNS.length} comma-separated fields (${HISTORIAN_COLUMNS.join(', ')}) but found ${f.length}`,
          { where: { file, line: lineNo, meter }, option: 'onBadRow', hint: 'fix the row, or pass `onBadRow` skip to skip and count bad rows' },
        );
      }
      sink.add(f[0], f[1], f[2], lineNo);
    }
  }
  if (sink.recordsRead === 0) {
    throw inputError('E_INPUT_EMPTY', `${file}: no rows (an empty historian export for meter ${meter})`, { where: { file, meter }, hint: 'remove the empty file or re-export the meter' });
  }
  return sink.result();
}
