/**
 * Shared types of the ETL stage: what every source (old Mongo, SQL historian, new Mongo, generic)
 * hands to the cleaning core ({@link ./clean.ts}), and what the core reports back.
 *
 * Flow of one meter: a source parses its input into a {@link RawSeries} (one meter at a time, so
 * memory is bounded by one meter), calls `cleanMeter(series, meterInfo, options, quality)` and gets
 * {@link MeterDays} back; `ProfileAccumulator` collects the days of all meters and writes the clean
 * profiles CSV of design.md (`id,date,HH:MM...`, sorted by id then date, complete rows only).
 */

/**
 * How a series' values are to be read.
 * - `cumulative`: monotone energy registers (Wh) read at the record's instant (old Mongo `_end`
 *   registers). Slot energy is the difference of the (max-per-slot, interpolated) register.
 * - `interval`: energy (Wh) consumed during the record's interval, which starts at the record's
 *   timestamp (SQL historian, new Mongo, SGSC). Slot energy is the sum of its records.
 */
export type SeriesKind = 'cumulative' | 'interval';

/**
 * The raw records of ONE meter, as parsed by a source, before any cleaning.
 *
 * Arrays are parallel, of length `n` (they may be longer: only the first `n` entries count).
 * Records need not be sorted and may hold duplicate timestamps; the core sorts (stable) and
 * collapses duplicates (counting them).
 */
export interface RawSeries {
  /** Meter id (as in the meter description CSV). */
  meter: string;
  /** How to read `imp` and `exp`. */
  kind: SeriesKind;
  /** Record timestamps, milliseconds since the Unix epoch, UTC. */
  t: Float64Array;
  /**
   * Import (consumption) values, Wh: the cumulative import register for `cumulative`, the interval
   * energy for `interval`. NaN = missing value (the record then only counts as read).
   */
  imp: Float64Array;
  /**
   * Export (production) values, Wh, POSITIVE (same reading as `imp`), or null when the meter has no
   * export channel. Slot energy is `import − export` (negative = net export).
   * A source whose export arrives already negated (SQL historian) may instead add it, negated,
   * into `imp` of an `interval` series and leave `exp` null.
   */
  exp: Float64Array | null;
  /** Number of valid entries in the arrays. */
  n: number;
  /**
   * Optional source line of each record (1-based), used only in messages. Same length as `t`.
   */
  lines?: Int32Array;
  /** Optional file the records came from, used only in messages and the quality report. */
  file?: string;
}

/** One row of the meter description CSV (`id,Contractual power (kW),Production (kW),Type`). */
export interface MeterInfo {
  /** Meter id, e.g. `SYN0001`. */
  id: string;
  /** Contractual power in kW; null when unknown (outlier bound then uses 200 kW). */
  contractualPowerKw: number | null;
  /** Installed production (generation) in kW; null when unknown; 0 = no production. */
  productionKw: number | null;
  /** Free-text type (company, pump, pool, User, ...); '' when empty. */
  type: string;
}

/** One scale correction step (a rules-file entry or an automatically detected jump). */
export interface ScaleStep {
  /** Multiply the selected register values by this factor (e.g. 1000, 1/60000, 2). */
  factor: number;
  /** When set, divide by this instead of multiplying by `factor` (= 1/divisor), for exactness (÷60000). */
  divisor?: number;
  /** Apply only to records strictly before this instant (ms UTC). */
  before?: number;
  /** Apply only to records at or after this instant (ms UTC). */
  after?: number;
  /** Apply only where the import register (before this step) is above this value. */
  above?: number;
  /** Apply only where the import register (before this step) is below this value. */
  below?: number;
  /**
   * Which registers: `all` (default), `ini` or `end`. The cleaning core uses only the `_end`
   * registers, so an `ini`-only step is recorded but changes no value.
   */
  registers?: 'all' | 'ini' | 'end';
}

/**
 * The resolved rules of one meter in one source (see `rules.ts`: the YAML file's entries merged
 * for this meter). Every field is optional; an empty object means "no rules".
 */
export interface MeterRules {
  /** Explicit register scale corrections, applied in order, before resampling. */
  scale?: ScaleStep[];
  /** Drop records strictly before this instant (ms UTC). Also the per-source start date. */
  dropBefore?: number;
  /** Drop records strictly after this instant (ms UTC). */
  dropAfter?: number;
  /** Drop records whose import register (after scale corrections) is below this value (Wh). */
  dropRegisterBelow?: number;
  /** Local hours (0–23) whose missing slots become 0 after filling. */
  zeroFillHours?: number[];
  /** Skip this meter entirely (counted as excluded). */
  exclude?: boolean;
}

/** What to do with a row that cannot be parsed. */
export type OnBadRow = 'error' | 'skip';

