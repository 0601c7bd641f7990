/**
 * The generic source: any long-format CSV (plain or `.gz`) with one record per row — a meter id
 * column, a timestamp column and an energy column — as interval energy (default) or a cumulative
 * register (`cumulative: true`: the register at the end of the interval that starts at the
 * timestamp, the old Mongo convention), in Wh or kWh.
 *
 * Rows must be grouped by meter (all rows of a meter contiguous, in any time order): the reader
 * hands one meter at a time to the cleaning core, so memory is bounded by one meter. A meter that
 * reappears after another one is an error (E_INPUT_ORDER) naming the line.
 *
 * Timestamps: ISO 8601 (`T` or space); text with `Z` or an offset is exact; naive text is read as
 * wall-clock time in `inputTimeZone` (default: the output zone).
 */
import { inputError } from '../errors.js';
import { splitCsvLine } from '../io/csv.js';
import type { EtlSourceReader, SourceContext } from './run.js';
import { lineBatches, SeriesBuilder } from './series.js';
import { PARSED, parseTimestampParts, MINUTE_MS, ZoneMapper } from './time.js';
import type { RawSeries } from './types.js';

/** Options of {@link genericSource}. */
export interface GenericSourceOptions {
  /** The CSV file (`.gz` accepted). */
  input: string;
  /** Column holding the meter id. */
  idCol: string;
  /** Column holding the timestamp (start of the interval for interval energy). */
  timeCol: string;
  /** Column holding the energy. */
  valueCol: string;
  /** True when values are cumulative registers (default: interval energy). */
  cumulative?: boolean;
  /** Unit of the values (default `Wh`); kWh values are multiplied by 1000. */
  unit?: 'Wh' | 'kWh';
  /** Zone of naive timestamps (default: the output zone). */
  inputTimeZone?: string;
  /** Field separator (default `,`). */
  separator?: string;
}

