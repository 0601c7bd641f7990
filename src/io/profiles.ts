/**
 * The clean profiles CSV contract (design.md): header `id,date,<slot>...` with `<slot>` the local
 * start time `HH:MM` of each slot; one row per meter and day; energy in Wh per slot.
 */
import { promises as fsp } from 'node:fs';
import { inputError } from '../errors.js';
import { writeLinesAtomic } from './atomic.js';
import { csvField, readLines, splitCsvLine } from './csv.js';

/** A table of daily profiles: `n` rows of `length` slots. */
export interface ProfileTable {
  /** Meter id of each row; length n. */
  ids: string[];
  /** Local date `YYYY-MM-DD` of each row; length n. */
  dates: string[];
  /** Slot labels `HH:MM`; length L. */
  slots: string[];
  /** Values, shape n × L, row-major; Wh per slot (NaN = missing, only when allowed). */
  values: Float64Array;
  /** Number of rows. */
  n: number;
  /** Number of slots per row (L). */
  length: number;
}

/** Options of {@link readProfiles}. */
export interface ReadProfilesOptions {
  /** Keep rows with empty cells as NaN instead of failing (harmonize counts and drops them). */
  allowMissing?: boolean;
  /**
   * Accept the same (meter, date) on several rows (default false: the contract is one row per meter
   * and day, and a repeated row would silently count twice in clustering and validation).
   */
  allowDuplicates?: boolean;
}

/**
 * Largest magnitude accepted for a profile value, in Wh per slot. Far above any meter (10^12 Wh is
 * a terawatt-hour in one slot) yet small enough that sums of squares over a day of slots stay
 * finite in double precision; larger values are unit or parsing mistakes, and would turn norms
 * and distances into infinity.
 */
export const MAX_PROFILE_VALUE = 1e12;

/** True for a real calendar date `YYYY-MM-DD` (2023-02-30 and 2023-13-01 are not). */
export function isCalendarDate(s: string): boolean {
  if (!DATE_RE.test(s)) return false;
  const y = Number(s.slice(0, 4));
  const m = Number(s.slice(5, 7));
  const d = Number(s.slice(8, 10));
  if (m < 1 || m > 12 || d < 1) return false;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1];
  return d <= days;
}

const SLOT_RE = /^([01]\d|2[0-3]):[0-5]\d$/;
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

/** Slot labels for a resolution in minutes: 60 → `00:00`..`23:00`. */
export function slotLabels(resolutionMinutes: number): string[] {
  if (!Number.isInteger(resolutionMinutes) || resolutionMinutes <= 0 || 1440 % resolutionMinutes !== 0) {
    throw inputError('E_RESOLUTION', `Expected a resolution in minutes that divides a day (e.g. 15, 30, 60) but received ${resolutionMinutes}`);
  }
  const out: string[] = [];
  for (let m = 0; m < 1440; m += resolutionMinutes) {
    out.push(`${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`);
  }
  return out;
}

/** Resolution in minutes implied by slot labels (`00:00`, `01:00`, … → 60). */
export function resolutionOf(slots: readonly string[]): number {
  return 1440 / slots.length;
}

/**
 * Check the header line of a profiles CSV and return its slot labels.
 * @throws LpclustError E_INPUT_HEADER naming the file and line: not `id,date,HH:MM...`, a slot
 *   column not named HH:MM, or slot columns that do not divide a day into equal slots
 */
export function parseProfilesHeader(line: string, file: string, lineNo = 1): string[] {
  const head = splitCsvLine(line);
  if (head[0] !== 'id' || head[1] !== 'date' || head.length < 3) {
    throw inputError('E_INPUT_HEADER', `${file}:${lineNo}: expected a header "id,date,00:00,..." but found "${line.slice(0, 80)}"`, {
      hint: 'give a clean profiles CSV as written by `lpclust etl` or `lpclust harmonize`',
      where: { file, line: lineNo },
    });
  }
  const slots = head.slice(2);
  for (const s of slots) {
    if (!SLOT_RE.test(s)) {
      throw inputError('E_INPUT_HEADER', `${file}:${lineNo}: expected slot columns named HH:MM but found "${s}"`, {
        where: { file, line: lineNo, field: s },
      });
    }
  }
  if (1440 % slots.length !== 0) {
    throw inputError('E_INPUT_HEADER', `${file}:${lineNo}: ${slots.length} slot columns do not divide a day into equal slots`, {
      where: { file, line: lineNo },
    });
  }
  return slots;
}

/**
 * Read only the header of a profiles CSV (before a run starts, so that a wrong file is a usage
 * mistake that leaves no FAILED run).
 * @returns the slot labels
 * @throws LpclustError E_INPUT_MISSING, E_INPUT_EMPTY or E_INPUT_HEADER naming the file
 */