/** Options of the cleaning core (all sources). */
export interface CleanOptions {
  /** Minutes per slot; must divide a day (15, 30, 60, ...). */
  resolutionMinutes: number;
  /** IANA time zone of days and slot labels (default `UTC`). */
  timeZone: string;
  /** Gaps strictly shorter than this many hours are filled (default 2). */
  fillWindowHours: number;
  /** Gaps lying entirely within night hours (00:00–06:59 local) up to this many slots are filled (default 24). */
  nightMaxSlots: number;
  /** Detect register scale jumps automatically when no scale rule covers the meter (default true). */
  autoScale: boolean;
  /** Reject slots above the contractual-power bound (default true). */
  rejectOutliers: boolean;
  /** For meters with production > 0, missing slots at 00:00–06:59 become 0 (old Mongo behaviour; default true). */
  productionNightZero: boolean;
  /** Record years treated as bogus meter clocks (default [1970, 2040]). */
  bogusYears: number[];
}

/** Defaults of {@link CleanOptions}. */
export const DEFAULT_CLEAN_OPTIONS: Readonly<CleanOptions> = Object.freeze({
  resolutionMinutes: 60,
  timeZone: 'UTC',
  fillWindowHours: 2,
  nightMaxSlots: 24,
  autoScale: true,
  rejectOutliers: true,
  productionNightZero: true,
  bogusYears: [1970, 2040],
});

/** A scale correction applied to a meter (from the rules or detected), for the report and log. */
export interface AppliedScale {
  /** `rule` (rules file) or `auto` (detected jump). */
  origin: 'rule' | 'auto';
  /** Factor applied to the affected records. */
  factor: number;
  /** Records changed. */
  records: number;
  /** For auto: the instant of the jump (ISO UTC); for rules: the rule's window, readable. */
  at: string;
}

/**
 * Per-meter quality counts. Every count is a number of records (raw rows) unless it says slots or
 * days. Sources fill the `read`/`badRows` counts; the core fills the rest.
 */
export interface MeterQuality {
  meter: string;
  /** Records read from the source for this meter (including bad and dropped ones). */
  recordsRead: number;
  /** Rows skipped as unparsable with `--on-bad-row skip`. */
  badRows: number;
  /** Records dropped for a bogus clock year (1970, 2040). */
  droppedBogusYear: number;
  /** Records dropped by the rules' drop-before / per-source start date. */
  droppedBefore: number;
  /** Records dropped by the rules' drop-after date. */
  droppedAfter: number;
  /** Records dropped because the import register was below the rules' threshold. */
  droppedBelowThreshold: number;
  /** Records without a value (NaN) dropped. */
  droppedMissingValue: number;
  /** Duplicate timestamps collapsed (records removed). */
  duplicates: number;
  /** Scale corrections applied (rules + auto). */
  scaleCorrections: AppliedScale[];
  /** Counter resets / rollovers neutralised (cumulative only). */
  counterResets: number;
  /** Slots rejected as outliers (contractual power bound). */
  outliersRejected: number;
  /** Missing slots filled by interpolation (short and night gaps). */
  slotsFilled: number;
  /** Missing slots set to 0 (zero-fill hours, production nights). */
  slotsZeroFilled: number;
  /** Complete days written. */
  daysKept: number;
  /** Days with some data but not complete after filling. */
  daysDroppedIncomplete: number;
  /** DST transition days (23/25 h local) with data, dropped by the DST policy. */
  daysDroppedDst: number;
  /** True when the meter was excluded by the rules. */
  excluded: boolean;
  /** First and last day kept (YYYY-MM-DD) or '' when none. */
  firstDay: string;
  lastDay: string;
}

/** A fresh zeroed {@link MeterQuality} for a meter. */
export function emptyQuality(meter: string): MeterQuality {
  return {
    meter,
    recordsRead: 0,
    badRows: 0,
    droppedBogusYear: 0,
    droppedBefore: 0,
    droppedAfter: 0,
    droppedBelowThreshold: 0,
    droppedMissingValue: 0,
    duplicates: 0,
    scaleCorrections: [],
    counterResets: 0,
    outliersRejected: 0,
    slotsFilled: 0,
    slotsZeroFilled: 0,
    daysKept: 0,
    daysDroppedIncomplete: 0,
    daysDroppedDst: 0,
    excluded: false,
    firstDay: '',
    lastDay: '',
  };
}

/** The complete days of one meter, as produced by `cleanMeter`. */
export interface MeterDays {
  meter: string;
  /** Local dates `YYYY-MM-DD`, ascending; length d. */
  dates: string[];
  /** Wh per slot, shape d × L row-major, every value finite. */
  values: Float64Array;
  /** Slots per day L (1440 / resolution). */
  length: number;
}
