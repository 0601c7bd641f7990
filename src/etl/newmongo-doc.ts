/**
 * The new Mongo collection's daily documents: one per meter, day and energy type,
 * `{_id, id, date: "YYYY-MM-DD", energy_type, "00:00:00": v, "00:15:00": v, ...}` where each
 * `"HH:MM:SS"` key holds the interval energy (Wh) of the quarter hour starting then. A missing key
 * or a null value is a missing reading. Only `energy_type == "active_sum"` documents are used.
 *
 * The date and the time keys are wall-clock times in the run's time zone (UTC by default, which
 * is what the old pipeline assumed).
 */
import { inputError } from '../errors.js';
import { IntervalSeriesBuilder, parseNumberStrict, type SourceMeter } from './sql-series.js';
import { DAY_MS, HOUR_MS, MINUTE_MS, parseTimestamp, type ZoneMapper } from './time.js';
import type { OnBadRow } from './types.js';

/** The only energy type the ETL uses. */
export const ACTIVE_SUM = 'active_sum';

/** Default database and collection of the live source. */
export const DEFAULT_NEWMONGO_DB = 'inergy_prod_db';
/** Default collection of the live source. */
export const DEFAULT_NEWMONGO_COLLECTION = 'asm_historical_smart_meters_uc7';

/** The 96 quarter-hour keys of a day document, `00:00:00` … `23:45:00`. */
export const QUARTER_KEYS: readonly string[] = Array.from({ length: 96 }, (_, i) => {
  const h = Math.floor(i / 4);
  const m = (i % 4) * 15;
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:00`;
});

const TIME_KEY_RE = /^([01]\d|2[0-3]):([0-5]\d):([0-5]\d)$/;

/** Offset (ms from midnight) of a `HH:MM:SS` key, or -1 when the key is not a time of day. */
export function timeKeyOffset(key: string): number {
  const m = TIME_KEY_RE.exec(key);
  if (!m) return -1;
  return Number(m[1]) * HOUR_MS + Number(m[2]) * MINUTE_MS + Number(m[3]) * 1000;
}

/**
 * Unwrap a MongoDB Extended JSON scalar (`{"$numberDouble": "1.5"}`, `$numberInt`, `$numberLong`,
 * `$numberDecimal`, `{"$date": ...}`) to its plain value; other values pass through.
 */
export function unwrapExtended(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  const o = v as Record<string, unknown>;
  for (const k of ['$numberDouble', '$numberInt', '$numberLong', '$numberDecimal']) {
    if (k in o) return o[k];
  }
  if ('$date' in o) {
    const d = o.$date;
    if (typeof d === 'string') return d;
    if (d && typeof d === 'object' && '$numberLong' in (d as object)) return new Date(Number((d as Record<string, string>).$numberLong)).toISOString();
    if (typeof d === 'number') return new Date(d).toISOString();
  }
  // Driver values (Double, Int32, Long, Decimal128) convert through valueOf/toString.
  if ('_bsontype' in o) {
    const t = String(o._bsontype);
    if (t === 'Decimal128') return String(v);
    const val = (v as { valueOf(): unknown }).valueOf();
    if (typeof val === 'number' || typeof val === 'bigint') return Number(val);
    return Number(String(v));
  }
  if (v instanceof Date) return v.toISOString();
  return v;
}

/** Counts over the documents of a source, beyond the per-meter ones. */
export interface DocumentCounts {
  /** Documents (or CSV rows) read. */
  documents: number;
  /** Documents skipped because their `energy_type` is not `active_sum`. */
  otherEnergyType: number;
  /** Bad documents skipped (only with `onBadRow: 'skip'`). */
  badDocuments: number;
}

/** A fresh zeroed {@link DocumentCounts}. */
export function emptyDocumentCounts(): DocumentCounts {
  return { documents: 0, otherEnergyType: 0, badDocuments: 0 };
}

interface MeterAcc {
  builder: IntervalSeriesBuilder;
  recordsRead: number;
  badRows: number;
}

/**
 * Groups day documents by meter into interval series. Each present time key becomes one record
 * (null → a NaN record, i.e. read but missing); absent keys are simply missing. Holds only typed
 * arrays (16 bytes per value), never the documents.
 */
export class DayDocumentCollector {
  private readonly zone: ZoneMapper;
  private readonly onBadRow: OnBadRow;
  private readonly meters = new Map<string, MeterAcc>();
  /** Document-level counts. */
  readonly counts: DocumentCounts = emptyDocumentCounts();

  constructor(zone: ZoneMapper, onBadRow: OnBadRow) {
    this.zone = zone;
    this.onBadRow = onBadRow;
  }

  private acc(meter: string, source: string): MeterAcc {
    let a = this.meters.get(meter);
    if (!a) {
      a = { builder: new IntervalSeriesBuilder(meter, source, true), recordsRead: 0, badRows: 0 };
      this.meters.set(meter, a);
    }
    return a;
  }

  private bad(code: string, message: string, file: string, line: number, field: string, meter?: string): void {
    if (this.onBadRow === 'skip') {
      this.counts.badDocuments++;
      if (meter !== undefined && this.meters.has(meter)) this.meters.get(meter)!.badRows++;
      return;
    }
    throw inputError(code, message, {
      where: { file, line: line > 0 ? line : undefined, field, meter },
      option: 'onBadRow', hint: 'fix the document, or pass `onBadRow` skip to skip and count bad documents',
    });
  }

  /**
   * Add one document (already parsed; values may be Extended JSON wrappers or driver types).
   * `where` names its place for messages (`file:line` or `collection C, document <_id>`).
   */
  add(doc: Record<string, unknown>, file: string, line: number, where: string): void {
    this.counts.documents++;
    const type = unwrapExtended(doc.energy_type);
    const idRaw = unwrapExtended(doc.id);
    const meter = typeof idRaw === 'string' ? idRaw.trim() : typeof idRaw === 'number' ? String(idRaw) : '';
    if (meter === '') {
      this.bad('E_INPUT_VALUE', `${where}: field "id": expected a meter id but found ${JSON.stringify(idRaw ?? null)}`, file, line, 'id');
      return;
    }
    if (type !== ACTIVE_SUM) {
      if (typeof type !== 'string') {
        this.bad('E_INPUT_VALUE', `${where}: field "energy_type": expected a text such as "active_sum" but found ${JSON.stringify(type ?? null)}`, file, line, 'energy_type', meter);
      } else this.counts.otherEnergyType++;
      return;
    }
    const a = this.acc(meter, file);
    const dateRaw = unwrapExtended(doc.date);
    const dateText = typeof dateRaw === 'string' ? dateRaw.trim().slice(0, 10) : '';
    const day = /^\d{4}-\d{2}-\d{2}$/.test(dateText) ? parseTimestamp(dateText) : NaN;
    if (Number.isNaN(day)) {
      this.bad('E_INPUT_TIMESTAMP', `${where}: field "date": expected a date YYYY-MM-DD but found ${JSON.stringify(dateRaw ?? null)}`, file, line, 'date', meter);
      return;
    }
    // Validate the whole document before adding any of its values, so a skipped bad document
    // leaves nothing behind.
    const offsets: number[] = [];
    const values: number[] = [];
    for (const key of Object.keys(doc)) {
      const off = timeKeyOffset(key);
      if (off < 0) continue;
      const raw = unwrapExtended(doc[key]);
      if (raw === null || raw === undefined || raw === '') {
        offsets.push(off);
        values.push(NaN);
        continue;
      }
      const v = parseNumberStrict(raw);
      if (v === null) {
        this.bad('E_INPUT_NUMBER', `${where}: field "${key}" (meter ${meter}, ${dateText}): expected a number or null but found ${JSON.stringify(raw)}`, file, line, key, meter);
        return;
      }
      offsets.push(off);
      values.push(v);
    }
    for (let i = 0; i < offsets.length; i++) {
      // `day` is the wall-clock midnight as if UTC; read each wall time in the run's zone.
      a.builder.push(this.zone.localToUtc(day + offsets[i]!), values[i]!, line);
      a.recordsRead++;
    }
  }

  /** Meter ids seen (with `active_sum` documents), sorted. */
  meterIds(): string[] {
    return [...this.meters.keys()].sort();
  }

  /** Hand over one meter's series and release it. */
  take(meter: string): SourceMeter {
    const a = this.meters.get(meter);
    if (!a) throw new Error(`no data collected for meter ${meter}`);
    this.meters.delete(meter);
    return { series: a.builder.build(), recordsRead: a.recordsRead, badRows: a.badRows };
  }
}

/** Midnight (wall, as if UTC) of a `YYYY-MM-DD` text, or NaN. */
export function dayWallMs(date: string): number {
  return /^\d{4}-\d{2}-\d{2}$/.test(date) ? parseTimestamp(date) : NaN;
}

/** `YYYY-MM-DD` of `days` days before the UTC day of `nowMs` (for `--days N`). */
export function daysAgo(nowMs: number, days: number): string {
  return new Date(Math.floor(nowMs / DAY_MS) * DAY_MS - days * DAY_MS).toISOString().slice(0, 10);
}
