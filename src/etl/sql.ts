/**
 * The SQL historian source (`lpclust etl sql`): a folder of per-meter text exports
 * (`<dir>/<METER>.txt`, see {@link readHistorianFile}) or a database table (`--db`: a SQLite file
 * or a `postgres://` URI, see {@link openHistorianDb}). Both yield one interval-energy series per
 * meter, read one meter at a time; the export tag is negated; the cleaning core then resamples by
 * sum, applies the rules (per-source start date 2021-09-01, zero-fill hours), rejects outliers by
 * contractual power, fills short gaps and keeps complete days.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { inputError } from '../errors.js';
import { maskUri } from '../util/mask.js';
import type { EtlSourceReader, SourceContext } from './run.js';
import { DEFAULT_HISTORIAN_TABLE, openHistorianDb } from './sql-db.js';
import { readHistorianFile, type HistorianReadOptions } from './sql-historian.js';
import type { SourceMeter } from './sql-series.js';
import type { RawSeries } from './types.js';

export { DEFAULT_HISTORIAN_TABLE, isPostgresUri, openHistorianDb, quoteTableName, type HistorianDb } from './sql-db.js';
export { exportTagFor, HISTORIAN_COLUMNS, meterOfTag, readHistorianFile } from './sql-historian.js';

/** The historian's cleaning defaults live with the source registry. */
export { SQL_CLEAN_DEFAULTS } from './sources.js';

/**
 * The historian text files of a folder, sorted by name: `<dir>/<METER>.txt`.
 * @throws LpclustError E_INPUT_MISSING (no folder), E_INPUT_EMPTY (no .txt file)
 */
export async function listHistorianFiles(dir: string): Promise<string[]> {
  let isDir = false;
  try {
    isDir = (await stat(dir)).isDirectory();
  } catch {
    throw inputError('E_INPUT_MISSING', `cannot read the SQL historian folder ${dir}: no such directory`, { hint: 'give --input <dir> holding <METER>.txt files', where: { file: dir } });
  }
  if (!isDir) throw inputError('E_INPUT_MISSING', `${dir} is not a directory: expected a folder of <METER>.txt historian exports`, { where: { file: dir } });
  const files = (await readdir(dir)).filter((f) => f.toLowerCase().endsWith('.txt')).sort();
  if (files.length === 0) throw inputError('E_INPUT_EMPTY', `${dir} holds no .txt file: expected one <METER>.txt historian export per meter`, { where: { file: dir } });
  return files.map((f) => path.join(dir, f));
}

/** Record the source's own counts in the report and hand the series to the core. */
function handOver(ctx: SourceContext, m: SourceMeter): RawSeries {
  const q = ctx.report.meter(m.series.meter);
  q.recordsRead += m.recordsRead;
  q.badRows += m.badRows;
  q.duplicates += m.duplicates ?? 0;
  return m.series;
}

/**
 * A meter absent from the description: hand the core an empty series so that it reports the
 * unknown meter (error, or skip with `--on-bad-row skip`) without reading the meter's rows.
 */
function unknownMeter(ctx: SourceContext, meter: string, file: string): RawSeries | null {
  if (ctx.meters === null || ctx.meters.has(meter)) return null;
  return { meter, kind: 'interval', t: new Float64Array(0), imp: new Float64Array(0), exp: null, n: 0, file };
}

function readOptions(ctx: SourceContext): HistorianReadOptions {
  return { zone: ctx.zone, onBadRow: ctx.onBadRow };
}

/** The SQL historian source over a folder of `<METER>.txt` exports (the meter is the file name). */
export function sqlFolderSource(dir: string): EtlSourceReader {
  return {
    source: 'sql',
    describe: dir,
    async *read(ctx: SourceContext): AsyncIterable<RawSeries> {
      for (const file of await listHistorianFiles(dir)) {
        const meter = path.basename(file).replace(/\.txt$/i, '');
        const unknown = unknownMeter(ctx, meter, file);
        if (unknown !== null) {
          yield unknown;
          continue;
        }
        yield handOver(ctx, await readHistorianFile(file, meter, readOptions(ctx)));
      }
    },
  };
}

/**
 * The SQL historian source over a database table (SQLite file or PostgreSQL URI), meter by meter.
 * The URI's password is masked in `describe` and in every message.
 */
export function sqlDatabaseSource(db: string, table: string = DEFAULT_HISTORIAN_TABLE): EtlSourceReader {
  const describe = `${maskUri(db)} (table ${table})`;
  return {
    source: 'sql',
    describe,
    async *read(ctx: SourceContext): AsyncIterable<RawSeries> {
      const h = await openHistorianDb(db, table);
      try {
        const wanted = (meter: string): boolean => ctx.meters === null || ctx.meters.has(meter);
        for await (const m of h.readMeters(readOptions(ctx), wanted, () => ctx.report.unattributedBadRows++)) {
          if (m.result === null) yield unknownMeter(ctx, m.meter, describe)!;
          else yield handOver(ctx, m.result);
        }
      } finally {
        await h.close();
      }
    },
  };
}
