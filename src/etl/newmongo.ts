/**
 * The new Mongo source (`lpclust etl newmongo`): daily documents
 * `{_id, id, date, energy_type, "00:00:00": v, ...}` (only `active_sum`), from an export file
 * (mongoexport JSON lines / JSON array, or the raw CSV the old loader wrote) or, through the
 * `load_newmongo` stage, from the live collection (see {@link dumpNewMongo}).
 *
 * Each time key becomes an interval-energy record (Wh) starting at `date + key`, read in the run's
 * time zone; the cleaning core resamples by sum (a slot is missing when all its quarter hours are
 * missing), applies the rules (zero-fill hours of the named meters), rejects outliers by
 * contractual power, fills short gaps and keeps complete days.
 *
 * Memory: an export file holds every meter interleaved, so it is read in one pass into compact
 * per-meter typed arrays (16 bytes per quarter-hour value, no document objects kept), then
 * handed to the core meter by meter, each meter's arrays released after cleaning.
 */
import { log } from '../util/log.js';
import { DayDocumentCollector, type DocumentCounts } from './newmongo-doc.js';
import { readNewMongoExport } from './newmongo-export.js';
import type { EtlSourceReader, SourceContext } from './run.js';
import type { RawSeries } from './types.js';

export {
  ACTIVE_SUM,
  DEFAULT_NEWMONGO_COLLECTION,
  DEFAULT_NEWMONGO_DB,
  DayDocumentCollector,
  daysAgo,
  QUARTER_KEYS,
  type DocumentCounts,
} from './newmongo-doc.js';
export { readNewMongoExport, sniffExportFormat, type ExportFormat } from './newmongo-export.js';
export { checkMongoUri, dumpNewMongo, newMongoFilter, RAW_CSV_COLUMNS, type DumpCounts, type NewMongoQuery } from './newmongo-live.js';

/** The new Mongo cleaning defaults live with the source registry. */
export { NEWMONGO_CLEAN_DEFAULTS } from './sources.js';

/** A new Mongo export reader, with the document counts of the last read. */
export interface NewMongoExportReader extends EtlSourceReader {
  /** Documents read, skipped for another energy type, and bad (after `read` finished). */
  readonly counts: DocumentCounts;
}

/** The new Mongo source over an export file (format sniffed from the content). */
export function newMongoExportSource(file: string): NewMongoExportReader {
  let counts: DocumentCounts = { documents: 0, otherEnergyType: 0, badDocuments: 0 };
  return {
    source: 'newmongo',
    describe: file,
    get counts() {
      return counts;
    },
    async *read(ctx: SourceContext): AsyncIterable<RawSeries> {
      const collector = new DayDocumentCollector(ctx.zone, ctx.onBadRow);
      counts = collector.counts;
      const format = await readNewMongoExport(file, collector, ctx.onBadRow === 'skip');
      log.info(
        `${file}: ${format === 'json' ? 'mongoexport JSON' : 'raw CSV'}, ${counts.documents} documents` +
          ` (${counts.otherEnergyType} of another energy_type ignored, ${counts.badDocuments} bad skipped)`,
      );
      const ids = collector.meterIds();
      // Bad documents that never reached a meter (no id) are reported without a meter.
      let attributed = 0;
      for (const meter of ids) {
        const m = collector.take(meter);
        const q = ctx.report.meter(meter);
        q.recordsRead += m.recordsRead;
        q.badRows += m.badRows;
        attributed += m.badRows;
        yield m.series;
      }
      ctx.report.unattributedBadRows += counts.badDocuments - attributed;
    },
  };
}
