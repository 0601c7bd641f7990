/**
 * Time zones and DST: local slot labels, the 23/25-hour day policy (dropped and counted), the
 * fast ISO parser and the cached zone mapper.
 */
import { describe, expect, it } from 'vitest';
import { parseTimestamp, ZoneMapper, civilFromDays, daysFromCivil } from '../../src/etl/time.js';
import { H, run, series } from './clean-support.js';

/** Hourly interval records over [from, to) UTC whose energy is the UTC hour of the record. */
function hourly(from: number, to: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let t = from; t < to; t += H) out.push([t, new Date(t).getUTCHours()]);
  return out;
}

describe('DST policy', () => {
  it('Europe/Rome: local slots, the 23-hour and 25-hour days dropped and counted', () => {
    const spring = hourly(Date.UTC(2021, 2, 26), Date.UTC(2021, 2, 31));
    const r = run(series('interval', spring), { timeZone: 'Europe/Rome' }, {}, null);
    // 2021-03-28 has 23 local hours: dropped. Before it UTC+1, after it UTC+2.
    expect(r.days.dates).toEqual(['2021-03-27', '2021-03-29', '2021-03-30']); // 03-26 local starts 23:00 UTC on 03-25: no data
    expect(r.q.daysDroppedDst).toBe(1);
    expect(r.row('2021-03-27')![0]).toBe(23); // local 00:00 = 23:00 UTC the day before
    expect(r.row('2021-03-29')![0]).toBe(22); // local 00:00 = 22:00 UTC
    expect(r.row('2021-03-29')![12]).toBe(10);
    const autumn = run(series('interval', hourly(Date.UTC(2021, 9, 29), Date.UTC(2021, 10, 3))), { timeZone: 'Europe/Rome' }, {}, null);
    expect(autumn.days.dates).not.toContain('2021-10-31');
    expect(autumn.days.dates).toContain('2021-10-30');
    expect(autumn.days.dates).toContain('2021-11-01');
    expect(autumn.q.daysDroppedDst).toBe(1);
    // In UTC nothing is dropped for DST.
    const utc = run(series('interval', spring), {}, {}, null);
    expect(utc.q.daysDroppedDst).toBe(0);
    expect(utc.days.dates).toContain('2021-03-28');
  });

  it('Australia/Sydney: DST ends in April (25 h) and starts in October (23 h)', () => {
    const april = run(series('interval', hourly(Date.UTC(2021, 3, 1), Date.UTC(2021, 3, 7))), { timeZone: 'Australia/Sydney' }, {}, null);
    expect(april.days.dates).not.toContain('2021-04-04');
    expect(april.days.dates).toContain('2021-04-03');
    expect(april.days.dates).toContain('2021-04-05');
    expect(april.q.daysDroppedDst).toBe(1);
    expect(april.row('2021-04-03')![0]).toBe(13); // UTC+11: local 00:00 = 13:00 UTC
    expect(april.row('2021-04-05')![0]).toBe(14); // UTC+10
    const october = run(series('interval', hourly(Date.UTC(2021, 9, 1), Date.UTC(2021, 9, 6))), { timeZone: 'Australia/Sydney', resolutionMinutes: 30 }, {}, null);
    expect(october.days.dates).not.toContain('2021-10-03');
    expect(october.q.daysDroppedDst).toBe(1);
    expect(october.days.length).toBe(48);
  });

  it('refuses a zone whose offset does not align with the resolution', () => {
    expect(() => run(series('interval', hourly(Date.UTC(2021, 0, 1), Date.UTC(2021, 0, 3))), { timeZone: 'Asia/Kolkata' }, {}, null)).toThrow(/not a multiple/);
    expect(run(series('interval', hourly(Date.UTC(2021, 0, 1), Date.UTC(2021, 0, 4))), { timeZone: 'Asia/Kolkata', resolutionMinutes: 30 }, {}, null).q.daysDroppedDst).toBe(0);
  });

  it('rejects an unknown zone name with a usage error', () => {
    expect(() => new ZoneMapper('Mars/Olympus')).toThrow(/IANA time zone/);
  });
});

describe('timestamps', () => {
  it('parses ISO 8601 shapes exactly like Date.parse does for valid ones', () => {
    for (const s of ['2019-05-14T10:00:00Z', '2019-05-14T10:00:00.250Z', '2019-05-14T10:00:00+02:00', '2019-05-14T10:00:00-0330', '2024-02-29T23:59:59Z']) {
      expect(parseTimestamp(s)).toBe(Date.parse(s));
    }
    expect(parseTimestamp('2012-02-10 08:00:00')).toBe(Date.UTC(2012, 1, 10, 8));
    expect(parseTimestamp('2012-02-10')).toBe(Date.UTC(2012, 1, 10));
  });

  it('rejects malformed text', () => {
    for (const s of ['', '2019-13-01T00:00:00Z', '2019-02-30T00:00:00Z', '2019-05-14X10:00', '14/05/2019 10:00', '2019-05-14T10:00:00Q', 'abc']) {
      expect(parseTimestamp(s)).toBeNaN();
    }
  });

  it('reads naive times in a zone, resolving the repeated hour to its first occurrence', () => {
    const rome = new ZoneMapper('Europe/Rome');
    expect(parseTimestamp('2021-07-01 12:00:00', rome)).toBe(Date.UTC(2021, 6, 1, 10));
    expect(parseTimestamp('2021-01-01 12:00:00', rome)).toBe(Date.UTC(2021, 0, 1, 11));
    expect(parseTimestamp('2021-10-31 02:30:00', rome)).toBe(Date.UTC(2021, 9, 31, 0, 30));
    expect(rome.offsetMinutes(Date.UTC(2021, 2, 28, 0, 59))).toBe(60);
    expect(rome.offsetMinutes(Date.UTC(2021, 2, 28, 1, 0))).toBe(120);
    expect(new ZoneMapper('Australia/Sydney').localDate(Date.UTC(2021, 0, 1, 14))).toBe('2021-01-02');
  });

  it('civil day numbers round-trip', () => {
    for (const [y, m, d] of [[1970, 1, 1], [2000, 2, 29], [2019, 5, 14], [2100, 12, 31]]) {
      const z = daysFromCivil(y, m, d);
      expect(z).toBe(Date.UTC(y, m - 1, d) / 86_400_000);
      expect(civilFromDays(z)).toBe(`${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`);
    }
  });
});
