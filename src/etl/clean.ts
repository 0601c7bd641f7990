/**
 * The cleaning core shared by every ETL source: one meter's raw records in, its complete local
 * days out (Wh per slot), with every decision counted in a {@link MeterQuality}.
 *
 * Steps of {@link cleanMeter}, in order (reference-pipeline.md, "Old Mongo export" and "SQL"):
 *  1. drop records without a value, with a bogus clock year (1970, 2040), before the rules'
 *     `dropBefore` (or per-source start date) or after `dropAfter`;
 *  2. sort by time (stable) and collapse duplicate timestamps (cumulative: max register;
 *     interval: the last record wins), counting them;
 *  3. cumulative only: register scale repair — the rules' `scale` steps when the meter has any,
 *     else automatic jump detection ({@link detectScaleJumps}) when `autoScale`; then drop
 *     records whose import register is below `dropRegisterBelow`; then neutralise counter
 *     resets/rollovers (a drop of more than 10 % continues from the previous value, so no spike);
 *  4. resample onto the slot grid of the local time zone: max register per slot (cumulative) or
 *     the sum of the records' energy (interval; a slot is missing when it has no record);
 *  5. cumulative: interpolate the registers linearly over every interior gap and difference them
 *     (energy = Δimport − Δexport); interval: reject outliers first, then spread the energy of the
 *     slot after a gap over the gap (linear interpolation of the cumulative sum);
 *     gaps are KEPT filled only when shorter than the filling window, or lying entirely within
 *     the night (00:00–06:59 local) and at most `nightMaxSlots` long; others stay missing;
 *  6. outlier rejection (cumulative: after differencing): |energy| above
 *     `contractual kW × 1000 × resolution/60` × (slots covered) becomes missing (unknown = 200 kW);
 *  7. zero-fill: missing slots at the rules' `zeroFillHours`, and at 00:00–06:59 for meters with
 *     production when `productionNightZero`, become 0;
 *  8. keep complete days only.
 *
 * DST policy (documented in the command help and README): the slot grid is the grid of local
 * wall-clock slots; a local day whose length is not 24 h (the 23-hour and 25-hour days of a zone
 * with daylight saving) cannot be represented as one profile of 1440/resolution slots without
 * inventing or merging an hour, so it is DROPPED and counted in `daysDroppedDst`. Every other day
 * is exactly the 24 h of its local date. A zone whose offset is not a multiple of the resolution
 * (e.g. +05:30 at 60 minutes) is refused with E_USAGE_TIMEZONE_RESOLUTION.
 */
import { inputError, usageError } from '../errors.js';
import { slotLabels, type ProfileTable } from '../io/profiles.js';
import { civilFromDays, DAY_MS, HOUR_MS, isoUtc, MINUTE_MS, ZoneMapper } from './time.js';
import type { AppliedScale, CleanOptions, MeterDays, MeterInfo, MeterQuality, MeterRules, RawSeries, ScaleStep } from './types.js';
import { emptyQuality } from './types.js';

/** Contractual power assumed when the description has none, kW (reference pipeline). */
export const UNKNOWN_POWER_KW = 200;

/** Night hours (local) of the fill and production rules: 00:00–06:59. */
export const NIGHT_LAST_HOUR = 6;

/**
 * The per-slot outlier bound in Wh for one slot: `power kW × 1000 × resolution / 60`.
 * @param powerKw contractual power in kW, or null for unknown ({@link UNKNOWN_POWER_KW})
 */
export function outlierBoundWh(powerKw: number | null, resolutionMinutes: number): number {
  const p = powerKw === null || !(powerKw > 0) ? UNKNOWN_POWER_KW : powerKw;
  return (p * 1000 * resolutionMinutes) / 60;
}

/** A jump found by {@link detectScaleJumps}. */
export interface ScaleJump {
  /** Index (in the given arrays) of the first record in the new scale. */
  index: number;
  /** Instant of that record, ms UTC. */
  at: number;
  /** Factor from old to new scale (new ≈ old × factor); records before are multiplied by it. */
  factor: number;
}

