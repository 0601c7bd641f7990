/**
 * The SQL historian source on text exports and a SQLite file: format, export-tag negation,
 * resampling by sum, rules (start date, zero-fill hours), outliers, bad input. PostgreSQL is in
 * sql-postgres.test.ts.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseRules, loadRules } from '../../src/etl/rules.js';
import { readMeterDescription } from '../../src/etl/meters.js';
import { exportTagFor, meterOfTag, quoteTableName, sqlDatabaseSource, sqlFolderSource } from '../../src/etl/sql.js';
import { cleanToCsv, meterMap, quarterRows, tempDir, writeSqlite, writeTxt, type Row } from './sql-support.js';

const IMP = (m: string) => `Energy_Ameno_1_8_0_${m}.kWh`;
const EXP = (m: string) => exportTagFor(m);

/** M1: import 100 Wh per quarter (400 Wh/h), export 50 Wh per quarter at 12:00-12:59. */
function m1Rows(date = '2021-09-02'): Row[] {
  return [...quarterRows(date, IMP('M1'), () => 100), ...quarterRows(date, EXP('M1'), (h) => (h === 12 ? 50 : 0))];
}

function row(csv: string, id: string, date: string): number[] {
  const line = csv.split('\n').find((l) => l.startsWith(`${id},${date},`));
  if (line === undefined) throw new Error(`no row ${id} ${date} in\n${csv.slice(0, 500)}`);
  return line.split(',').slice(2).map(Number);
}

describe('historian tags', () => {
  it('names the export tag and finds the meter of a tag', () => {
    expect(exportTagFor('SYN0001')).toBe('Energy_Ameno_2_8_0_SYN0001.kWh');
    expect(meterOfTag('Energy_Ameno_1_8_0_SYN0001.kWh')).toBe('SYN0001');
    expect(meterOfTag('Energy_Ameno_2_8_0_SGSC10006414.kWh')).toBe('SGSC10006414');
    expect(meterOfTag('nounderscore')).toBeNull();
    expect(meterOfTag('ends_with_')).toBeNull();
  });

  it('accepts plain table names only', () => {
    expect(quoteTableName('historian')).toBe('"historian"');
    expect(quoteTableName('public.hist_2021')).toBe('"public"."hist_2021"');
    // The library names the option `table` (error.option); the CLI shows it as --table.
    expect(() => quoteTableName('x; DROP TABLE y')).toThrow(/for `table`/);
    expect(() => quoteTableName('a"b')).toThrow(expect.objectContaining({ option: 'table' }));
  });
});

