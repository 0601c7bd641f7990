/**
 * Harmonization: the union of the clean profiles CSVs of the sources (the registered ones, see
 * `etl/sources.ts`: old Mongo, SQL historian, new Mongo, generic CSV) after a resolution check, the rules file's excluded meters, the removal of
 * incomplete rows and of (id, date) duplicates across sources. Pure: tables in, table and report out.
 */
import { inputError } from '../errors.js';
import { resolutionOf, type ProfileTable } from '../io/profiles.js';
import { PRECEDENCE, precedenceFor, SOURCE_NAMES, type SourceName } from '../etl/sources.js';

/** The sources harmonize joins: every registered source. */
export type HarmonizeSource = SourceName;

/** Every source, in the order options and reports list them. */
export const HARMONIZE_SOURCES: readonly HarmonizeSource[] = SOURCE_NAMES;

/**
 * Which source's row is kept when the same (id, date) comes from several sources: the first in
 * the registry's precedence. The newest of the utility's systems wins (new Mongo, then the SQL
 * historian, then the old Mongo export), because later systems carry corrected readings of the
 * same meters; a generic CSV comes last (it fills days the others lack). This constant is the
 * precedence as reported when only those three are given ({@link precedenceFor}).
 */
export const SOURCE_PRECEDENCE: readonly HarmonizeSource[] = precedenceFor([]);

/** One clean profiles table and where it came from. */
export interface SourceTable {
  source: HarmonizeSource;
  /** The file it was read from (for messages). */
  file: string;
  /** Its rows; NaN marks a missing value (read with `allowMissing`). */
  table: ProfileTable;
}

/** A meter the rules file excludes, from some sources or (no `sources`) from all. */
export interface MeterExclusion {
  meter: string;
  /** Sources it is excluded from; undefined = every source. */
  sources?: readonly HarmonizeSource[];
}

/** What happened to one source's rows. rowsIn = excluded + droppedIncomplete + droppedZero + duplicatesDropped + rowsKept. */
export interface SourceCounts {
  file: string;
  rowsIn: number;
  /** Rows of meters excluded by the rules. */
  excluded: number;
  /** Rows with at least one missing value. */
  droppedIncomplete: number;
  /** All-zero rows dropped (only with `dropZeroDays`). */
  droppedZero: number;
  /** Rows whose (id, date) a source of higher precedence also had. */
  duplicatesDropped: number;
  /** Rows in the harmonized table. */
  rowsKept: number;
}

/** One (id, date) present in several sources. */
export interface DuplicateExample {
  id: string;
  date: string;
  /** Sources holding it, in precedence order; the first is kept. */
  sources: HarmonizeSource[];
  /** True when the sources' values differ (beyond 1e-9 relative). */
  valuesDiffer: boolean;
}

/** The report of {@link harmonizeTables}. */
export interface HarmonizeReport {
  /** Counts per source given. */
  perSource: Partial<Record<HarmonizeSource, SourceCounts>>;
  /** Number of (id, date) keys found in more than one source. */
  duplicateKeys: number;
  /** Of those, how many had different values. */
  duplicateKeysDiffering: number;
  /** Up to `maxExamples` duplicate keys, in id/date order. */
  duplicateExamples: DuplicateExample[];
  /** Rows of the harmonized table. */
  rowsOut: number;
  /** Distinct meters in the harmonized table. */
  meters: number;
  /** All-zero rows in the harmonized table (they cannot be L2-normalised for DTW or clustering). */
  zeroRows: number;
  /** Minutes per slot. */
  resolutionMinutes: number;
  /** The precedence used (first wins). */
  precedence: HarmonizeSource[];
  /** Meters excluded (by rule) that had rows, per source. */
  excludedMeters: Partial<Record<HarmonizeSource, string[]>>;
}

/** Options of {@link harmonizeTables}. */
export interface HarmonizeOptions {
  /** Meters to drop (the rules file's exclusions). */
  exclude?: readonly MeterExclusion[];
  /**
   * Drop days whose every slot is 0 (no consumption recorded: they have no L2 norm, so DTW and
   * clustering on normalised rows cannot use them). Default false: kept and counted.
   */
  dropZeroDays?: boolean;
  /** How many duplicate keys to list in the report (default 20). */
  maxExamples?: number;
}