/** Factors recognised as unit changes besides powers of ten (and their inverses). */
const NICE_FACTORS = [2, 3, 4, 5, 6, 8, 12, 15, 20, 24, 30, 36, 60, 100, 120, 360, 1000, 3600, 30000, 60000];

function niceFactor(r: number): number {
  if (!(r > 0) || !Number.isFinite(r)) return 0;
  const inv = r < 1;
  const x = inv ? 1 / r : r;
  if (x < 1.8) return 0;
  const l = Math.log10(x);
  const k = Math.round(l);
  let f = 0;
  if (k >= 1 && Math.abs(l - k) < 0.01) f = 10 ** k;
  else {
    for (const c of NICE_FACTORS) {
      if (Math.abs(x / c - 1) < 0.01) {
        f = c;
        break;
      }
    }
  }
  if (f === 0) return 0;
  return inv ? 1 / f : f;
}

/** Median of the positive values of `a[from..to)` (NaN when none). */
function positiveMedian(a: Float64Array, from: number, to: number): number {
  const v: number[] = [];
  for (let i = Math.max(0, from); i < Math.min(a.length, to); i++) if (a[i] > 0) v.push(a[i]);
  if (v.length === 0) return NaN;
  v.sort((x, y) => x - y);
  return v[v.length >> 1];
}

/** Steps on each side of a candidate jump used to learn the meter's local pace. */
const PACE_WINDOW = 48;

/**
 * Find register scale jumps in a cumulative register: an instant where the register changes by a
 * constant factor (a power of ten or a unit factor from a fixed list, within 1 %) while the steps
 * around it are ordinary. The jump's step must exceed 50 times the meter's local pace (the larger
 * of the median positive rates over the 48 steps before and after it, per elapsed time, at least
 * 15 minutes), so a busy hour or a refill after a gap never looks like a jump.
 *
 * @param t sorted instants ms UTC, length ≥ n (no duplicates)
 * @param reg the import register, length ≥ n (NaN allowed, ignored)
 * @returns jumps in time order; apply them from the last to the first (each multiplies every
 *   record before it by its factor) to bring the whole series to the newest scale.
 */
export function detectScaleJumps(t: Float64Array, reg: Float64Array, n: number): ScaleJump[] {
  const idx: number[] = [];
  for (let i = 0; i < n; i++) if (Number.isFinite(reg[i])) idx.push(i);
  const m = idx.length;
  if (m < 3) return [];
  // rate[j] = pace of step j (from idx[j-1] to idx[j]) in register units per ms.
  const rate = new Float64Array(m).fill(NaN);
  for (let j = 1; j < m; j++) {
    const dt = t[idx[j]] - t[idx[j - 1]];
    if (dt > 0) rate[j] = (reg[idx[j]] - reg[idx[j - 1]]) / dt;
  }
  const jumps: ScaleJump[] = [];
  for (let j = 1; j < m; j++) {
    const p = reg[idx[j - 1]];
    const v = reg[idx[j]];
    if (!(p > 0 && v > 0)) continue;
    const f = niceFactor(v / p);
    if (f === 0) continue;
    const before = positiveMedian(rate, j - PACE_WINDOW, j);
    const after = positiveMedian(rate, j + 1, j + 1 + PACE_WINDOW);
    const pace = Math.max(Number.isNaN(before) ? 0 : before, Number.isNaN(after) ? 0 : after);
    if (pace === 0) continue;
    const dt = Math.max(t[idx[j]] - t[idx[j - 1]], 15 * MINUTE_MS);
    if (Math.abs(v - p) > 50 * pace * dt) jumps.push({ index: idx[j], at: t[idx[j]], factor: f });
  }
  return jumps;
}

/** Work arrays of a meter after filtering (sorted, unique timestamps). */
interface Records {
  t: Float64Array;
  imp: Float64Array;
  exp: Float64Array | null;
  n: number;
}

function bogusYearRanges(years: readonly number[]): Array<[number, number]> {
  return years.map((y) => [Date.UTC(y, 0, 1), Date.UTC(y + 1, 0, 1)]);
}

