/**
 * Building blocks shared by the SQL historian and new Mongo sources: a growable per-meter
 * {@link RawSeries} builder, strict number parsing, and the per-meter result type the readers yield.
 */
import type { RawSeries } from './types.js';

/** What a source reader yields for one meter: its raw series and the counts the source owns. */
export interface SourceMeter {
  /** The meter's interval-energy records (`kind: 'interval'`, Wh). */
  series: RawSeries;
  /** Records (rows / values) read for this meter, including bad ones. */
  recordsRead: number;
  /** Rows skipped as unparsable (only with `onBadRow: 'skip'`). */
  badRows: number;
  /** Duplicate rows collapsed by the source itself (same instant and tag). */
  duplicates?: number;
}

const NUMBER_RE = /^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/;

/**
 * Parse a decimal number strictly: `''`, `'abc'`, `'0x10'`, `'Infinity'` are rejected (null), unlike
 * `Number()` which reads `''` as 0. Numbers pass through when finite.
 */
export function parseNumberStrict(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v !== 'string' || v.length === 0) return null;
  const n = +v;
  if (!Number.isFinite(n)) return null;
  const c0 = v.charCodeAt(0);
  if (c0 > 32) {
    // `+` also reads 0x.., 0b.., 0o.. literals: refuse them; anything else it reads is decimal.
    const c1 = v.charCodeAt(1) | 32;
    return c0 === 48 && (c1 === 120 || c1 === 98 || c1 === 111) ? null : n;
  }
  return NUMBER_RE.test(v) ? n : null; // leading blanks: check the whole text
}

/**
 * Accumulates one meter's interval records into growable typed arrays (no per-record objects),
 * then hands them over as a {@link RawSeries} of kind `interval` with no export channel (export
 * energy is added negated into `imp`, as the historian reports it).
 */
export class IntervalSeriesBuilder {
  readonly meter: string;
  readonly file: string | undefined;
  private t = new Float64Array(1024);
  private imp = new Float64Array(1024);
  private lines: Int32Array | null;
  private tags: Int32Array | null;
  private n = 0;
  /** Same (timestamp, tag) records collapsed by {@link build} (last wins), for the report. */
  duplicates = 0;

  /**
   * @param meter meter id
   * @param file source file or table, for messages
   * @param withLines keep the 1-based source line of each record (for messages of the core)
   * @param withTags records carry a channel (tag) index; {@link build} then merges the channels
   *   (see there)
   */
  constructor(meter: string, file?: string, withLines = false, withTags = false) {
    this.meter = meter;
    this.file = file;
    this.lines = withLines ? new Int32Array(1024) : null;
    this.tags = withTags ? new Int32Array(1024) : null;
  }

  /** Number of records so far. */
  get length(): number {
    return this.n;
  }

  /**
   * Add a record: interval start `t` (ms UTC), energy `wh` (Wh, signed; NaN = missing), source
   * line, and channel (tag) index when the builder was made `withTags`.
   */
  push(t: number, wh: number, line = 0, tag = 0): void {
    if (this.n === this.t.length) this.grow();
    this.t[this.n] = t;
    this.imp[this.n] = wh;
    if (this.lines) this.lines[this.n] = line;
    if (this.tags) this.tags[this.n] = tag;
    this.n++;
  }

  private grow(): void {
    const size = this.t.length * 2;
    const t = new Float64Array(size);
    t.set(this.t);
    this.t = t;
    const imp = new Float64Array(size);
    imp.set(this.imp);
    this.imp = imp;
    if (this.lines) {
      const lines = new Int32Array(size);
      lines.set(this.lines);
      this.lines = lines;
    }
    if (this.tags) {
      const tags = new Int32Array(size);
      tags.set(this.tags);
      this.tags = tags;
    }
  }

  /**
   * Merge channels: the historian reports import and export as separate tags at the same
   * instants, and the cleaning core treats equal timestamps as duplicates (last wins). So records
   * are combined here first: the same (instant, tag) twice is a true duplicate (the later row
   * wins, counted in {@link duplicates}); different tags at one instant are summed (import −
   * export, the export already negated).
   */
  private mergeChannels(): void {
    const n = this.n;
    const t = this.t;
    const tags = this.tags!;
    // Usually already in (time, tag) order: sort only when not.
    let sorted = true;
    for (let i = 1; i < n; i++) {
      if (t[i]! < t[i - 1]! || (t[i] === t[i - 1] && tags[i]! < tags[i - 1]!)) {
        sorted = false;
        break;
      }
    }
    let sortedOrder: ArrayLike<number>;
    if (sorted) {
      const ident = new Uint32Array(n);
      for (let i = 0; i < n; i++) ident[i] = i;
      sortedOrder = ident;
    } else {
      const order: number[] = new Array<number>(n);
      for (let i = 0; i < n; i++) order[i] = i;
      sortedOrder = order.sort((a, b) => t[a]! - t[b]! || tags[a]! - tags[b]! || a - b);
    }
    const nt = new Float64Array(Math.max(n, 1));
    const ni = new Float64Array(Math.max(n, 1));
    const nl = this.lines ? new Int32Array(Math.max(n, 1)) : null;
    let w = -1;
    let prevTag = -1;
    for (let k = 0; k < n; k++) {
      const i = sortedOrder[k]!;
      const ti = t[i]!;
      const v = this.imp[i]!;
      if (w >= 0 && nt[w] === ti) {
        if (tags[i] === prevTag) {
          // Same tag and instant: replace this tag's contribution by the later row.
          this.duplicates++;
          ni[w] = ni[w]! - this.lastContribution + v;
        } else ni[w] = ni[w]! + v;
      } else {
        w++;
        nt[w] = ti;
        ni[w] = v;
        if (nl) nl[w] = this.lines![i]!;
      }
      prevTag = tags[i]!;
      this.lastContribution = v;
    }
    this.t = nt;
    this.imp = ni;
    if (nl) this.lines = nl;
    this.tags = null;
    this.n = w + 1;
  }

  private lastContribution = 0;

  /**
   * The records as a {@link RawSeries} (arrays may be longer than `n`). With tags, channels are
   * merged first so every instant appears once.
   */
  build(): RawSeries {
    if (this.tags) this.mergeChannels();
    const s: RawSeries = { meter: this.meter, kind: 'interval', t: this.t, imp: this.imp, exp: null, n: this.n };
    if (this.lines) s.lines = this.lines;
    if (this.file !== undefined) s.file = this.file;
    return s;
  }
}
