/** Small hand-made series for the cleaning-core tests. */
import { cleanMeter } from '../../src/etl/clean.js';
import { DEFAULT_CLEAN_OPTIONS, emptyQuality, type CleanOptions, type MeterDays, type MeterInfo, type MeterQuality, type MeterRules, type SeriesKind } from '../../src/etl/types.js';

export const H = 3_600_000;
export const M = 60_000;
/** 2021-03-01T00:00Z (a Monday, no DST nearby). */
export const T0 = Date.UTC(2021, 2, 1);

/** A series from [ms, import, export?] records. */
export function series(kind: SeriesKind, recs: Array<[number, number, number?]>, meter = 'M1') {
  const withExp = recs.some((r) => r[2] !== undefined);
  return {
    meter,
    kind,
    t: Float64Array.from(recs.map((r) => r[0])),
    imp: Float64Array.from(recs.map((r) => r[1])),
    exp: withExp ? Float64Array.from(recs.map((r) => r[2] ?? 0)) : null,
    n: recs.length,
  };
}

/** A cumulative register rising `perHour` Wh per hour, one record per `stepMin`, over [from, to). */
export function ramp(from: number, to: number, stepMin: number, perHour: number, start = 100_000, skip: (t: number) => boolean = () => false): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let t = from; t < to; t += stepMin * M) {
    if (skip(t)) continue;
    out.push([t, start + ((t - from) / H) * perHour]);
  }
  return out;
}

export interface Cleaned {
  days: MeterDays;
  q: MeterQuality;
  /** Row of a date, as a plain array. */
  row(date: string): number[] | undefined;
}

export const INFO: MeterInfo = { id: 'M1', contractualPowerKw: 100, productionKw: 0, type: 'company' };

export function run(s: ReturnType<typeof series>, opts: Partial<CleanOptions> = {}, rules: MeterRules = {}, info: MeterInfo | null = INFO): Cleaned {
  const q = emptyQuality(s.meter);
  const days = cleanMeter(s, info, rules, { ...DEFAULT_CLEAN_OPTIONS, ...opts }, q);
  return {
    days,
    q,
    row(date: string) {
      const i = days.dates.indexOf(date);
      return i < 0 ? undefined : Array.from(days.values.subarray(i * days.length, (i + 1) * days.length));
    },
  };
}