/** Step 1 and 2: filter, sort, collapse duplicates. */
function prepare(series: RawSeries, rules: MeterRules, options: CleanOptions, q: MeterQuality): Records {
  const n = series.n;
  const bogus = bogusYearRanges(options.bogusYears);
  const keep = new Uint32Array(n);
  let m = 0;
  const before = rules.dropBefore ?? -Infinity;
  const after = rules.dropAfter ?? Infinity;
  for (let i = 0; i < n; i++) {
    const ti = series.t[i];
    const v = series.imp[i];
    if (!Number.isFinite(ti) || Number.isNaN(v) || (series.exp !== null && Number.isNaN(series.exp[i]))) {
      q.droppedMissingValue++;
      continue;
    }
    let isBogus = false;
    for (const [a, b] of bogus) if (ti >= a && ti < b) isBogus = true;
    if (isBogus) {
      q.droppedBogusYear++;
      continue;
    }
    if (ti < before) {
      q.droppedBefore++;
      continue;
    }
    if (ti > after) {
      q.droppedAfter++;
      continue;
    }
    keep[m++] = i;
  }
  // Sort indices by time (stable) unless already sorted — the usual case, checked in O(n).
  let sorted = true;
  for (let k = 1; k < m; k++) {
    if (series.t[keep[k]] < series.t[keep[k - 1]]) {
      sorted = false;
      break;
    }
  }
  let order: Uint32Array = keep.subarray(0, m);
  if (!sorted) {
    const arr = Array.from(order);
    arr.sort((a, b) => series.t[a] - series.t[b] || a - b);
    order = Uint32Array.from(arr);
  }
  const t = new Float64Array(m);
  const imp = new Float64Array(m);
  const exp = series.exp === null ? null : new Float64Array(m);
  let w = 0;
  const cumulative = series.kind === 'cumulative';
  for (let k = 0; k < m; k++) {
    const i = order[k];
    const ti = series.t[i];
    if (w > 0 && t[w - 1] === ti) {
      q.duplicates++;
      if (cumulative) {
        imp[w - 1] = Math.max(imp[w - 1], series.imp[i]);
        if (exp !== null) exp[w - 1] = Math.max(exp[w - 1], series.exp![i]);
      } else {
        imp[w - 1] = series.imp[i];
        if (exp !== null) exp[w - 1] = series.exp![i];
      }
      continue;
    }
    t[w] = ti;
    imp[w] = series.imp[i];
    if (exp !== null) exp[w] = series.exp![i];
    w++;
  }
  return { t, imp, exp, n: w };
}

function describeStep(s: ScaleStep): string {
  const parts: string[] = [];
  if (s.before !== undefined) parts.push(`before ${isoUtc(s.before)}`);
  if (s.after !== undefined) parts.push(`from ${isoUtc(s.after)}`);
  if (s.above !== undefined) parts.push(`where import > ${s.above}`);
  if (s.below !== undefined) parts.push(`where import < ${s.below}`);
  if (s.registers !== undefined && s.registers !== 'all') parts.push(`${s.registers} registers`);
  return parts.join(' ') || 'all records';
}

/**
 * Apply explicit scale steps in order (each step tests thresholds on the values left by the steps
 * before it). Returns what was applied.
 */
export function applyScaleSteps(r: { t: Float64Array; imp: Float64Array; exp: Float64Array | null; n: number }, steps: readonly ScaleStep[]): AppliedScale[] {
  const out: AppliedScale[] = [];
  for (const s of steps) {
    let count = 0;
    const touchesEnd = s.registers === undefined || s.registers === 'all' || s.registers === 'end';
    for (let i = 0; i < r.n; i++) {
      const ti = r.t[i];
      if (s.before !== undefined && !(ti < s.before)) continue;
      if (s.after !== undefined && !(ti >= s.after)) continue;
      const v = r.imp[i];
      if (s.above !== undefined && !(v > s.above)) continue;
      if (s.below !== undefined && !(v < s.below)) continue;
      count++;
      if (!touchesEnd) continue;
      if (s.divisor !== undefined) {
        r.imp[i] = v / s.divisor;
        if (r.exp !== null) r.exp[i] /= s.divisor;
      } else {
        r.imp[i] = v * s.factor;
        if (r.exp !== null) r.exp[i] *= s.factor;
      }
    }
    out.push({ origin: 'rule', factor: s.factor, records: count, at: describeStep(s) });
  }
  return out;
}

