/**
 * The old Mongo source: a folder of per-meter CSV exports (`<dir>/csv/<METER>.csv` as the old
 * exports were laid out, or `<dir>/<METER>.csv`). Columns used: `id`, `timestamp` (ISO 8601 UTC),
 * `Active_Energy_+_Total_end` (cumulative import register) and `Active_Energy_-_Total_end`
 * (cumulative export register, optional). Other columns are ignored. One meter per file; files
 * are read one at a time (memory bounded by one meter). When a meter description is given, a CSV
 * that is neither named after a described meter nor shaped like an export (e.g. the description
 * itself lying in the same folder) is skipped; a file named after a meter must be an export.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { inputError } from '../errors.js';
import { splitCsvLine } from '../io/csv.js';
import { log } from '../util/log.js';
import type { EtlSourceReader, SourceContext } from './run.js';
import { lineBatches, SeriesBuilder } from './series.js';
import { parseTimestamp } from './time.js';
import type { RawSeries } from './types.js';

/** Column names of the old Mongo export. */
export const OLDMONGO_COLUMNS = {
  id: 'id',
  timestamp: 'timestamp',
  importEnd: 'Active_Energy_+_Total_end',
  exportEnd: 'Active_Energy_-_Total_end',
} as const;

/**
 * The per-meter CSV files of an old Mongo folder, sorted by name.
 * @throws LpclustError E_INPUT_MISSING (no folder), E_INPUT_EMPTY (no .csv file)
 */
export async function listOldMongoFiles(dir: string): Promise<string[]> {
  try {
    const st = await stat(dir);
    if (!st.isDirectory()) {
      throw inputError('E_INPUT_MISSING', `${dir} is not a directory: expected the old Mongo folder holding csv/<METER>.csv files`, { where: { file: dir } });
    }
  } catch (e) {
    if ((e as { kind?: string }).kind !== undefined) throw e;
    throw inputError('E_INPUT_MISSING', `cannot read the old Mongo folder ${dir}: no such directory`, { hint: 'give --input <dir> holding csv/<METER>.csv', where: { file: dir } });
  }
  const sub = path.join(dir, 'csv');
  let base = dir;
  try {
    if ((await stat(sub)).isDirectory()) base = sub;
  } catch {
    /* no csv/ subfolder: files directly in dir */
  }
  const files = (await readdir(base)).filter((f) => f.toLowerCase().endsWith('.csv') || f.toLowerCase().endsWith('.csv.gz')).sort();
  if (files.length === 0) {
    throw inputError('E_INPUT_EMPTY', `${base} holds no .csv file: expected one <METER>.csv per meter`, { where: { file: base } });
  }
  return files.map((f) => path.join(base, f));
}

/**
 * Parse one old Mongo per-meter CSV into a cumulative {@link RawSeries}.
 * Empty register cells are missing values (counted by the core); an unparsable timestamp or number
 * is a bad row (error naming file, line and column, or counted with `--on-bad-row skip`).
 */
