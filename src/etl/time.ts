/**
 * Fast timestamp parsing and time-zone mapping for the ETL hot paths.
 *
 * `Date.parse` per row is slow and lenient; {@link parseTimestamp} is a hand-written parser for
 * the ISO-8601 shapes the sources hold. Time-zone offsets come from `Intl.DateTimeFormat`, cached
 * per UTC hour ({@link ZoneMapper}), since offsets change only at hour (or half-hour) boundaries
 * that are whole UTC quarter hours in every real zone database entry since 1970.
 */
import { usageError } from '../errors.js';

/** Milliseconds per minute / hour / day. */
export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** Days since 1970-01-01 of a proleptic Gregorian civil date (month 1–12). */
export function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const mp = m > 2 ? m - 3 : m + 9;
  const doy = Math.floor((153 * mp + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** `YYYY-MM-DD` of a day number (days since 1970-01-01). */
export function civilFromDays(z: number): string {
  z += 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return `${String(y).padStart(4, '0')}-${m < 10 ? '0' : ''}${m}-${d < 10 ? '0' : ''}${d}`;
}

/** Year (UTC) of an instant in ms. */
export function utcYear(ms: number): number {
  return new Date(ms).getUTCFullYear();
}

function digits(s: string, at: number, len: number): number {
  let v = 0;
  for (let i = at; i < at + len; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/**
 * Result slot of {@link parseTimestampParts}: reused between calls (no allocation per row).
 * `wallMs` is the clock reading as if it were UTC; `offsetMin` is the explicit offset
 * (minutes east of UTC) or NaN when the text had none (naive local time).
 */
export const PARSED = { wallMs: 0, offsetMin: NaN };

/**
 * Parse `YYYY-MM-DD[T| ]HH:MM[:SS[.fff...]][Z|±HH[:]MM|±HH]` or a bare `YYYY-MM-DD` into
 * {@link PARSED}. Leading/trailing spaces are not accepted (sources trim).
 * @returns false when the text is not such a timestamp or a field is out of range.
 */
export function parseTimestampParts(s: string): boolean {
  const n = s.length;
  if (n < 10 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45) return false;
  const y = digits(s, 0, 4);
  const mo = digits(s, 5, 2);
  const d = digits(s, 8, 2);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31) return false;
  let h = 0;
  let mi = 0;
  let sec = 0;
  let ms = 0;
  let i = 10;
  if (n > 10) {
    const sep = s.charCodeAt(10);
    if (sep !== 84 && sep !== 32 && sep !== 116) return false; // 'T', ' ', 't'
    if (n < 16 || s.charCodeAt(13) !== 58) return false;
    h = digits(s, 11, 2);
    mi = digits(s, 14, 2);
    if (h < 0 || h > 24 || mi < 0 || mi > 59) return false;
    i = 16;
    if (i < n && s.charCodeAt(i) === 58) {
      sec = digits(s, 17, 2);
      if (sec < 0 || sec > 60) return false;
      i = 19;
      if (i < n && (s.charCodeAt(i) === 46 || s.charCodeAt(i) === 44)) {
        i++;
        let scale = 100;
        const start = i;
        while (i < n) {
          const c = s.charCodeAt(i) - 48;
          if (c < 0 || c > 9) break;
          ms += c * scale;
          scale /= 10;
          i++;
        }
        if (i === start) return false;
      }
    }
  }
  let off = NaN;
  if (i < n) {
    const c = s.charCodeAt(i);
    if ((c === 90 || c === 122) && i + 1 === n) off = 0;
    else if (c === 43 || c === 45) {
      const oh = digits(s, i + 1, 2);
      let om = 0;
      let j = i + 3;
      if (j < n && s.charCodeAt(j) === 58) j++;
      if (j < n) {
        om = digits(s, j, 2);
        j += 2;
      }
      if (oh < 0 || om < 0 || j !== n) return false;
      off = (c === 45 ? -1 : 1) * (oh * 60 + om);
    } else return false;
  }
  if (d > 28) {
    const dim = [31, y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1];
    if (d > dim) return false;
  }
  PARSED.wallMs = daysFromCivil(y, mo, d) * DAY_MS + h * HOUR_MS + mi * MINUTE_MS + sec * 1000 + Math.round(ms);
  PARSED.offsetMin = off;
  return true;
}

/**
 * Parse a timestamp to ms UTC. Text with `Z` or an offset is exact; naive text is read as a wall
 * clock in `naiveZone` (UTC when omitted).
 * @returns NaN when unparsable.
 */
export function parseTimestamp(s: string, naiveZone?: ZoneMapper): number {
  if (!parseTimestampParts(s)) return NaN;
  if (!Number.isNaN(PARSED.offsetMin)) return PARSED.wallMs - PARSED.offsetMin * MINUTE_MS;
  return naiveZone === undefined ? PARSED.wallMs : naiveZone.localToUtc(PARSED.wallMs);
}

/**
 * Maps instants to local wall-clock time in one IANA zone, caching offsets per UTC hour.
 * For `UTC` (and `Etc/UTC`, `GMT`) no Intl call is ever made.
 */
export class ZoneMapper {
  /** The IANA zone name. */
  readonly zone: string;
  /** True when the zone is UTC (offset always 0). */
  readonly isUtc: boolean;
  private readonly fmt: Intl.DateTimeFormat | null;
  private readonly cache = new Map<number, number>();
  private readonly wallCache = new Map<number, number>();

  /** @throws LpclustError E_USAGE_TIMEZONE for an unknown zone name. */
  constructor(zone: string) {
    this.zone = zone;
    this.isUtc = /^(UTC|Etc\/UTC|GMT|Etc\/GMT|Z)$/i.test(zone);
    if (this.isUtc) {
      this.fmt = null;
      return;
    }
    try {
      this.fmt = new Intl.DateTimeFormat('en-US', {
        timeZone: zone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch {
      throw usageError('E_USAGE_TIMEZONE', `Expected an IANA time zone for \`timezone\` (e.g. UTC, Europe/Rome) but received \`${zone}\``, { option: 'timezone' });
    }
  }

  /** Offset of local time from UTC at instant `utcMs`, in minutes (east positive). */
  offsetMinutes(utcMs: number): number {
    if (this.fmt === null) return 0;
    // Cache by UTC quarter hour: every zone transition in the tz database since 1970 falls on one.
    const key = Math.floor(utcMs / 900_000);
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    const parts = this.fmt.formatToParts(new Date(key * 900_000));
    let y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
    for (const p of parts) {
      switch (p.type) {
        case 'year': y = Number(p.value); break;
        case 'month': mo = Number(p.value); break;
        case 'day': d = Number(p.value); break;
        case 'hour': h = Number(p.value); break;
        case 'minute': mi = Number(p.value); break;
        case 'second': s = Number(p.value); break;
      }
    }
    const wall = daysFromCivil(y, mo, d) * DAY_MS + h * HOUR_MS + mi * MINUTE_MS + s * 1000;
    const off = Math.round((wall - key * 900_000) / MINUTE_MS);
    if (this.cache.size > 200_000) this.cache.clear();
    this.cache.set(key, off);
    return off;
  }

  /** Local wall-clock ms (as if UTC) of an instant. */
  toWall(utcMs: number): number {
    return utcMs + this.offsetMinutes(utcMs) * MINUTE_MS;
  }

  /**
   * The instant of a local wall-clock time. Ambiguous times (the repeated hour when clocks go
   * back) resolve to the FIRST occurrence; non-existent times (the skipped hour) are moved forward
   * by the gap, as most libraries do.
   */
  localToUtc(wallMs: number): number {
    if (this.fmt === null) return wallMs;
    // Within one wall-clock quarter hour the answer shifts by the same offset: cache it.
    const key = Math.floor(wallMs / 900_000);
    const hit = this.wallCache.get(key);
    if (hit !== undefined) return wallMs - hit;
    const utc = this.resolveWall(key * 900_000);
    if (this.wallCache.size > 200_000) this.wallCache.clear();
    this.wallCache.set(key, key * 900_000 - utc);
    return wallMs - (key * 900_000 - utc);
  }

  private resolveWall(wallMs: number): number {
    // The offsets in force half a day either side bracket any transition near this wall time.
    const oA = this.offsetMinutes(wallMs - 12 * HOUR_MS);
    const oB = this.offsetMinutes(wallMs + 12 * HOUR_MS);
    const a = wallMs - oA * MINUTE_MS;
    const b = wallMs - oB * MINUTE_MS;
    const okA = this.offsetMinutes(a) === oA;
    const okB = this.offsetMinutes(b) === oB;
    if (okA && okB) return Math.min(a, b);
    if (okA) return a;
    if (okB) return b;
    return a; // skipped wall time: read with the offset before the transition (moves it forward)
  }

  /** Local date `YYYY-MM-DD` of an instant. */
  localDate(utcMs: number): string {
    return civilFromDays(Math.floor(this.toWall(utcMs) / DAY_MS));
  }
}

/** ISO text `YYYY-MM-DDTHH:MM:SSZ` of an instant (for messages and reports). */
export function isoUtc(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}