/** Step 3: scale repair, register threshold, counter resets (cumulative only). */
function repairRegisters(r: Records, rules: MeterRules, options: CleanOptions, q: MeterQuality): Records {
  if (rules.scale !== undefined && rules.scale.length > 0) {
    q.scaleCorrections.push(...applyScaleSteps(r, rules.scale));
  } else if (options.autoScale) {
    const jumps = detectScaleJumps(r.t, r.imp, r.n);
    // Latest jump first, so each earlier record ends up in the newest scale.
    for (let j = jumps.length - 1; j >= 0; j--) {
      const { index, factor } = jumps[j];
      for (let i = 0; i < index; i++) {
        r.imp[i] *= factor;
        if (r.exp !== null) r.exp[i] *= factor;
      }
    }
    for (const { index, factor, at } of jumps) q.scaleCorrections.push({ origin: 'auto', factor, records: index, at: isoUtc(at) });
  }
  if (rules.dropRegisterBelow !== undefined) {
    const th = rules.dropRegisterBelow;
    let w = 0;
    for (let i = 0; i < r.n; i++) {
      if (r.imp[i] < th) {
        q.droppedBelowThreshold++;
        continue;
      }
      r.t[w] = r.t[i];
      r.imp[w] = r.imp[i];
      if (r.exp !== null) r.exp[w] = r.exp[i];
      w++;
    }
    r.n = w;
  }
  // Counter reset or rollover: a drop of more than 10 % of the register. Continue from the
  // previous value (the interval's energy counts as 0) instead of producing a huge negative slot.
  for (const reg of r.exp === null ? [r.imp] : [r.imp, r.exp]) {
    let offset = 0;
    let prevRaw = NaN;
    for (let i = 0; i < r.n; i++) {
      const raw = reg[i];
      if (i > 0 && raw < prevRaw - 0.1 * Math.abs(prevRaw)) {
        offset += prevRaw - raw;
        if (reg === r.imp) q.counterResets++;
      }
      prevRaw = raw;
      reg[i] = raw + offset;
    }
  }
  return r;
}

/** The UTC slot grid of a meter, from the local midnight before its first record to the one after its last. */
interface Grid {
  /** Index (floor(ms / resolution)) of the first slot. */
  k0: number;
  /** Number of slots. */
  size: number;
  /** Local day number of each slot. */
  day: Int32Array;
  /** Local slot-of-day index of each slot. */
  slot: Int32Array;
  /** Local hour of each slot. */
  hour: Int8Array;
}

function buildGrid(first: number, last: number, zone: ZoneMapper, resMin: number): Grid {
  const resMs = resMin * MINUTE_MS;
  const startWall = Math.floor(zone.toWall(first) / DAY_MS) * DAY_MS;
  const endWall = (Math.floor(zone.toWall(last) / DAY_MS) + 1) * DAY_MS;
  const k0 = Math.floor(zone.localToUtc(startWall) / resMs);
  const k1 = Math.ceil(zone.localToUtc(endWall) / resMs);
  const size = Math.max(0, k1 - k0);
  if (size > 50 * 366 * (1440 / resMin)) {
    throw inputError('E_INPUT_SPAN', `records span ${isoUtc(first)} to ${isoUtc(last)}: more than 50 years of slots`, {
      hint: 'check the timestamps (bogus clock years can be listed under bogusYears in the rules file)',
    });
  }
  const day = new Int32Array(size);
  const slot = new Int32Array(size);
  const hour = new Int8Array(size);
  for (let i = 0; i < size; i++) {
    const utc = (k0 + i) * resMs;
    const off = zone.offsetMinutes(utc);
    if (off % resMin !== 0) {
      throw usageError(
        'E_USAGE_TIMEZONE_RESOLUTION',
        `time zone ${zone.zone} is ${off} minutes from UTC at ${isoUtc(utc)}, not a multiple of the ${resMin}-minute resolution, so its local slots do not align`,
        { hint: 'use a finer --resolution or another --timezone' },
      );
    }
    const wall = utc + off * MINUTE_MS;
    const d = Math.floor(wall / DAY_MS);
    const mod = wall - d * DAY_MS;
    day[i] = d;
    slot[i] = Math.floor(mod / resMs);
    hour[i] = Math.floor(mod / HOUR_MS);
  }
  return { k0, size, day, slot, hour };
}