/**
 * Refuse tables whose slot columns differ (another resolution or another slot grid).
 * @throws LpclustError E_HARMONIZE_RESOLUTION naming every file with its slot count and resolution.
 */
export function checkSameSlots(sources: readonly SourceTable[]): void {
  if (sources.length < 2) return;
  const ref = sources[0].table.slots.join(',');
  if (sources.every((s) => s.table.slots.join(',') === ref)) return;
  const list = sources
    .map((s) => `${s.file} (${s.source}): ${s.table.length} slots, ${describeResolution(s.table.slots)}`)
    .join('; ');
  throw inputError('E_HARMONIZE_RESOLUTION', `the clean CSVs do not have the same slot columns: ${list}`, {
    hint: 'run every `lpclust etl` with the same --resolution and --timezone, then harmonize again',
  });
}

function describeResolution(slots: readonly string[]): string {
  const minutes = resolutionOf(slots);
  return `${Number.isInteger(minutes) ? minutes : minutes.toFixed(2)}-minute resolution starting at ${slots[0] ?? '?'}`;
}

function isExcluded(exclude: readonly MeterExclusion[], meter: string, source: HarmonizeSource): boolean {
  for (const e of exclude) if (e.meter === meter && (!e.sources || e.sources.includes(source))) return true;
  return false;
}

/**
 * Join clean profile tables into one harmonized table: exclusions first, then incomplete rows,
 * then cross-source duplicates (kept by {@link SOURCE_PRECEDENCE}); rows sorted by id, then date
 * (code-point order, as the clean CSV contract sorts).
 * @throws LpclustError E_HARMONIZE_NO_SOURCE with no source, E_HARMONIZE_RESOLUTION (see
 *   {@link checkSameSlots}), E_HARMONIZE_DUPLICATE_ROW when one file repeats an (id, date),
 *   E_HARMONIZE_SOURCE_TWICE when a source is given twice.
 */
