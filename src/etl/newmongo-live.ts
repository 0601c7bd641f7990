/**
 * The live new Mongo source: reads the daily documents of the collection with the official
 * `mongodb` driver and writes them, as they stream in, to a raw CSV (the `load_newmongo` artifact,
 * same role as the old loader's CSV). The ETL then reads that CSV like any `--export` file, so a
 * live run and a rerun from its logged artifact give the same clean profiles.
 *
 * Only `energy_type == "active_sum"` documents are requested (filtered by the server), optionally
 * limited to a date window (`date` is `YYYY-MM-DD` text, so the comparison is lexical). The cursor
 * is consumed in batches; nothing holds more than one batch of documents. Server selection is
 * bounded (default 10 s) so an unreachable server fails fast. The URI's password never appears in
 * messages: every driver message passes through {@link maskUri}.
 */
import type { Document } from 'mongodb';
import { externalError, usageError } from '../errors.js';
import { openAtomicWriter } from '../io/atomic.js';
import { csvField } from '../io/csv.js';
import { maskUri, registerUriPassword } from '../util/mask.js';
import { throwIfInterrupted } from '../util/interrupt.js';
import { ACTIVE_SUM, QUARTER_KEYS, timeKeyOffset, unwrapExtended } from './newmongo-doc.js';

/** What to read from the live collection. */
export interface NewMongoQuery {
  /** `mongodb://` or `mongodb+srv://` URI (may hold a password; never logged unmasked). */
  uri: string;
  /** Database name (default `inergy_prod_db`). */
  db: string;
  /** Collection name (default `asm_historical_smart_meters_uc7`). */
  collection: string;
  /** First day `YYYY-MM-DD` (inclusive), or undefined. */
  since?: string;
  /** Last day `YYYY-MM-DD` (inclusive), or undefined. */
  until?: string;
  /** Bounded server selection, ms (default 10 000). */
  serverSelectionTimeoutMS?: number;
}

/** Counts of a dump. */
export interface DumpCounts {
  /** Documents written to the raw CSV. */
  documents: number;
  /** Distinct meters among them. */
  meters: number;
  /** Time keys that are not on the quarter-hour grid (not representable in the CSV; dropped). */
  offGridValues: number;
}

/** Columns of the raw CSV lpclust writes: `_id,id,date,energy_type,00:00:00,...,23:45:00`. */
export const RAW_CSV_COLUMNS: readonly string[] = ['_id', 'id', 'date', 'energy_type', ...QUARTER_KEYS];

/** Validate a `mongodb://` URI and register its password as a secret (masked everywhere after). */
export function checkMongoUri(uri: string): void {
  if (!/^mongodb(\+srv)?:\/\//i.test(uri)) {
    throw usageError('E_USAGE_URI', `Expected a mongodb:// or mongodb+srv:// URI for \`--uri\` but received \`${maskUri(uri)}\``);
  }
  registerUriPassword(uri);
}

/** The server-side filter of a query. */
export function newMongoFilter(q: Pick<NewMongoQuery, 'since' | 'until'>): Document {
  const filter: Document = { energy_type: ACTIVE_SUM };
  if (q.since !== undefined || q.until !== undefined) {
    const date: Document = {};
    if (q.since !== undefined) date.$gte = q.since;
    if (q.until !== undefined) date.$lte = q.until;
    filter.date = date;
  }
  return filter;
}

/** One document as a raw CSV row (values unwrapped; missing = empty cell). */
export function documentToCsvRow(doc: Document, counts: { offGridValues: number }): string {
  const cells: string[] = [
    csvField(String(unwrapExtended(doc._id) ?? '')),
    csvField(String(unwrapExtended(doc.id) ?? '')),
    csvField(String(unwrapExtended(doc.date) ?? '')),
    csvField(String(unwrapExtended(doc.energy_type) ?? '')),
  ];
  for (const key of QUARTER_KEYS) {
    const v = unwrapExtended(doc[key]);
    cells.push(v === null || v === undefined ? '' : csvField(String(v)));
  }
  for (const key of Object.keys(doc)) {
    const off = timeKeyOffset(key);
    if (off >= 0 && off % 900_000 !== 0) counts.offGridValues++;
  }
  return cells.join(',');
}

/**
 * Stream the collection's `active_sum` documents into a raw CSV at `outCsv` (atomic: nothing is
 * left behind on failure).
 * @throws LpclustError E_EXTERNAL_MONGO (cannot connect / query; message masked).
 */
export async function dumpNewMongo(q: NewMongoQuery, outCsv: string): Promise<DumpCounts> {
  checkMongoUri(q.uri);
  const where = `${maskUri(q.uri)} ${q.db}.${q.collection}`;
  // Bounded server selection: the URI's own serverSelectionTimeoutMS wins, else 10 s.
  const inUri = /[?&]serverSelectionTimeoutMS=/i.test(q.uri);
  const timeout = q.serverSelectionTimeoutMS ?? 10_000;
  // Loaded on use: the driver takes ~0.4 s to import, which every other command would pay.
  const { MongoClient } = await import('mongodb');
  const client = new MongoClient(q.uri, {
    ...(inUri && q.serverSelectionTimeoutMS === undefined ? {} : { serverSelectionTimeoutMS: timeout }),
    connectTimeoutMS: Math.min(timeout, 10_000),
    appName: 'lpclust',
  });
  const writer = await openAtomicWriter(outCsv);
  const counts: DumpCounts = { documents: 0, meters: 0, offGridValues: 0 };
  const meters = new Set<string>();
  try {
    await writer.write(RAW_CSV_COLUMNS.join(',') + '\n');
    await client.connect();
    const cursor = client.db(q.db).collection(q.collection).find(newMongoFilter(q)).batchSize(1000);
    let lines: string[] = [];
    for await (const doc of cursor) {
      counts.documents++;
      meters.add(String(unwrapExtended(doc.id)));
      lines.push(documentToCsvRow(doc, counts));
      if (lines.length >= 1000) {
        throwIfInterrupted();
        await writer.write(lines.join('\n') + '\n');
        lines = [];
      }
    }
    if (lines.length > 0) await writer.write(lines.join('\n') + '\n');
    counts.meters = meters.size;
    await writer.commit();
    return counts;
  } catch (e) {
    await writer.abort();
    if (e instanceof Error && e.name === 'LpclustError') throw e;
    const msg = maskUri(e instanceof Error ? e.message : String(e));
    throw externalError('E_EXTERNAL_MONGO', `cannot read ${where}: ${msg}`, {
      hint: 'check --uri (host, port, user, password, authSource), --db and --collection',
    });
  } finally {
    await client.close().catch(() => undefined);
  }
}