/** Missing runs [a, b] (inclusive, grid indices) strictly between two present slots. */
function interiorGaps(present: Uint8Array, size: number, visit: (a: number, b: number) => void): void {
  let lastPresent = -1;
  for (let i = 0; i < size; i++) {
    if (present[i]) {
      if (lastPresent >= 0 && i - lastPresent > 1) visit(lastPresent + 1, i - 1);
      lastPresent = i;
    }
  }
}

/**
 * Whether a missing slot at position `pos` (1 = first missing slot after the last real value) of a
 * gap is filled: within the filling window after the last real value (`pos × resolution <
 * window`), or at night (local hour 0–6) with `pos ≤ nightMaxSlots`. This is the old pipeline's
 * rule ("impute every missing value not more than the filling window away from the last real
 * value"; night positions up to 24), so a long gap keeps its first slots and loses the rest.
 */
export function slotFillable(pos: number, hour: number, options: CleanOptions): boolean {
  if (pos * options.resolutionMinutes < options.fillWindowHours * 60) return true;
  return hour <= NIGHT_LAST_HOUR && pos <= options.nightMaxSlots;
}

/**
 * Decide every missing slot (no record in the slot): at a zero-fill hour it becomes 0; inside an
 * interior gap and {@link slotFillable} it keeps its interpolated energy; otherwise it is missing.
 * Leading and trailing missing slots (before the first / after the last record) stay missing.
 */
function applyGapRules(present: Uint8Array, energy: Float64Array, grid: Grid, options: CleanOptions, zeroHours: Uint8Array, q: MeterQuality): void {
  const size = grid.size;
  let last = -1;
  let nextPresent = -1;
  for (let i = 0; i < size; i++) {
    if (present[i]) {
      last = i;
      continue;
    }
    if (nextPresent < i) {
      nextPresent = i + 1;
      while (nextPresent < size && !present[nextPresent]) nextPresent++;
    }
    const h = grid.hour[i];
    const interior = last >= 0 && nextPresent < size;
    if (zeroHours[h] && interior) {
      energy[i] = 0;
      q.slotsZeroFilled++;
    } else if (interior && !Number.isNaN(energy[i]) && slotFillable(i - last, h, options)) {
      q.slotsFilled++;
    } else {
      energy[i] = NaN;
    }
  }
}

/**
 * Set missing interior slots (between two slots with records) at a zero-fill hour to 0 and count
 * them. Returns a copy of `present` in which those slots count as known.
 */
function zeroFillInterior(present: Uint8Array, energy: Float64Array, grid: Grid, zeroHours: Uint8Array, q: MeterQuality): Uint8Array {
  const known = present.slice();
  if (!zeroHours.includes(1)) return known;
  const size = grid.size;
  let last = -1;
  let nextPresent = -1;
  for (let i = 0; i < size; i++) {
    if (present[i]) {
      last = i;
      continue;
    }
    if (nextPresent < i) {
      nextPresent = i + 1;
      while (nextPresent < size && !present[nextPresent]) nextPresent++;
    }
    if (zeroHours[grid.hour[i]] && last >= 0 && nextPresent < size) {
      energy[i] = 0;
      known[i] = 1;
      q.slotsZeroFilled++;
    }
  }
  return known;
}

/**
 * Clean one meter: raw records in, complete local days out. Updates `q` (pass the meter's
 * quality record; sources set `recordsRead`/`badRows` themselves, see {@link QualityReport}).
 *
 * @param series the meter's raw records (not modified)
 * @param info its description row, or null when unknown (outlier bound 200 kW, no production)
 * @param rules its resolved rules (`{}` for none); `exclude` is NOT handled here (see `cleanSeries` callers)
 * @param options resolution, zone, filling window, ...
 * @param q the quality record to update
 * @param zone a {@link ZoneMapper} for `options.timeZone` (pass one per run to share its cache)
 * @returns the complete days, dates ascending
 */
