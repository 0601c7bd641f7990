/**
 * One small hand-made case per cleaning rule; each expectation fails when its rule is removed.
 */
import { describe, expect, it } from 'vitest';
import { detectScaleJumps, outlierBoundWh } from '../../src/etl/clean.js';
import { H, M, T0, INFO, ramp, run, series } from './clean-support.js';

const D = 24 * H;
const day = (k: number) => new Date(T0 + k * D).toISOString().slice(0, 10);
/** 3 full days of a 1000 Wh/h register, 15-minute records, starting one hour before T0. */
const base = () => ramp(T0 - H, T0 + 3 * D, 15, 1000);

describe('cumulative registers', () => {
  it('keeps complete days with hourly energy = difference of per-slot max registers', () => {
    const r = run(series('cumulative', base()));
    expect(r.days.dates).toEqual([day(0), day(1), day(2)]);
    for (const v of r.days.values) expect(v).toBeCloseTo(1000, 6);
    expect(r.q.daysKept).toBe(3);
  });

  it('resamples with the max register of the slot (a late lower reading does not count)', () => {
    const recs = base();
    const t = T0 + D + 10 * H + 59 * M; // 10:59, below the 10:45 reading
    recs.push([t, 100_000 + ((T0 + D + 10 * H + 45 * M - (T0 - H)) / H) * 1000 - 600]);
    const r = run(series('cumulative', recs));
    const row = r.row(day(1))!;
    expect(row[10]).toBeCloseTo(1000, 6);
    expect(row[11]).toBeCloseTo(1000, 6);
  });

  it('collapses duplicate timestamps and counts them', () => {
    const recs = base();
    recs.push(recs[10], recs[20], recs[30]);
    const r = run(series('cumulative', recs));
    expect(r.q.duplicates).toBe(3);
    expect(r.days.dates.length).toBe(3);
  });

  it('interpolates the registers linearly over a short gap', () => {
    // Hour 12 has no record; hour 13 consumes 3000 instead of 1000 → 12 and 13 share 4000.
    const recs = base()
      .filter(([t]) => !(t >= T0 + D + 12 * H && t < T0 + D + 13 * H))
      .map(([t, v]): [number, number] => [t, t >= T0 + D + 13 * H ? v + 2000 * Math.min(1, (t - (T0 + D + 13 * H)) / H + 0.25) : v]);
    const r = run(series('cumulative', recs));
    const row = r.row(day(1))!;
    expect(row[12]).toBeCloseTo(row[13], 6);
    expect(row[12] + row[13]).toBeCloseTo(4000, 6);
    expect(r.q.slotsFilled).toBe(1);
  });

  it('fills only the slots within the filling window after the last real value', () => {
    const gap = (t: number) => t >= T0 + D + 12 * H && t < T0 + D + 15 * H; // 3 hours
    const recs = base().filter(([t]) => !gap(t));
    expect(run(series('cumulative', recs)).row(day(1))).toBeUndefined();
    const wide = run(series('cumulative', recs), { fillWindowHours: 4 });
    expect(wide.row(day(1))).toBeDefined();
    expect(wide.q.slotsFilled).toBe(3);
  });

  it('fills night gaps (00:00–06:59) up to nightMaxSlots', () => {
    const recs = base().filter(([t]) => !(t >= T0 + D + 1 * H && t < T0 + D + 6 * H));
    expect(run(series('cumulative', recs)).row(day(1))).toBeDefined();
    expect(run(series('cumulative', recs), { nightMaxSlots: 0 }).row(day(1))).toBeUndefined();
  });

  it('sets missing night slots of meters with production to 0', () => {
    const recs = base().filter(([t]) => !(t >= T0 + D + 1 * H && t < T0 + D + 4 * H));
    const producer = run(series('cumulative', recs), {}, {}, { ...INFO, productionKw: 10 });
    const row = producer.row(day(1))!;
    expect(row.slice(1, 4)).toEqual([0, 0, 0]);
    expect(producer.q.slotsZeroFilled).toBe(3);
    const consumer = run(series('cumulative', recs));
    expect(consumer.row(day(1))![1]).toBeGreaterThan(0);
    expect(run(series('cumulative', recs), { productionNightZero: false }, {}, { ...INFO, productionKw: 10 }).row(day(1))![1]).toBeGreaterThan(0);
  });

  it('keeps complete days only', () => {
    const recs = base().filter(([t]) => !(t >= T0 + D + 9 * H && t < T0 + D + 17 * H));
    const r = run(series('cumulative', recs));
    expect(r.days.dates).toEqual([day(0), day(2)]);
    expect(r.q.daysDroppedIncomplete).toBeGreaterThanOrEqual(1);
  });

  it('drops records of bogus clock years (1970, 2040)', () => {
    const recs = base();
    recs.push([Date.UTC(1970, 0, 1, 0, 15), 5], [Date.UTC(2040, 5, 1), 7]);
    const r = run(series('cumulative', recs));
    expect(r.q.droppedBogusYear).toBe(2);
    expect(r.days.dates.length).toBe(3);
    expect(() => run(series('cumulative', recs), { bogusYears: [] })).toThrow(/50 years/);
  });

  it('drops records before dropBefore and after dropAfter', () => {
    const r = run(series('cumulative', base()), {}, { dropBefore: T0 + D - H, dropAfter: T0 + 2 * D + 12 * H });
    expect(r.days.dates).toEqual([day(1)]);
    expect(r.q.droppedBefore).toBe(4 * 24);
    expect(r.q.droppedAfter).toBeGreaterThan(0);
  });

  it('applies scale rules by time range', () => {
    const jump = T0 + D + 10 * H;
    const recs = base().map(([t, v]): [number, number] => [t, t < jump ? v / 1000 : v]);
    const fixed = run(series('cumulative', recs), { autoScale: false }, { scale: [{ factor: 1000, before: jump }] });
    expect(fixed.days.dates.length).toBe(3);
    for (const v of fixed.days.values) expect(v).toBeCloseTo(1000, 3);
    expect(fixed.q.scaleCorrections).toEqual([expect.objectContaining({ origin: 'rule', factor: 1000 })]);
    const raw = run(series('cumulative', recs), { autoScale: false });
    expect(raw.row(day(1))).toBeUndefined();
    // A divide step (÷60000 in the rules file), and an ini-only step that changes no _end value.
    const big = base().map(([t, v]): [number, number] => [t, t < jump ? v * 60000 : v]);
    const div = run(series('cumulative', big), { autoScale: false }, { scale: [{ factor: 1 / 60000, divisor: 60000, before: jump }, { factor: 5, registers: 'ini' }] });
    expect(div.days.dates.length).toBe(3);
    for (const v of div.days.values) expect(v).toBeCloseTo(1000, 6);
  });

  it('applies scale rules by threshold, in order', () => {
    // Values below 3e8 are in half units (the BBB6052 quirk): ×2 where import < 3e8.
    const recs = ramp(T0 - H, T0 + 3 * D, 15, 1000, 2.99e8 - 36_000).map(([t, v]): [number, number] => [t, v < 2.99e8 ? v / 2 : v]);
    const r = run(series('cumulative', recs), { autoScale: false }, { scale: [{ factor: 2, below: 1.5e8 }] });
    expect(r.q.scaleCorrections[0].records).toBeGreaterThan(0);
    expect(r.days.dates.length).toBe(3);
    for (const v of r.days.values) expect(v).toBeCloseTo(1000, 3);
  });

  it('drops records whose import register is below the threshold', () => {
    const recs = base();
    recs[40] = [recs[40][0], 0];
    recs[41] = [recs[41][0], 3];
    const r = run(series('cumulative', recs), {}, { dropRegisterBelow: 1000 });
    expect(r.q.droppedBelowThreshold).toBe(2);
    expect(r.q.counterResets).toBe(0);
    for (const v of r.days.values) expect(v).toBeCloseTo(1000, 6);
  });

  it('detects register scale jumps automatically (×10 and ×1000) and reports them', () => {
    const j1 = T0 + 10 * H;
    const j2 = T0 + D + 10 * H;
    const recs = base().map(([t, v]): [number, number] => [t, t < j1 ? v / 10000 : t < j2 ? v / 1000 : v]);
    const r = run(series('cumulative', recs));
    expect(r.q.scaleCorrections.map((s) => [s.origin, s.factor, s.at])).toEqual([
      ['auto', 10, '2021-03-01T10:00:00Z'],
      ['auto', 1000, '2021-03-02T10:00:00Z'],
    ]);
    expect(r.days.dates.length).toBe(3);
    for (const v of r.days.values) expect(v).toBeCloseTo(1000, 3);
    expect(run(series('cumulative', recs), { autoScale: false }).days.dates.length).toBeLessThan(3);
  });

  it('auto detection ignores a big but ordinary step and a rule disables it', () => {
    const t = new Float64Array([0, 1, 2, 3, 4, 5, 6].map((k) => k * 15 * M));
    const reg = new Float64Array([100, 101, 102, 103, 110, 111, 112]);
    expect(detectScaleJumps(t, reg, 7)).toEqual([]);
    const recs = base().map(([tt, v]): [number, number] => [tt, tt < T0 + D ? v / 1000 : v]);
    const r = run(series('cumulative', recs), {}, { scale: [{ factor: 1, before: 0 }] });
    expect(r.q.scaleCorrections.every((s) => s.origin === 'rule')).toBe(true);
  });

  it('neutralises a counter reset (no spike)', () => {
    const reset = T0 + D + 12 * H + 20 * M;
    const recs = base().map(([t, v]): [number, number] => [t, t >= reset ? v - 130_000 : v]);
    const r = run(series('cumulative', recs), { rejectOutliers: false });
    expect(r.q.counterResets).toBe(1);
    expect(r.days.dates.length).toBe(3);
    for (const v of r.days.values) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(1000 + 1e-6);
    }
  });

  it('rejects slots above the contractual power bound', () => {
    const recs = base().map(([t, v]): [number, number] => [t, t >= T0 + D + 12 * H + 30 * M ? v + 500_000 : v]);
    const r = run(series('cumulative', recs), {}, {}, { ...INFO, contractualPowerKw: 100 });
    expect(r.q.outliersRejected).toBe(1);
    expect(Math.max(...r.days.values)).toBeLessThan(100_000);
    const kept = run(series('cumulative', recs), { rejectOutliers: false });
    expect(Math.max(...kept.days.values)).toBeGreaterThan(500_000);
  });
});

