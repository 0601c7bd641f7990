/**
 * The clean profiles CSV contract (design.md): header `id,date,<slot>...` with `<slot>` the local
 * start time `HH:MM` of each slot; one row per meter and day; energy in Wh per slot.
 */
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
 * Read a clean profiles (or harmonized) CSV.
 * @throws LpclustError naming the file, line and column for a wrong header, an unparsable number or
 *   an empty cell.
 */
export async function readProfiles(file: string, options: ReadProfilesOptions = {}): Promise<ProfileTable> {
  let slots: string[] | undefined;
  const ids: string[] = [];
  const dates: string[] = [];
  let values = new Float64Array(1024);
  let n = 0;
  let L = 0;
  for await (const { line, lineNo } of readLines(file)) {
    if (slots === undefined) {
      const head = splitCsvLine(line);
      if (head[0] !== 'id' || head[1] !== 'date' || head.length < 3) {
        throw inputError('E_INPUT_HEADER', `${file}:${lineNo}: expected a header "id,date,00:00,..." but found "${line.slice(0, 80)}"`, {
          hint: 'give a clean profiles CSV as written by `lpclust etl` or `lpclust harmonize`',
          where: { file, line: lineNo },
        });
      }
      slots = head.slice(2);
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
    if (!DATE_RE.test(f[1])) {
      throw inputError('E_INPUT_DATE', `${file}:${lineNo}: expected a date YYYY-MM-DD in column "date" but found "${f[1]}"`, {
        where: { file, line: lineNo, field: 'date', meter: f[0] },
      });
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