export function cleanMeter(
  series: RawSeries,
  info: MeterInfo | null,
  rules: MeterRules,
  options: CleanOptions,
  q: MeterQuality,
  zone: ZoneMapper = new ZoneMapper(options.timeZone),
): MeterDays {
  const L = 1440 / options.resolutionMinutes;
  slotLabels(options.resolutionMinutes); // validates the resolution
  const empty: MeterDays = { meter: series.meter, dates: [], values: new Float64Array(0), length: L };
  let r = prepare(series, rules, options, q);
  const cumulative = series.kind === 'cumulative';
  if (cumulative) r = repairRegisters(r, rules, options, q);
  if (r.n === 0) return empty;

  const resMs = options.resolutionMinutes * MINUTE_MS;
  const grid = buildGrid(r.t[0], r.t[r.n - 1], zone, options.resolutionMinutes);
  const size = grid.size;
  const present = new Uint8Array(size);
  const energy = new Float64Array(size).fill(NaN);
  const bound = outlierBoundWh(info?.contractualPowerKw ?? null, options.resolutionMinutes);

  // Zero-fill hours: the rules' hours, and the night for meters with production.
  const zeroHours = new Uint8Array(24);
  for (const h of rules.zeroFillHours ?? []) zeroHours[h] = 1;
  if (options.productionNightZero && info !== null && info.productionKw !== null && info.productionKw > 0) {
    for (let h = 0; h <= NIGHT_LAST_HOUR; h++) zeroHours[h] = 1;
  }

  if (cumulative) {
    // Max register per slot.
    const ri = new Float64Array(size).fill(NaN);
    const re = r.exp === null ? null : new Float64Array(size).fill(NaN);
    for (let i = 0; i < r.n; i++) {
      const s = Math.floor(r.t[i] / resMs) - grid.k0;
      if (!(ri[s] >= r.imp[i])) ri[s] = r.imp[i];
      if (re !== null && !(re[s] >= r.exp![i])) re[s] = r.exp![i];
      present[s] = 1;
    }
    // Interpolate the registers over every interior gap, then difference them.
    interiorGaps(present, size, (a, b) => {
      const g = b - a + 2;
      const ia0 = ri[a - 1], ia1 = ri[b + 1];
      for (let i = a; i <= b; i++) ri[i] = ia0 + ((ia1 - ia0) * (i - a + 1)) / g;
      if (re !== null) {
        const ea0 = re[a - 1], ea1 = re[b + 1];
        for (let i = a; i <= b; i++) re[i] = ea0 + ((ea1 - ea0) * (i - a + 1)) / g;
      }
    });
    for (let i = 1; i < size; i++) {
      const d = ri[i] - ri[i - 1] - (re === null ? 0 : re[i] - re[i - 1]);
      if (!Number.isNaN(d)) energy[i] = d;
    }
    applyGapRules(present, energy, grid, options, zeroHours, q);
    if (options.rejectOutliers) {
      for (let i = 0; i < size; i++) {
        const e = energy[i];
        if (e > bound || e < -bound) {
          energy[i] = NaN;
          q.outliersRejected++;
        }
      }
    }
  } else {
    for (let i = 0; i < r.n; i++) {
      const s = Math.floor(r.t[i] / resMs) - grid.k0;
      const v = r.imp[i] - (r.exp === null ? 0 : r.exp[i]);
      energy[s] = present[s] ? energy[s] + v : v;
      present[s] = 1;
    }
    if (options.rejectOutliers) {
      // The slot after a gap may carry the gap's energy: its bound covers the missing slots too.
      let run = 0;
      for (let i = 0; i < size; i++) {
        if (!present[i]) {
          run++;
          continue;
        }
        const b = bound * (1 + run);
        run = 0;
        if (energy[i] > b || energy[i] < -b) {
          energy[i] = NaN;
          present[i] = 0;
          q.outliersRejected++;
        }
      }
    }
    // Zero-fill hours come first, as in the old code: a meter that reports nothing at night (or
    // while exporting) has no energy there, so the slot after such a gap must not spread its
    // energy into those hours.
    const known = zeroFillInterior(present, energy, grid, zeroHours, q);
    // Fill on the cumulative sum: the slot after a gap shares its energy with the gap.
    interiorGaps(known, size, (a, b) => {
      const share = energy[b + 1] / (b - a + 2);
      for (let i = a; i <= b + 1; i++) energy[i] = share;
    });
    applyGapRules(known, energy, grid, options, zeroHours, q);
  }

  // Complete days only; DST days (not L slots long) dropped.
  const dates: string[] = [];
  const values = new Float64Array(Math.ceil(size / L) * L + L);
  let rows = 0;
  let i = 0;
  while (i < size) {
    const d = grid.day[i];
    let j = i;
    let anyData = false;
    let complete = true;
    while (j < size && grid.day[j] === d) {
      if (present[j]) anyData = true;
      if (Number.isNaN(energy[j])) complete = false;
      j++;
    }
    const len = j - i;
    if (len !== L || grid.slot[i] !== 0) {
      if (anyData) q.daysDroppedDst++;
    } else if (complete) {
      values.set(energy.subarray(i, j), rows * L);
      dates.push(civilFromDays(d));
      rows++;
    } else if (anyData) {
      q.daysDroppedIncomplete++;
    }
    i = j;
  }
  q.daysKept += rows;
  if (rows > 0) {
    if (q.firstDay === '' || dates[0] < q.firstDay) q.firstDay = dates[0];
    if (dates[rows - 1] > q.lastDay) q.lastDay = dates[rows - 1];
  }
  return { meter: series.meter, dates, values: values.slice(0, rows * L), length: L };
}

