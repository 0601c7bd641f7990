/**
 * The streaming profiles reader (io/profiles.ts over io/csv.ts forEachLine): the same lines as the
 * readline-based readLines across chunk boundaries (CRLF split between chunks, lone CR, BOM), the
 * same table as a plain split-and-parse on a file larger than the read buffer, and every row error
 * naming the file, line, meter, date and column.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { forEachLine, readLines } from '../../src/io/csv.js';
import { readProfiles } from '../../src/io/profiles.js';
import { LpclustError } from '../../src/errors.js';
import { Random } from '../../src/util/random.js';

const dir = mkdtempSync(path.join(tmpdir(), 'lpclust-profiles-read-'));
const SLOTS = Array.from({ length: 24 }, (_, h) => `${String(h).padStart(2, '0')}:00`);
const HEADER = `id,date,${SLOTS.join(',')}`;

async function viaReadline(file: string): Promise<Array<[number, string]>> {
  const out: Array<[number, string]> = [];
  for await (const { line, lineNo } of readLines(file)) out.push([lineNo, line]);
  return out;
}

async function viaChunks(file: string, chunkChars: number): Promise<Array<[number, string]>> {
  const out: Array<[number, string]> = [];
  await forEachLine(file, (line, lineNo) => out.push([lineNo, line]), { chunkChars });
  return out;
}

async function readError(file: string): Promise<LpclustError> {
  try {
    await readProfiles(file);
  } catch (e) {
    return e as LpclustError;
  }
  throw new Error(`${file} was read without an error`);
}

describe('forEachLine', () => {
  it('gives the lines and numbers readline gives, whatever the chunk size', async () => {
    const texts = ['\ufeffa,b\r\nc,d\r\n\r\ne\n', 'x\ry\r\nz', 'one\n\ntwo\r\rthree\r', 'no newline at all', '', '\n\n', 'a\r\n'];
    for (const [t, text] of texts.entries()) {
      const file = path.join(dir, `lines-${t}.txt`);
      writeFileSync(file, text);
      const want = await viaReadline(file);
      for (const chunk of [1, 2, 3, 5, 64]) expect(await viaChunks(file, chunk), `${JSON.stringify(text)} in chunks of ${chunk}`).toEqual(want);
    }
  });

  it('names a missing file', async () => {
    await expect(forEachLine(path.join(dir, 'nope.csv'), () => undefined)).rejects.toThrow(/cannot read .*nope\.csv: no such file/);
  });
});

describe('readProfiles', () => {
  it('reads a file larger than its read buffer into the same table as a plain parse', async () => {
    const rng = new Random(9);
    const rows: string[] = [];
    // 14,000 rows of about 140 characters: about 2 MB, two read chunks of 1 MiB and a split row.
    for (let i = 0; i < 14000; i++) {
      const meter = i < 7000 ? `M${i % 50}` : `"Meter, ${i % 50}"`;
      const date = new Date(Date.UTC(2020, 0, 1) + Math.floor(i / 50) * 86400000).toISOString().slice(0, 10);
      rows.push(`${meter},${date},${SLOTS.map(() => (rng.normal() * 1000).toPrecision(1 + rng.int(15))).join(',')}`);
    }
    const file = path.join(dir, 'big.csv');
    writeFileSync(file, `${HEADER}\r\n${rows.join('\r\n')}\r\n`);
    const t = await readProfiles(file);
    expect(t.n).toBe(14000);
    expect(t.slots).toEqual(SLOTS);
    expect(t.values.length).toBe(14000 * 24);
    for (let i = 0; i < 14000; i += 1) {
      const quoted = rows[i].startsWith('"');
      const f = quoted ? [rows[i].slice(1, rows[i].indexOf('"', 1)), ...rows[i].slice(rows[i].indexOf('"', 1) + 2).split(',')] : rows[i].split(',');
      expect(t.ids[i]).toBe(f[0]);
      expect(t.dates[i]).toBe(f[1]);
      for (let j = 0; j < 24; j++) if (!Object.is(t.values[i * 24 + j], Number(f[j + 2]))) throw new Error(`row ${i} slot ${j}: ${t.values[i * 24 + j]} ≠ ${f[j + 2]}`);
    }
  });

  it('names the file, line, meter, date and column of a bad row', async () => {
    const ok = (meter: string, date: string) => `${meter},${date},${SLOTS.map((_, j) => j + 1).join(',')}`;
    const cases: Array<[string, string, string, Record<string, unknown>]> = [
      ['fields', `${ok('A', '2021-01-01')}\nA,2021-01-02,1,2`, 'E_INPUT_ROW', { line: 3 }],
      ['date', `${ok('A', '2021-01-01')}\n${ok('A', '2021-02-30')}`, 'E_INPUT_DATE', { line: 3, field: 'date', meter: 'A' }],
      // A meter that comes back after another one: the repeat is still found, with both lines.
      ['dup', `${ok('A', '2021-01-01')}\n${ok('B', '2021-01-01')}\n${ok('A', '2021-01-01')}`, 'E_INPUT_DUPLICATE', { line: 4, meter: 'A', date: '2021-01-01' }],
      ['empty', `${ok('A', '2021-01-01').replace(',3,', ',,')}`, 'E_INPUT_MISSING_VALUE', { line: 2, field: '02:00', meter: 'A', date: '2021-01-01' }],
      ['number', `${ok('A', '2021-01-01').replace(',3,', ',3x,')}`, 'E_INPUT_NUMBER', { line: 2, field: '02:00', meter: 'A', date: '2021-01-01' }],
      ['range', `${ok('A', '2021-01-01').replace(',3,', ',3e13,')}`, 'E_INPUT_RANGE', { line: 2, field: '02:00' }],
    ];
    const messages: Record<string, string> = {};
    for (const [name, body, code, where] of cases) {
      const file = path.join(dir, `bad-${name}.csv`);
      writeFileSync(file, `${HEADER}\n${body}\n`);
      const e = await readError(file);
      expect(e, name).toBeInstanceOf(LpclustError);
      expect(e.code, name).toBe(code);
      expect(e.where, name).toMatchObject({ file, ...where });
      messages[name] = e.message.replace(`${file}:`, '');
    }
    expect(messages).toEqual({
      fields: '3: expected 26 fields but found 4',
      date: '3: expected a date YYYY-MM-DD in column "date" but found "2021-02-30", which is not a day of the calendar',
      dup: '4: meter A on 2021-01-01 appears again (first on line 2); a profiles file has one row per meter and day',
      empty: '2: meter A on 2021-01-01 has no value in column 02:00',
      number: '2: expected a finite number in column 02:00 but found "3x"',
      range: '2: meter A on 2021-01-01 has 3e13 Wh in column 02:00; expected at most 1e+12 Wh per slot in magnitude',
    });
  });

  it('keeps repeated rows when asked, and NaN for empty cells with allowMissing', async () => {
    const file = path.join(dir, 'dups.csv');
    const row = `A,2021-01-01,${SLOTS.map((_, j) => (j === 3 ? '' : j)).join(',')}`;
    writeFileSync(file, `${HEADER}\n${row}\n${row}\n`);
    const t = await readProfiles(file, { allowDuplicates: true, allowMissing: true });
    expect(t.n).toBe(2);
    expect(Number.isNaN(t.values[3])).toBe(true);
    expect(t.values[4]).toBe(4);
  });
});