export async function readProfilesHeader(file: string): Promise<string[]> {
  let text: string;
  try {
    // A header is far shorter than 64 KiB (a 1-minute day is 1,440 columns of 6 characters).
    const fh = await fsp.open(file, 'r');
    try {
      const buf = Buffer.alloc(1 << 16);
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      text = buf.subarray(0, bytesRead).toString('utf8');
    } finally {
      await fh.close();
    }
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw inputError('E_INPUT_MISSING', `cannot read ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`, { hint: 'check the path', where: { file }, cause: e });
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const end = text.indexOf('\n');
  const line = (end < 0 ? text : text.slice(0, end)).replace(/\r$/, '');
  if (line === '') throw inputError('E_INPUT_EMPTY', `${file} is empty: expected a header "id,date,00:00,..."`, { where: { file } });
  return parseProfilesHeader(line, file, 1);
}

/**
 * Read a clean profiles (or harmonized) CSV.
 * @throws LpclustError naming the file, line and column for a wrong header, an unparsable number,
 *   a value beyond {@link MAX_PROFILE_VALUE}, an empty cell, a date not of the calendar, or a
 *   (meter, date) already seen on an earlier line.
 */
export async function readProfiles(file: string, options: ReadProfilesOptions = {}): Promise<ProfileTable> {
  let slots: string[] | undefined;
  const ids: string[] = [];
  const dates: string[] = [];
  let values = new Float64Array(1024);
  let n = 0;
  let L = 0;
  // (meter, date) → first line, to name both lines of a repeated day.
  const seen = options.allowDuplicates ? undefined : new Map<string, number>();
  for await (const { line, lineNo } of readLines(file)) {
    if (slots === undefined) {
      slots = parseProfilesHeader(line, file, lineNo);
      L = slots.length;
      continue;
    }
    if (line === '') continue;
    const f = splitCsvLine(line);
    if (f.length !== L + 2) {
      throw inputError('E_INPUT_ROW', `${file}:${lineNo}: expected ${L + 2} fields but found ${f.length}`, {
        where: { file, line: lineNo },
      });
    }
    if (!isCalendarDate(f[1])) {
      const shape = DATE_RE.test(f[1]);
      throw inputError('E_INPUT_DATE', `${file}:${lineNo}: expected a date YYYY-MM-DD in column "date" but found "${f[1]}"${shape ? ', which is not a day of the calendar' : ''}`, {
        where: { file, line: lineNo, field: 'date', meter: f[0] },
      });
    }
    if (seen !== undefined) {
      const key = `${f[0]}\u0000${f[1]}`;
      const first = seen.get(key);
      if (first !== undefined) {
        throw inputError('E_INPUT_DUPLICATE', `${file}:${lineNo}: meter ${f[0]} on ${f[1]} appears again (first on line ${first}); a profiles file has one row per meter and day`, {
          hint: 'remove the repeated row, or rebuild the file with `lpclust harmonize`, which keeps one row per meter and day',
          where: { file, line: lineNo, meter: f[0], date: f[1] },
        });
      }
      seen.set(key, lineNo);
    }
    if ((n + 1) * L > values.length) {
      const grown = new Float64Array(values.length * 2);
      grown.set(values);
      values = grown;
    }
    const base = n * L;
    for (let j = 0; j < L; j++) {
      const cell = f[j + 2];
      let v: number;
      if (cell === '') {
        if (!options.allowMissing) {
          throw inputError('E_INPUT_MISSING_VALUE', `${file}:${lineNo}: meter ${f[0]} on ${f[1]} has no value in column ${slots[j]}`, {
            hint: 'clean profiles must be complete; run `lpclust harmonize`, which drops incomplete rows',
            where: { file, line: lineNo, field: slots[j], meter: f[0], date: f[1] },
          });
        }
        v = NaN;
      } else {
        v = Number(cell);
        if (!Number.isFinite(v)) {
          throw inputError('E_INPUT_NUMBER', `${file}:${lineNo}: expected a finite number in column ${slots[j]} but found "${cell}"`, {
            where: { file, line: lineNo, field: slots[j], meter: f[0], date: f[1] },
          });
        }
        if (Math.abs(v) > MAX_PROFILE_VALUE) {
          throw inputError('E_INPUT_RANGE', `${file}:${lineNo}: meter ${f[0]} on ${f[1]} has ${cell} Wh in column ${slots[j]}; expected at most ${MAX_PROFILE_VALUE.toExponential()} Wh per slot in magnitude`, {
            hint: 'check the units and the source data (such values overflow the norms and distances)',
            where: { file, line: lineNo, field: slots[j], meter: f[0], date: f[1] },
          });
        }
      }
      values[base + j] = v;
    }
    ids.push(f[0]);
    dates.push(f[1]);
    n++;
  }
  if (slots === undefined) {
    throw inputError('E_INPUT_EMPTY', `${file} is empty: expected a header "id,date,00:00,..."`, { where: { file } });
  }
  return { ids, dates, slots, values: values.slice(0, n * L), n, length: L };
}

/** Format a number as the shortest text that reads back to the same double. */
export function formatNumber(v: number): string {
  return Number.isNaN(v) ? '' : String(v);
}

/** Write a profile table atomically (NaN becomes an empty cell). */
export async function writeProfiles(file: string, table: ProfileTable): Promise<void> {
  const L = table.length;
  await writeLinesAtomic(file, `id,date,${table.slots.join(',')}`, table.n, (i) => {
    let row = `${csvField(table.ids[i])},${table.dates[i]}`;
    for (let j = 0; j < L; j++) row += ',' + formatNumber(table.values[i * L + j]);
    return row;
  });
}