export function harmonizeTables(
  sources: readonly SourceTable[],
  options: HarmonizeOptions = {},
): { table: ProfileTable; report: HarmonizeReport } {
  if (sources.length === 0) {
    throw inputError('E_HARMONIZE_NO_SOURCE', 'harmonize needs at least one clean CSV but received none', {
      hint: `give one or more of ${SOURCE_NAMES.map((n) => `--${n}`).join(', ')}`,
    });
  }
  const seen = new Set<HarmonizeSource>();
  for (const s of sources) {
    if (seen.has(s.source)) throw inputError('E_HARMONIZE_SOURCE_TWICE', `source ${s.source} given twice (${s.file})`);
    seen.add(s.source);
  }
  checkSameSlots(sources);
  const exclude = options.exclude ?? [];
  const maxExamples = options.maxExamples ?? 20;
  const L = sources[0].table.length;
  const ordered = [...sources].sort((a, b) => PRECEDENCE.indexOf(a.source) - PRECEDENCE.indexOf(b.source));

  const perSource: Partial<Record<HarmonizeSource, SourceCounts>> = {};
  const excludedMeters: Partial<Record<HarmonizeSource, string[]>> = {};
  // key "id\0date" -> winning (source index in `ordered`, row); later sources only add to `holders`.
  const winner = new Map<string, { s: number; row: number }>();
  const holders = new Map<string, number[]>();
  for (let s = 0; s < ordered.length; s++) {
    const { source, file, table } = ordered[s];
    const counts: SourceCounts = { file, rowsIn: table.n, excluded: 0, droppedIncomplete: 0, droppedZero: 0, duplicatesDropped: 0, rowsKept: 0 };
    perSource[source] = counts;
    const excludedHere = new Set<string>();
    const inFile = new Set<string>();
    for (let i = 0; i < table.n; i++) {
      const id = table.ids[i];
      const key = `${id}\u0000${table.dates[i]}`;
      if (inFile.has(key)) {
        throw inputError('E_HARMONIZE_DUPLICATE_ROW', `${file}: meter ${id} on ${table.dates[i]} appears twice`, {
          hint: 'a clean profiles CSV has one row per meter and day; rebuild it with `lpclust etl`',
          where: { file, meter: id, date: table.dates[i] },
        });
      }
      inFile.add(key);
      if (isExcluded(exclude, id, source)) {
        counts.excluded++;
        excludedHere.add(id);
        continue;
      }
      let complete = true;
      let zero = true;
      for (let j = i * L, end = j + L; j < end; j++) {
        const v = table.values[j];
        if (!Number.isFinite(v)) {
          complete = false;
          break;
        }
        if (v !== 0) zero = false;
      }
      if (!complete) {
        counts.droppedIncomplete++;
        continue;
      }
      if (zero && options.dropZeroDays) {
        counts.droppedZero++;
        continue;
      }
      const prev = winner.get(key);
      if (prev) {
        counts.duplicatesDropped++;
        const h = holders.get(key);
        if (h) h.push(s);
        else holders.set(key, [s]);
        continue;
      }
      winner.set(key, { s, row: i });
    }
    if (excludedHere.size > 0) excludedMeters[source] = [...excludedHere].sort();
  }

  const keys = [...winner.keys()].sort(compareCodePoints);
  const n = keys.length;
  const ids: string[] = new Array(n);
  const dates: string[] = new Array(n);
  const values = new Float64Array(n * L);
  const meters = new Set<string>();
  let zeroRows = 0;
  let duplicateKeys = 0;
  let duplicateKeysDiffering = 0;
  const duplicateExamples: DuplicateExample[] = [];
  for (let r = 0; r < n; r++) {
    const { s, row } = winner.get(keys[r])!;
    const t = ordered[s].table;
    ids[r] = t.ids[row];
    dates[r] = t.dates[row];
    meters.add(ids[r]);
    values.set(t.values.subarray(row * L, row * L + L), r * L);
    let zero = true;
    for (let j = r * L; j < r * L + L && zero; j++) zero = values[j] === 0;
    if (zero) zeroRows++;
    perSource[ordered[s].source]!.rowsKept++;
    const also = holders.get(keys[r]);
    if (also) {
      duplicateKeys++;
      const differ = also.some((o) => rowDiffers(ordered[o].table, findRow(ordered[o].table, ids[r], dates[r]), t, row));
      if (differ) duplicateKeysDiffering++;
      if (duplicateExamples.length < maxExamples) {
        duplicateExamples.push({ id: ids[r], date: dates[r], sources: [ordered[s].source, ...also.map((o) => ordered[o].source)], valuesDiffer: differ });
      }
    }
  }
  return {
    table: { ids, dates, slots: [...sources[0].table.slots], values, n, length: L },
    report: {
      perSource,
      duplicateKeys,
      duplicateKeysDiffering,
      duplicateExamples,
      rowsOut: n,
      meters: meters.size,
      zeroRows,
      resolutionMinutes: resolutionOf(sources[0].table.slots),
      precedence: precedenceFor(sources.map((s) => s.source)),
      excludedMeters,
    },
  };
}

// Index of (id, date) rows per table, built on first need: duplicates are rare, so most tables never need one.
const rowIndexCache = new WeakMap<ProfileTable, Map<string, number>>();
function findRow(t: ProfileTable, id: string, date: string): number {
  let idx = rowIndexCache.get(t);
  if (!idx) {
    idx = new Map();
    for (let i = 0; i < t.n; i++) idx.set(`${t.ids[i]}\u0000${t.dates[i]}`, i);
    rowIndexCache.set(t, idx);
  }
  return idx.get(`${id}\u0000${date}`)!;
}

function rowDiffers(a: ProfileTable, ra: number, b: ProfileTable, rb: number): boolean {
  const L = a.length;
  for (let j = 0; j < L; j++) {
    const x = a.values[ra * L + j];
    const y = b.values[rb * L + j];
    if (Math.abs(x - y) > 1e-9 * Math.max(1, Math.abs(x), Math.abs(y))) return true;
  }
  return false;
}

/** Compare strings by UTF-16 code units (locale-independent, as `Array.prototype.sort` does). */
function compareCodePoints(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