/**
 * Collects the per-meter quality records of one ETL run and sums them into metrics.
 * Sources call {@link QualityReport.meter} to get (or create) a meter's record, add their own
 * read / bad-row counts, and pass the same record to {@link cleanMeter}.
 */
export class QualityReport {
  private readonly byMeter = new Map<string, MeterQuality>();
  /** Rows skipped with `--on-bad-row skip` that could not be attributed to a meter. */
  unattributedBadRows = 0;
  /** Meters seen in the source but absent from the meter description (skipped with --on-bad-row skip). */
  unknownMeters: string[] = [];

  /** The record of a meter, created on first use. */
  meter(id: string): MeterQuality {
    let q = this.byMeter.get(id);
    if (q === undefined) {
      q = emptyQuality(id);
      this.byMeter.set(id, q);
    }
    return q;
  }

  /** All records, sorted by meter id. */
  meters(): MeterQuality[] {
    return [...this.byMeter.values()].sort((a, b) => (a.meter < b.meter ? -1 : a.meter > b.meter ? 1 : 0));
  }

  /**
   * Totals as MLflow metrics (names are stable): meters, records_read, records_dropped (sum) and
   * records_dropped_<reason>, duplicates_collapsed, scale_corrections, counter_resets,
   * outliers_rejected, slots_filled, slots_zero_filled, days_kept, days_dropped (sum),
   * days_dropped_incomplete, days_dropped_dst, meters_excluded, meters_unknown.
   */
  metrics(): Record<string, number> {
    const m = {
      meters: 0,
      meters_with_days: 0,
      meters_excluded: 0,
      meters_unknown: this.unknownMeters.length,
      records_read: 0,
      records_dropped: 0,
      records_dropped_bad_row: this.unattributedBadRows,
      records_dropped_bogus_year: 0,
      records_dropped_before: 0,
      records_dropped_after: 0,
      records_dropped_below_threshold: 0,
      records_dropped_missing_value: 0,
      duplicates_collapsed: 0,
      scale_corrections: 0,
      scale_corrections_auto: 0,
      counter_resets: 0,
      outliers_rejected: 0,
      slots_filled: 0,
      slots_zero_filled: 0,
      days_kept: 0,
      days_dropped: 0,
      days_dropped_incomplete: 0,
      days_dropped_dst: 0,
    };
    for (const q of this.byMeter.values()) {
      if (q.excluded) {
        m.meters_excluded++;
        m.records_read += q.recordsRead;
        continue;
      }
      m.meters++;
      if (q.daysKept > 0) m.meters_with_days++;
      m.records_read += q.recordsRead;
      m.records_dropped_bad_row += q.badRows;
      m.records_dropped_bogus_year += q.droppedBogusYear;
      m.records_dropped_before += q.droppedBefore;
      m.records_dropped_after += q.droppedAfter;
      m.records_dropped_below_threshold += q.droppedBelowThreshold;
      m.records_dropped_missing_value += q.droppedMissingValue;
      m.duplicates_collapsed += q.duplicates;
      m.scale_corrections += q.scaleCorrections.length;
      m.scale_corrections_auto += q.scaleCorrections.filter((s) => s.origin === 'auto').length;
      m.counter_resets += q.counterResets;
      m.outliers_rejected += q.outliersRejected;
      m.slots_filled += q.slotsFilled;
      m.slots_zero_filled += q.slotsZeroFilled;
      m.days_kept += q.daysKept;
      m.days_dropped_incomplete += q.daysDroppedIncomplete;
      m.days_dropped_dst += q.daysDroppedDst;
    }
    m.records_dropped =
      m.records_dropped_bad_row +
      m.records_dropped_bogus_year +
      m.records_dropped_before +
      m.records_dropped_after +
      m.records_dropped_below_threshold +
      m.records_dropped_missing_value;
    m.days_dropped = m.days_dropped_incomplete + m.days_dropped_dst;
    return m;
  }

