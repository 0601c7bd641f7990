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
}

const NUMBER_RE = /^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$/;

/**
 * Parse a decimal number strictly: `''`, `'abc'`, `'0x10'`, `'Infinity'` are rejected (null), unlike
 * `Number()` which reads `''` as 0. Numbers pass through when finite.
 */
export function parseNumberStrict(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v !== 'string' || !NUMBER_RE.test(v)) return null;
  return Number(v);
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
  private n = 0;

  /**
   * @param meter meter id
   * @param file source file or table, for messages
   * @param withLines keep the 1-based source line of each record (for messages of the core)
   */
  constructor(meter: string, file?: string, withLines = false) {
    this.meter = meter;
    this.file = file;
    this.lines = withLines ? new Int32Array(1024) : null;
  }

  /** Number of records so far. */
  get length(): number {
    return this.n;
  }

  /** Add a record: interval start `t` (ms UTC) and energy `wh` (Wh, signed; NaN = missing). */
  push(t: number, wh: number, line = 0): void {
    if (this.n === this.t.length) this.grow();
    this.t[this.n] = t;
    this.imp[this.n] = wh;
    if (this.lines) this.lines[this.n] = line;
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
  }

  /** The records as a {@link RawSeries} (arrays may be longer than `n`). */
  build(): RawSeries {
    const s: RawSeries = { meter: this.meter, kind: 'interval', t: this.t, imp: this.imp, exp: null, n: this.n };
    if (this.lines) s.lines = this.lines;
    if (this.file !== undefined) s.file = this.file;
    return s;
  }
}