/** The generic CSV source reader (see the module comment). */
export function genericSource(o: GenericSourceOptions): EtlSourceReader {
  const scale = o.unit === 'kWh' ? 1000 : 1;
  const kind = o.cumulative ? 'cumulative' : 'interval';
  const sep = o.separator ?? ',';
  return {
    source: 'generic',
    describe: o.input,
    async *read(ctx: SourceContext): AsyncIterable<RawSeries> {
      const naive = o.inputTimeZone === undefined ? ctx.zone : new ZoneMapper(o.inputTimeZone);
      const file = o.input;
      let ci = -1, ct = -1, cv = -1, maxCol = -1, width = 0;
      let header: string[] | undefined;
      let builder: SeriesBuilder | undefined;
      let read = 0;
      let bad = 0;
      const done = new Set<string>();
      const finish = (): RawSeries | undefined => {
        if (builder === undefined) return undefined;
        const q = ctx.report.meter(builder.meter);
        q.recordsRead += read;
        q.badRows += bad;
        read = 0;
        bad = 0;
        done.add(builder.meter);
        const s = builder.build();
        builder = undefined;
        return s;
      };
      const badRow = (lineNo: number, field: string, found: string, expected: string, code: string): void => {
        if (ctx.onBadRow === 'skip') {
          bad++;
          return;
        }
        throw inputError(code, `${file}:${lineNo}: expected ${expected} in column ${field} but found "${found.slice(0, 60)}"`, {
          option: 'onBadRow', hint: 'fix the row, or pass `onBadRow` skip to count and skip bad rows',
          where: { file, line: lineNo, field, meter: builder?.meter },
        });
      };
      const fields = new Array<string>(0);
      for await (const { lines, firstLineNo } of lineBatches(file)) {
        for (let k = 0; k < lines.length; k++) {
          const line = lines[k];
          const lineNo = firstLineNo + k;
          if (header === undefined) {
            header = splitCsvLine(line, sep).map((h) => h.trim());
            ci = header.indexOf(o.idCol);
            ct = header.indexOf(o.timeCol);
            cv = header.indexOf(o.valueCol);
            const missing = [
              ci < 0 ? `--id-col ${o.idCol}` : '',
              ct < 0 ? `--time-col ${o.timeCol}` : '',
              cv < 0 ? `--value-col ${o.valueCol}` : '',
            ].filter(Boolean);
            if (missing.length > 0) {
              throw inputError('E_INPUT_COLUMN', `${file}:${lineNo}: the header has no column ${missing.join(', ')} (header "${line.slice(0, 120)}")`, {
                hint: `the columns are: ${header.join(', ')}`,
                where: { file, line: lineNo, field: missing[0].split(' ')[1] },
              });
            }
            maxCol = Math.max(ci, ct, cv);
            width = header.length;
            continue;
          }
          if (line === '') continue;
          // Split only up to the last needed column (the hot path: no quotes, plain commas).
          let n = 0;
          const quoted = line.indexOf('"');
          if (quoted < 0) {
            let start = 0;
            while (n <= maxCol) {
              const c = line.indexOf(sep, start);
              if (c < 0) {
                fields[n++] = line.slice(start);
                break;
              }
              fields[n++] = line.slice(start, c);
              start = c + 1;
            }
          } else {
            const f = splitCsvLine(line, sep);
            for (n = 0; n < f.length && n <= maxCol; n++) fields[n] = f[n];
          }
          // Every row has the header's fields: a row with more or fewer is shifted or merged, and
          // its needed columns cannot be trusted even when present.
          const count = quoted < 0 ? countFields(line, sep) : splitCsvLine(line, sep).length;
          if (count !== width) {
            if (ctx.onBadRow === 'skip') {
              if (builder !== undefined) bad++;
              else ctx.report.unattributedBadRows++;
              continue;
            }
            throw inputError('E_INPUT_ROW', `${file}:${lineNo}: expected ${width} fields as in the header (${header.join(',').slice(0, 120)}) but found ${count}`, {
              option: 'onBadRow', hint: 'fix the row (a stray separator or a missing value), or pass `onBadRow` skip to count and skip bad rows',
              where: { file, line: lineNo },
            });
          }
          const id = fields[ci];
          if (builder === undefined || id !== builder.meter) {
            const s = finish();
            if (s !== undefined) yield s;
            if (done.has(id)) {
              throw inputError('E_INPUT_ORDER', `${file}:${lineNo}: rows of meter ${id} appear again after other meters; the generic source needs the rows grouped by meter`, {
                hint: 'sort the file by the id column (e.g. `sort -t, -k1,1 -s`)',
                where: { file, line: lineNo, field: o.idCol, meter: id },
              });
            }
            if (id === '') {
              badRow(lineNo, o.idCol, id, 'a meter id', 'E_INPUT_ROW');
              continue;
            }
            builder = new SeriesBuilder(id, kind, false, file, 16384);
          }
          read++;
          const ts = fields[ct];
          if (!parseTimestampParts(ts)) {
            badRow(lineNo, o.timeCol, ts, 'a timestamp such as 2012-02-10 08:00:00 or 2019-05-14T10:00:00Z', 'E_INPUT_TIMESTAMP');
            continue;
          }
          const t = Number.isNaN(PARSED.offsetMin) ? naive.localToUtc(PARSED.wallMs) : PARSED.wallMs - PARSED.offsetMin * MINUTE_MS;
          const vt = fields[cv];
          let v: number;
          if (vt === '') v = NaN;
          else {
            v = +vt;
            if (!Number.isFinite(v)) {
              badRow(lineNo, o.valueCol, vt, 'a number', 'E_INPUT_NUMBER');
              continue;
            }
          }
          builder.push(t, v * scale, 0, lineNo);
        }
      }
      if (header === undefined) {
        throw inputError('E_INPUT_EMPTY', `${file} is empty: expected a header with columns ${o.idCol}, ${o.timeCol}, ${o.valueCol}`, { where: { file } });
      }
      const s = finish();
      if (s !== undefined) yield s;
    },
  };
}

/** Number of fields of an unquoted line: separators + 1. */
function countFields(line: string, sep: string): number {
  let count = 1;
  for (let i = line.indexOf(sep); i >= 0; i = line.indexOf(sep, i + 1)) count++;
  return count;
}