  /** The per-meter report as CSV (one row per meter; scale corrections as `factor@at;...`). */
  toCsv(): string {
    const cols: Array<keyof MeterQuality> = [
      'meter', 'excluded', 'recordsRead', 'badRows', 'droppedBogusYear', 'droppedBefore', 'droppedAfter', 'droppedBelowThreshold',
      'droppedMissingValue', 'duplicates', 'counterResets', 'outliersRejected', 'slotsFilled', 'slotsZeroFilled',
      'daysKept', 'daysDroppedIncomplete', 'daysDroppedDst', 'firstDay', 'lastDay',
    ];
    let out = cols.join(',') + ',scaleCorrections\n';
    for (const q of this.meters()) {
      const sc = q.scaleCorrections.map((s) => `${s.origin}:x${s.factor}@${s.at} (${s.records} records)`).join('; ');
      out += cols.map((c) => String(q[c])).join(',') + ',"' + sc.replace(/"/g, '""') + '"\n';
    }
    return out;
  }

  /** The per-meter report as a JSON-ready object. */
  toJson(): { totals: Record<string, number>; meters: MeterQuality[]; unknownMeters: string[] } {
    return { totals: this.metrics(), meters: this.meters(), unknownMeters: this.unknownMeters };
  }
}

/**
 * Collects the complete days of every meter and builds the clean profiles table (sorted by id,
 * then date), ready for `writeProfiles`. Holds only the kept days (the output), never raw records.
 */
export class ProfileAccumulator {
  private readonly parts: MeterDays[] = [];
  /** Slot labels of the table. */
  readonly slots: string[];
  readonly length: number;

  constructor(resolutionMinutes: number) {
    this.slots = slotLabels(resolutionMinutes);
    this.length = this.slots.length;
  }

  /** Add one meter's days (a meter may be added in several parts; dates must not overlap). */
  add(days: MeterDays): void {
    if (days.length !== this.length) throw new Error(`internal: ${days.length} slots per day, expected ${this.length}`);
    if (days.dates.length > 0) this.parts.push(days);
  }

  /** Rows collected so far. */
  get rows(): number {
    return this.parts.reduce((s, p) => s + p.dates.length, 0);
  }

  /** The table, sorted by id then date. */
  toTable(): ProfileTable {
    const idx: Array<[string, string, number, number]> = [];
    this.parts.forEach((p, pi) => p.dates.forEach((d, di) => idx.push([p.meter, d, pi, di])));
    idx.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
    const L = this.length;
    const values = new Float64Array(idx.length * L);
    idx.forEach(([, , pi, di], r) => values.set(this.parts[pi].values.subarray(di * L, di * L + L), r * L));
    return { ids: idx.map((x) => x[0]), dates: idx.map((x) => x[1]), slots: this.slots, values, n: idx.length, length: L };
  }
}