describe('SQL text exports', () => {
  it('sums quarter hours into hours and negates the export tag', async () => {
    const dir = tempDir();
    writeTxt(dir, { M1: m1Rows() });
    const { csv, metrics } = await cleanToCsv(sqlFolderSource(dir), meterMap([['M1', 40, 10]]));
    const v = row(csv, 'M1', '2021-09-02');
    expect(v).toHaveLength(24);
    expect(v[0]).toBe(400);
    expect(v[12]).toBe(200); // 4 × 100 − 4 × 50
    expect(v[13]).toBe(400);
    expect(metrics.records_read).toBe(192);
    expect(metrics.days_kept).toBe(1);
  });

  it('keeps 15-minute resolution and reads naive timestamps in --timezone', async () => {
    const dir = tempDir();
    writeTxt(dir, { M1: m1Rows() });
    const q = await cleanToCsv(sqlFolderSource(dir), meterMap([['M1', 40, 10]]), { clean: { resolutionMinutes: 15 } });
    expect(q.csv.split('\n')[0]!.split(',')).toHaveLength(2 + 96);
    expect(row(q.csv, 'M1', '2021-09-02')[48]).toBe(50);
    // The same wall-clock rows read in Europe/Rome are still the local day 2021-09-02.
    const rome = await cleanToCsv(sqlFolderSource(dir), meterMap([['M1', 40, 10]]), { clean: { timeZone: 'Europe/Rome' } });
    expect(row(rome.csv, 'M1', '2021-09-02')[12]).toBe(200);
    // Explicit offsets are absolute: +02:00 rows read in UTC start at 22:00 the day before.
    const dir2 = tempDir();
    writeTxt(dir2, { M1: m1Rows().map(([t, tag, e]) => [`${t}+02:00`, tag, e] as Row) });
    const utc = await cleanToCsv(sqlFolderSource(dir2), meterMap([['M1', 40, 10]]));
    expect(utc.metrics.days_kept).toBe(0); // two partial UTC days
    const rome2 = await cleanToCsv(sqlFolderSource(dir2), meterMap([['M1', 40, 10]]), { clean: { timeZone: 'Europe/Rome' } });
    expect(rome2.csv).toBe(rome.csv);
  });

  it('applies the rules: per-source start date and zero-fill hours of named meters', async () => {
    const dir = tempDir();
    // M2 reports nothing at night (hours 0-7 and 18-23), like BBB6017/BBB6052. Zero-fill applies
    // inside the data span, so the middle day of three is the one that becomes complete.
    const m2 = ['2021-09-01', '2021-09-02', '2021-09-03'].flatMap((d) => quarterRows(d, IMP('M2'), () => 10)).filter(([t]) => {
      const h = Number(t.slice(11, 13));
      return h >= 8 && h < 18;
    });
    writeTxt(dir, { M1: [...m1Rows('2021-08-31'), ...m1Rows()], M2: m2 });
    const rules = parseRules(
      { version: 1, sources: { sql: { start: '2021-09-01T00:00:00Z', rules: [{ meters: ['M2'], zeroFillHours: [0, 1, 2, 3, 4, 5, 6, 7, 18, 19, 20, 21, 22, 23] }] } } },
      'inline',
    );
    const meters = meterMap([['M1', 40, 10], ['M2', 5, 0]]);
    const without = await cleanToCsv(sqlFolderSource(dir), meters);
    expect(without.csv).toContain('M1,2021-08-31,');
    expect(without.csv).not.toContain('M2,');
    const withRules = await cleanToCsv(sqlFolderSource(dir), meters, { rules });
    expect(withRules.csv).not.toContain('M1,2021-08-31,');
    // Drops count the meter's instants (import and export tags merged per instant): 96 quarter hours.
    expect(withRules.metrics.records_dropped_before).toBe(96);
    const v = row(withRules.csv, 'M2', '2021-09-02');
    expect(v.slice(0, 8)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    // (08:00 itself: see the report — the core currently spreads it over the zero-filled night.)
    expect(v.slice(9, 18)).toEqual(new Array(9).fill(40));
    expect(v.slice(18)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(withRules.metrics.slots_zero_filled).toBe(28); // the two interior nights, 14 + 14 hours
  });

  it('collapses a repeated row of the same tag and instant (counted), but sums different tags', async () => {
    const dir = tempDir();
    const rows = m1Rows();
    rows.push(['2021-09-02 05:00:00', IMP('M1'), 300]); // repeats 05:00 import (100): the later row wins
    writeTxt(dir, { M1: rows });
    const { csv, metrics } = await cleanToCsv(sqlFolderSource(dir), meterMap([['M1', 40, 10]]));
    expect(metrics.duplicates_collapsed).toBe(1);
    expect(row(csv, 'M1', '2021-09-02')[5]).toBe(600);
    expect(row(csv, 'M1', '2021-09-02')[12]).toBe(200);
  });

  it('rejects a slot above the contractual-power bound', async () => {
    const dir = tempDir();
    // 5 kW contractual → 5000 Wh per hour; 03:00 carries 8000 Wh.
    writeTxt(dir, { M3: quarterRows('2021-09-02', IMP('M3'), (h, q) => (h === 3 && q === 0 ? 7700 : 100)) });
    const { metrics, csv } = await cleanToCsv(sqlFolderSource(dir), meterMap([['M3', 5, 0]]));
    expect(metrics.outliers_rejected).toBe(1);
    const v = row(csv, 'M3', '2021-09-02');
    expect(Math.max(...v)).toBeLessThan(5000);
    const generous = await cleanToCsv(sqlFolderSource(dir), meterMap([['M3', 50, 0]]));
    expect(row(generous.csv, 'M3', '2021-09-02')[3]).toBe(8000);
  });

  it('gives the shipped sample (5 SGSC households) complete days with the shipped rules', async () => {
    const meters = await readMeterDescription('data/meters.csv');
    const rules = await loadRules('data/rules.yaml');
    const { csv, metrics } = await cleanToCsv(sqlFolderSource('data/sql'), meters, { rules });
    expect(metrics.meters).toBe(5);
    expect(metrics.days_kept).toBeGreaterThan(200);
    expect(metrics.records_dropped).toBe(0);
    const first = csv.split('\n')[1]!.split(',');
    expect(first[0]).toMatch(/^SGSC\d+$/);
    expect(first[1] >= '2021-09-01').toBe(true);
  });
});

describe('SQL text exports: bad input', () => {
  const meters = meterMap([['M1', 40, 10], ['M9', null, null]]);

  async function failure(write: (dir: string) => void, m = meters): Promise<{ message: string; code: string }> {
    const dir = tempDir();
    write(dir);
    try {
      await cleanToCsv(sqlFolderSource(dir), m);
    } catch (e) {
      return { message: (e as Error).message, code: (e as { code: string }).code };
    }
    throw new Error('expected a failure');
  }

  it('names a missing folder and an empty one', async () => {
    await expect(cleanToCsv(sqlFolderSource('/nonexistent/sql'), meters)).rejects.toThrow(/\/nonexistent\/sql: no such directory/);
    const empty = await failure(() => undefined);
    expect(empty.code).toBe('E_INPUT_EMPTY');
    expect(empty.message).toMatch(/no \.txt file/);
  });

  it('names an empty file', async () => {
    const f = await failure((dir) => writeFileSync(join(dir, 'M1.txt'), ''));
    expect(f.code).toBe('E_INPUT_EMPTY');
    expect(f.message).toMatch(/M1\.txt: no rows/);
  });

  it('names file, line and count of a row with the wrong number of fields', async () => {
    const f = await failure((dir) => writeFileSync(join(dir, 'M1.txt'), `2021-09-02 00:00:00,${IMP('M1')},1,192,0,192\n2021-09-02 00:15:00,${IMP('M1')},1,192\n`));
    expect(f.code).toBe('E_INPUT_COLUMNS');
    expect(f.message).toMatch(/M1\.txt:2: expected 6 comma-separated fields .* but found 4/);
  });

  it('names file, line and field of an unparsable timestamp or number', async () => {
    const ts = await failure((dir) => writeFileSync(join(dir, 'M1.txt'), `2021-09-02 00:00:00,${IMP('M1')},1,192,0,192\n2021-13-02 00:15:00,${IMP('M1')},1,192,0,192\n`));
    expect(ts.code).toBe('E_INPUT_TIMESTAMP');
    expect(ts.message).toMatch(/M1\.txt:2: field "timestamp": .* found "2021-13-02 00:15:00"/);
    const num = await failure((dir) => writeFileSync(join(dir, 'M1.txt'), `\n2021-09-02 00:00:00,${IMP('M1')},12;5,192,0,192\n`));
    expect(num.code).toBe('E_INPUT_NUMBER');
    expect(num.message).toMatch(/M1\.txt:2: field "energy": expected a number but found "12;5"/);
    const empty = await failure((dir) => writeFileSync(join(dir, 'M1.txt'), `2021-09-02 00:00:00,${IMP('M1')},,192,0,192\n`));
    expect(empty.message).toMatch(/M1\.txt:1: field "energy"/);
  });

  it('refuses a header line (historian exports have none)', async () => {
    const f = await failure((dir) => writeFileSync(join(dir, 'M1.txt'), `timestamp,tagname,energy,quality,qualityDetail,OPCquality\n`));
    expect(f.code).toBe('E_INPUT_HEADER');
  });

  it('names an unknown meter, or skips it with --on-bad-row skip', async () => {
    const f = await failure((dir) => writeTxt(dir, { M1: m1Rows(), MX: m1Rows() }));
    expect(f.code).toBe('E_INPUT_UNKNOWN_METER');
    expect(f.message).toMatch(/MX\.txt: meter MX is not in the meter description/);
    const dir = tempDir();
    writeTxt(dir, { M1: m1Rows(), MX: m1Rows() });
    const skipped = await cleanToCsv(sqlFolderSource(dir), meters, { onBadRow: 'skip' });
    expect(skipped.metrics.meters_unknown).toBe(1);
    expect(skipped.csv).not.toContain('MX,');
  });

  it('skips and counts bad rows with --on-bad-row skip', async () => {
    const dir = tempDir();
    const rows = m1Rows().map((r) => `${r[0]},${r[1]},${r[2]},192,0,192`);
    rows.splice(5, 0, 'garbage', `2021-09-02 xx,${IMP('M1')},1,1,1,1`, `2021-09-02 00:00:00,${IMP('M1')},abc,1,1,1`);
    writeFileSync(join(dir, 'M1.txt'), rows.join('\n') + '\n');
    const r = await cleanToCsv(sqlFolderSource(dir), meters, { onBadRow: 'skip' });
    expect(r.metrics.records_dropped_bad_row).toBe(3);
    expect(r.metrics.records_read).toBe(195);
    expect(r.metrics.days_kept).toBe(1);
  });
});

describe('SQL historian in a SQLite file', () => {
  it('gives the same clean profiles as the text exports of the same rows', async () => {
    const dir = tempDir();
    const m2 = quarterRows('2021-09-02', IMP('M2'), (h, q) => h * 10 + q);
    const m2b = quarterRows('2021-09-03', IMP('M2'), (h) => 7 + h);
    writeTxt(join(dir, 'txt'), { M1: m1Rows(), M2: [...m2, ...m2b] });
    writeSqlite(join(dir, 'h.sqlite'), [...m2b, ...m1Rows(), ...m2]);
    const meters = meterMap([['M1', 40, 10], ['M2', null, null]]);
    const fromTxt = await cleanToCsv(sqlFolderSource(join(dir, 'txt')), meters);
    const fromDb = await cleanToCsv(sqlDatabaseSource(join(dir, 'h.sqlite')), meters);
    expect(fromDb.csv).toBe(fromTxt.csv);
    expect(fromDb.metrics.records_read).toBe(fromTxt.metrics.records_read);
    expect(fromTxt.metrics.days_kept).toBe(3);
  });

  it('reads the shipped sample loaded into SQLite like the text files', async () => {
    const dir = tempDir();
    const rows: Row[] = [];
    for (const f of ['SGSC10006414', 'SGSC10006630', 'SGSC10006664', 'SGSC10006674', 'SGSC10006684']) {
      for (const line of readFileSync(`data/sql/${f}.txt`, 'utf8').trim().split('\n')) {
        const p = line.split(',');
        rows.push([p[0]!, p[1]!, Number(p[2])]);
      }
    }
    writeSqlite(join(dir, 'sample.sqlite'), rows, 'hist');
    const meters = await readMeterDescription('data/meters.csv');
    const rules = await loadRules('data/rules.yaml');
    const a = await cleanToCsv(sqlFolderSource('data/sql'), meters, { rules });
    const b = await cleanToCsv(sqlDatabaseSource(join(dir, 'sample.sqlite'), 'hist'), meters, { rules });
    expect(b.csv).toBe(a.csv);
  });

  it('groups rows by exact meter even when tag texts interleave (M, M.kWh, M-x.kWh); skips tags without meter', async () => {
    const dir = tempDir();
    const file = join(dir, 'mixed.sqlite');
    const rows: Row[] = [
      ...quarterRows('2021-09-02', 'Energy_Ameno_1_8_0_M', () => 1),
      ...quarterRows('2021-09-02', 'Energy_Ameno_1_8_0_M-x.kWh', () => 5),
      ...quarterRows('2021-09-02', 'Energy_Ameno_2_8_0_M.kWh', () => 0.5),
      ['2021-09-02 00:00:00', 'Energy_', 1],
    ];
    // Interleave the meters row by row.
    const mixed = rows.map((r, i) => [r, (i % 96) * 10 + Math.floor(i / 96)] as const).sort((a, b) => a[1] - b[1]).map((x) => x[0]);
    writeSqlite(file, mixed);
    const meters = meterMap([['M', null, null], ['M-x', null, null]]);
    await expect(cleanToCsv(sqlDatabaseSource(file), meters)).rejects.toMatchObject({ code: 'E_INPUT_TAG' });
    const r = await cleanToCsv(sqlDatabaseSource(file), meters, { onBadRow: 'skip' });
    expect(r.metrics.records_dropped_bad_row).toBe(1);
    expect(row(r.csv, 'M', '2021-09-02')).toEqual(new Array(24).fill(2));
    expect(row(r.csv, 'M-x', '2021-09-02')).toEqual(new Array(24).fill(20));
  });

  it('names the database, table, meter and row of bad data', async () => {
    const dir = tempDir();
    const file = join(dir, 'bad.sqlite');
    writeSqlite(file, [...m1Rows().slice(0, 3), ['2021-09-02 00:45:00', IMP('M1'), 'n/a']]);
    const meters = meterMap([['M1', 40, 10]]);
    await expect(cleanToCsv(sqlDatabaseSource(file), meters)).rejects.toThrow(/bad\.sqlite: table historian, meter M1, row \d+: field "energy": expected a number but found "n\/a"/);
    const r = await cleanToCsv(sqlDatabaseSource(file), meters, { onBadRow: 'skip' });
    expect(r.metrics.records_dropped_bad_row).toBe(1);
  });

  it('names a missing file, a missing table, an empty table, a tag without meter and an unknown meter', async () => {
    const dir = tempDir();
    const meters = meterMap([['M1', 40, 10]]);
    await expect(cleanToCsv(sqlDatabaseSource(join(dir, 'none.sqlite')), meters)).rejects.toThrow(/none\.sqlite: no such file/);
    const file = join(dir, 'h.sqlite');
    writeSqlite(file, m1Rows());
    await expect(cleanToCsv(sqlDatabaseSource(file, 'other'), meters)).rejects.toMatchObject({ code: 'E_INPUT_TABLE', message: expect.stringMatching(/no such table: other/) });
    const emptyFile = join(dir, 'empty.sqlite');
    writeSqlite(emptyFile, []);
    await expect(cleanToCsv(sqlDatabaseSource(emptyFile), meters)).rejects.toMatchObject({ code: 'E_INPUT_EMPTY' });
    const badTag = join(dir, 'tag.sqlite');
    writeSqlite(badTag, [['2021-09-02 00:00:00', 'Energy', 1]]);
    await expect(cleanToCsv(sqlDatabaseSource(badTag), meters)).rejects.toMatchObject({ code: 'E_INPUT_TAG', message: expect.stringMatching(/"Energy"/) });
    const unknown = join(dir, 'unknown.sqlite');
    writeSqlite(unknown, [...m1Rows(), ...quarterRows('2021-09-02', IMP('MZ'), () => 1)]);
    await expect(cleanToCsv(sqlDatabaseSource(unknown), meters)).rejects.toMatchObject({ code: 'E_INPUT_UNKNOWN_METER', message: expect.stringMatching(/meter MZ/) });
    const notDb = join(dir, 'text.sqlite');
    mkdirSync(join(dir, 'x'));
    writeFileSync(notDb, 'this is not a database file at all, just text that is long enough');
    await expect(cleanToCsv(sqlDatabaseSource(notDb), meters)).rejects.toThrow(/text\.sqlite/);
  });
});