export async function readOldMongoFile(file: string, ctx: SourceContext): Promise<RawSeries | null> {
  let cols: { id: number; ts: number; imp: number; exp: number } | undefined;
  let builder: SeriesBuilder | undefined;
  const fallbackMeter = path.basename(file).replace(/\.csv(\.gz)?$/i, '');
  let read = 0;
  let bad = 0;
  let maxCol = 0;
  const fields: string[] = [];
  const badRow = (lineNo: number, field: string, found: string, expected: string): void => {
    if (ctx.onBadRow === 'skip') {
      bad++;
      return;
    }
    throw inputError(field === 'timestamp' ? 'E_INPUT_TIMESTAMP' : 'E_INPUT_NUMBER', `${file}:${lineNo}: expected ${expected} in column ${field} but found "${found.slice(0, 60)}"`, {
      option: 'onBadRow', hint: 'fix the row, or pass `onBadRow` skip to count and skip bad rows',
      where: { file, line: lineNo, field, meter: builder?.meter ?? fallbackMeter },
    });
  };
  for await (const { lines, firstLineNo } of lineBatches(file)) {
    for (let k = 0; k < lines.length; k++) {
      const line = lines[k];
      const lineNo = firstLineNo + k;
      if (cols === undefined) {
        const h = splitCsvLine(line).map((x) => x.trim());
        cols = { id: h.indexOf(OLDMONGO_COLUMNS.id), ts: h.indexOf(OLDMONGO_COLUMNS.timestamp), imp: h.indexOf(OLDMONGO_COLUMNS.importEnd), exp: h.indexOf(OLDMONGO_COLUMNS.exportEnd) };
        maxCol = Math.max(cols.id, cols.ts, cols.imp, cols.exp);
        const missing = [cols.ts < 0 ? OLDMONGO_COLUMNS.timestamp : '', cols.imp < 0 ? OLDMONGO_COLUMNS.importEnd : ''].filter(Boolean);
        if (missing.length > 0) {
          if (ctx.meters !== null && !ctx.meters.has(fallbackMeter)) {
            // Not named after a meter and not an export (e.g. the meter description next to the
            // exports, as in the shared inergy-uc7 folder): not part of the source.
            log.info(`${file}: not an old Mongo export (no ${missing.join(', ')} column) and not named after a meter: skipped`);
            return null;
          }
          throw inputError('E_INPUT_HEADER', `${file}:${lineNo}: expected an old Mongo export header with columns ${OLDMONGO_COLUMNS.timestamp}, ${OLDMONGO_COLUMNS.importEnd} but column ${missing.join(', ')} is missing (header "${line.slice(0, 80)}")`, {
            hint: 'give the per-meter CSVs exported from the old Mongo database',
            where: { file, line: lineNo, field: missing[0] },
          });
        }
        continue;
      }
      if (line === '') continue;
      read++;
      // Split only up to the last needed column (the exports have 21 columns; 4 are used).
      let f: string[];
      if (line.indexOf('"') < 0) {
        f = fields;
        let start = 0;
        let n = 0;
        while (n <= maxCol) {
          const c = line.indexOf(',', start);
          if (c < 0) {
            f[n++] = line.slice(start);
            break;
          }
          f[n++] = line.slice(start, c);
          start = c + 1;
        }
        for (let j = n; j <= maxCol; j++) f[j] = '';
      } else f = splitCsvLine(line);
      const id = cols.id >= 0 ? f[cols.id] : fallbackMeter;
      if (builder === undefined) {
        if (id === undefined || id === '') {
          badRow(lineNo, OLDMONGO_COLUMNS.id, id ?? '', 'a meter id');
          continue;
        }
        builder = new SeriesBuilder(id, 'cumulative', cols.exp >= 0, file);
      } else if (id !== builder.meter) {
        throw inputError('E_INPUT_ROW', `${file}:${lineNo}: expected meter ${builder.meter} in column id (one meter per file) but found "${id}"`, {
          where: { file, line: lineNo, field: 'id', meter: id },
        });
      }
      const tsText = f[cols.ts] ?? '';
      const t = parseTimestamp(tsText);
      if (Number.isNaN(t)) {
        badRow(lineNo, OLDMONGO_COLUMNS.timestamp, tsText, 'an ISO 8601 timestamp such as 2019-05-14T10:00:00Z');
        continue;
      }
      const ic = f[cols.imp] ?? '';
      const imp = ic === '' ? NaN : Number(ic);
      if (ic !== '' && !Number.isFinite(imp)) {
        badRow(lineNo, OLDMONGO_COLUMNS.importEnd, ic, 'a number');
        continue;
      }
      let exp = 0;
      if (cols.exp >= 0) {
        const ec = f[cols.exp] ?? '';
        exp = ec === '' ? NaN : Number(ec);
        if (ec !== '' && !Number.isFinite(exp)) {
          badRow(lineNo, OLDMONGO_COLUMNS.exportEnd, ec, 'a number');
          continue;
        }
      }
      builder.push(t, imp, exp, lineNo);
    }
  }
  if (cols === undefined) {
    throw inputError('E_INPUT_EMPTY', `${file} is empty: expected a header and one row per record`, { where: { file } });
  }
  if (builder === undefined) {
    if (bad > 0) {
      const q = ctx.report.meter(fallbackMeter);
      q.recordsRead += read;
      q.badRows += bad;
    }
    return null;
  }
  const q = ctx.report.meter(builder.meter);
  q.recordsRead += read;
  q.badRows += bad;
  return builder.build();
}

/** The old Mongo source reader over a folder (see the module comment). */
export function oldMongoSource(dir: string): EtlSourceReader {
  return {
    source: 'oldmongo',
    describe: dir,
    async *read(ctx: SourceContext): AsyncIterable<RawSeries> {
      const files = await listOldMongoFiles(dir);
      let exports = 0;
      for (const file of files) {
        const s = await readOldMongoFile(file, ctx);
        if (s === null) continue;
        exports++;
        yield s;
      }
      if (exports === 0) {
        throw inputError('E_INPUT_EMPTY', `${dir} holds no old Mongo export with records (files: ${files.map((f) => path.basename(f)).join(', ')})`, {
          hint: 'expected <dir>/csv/<METER>.csv or <dir>/<METER>.csv with columns timestamp and Active_Energy_+_Total_end',
          where: { file: dir },
        });
      }
    },
  };
}
