/**
 * The clean profiles CSV contract (design.md): header `id,date,<slot>...` with `<slot>` the local
 * start time `HH:MM` of each slot; one row per meter and day; energy in Wh per slot.
 */
import { promises as fsp } from 'node:fs';
import { inputError } from '../errors.js';
import { writeLinesAtomic } from './atomic.js';
import { csvField, forEachLine, splitCsvLine } from './csv.js';

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
  // Rows are parsed straight into one growing Float64Array: no array of fields per row. Its first
  // size comes from the file size and the first row, so a 10⁶-row file is not grown by doubling.
  let size = 0;
  try {
    size = (await fsp.stat(file)).size;
  } catch {
    // forEachLine names a missing file.
  }
  let values = new Float64Array(0);
  let n = 0;
  let L = 0;
  // Comma positions of the row being parsed (fields f are text between cuts[f] + 1 and cuts[f + 1]).
  let cuts = new Int32Array(0);
  // Meter ids and dates repeat (one meter's days are usually contiguous, a year has 366 dates):
  // each distinct text is held once, and (meter, date) is a number for the duplicate check.
  let lastId: string | undefined;
  let lastMeter = -1;
  const meterIndex = new Map<string, number>();
  const meterText: string[] = [];
  const dateIndex = new Map<string, number>();
  const dateText: string[] = [];
  // (meter, date) → first line, to name both lines of a repeated day.
  const seen = options.allowDuplicates ? undefined : new Map<number, number>();
  const rowError = (code: string, message: string, where: Record<string, string | number>, hint?: string) => inputError(code, `${file}:${where.line}: ${message}`, { ...(hint ? { hint } : {}), where: { file, ...where } });
  const onLine = (line: string, lineNo: number): void => {
    if (slots === undefined) {
      slots = parseProfilesHeader(line, file, lineNo);
      L = slots.length;
      cuts = new Int32Array(L + 3);
      return;
    }
    if (line === '') return;
    // A quoted field (an id with a comma) goes through the general splitter; plain rows are cut at commas.
    const quoted = line.indexOf('"') >= 0 ? splitCsvLine(line) : undefined;
    let count: number;
    if (quoted) count = quoted.length;
    else {
      cuts[0] = -1;
      count = 1;
      for (let c = line.indexOf(','); c >= 0 && count <= L + 2; c = line.indexOf(',', c + 1)) cuts[count++] = c;
      if (count === L + 2) cuts[count] = line.length;
      else if (count > L + 2) count = line.split(',').length;
    }
    if (count !== L + 2) throw rowError('E_INPUT_ROW', `expected ${L + 2} fields but found ${count}`, { line: lineNo });
    const field = (f: number): string => (quoted ? quoted[f] : line.slice(cuts[f] + 1, cuts[f + 1]));
    let id = field(0);
    const dateRaw = field(1);
    let day = dateIndex.get(dateRaw);
    if (day === undefined) {
      if (!isCalendarDate(dateRaw)) {
        const shape = DATE_RE.test(dateRaw);
        throw rowError('E_INPUT_DATE', `expected a date YYYY-MM-DD in column "date" but found "${dateRaw}"${shape ? ', which is not a day of the calendar' : ''}`, { line: lineNo, field: 'date', meter: id });
      }
      day = dateText.length;
      dateIndex.set(dateRaw, day);
      dateText.push(dateRaw);
    }
    const date = dateText[day];
    if (id === lastId) id = lastId;
    else {
      let m = meterIndex.get(id);
      if (m === undefined) {
        m = meterText.length;
        meterIndex.set(id, m);
        meterText.push(id);
      } else id = meterText[m];
      lastId = id;
      lastMeter = m;
    }
    if (seen !== undefined) {
      // Below 2^53 for up to 2^27 meters and 2^26 distinct dates (far beyond any calendar).
      const key = lastMeter * 0x4000000 + day;
      const first = seen.get(key);
      if (first !== undefined) {
        throw rowError('E_INPUT_DUPLICATE', `meter ${id} on ${date} appears again (first on line ${first}); a profiles file has one row per meter and day`, { line: lineNo, meter: id, date }, 'remove the repeated row, or rebuild the file with `lpclust harmonize`, which keeps one row per meter and day');
      }
      seen.set(key, lineNo);
    }
    if ((n + 1) * L > values.length) {
      // First row: room for the whole file at this row's length (+ 10 %); later, doubling.
      const rows = n === 0 ? Math.max(1024, Math.ceil((1.1 * size) / (line.length + 1))) : 2 * (values.length / L);
      const grown = new Float64Array(rows * L);
      grown.set(values);
      values = grown;
    }
    const base = n * L;
    for (let j = 0; j < L; j++) {
      const cell = field(j + 2);
      let v: number;
      if (cell === '') {
        if (!options.allowMissing) {
          throw rowError('E_INPUT_MISSING_VALUE', `meter ${id} on ${date} has no value in column ${slots[j]}`, { line: lineNo, field: slots[j], meter: id, date }, 'clean profiles must be complete; run `lpclust harmonize`, which drops incomplete rows');
        }
        v = NaN;
      } else {
        v = Number(cell);
        if (!Number.isFinite(v)) {
          throw rowError('E_INPUT_NUMBER', `expected a finite number in column ${slots[j]} but found "${cell}"`, { line: lineNo, field: slots[j], meter: id, date });
        }
        if (Math.abs(v) > MAX_PROFILE_VALUE) {
          throw rowError('E_INPUT_RANGE', `meter ${id} on ${date} has ${cell} Wh in column ${slots[j]}; expected at most ${MAX_PROFILE_VALUE.toExponential()} Wh per slot in magnitude`, { line: lineNo, field: slots[j], meter: id, date }, 'check the units and the source data (such values overflow the norms and distances)');
        }
      }
      values[base + j] = v;
    }
    ids.push(id);
    dates.push(date);
    n++;
  };
  await forEachLine(file, onLine);
  if (slots === undefined) {
    throw inputError('E_INPUT_EMPTY', `${file} is empty: expected a header "id,date,00:00,..."`, { where: { file } });
  }
  // The buffer is sized from the file (+ 10 %): a view of its filled part, not a copy (a 10⁶-row
  // file would briefly hold its 192 MB of values twice); a buffer grown by doubling is trimmed.
  const filled = n * L;
  return { ids, dates, slots, values: values.length === filled ? values : values.length <= 1.25 * filled ? values.subarray(0, filled) : values.slice(0, filled), n, length: L };
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