describe('interval energy', () => {
  /** 15-minute interval records of 250 Wh over 3 days from T0. */
  const quarter = (skip: (t: number) => boolean = () => false, wh = 250) => {
    const out: Array<[number, number]> = [];
    for (let t = T0; t < T0 + 3 * D; t += 15 * M) if (!skip(t)) out.push([t, wh]);
    return out;
  };

  it('sums the energy of the records in each slot', () => {
    const r = run(series('interval', quarter()));
    expect(r.days.dates).toEqual([day(0), day(1), day(2)]);
    for (const v of r.days.values) expect(v).toBe(1000);
  });

  it('a slot is missing only when all its records are missing', () => {
    const hour12 = (t: number) => t >= T0 + D + 12 * H && t < T0 + D + 13 * H;
    const partial = run(series('interval', quarter((t) => hour12(t) && t !== T0 + D + 12 * H)), { fillWindowHours: 0 });
    expect(partial.row(day(1))![12]).toBe(250);
    const none = run(series('interval', quarter(hour12)), { fillWindowHours: 0, nightMaxSlots: 0 });
    expect(none.row(day(1))).toBeUndefined();
  });

  it('duplicates do not double the energy', () => {
    const recs = quarter();
    recs.push(recs[5]);
    const r = run(series('interval', recs));
    expect(r.q.duplicates).toBe(1);
    expect(r.row(day(0))![1]).toBe(1000);
  });

  it('fills a short gap from the cumulative sum (the next slot shares its energy)', () => {
    const r = run(series('interval', quarter((t) => t >= T0 + D + 12 * H && t < T0 + D + 13 * H)));
    const row = r.row(day(1))!;
    expect(row[12]).toBe(500);
    expect(row[13]).toBe(500);
  });

  it('zero-fills the rules hours', () => {
    const evening = (t: number) => new Date(t).getUTCHours() >= 18;
    const recs = quarter(evening);
    expect(run(series('interval', recs)).days.dates).toEqual([]);
    const r = run(series('interval', recs), {}, { zeroFillHours: [18, 19, 20, 21, 22, 23] });
    // Only inside the data span: the last evening (after the last record) stays missing.
    expect(r.days.dates).toEqual([day(0), day(1)]);
    expect(r.row(day(1))!.slice(18)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(r.q.slotsZeroFilled).toBe(12);
  });

  it('zero-fills before spreading: the slot after a zero-fill gap keeps its own energy', () => {
    // No records from 06:00 to 19:59 (a meter silent while exporting): those hours are zero, and
    // the 20:00 slot must not be shared over them.
    const silent = (t: number) => {
      const h = new Date(t).getUTCHours();
      return h >= 6 && h < 20;
    };
    const hours = [6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19];
    const r = run(series('interval', quarter(silent)), {}, { zeroFillHours: hours });
    const row = r.row(day(1))!;
    expect(row.slice(6, 20)).toEqual(hours.map(() => 0));
    expect(row[20]).toBe(row[21]);
    expect(row[20]).toBeGreaterThan(0);
  });

  it('rejects outliers by contractual power, 200 kW when unknown, wider after a gap', () => {
    expect(outlierBoundWh(null, 60)).toBe(200_000);
    expect(outlierBoundWh(40, 15)).toBe(10_000);
    const spike = quarter().map(([t, v]): [number, number] => [t, t === T0 + D + 12 * H ? 150_000 : v]);
    expect(run(series('interval', spike), {}, {}, null).q.outliersRejected).toBe(0);
    expect(run(series('interval', spike), {}, {}, { ...INFO, contractualPowerKw: 10 }).q.outliersRejected).toBe(1);
    // After a 2-hour gap the next slot may carry 3 slots' worth (bound 1 kW → 3000 Wh).
    const gap = quarter((t) => t >= T0 + D + 10 * H && t < T0 + D + 12 * H, 200).map(([t, v]): [number, number] => [t, t === T0 + D + 12 * H ? 2300 : v]);
    const r = run(series('interval', gap), {}, {}, { ...INFO, contractualPowerKw: 1 });
    expect(r.q.outliersRejected).toBe(0);
  });
});
