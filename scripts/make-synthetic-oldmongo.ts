/**
 * The synthetic old-Mongo sample meter `SYN0001` (data/oldmongo/SYN0001.csv): a made-up small
 * office building with rooftop PV, generated deterministically from a seed by lpclust's own random
 * generator. No value comes from any dataset: the load and PV models below are ours, and the file
 * is MIT-licensed like the rest of the repository.
 *
 *   node --import tsx scripts/make-synthetic-oldmongo.ts [--out data/oldmongo]
 *
 * It reproduces the format of the old pipeline's per-meter Mongo exports (see src/etl/oldmongo.ts:
 * unnamed index column, `id`, `timestamp` in UTC, the three import and three export register
 * columns, average phase voltages, empty current and power columns; one row per 15 minutes with
 * gaps) and the quirks that the rules and the cleaning core are built for:
 *  - the fleet-wide register unit changes of the old database (data/rules.yaml, first oldmongo
 *    entry): before 2019-04-29 13:00 UTC the registers count units of 10 kWh, from then until
 *    2019-05-14 10:00 UTC kWh, afterwards Wh — a ×10 and a ×1000 jump in the raw registers;
 *  - until 2019-05-13 the meter reported only 13:00–23:45 UTC each day (so the ×10 jump lies
 *    after a 13-hour gap, and those days are incomplete), then every 15 minutes;
 *  - gaps: single missing records, hour-long holes (filled by the short-gap rule), night holes
 *    (zero-filled, the meter has production), outages of a day, a weekend and ten days;
 *  - net metering: the import register stands still while the PV covers the load (weekend middays)
 *    and the export register counts the surplus, so hourly net energy can be negative;
 *  - `_ini` registers a few Wh above the previous reading, `_Incr` the difference to the previous
 *    row's `_end` (a huge artefact at each unit change; after a gap sometimes only `_end − _ini`).
 *
 * The load model, in local time (UTC+2, no DST change in the window): a 3.2 kW base load; on
 * working days an occupancy plateau from about 07:45 to 19:30 (~14 kW, a dip at the 14:00 lunch
 * hour, each day ×N(1, 0.06)); Saturday mornings at 45 %; Sundays and holidays (1 May, 15 Aug)
 * base load only; reduced staff (35 %) from 5 to 16 August; cooling that grows with a synthetic
 * daily temperature (seasonal curve + AR(1) weather); 5 % multiplicative noise and occasional
 * 3 kW appliance spikes. PV: 12 kWp, a sine-shaped day between sunrise and sunset at latitude 40°,
 * a clear-sky fraction per day and flicker on cloudy days.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Random } from '../src/util/random.js';

/** The synthetic meter and its description row of data/meters.csv (kept in step by a test). */
export const SYNTHETIC_METER = { id: 'SYN0001', contractualPowerKw: 45, productionKw: 12, type: 'office' } as const;

/** The row of data/meters.csv for {@link SYNTHETIC_METER} (`id,Contractual power (kW),Production (kW),Type`). */
export const SYNTHETIC_METER_ROW = `${SYNTHETIC_METER.id},${SYNTHETIC_METER.contractualPowerKw.toFixed(1)},${SYNTHETIC_METER.productionKw.toFixed(1)},${SYNTHETIC_METER.type}`;

/** Seed of the committed file. */
export const SYNTHETIC_SEED = 6004;

/** The register unit changes (ms UTC): the raw registers jump ×10 at the first and ×1000 at the second. */
export const UNIT_CHANGES = { x10: Date.UTC(2019, 3, 29, 13), x1000: Date.UTC(2019, 4, 14, 10) } as const;

const QUARTER_MS = 15 * 60_000;
const DAY_MS = 86_400_000;
/** First quarter of the modelled span (the meter measures from here; it reports later). */
const T0 = Date.UTC(2019, 3, 25);
/** End of the modelled span (exclusive). */
const T1 = Date.UTC(2019, 8, 1);
/** Local time = UTC + 2 h (summer time in the whole window). */
const LOCAL_OFFSET_H = 2;
/** Until this instant the meter reported only 13:00–23:45 UTC. */
const DAILY_WINDOWS_UNTIL = Date.UTC(2019, 4, 14);
const HOLIDAYS = new Set(['2019-05-01', '2019-08-15']);
const REDUCED_STAFF = ['2019-08-05', '2019-08-16']; // inclusive local dates

/** What {@link generateSyntheticOldMongo} returns: the file and the truth behind it. */
export interface SyntheticOldMongo {
  /** The CSV text, as committed in data/oldmongo/SYN0001.csv. */
  csv: string;
  /** Instant of quarter 0, ms UTC (quarter q covers [t0 + q·15 min, t0 + (q+1)·15 min)). */
  t0: number;
  /** Number of quarters modelled. */
  quarters: number;
  /** Imported energy per quarter, Wh (integers); length `quarters`. */
  importWh: Float64Array;
  /** Exported energy per quarter, Wh (integers); length `quarters`. */
  exportWh: Float64Array;
  /** 1 where the export file has the quarter's row; length `quarters`. */
  reported: Uint8Array;
}

const pad = (n: number): string => String(n).padStart(2, '0');
const isoDate = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** Gaps in the reporting as [first missing, first present again), ms UTC. */
function gapPlan(rnd: Random): Array<[number, number]> {
  const at = (d: string, hm: string): number => Date.parse(`${d}T${hm}:00Z`);
  const gaps: Array<[number, number]> = [
    // Outages: a day and a half, a weekend, ten days in July.
    [at('2019-05-20', '09:00'), at('2019-05-21', '13:30')],
    [at('2019-06-07', '18:00'), at('2019-06-10', '06:15')],
    [at('2019-07-01', '11:00'), at('2019-07-11', '08:00')],
    // Afternoon holes of 2 h and more: those days are incomplete.
    [at('2019-06-13', '14:45'), at('2019-06-13', '18:00')],
    [at('2019-08-22', '12:15'), at('2019-08-22', '15:00')],
    // Night holes: the meter has production, so the night slots become 0 and the day is kept.
    [at('2019-06-19', '00:15'), at('2019-06-19', '04:30')],
    [at('2019-07-24', '01:00'), at('2019-07-24', '03:15')],
  ];
  // Hour-long holes (4–6 records) at random daytimes: shorter than the 2-hour filling window.
  for (let i = 0; i < 8; i++) {
    const day = DAILY_WINDOWS_UNTIL + (1 + rnd.int(108)) * DAY_MS;
    const start = day + (7 * 4 + rnd.int(13 * 4)) * QUARTER_MS;
    gaps.push([start, start + (4 + rnd.int(3)) * QUARTER_MS]);
  }
  // Single and double missing records.
  for (let i = 0; i < 30; i++) {
    const start = DAILY_WINDOWS_UNTIL + rnd.int((T1 - DAILY_WINDOWS_UNTIL) / QUARTER_MS - 2) * QUARTER_MS;
    gaps.push([start, start + (1 + rnd.int(2)) * QUARTER_MS]);
  }
  return gaps;
}

/** Sunrise and sunset, local solar hours from solar noon, at latitude 40° N on day-of-year `doy`. */
function halfDayLength(doy: number): number {
  const decl = (23.44 * Math.PI) / 180 * Math.sin((2 * Math.PI * (284 + doy)) / 365);
  const lat = (40 * Math.PI) / 180;
  return (Math.acos(-Math.tan(lat) * Math.tan(decl)) * 180) / Math.PI / 15;
}

/**
 * Generate the synthetic export and its truth.
 * @param seed seed of lpclust's generator ({@link SYNTHETIC_SEED} for the committed file)
 */
export function generateSyntheticOldMongo(seed: number = SYNTHETIC_SEED): SyntheticOldMongo {
  const rnd = new Random(seed);
  const quarters = (T1 - T0) / QUARTER_MS;
  const days = quarters / 96;
  const importWh = new Float64Array(quarters);
  const exportWh = new Float64Array(quarters);
  const loadKw = new Float64Array(quarters);
  const pvKw = new Float64Array(quarters);

  // Daily weather: temperature (°C, seasonal curve + AR(1)) and clear-sky fraction.
  const temp = new Float64Array(days + 1);
  const clear = new Float64Array(days + 1);
  let weather = 0;
  for (let d = 0; d <= days; d++) {
    const doy = Math.round((T0 + d * DAY_MS - Date.UTC(2019, 0, 1)) / DAY_MS) + 1;
    weather = 0.7 * weather + 1.6 * rnd.normal();
    temp[d] = 18 + 9 * Math.cos((2 * Math.PI * (doy - 205)) / 365) + weather;
    const u = rnd.next();
    clear[d] = u < 0.15 ? 0.2 + 0.4 * rnd.next() : 0.75 + 0.25 * rnd.next();
  }
  // Per day: how busy the building is (×N(1, 0.06)).
  const level = new Float64Array(days + 1);
  for (let d = 0; d <= days; d++) level[d] = 1 + 0.06 * rnd.normal();

  const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
  for (let q = 0; q < quarters; q++) {
    const utc = T0 + q * QUARTER_MS;
    const localMs = utc + LOCAL_OFFSET_H * 3_600_000;
    const d = Math.floor((localMs - T0) / DAY_MS);
    const date = isoDate(localMs);
    const h = ((localMs % DAY_MS) / 3_600_000) + 0.125; // local hour at the quarter's middle
    const weekday = new Date(localMs).getUTCDay(); // 0 = Sunday
    const reduced = date >= REDUCED_STAFF[0] && date <= REDUCED_STAFF[1];
    let occ = 0;
    if (!HOLIDAYS.has(date) && weekday >= 1 && weekday <= 5) {
      occ = sigmoid((h - 7.75) * 2.5) * sigmoid((19.5 - h) * 2) * (1 - 0.15 * Math.exp(-(((h - 14.5) / 0.6) ** 2)));
      occ *= level[d] * (reduced ? 0.35 : 1);
    } else if (!HOLIDAYS.has(date) && weekday === 6) {
      occ = 0.45 * sigmoid((h - 8.75) * 3) * sigmoid((14.25 - h) * 3) * level[d];
    }
    const cooling = Math.max(0, temp[d] - 21) * 1.1 * (0.25 + 0.75 * occ) * (0.6 + 0.4 * Math.exp(-(((h - 16) / 3.5) ** 2)));
    let load = (3.2 + 0.4 * Math.exp(-(((h - 3) / 2) ** 2)) + 14 * occ + cooling) * (1 + 0.05 * rnd.normal());
    if (rnd.next() < 0.02) load += 3 * rnd.next();
    loadKw[q] = Math.max(0.5, load);
    // PV: sine between sunrise and sunset around solar noon at 13:50 local.
    const doy = Math.round((localMs - Date.UTC(2019, 0, 1)) / DAY_MS) + 1;
    const half = halfDayLength(doy);
    const x = (h - (13.83 - half)) / (2 * half);
    let pv = x > 0 && x < 1 ? 12 * 0.8 * Math.sin(Math.PI * x) ** 1.3 : 0;
    if (pv > 0 && clear[d] < 0.75) pv *= 1 - (1 - clear[d]) * rnd.next();
    pvKw[q] = pv * clear[d] ** 0.3;
    const net = (loadKw[q] - pvKw[q]) * 250; // kW over a quarter hour → Wh
    importWh[q] = net > 0 ? Math.round(net) : 0;
    exportWh[q] = net < 0 ? Math.round(-net) : 0;
  }

  // Which quarters the export holds.
  const reported = new Uint8Array(quarters);
  const first = Date.UTC(2019, 3, 25, 15, 30);
  for (let q = 0; q < quarters; q++) {
    const utc = T0 + q * QUARTER_MS;
    if (utc < first) continue;
    if (utc < DAILY_WINDOWS_UNTIL && new Date(utc).getUTCHours() < 13) continue;
    reported[q] = 1;
  }
  for (const [a, b] of gapPlan(rnd)) {
    for (let t = a; t < b; t += QUARTER_MS) reported[(t - T0) / QUARTER_MS] = 0;
  }

  // Registers in Wh at the end of each quarter, starting from made-up meter totals.
  const imp0 = 40_000_000 + rnd.int(20_000_000);
  const exp0 = 5_000_000 + rnd.int(5_000_000);
  const header = [
    '', 'id', 'timestamp',
    'Active_Energy_+_Total_ini', 'Active_Energy_+_Total_end', 'Active_Energy_+_Incr',
    'Active_Energy_-_Total_ini', 'Active_Energy_-_Total_end', 'Active_Energy_-_Incr',
    'Average_voltage_L1', 'Average_voltage_L2', 'Average_voltage_L3',
    'Average_current_L1', 'Average_current_L2', 'Average_current_L3',
    'L1_Average_Active_Power', 'L2_Average_Active_Power', 'L3_Average_Active_Power',
    'L1_Average_Reactive_Power', 'L2_Average_Reactive_Power', 'L3_Average_Reactive_Power',
  ].join(',');
  const lines = [header];
  // The raw register unit at an instant: divisor from Wh and the decimals the export prints.
  const unit = (t: number): { div: number; dec: number } => (t < UNIT_CHANGES.x10 ? { div: 10_000, dec: 4 } : t < UNIT_CHANGES.x1000 ? { div: 1000, dec: 3 } : { div: 1, dec: 1 });
  let imp = imp0;
  let exp = exp0;
  let prev: { q: number; impEnd: number; expEnd: number } | null = null;
  const empty = ',,,,,,,,,';
  for (let q = 0; q < quarters; q++) {
    const impStart = imp;
    const expStart = exp;
    imp += importWh[q];
    exp += exportWh[q];
    if (!reported[q]) continue;
    const t = T0 + q * QUARTER_MS;
    const { div, dec } = unit(t);
    // `_ini` lags a few Wh behind the interval's true start (never past its end).
    const impIni = impStart + Math.min(importWh[q], rnd.int(9));
    const expIni = expStart + Math.min(exportWh[q], rnd.int(3));
    const afterGap = prev === null || prev.q !== q - 1;
    const onlyOwn = afterGap && (prev === null || rnd.next() < 0.5);
    const impEnd = imp / div;
    const expEnd = exp / div;
    const impIncr = onlyOwn ? (imp - impIni) / div : impEnd - prev!.impEnd;
    const expIncr = onlyOwn ? (exp - expIni) / div : expEnd - prev!.expEnd;
    const f = (x: number): string => x.toFixed(dec);
    const loadShare = loadKw[q] / SYNTHETIC_METER.contractualPowerKw;
    const pvShare = pvKw[q] / SYNTHETIC_METER.productionKw;
    const volts = [231.4, 232.6, 233.9].map((base) => (base - 6 * loadShare + 3 * pvShare + 0.7 * rnd.normal()).toFixed(3));
    const ts = new Date(t);
    const stamp = `${ts.getUTCFullYear()}-${pad(ts.getUTCMonth() + 1)}-${pad(ts.getUTCDate())}T${pad(ts.getUTCHours())}:${pad(ts.getUTCMinutes())}:00Z`;
    lines.push(
      `${lines.length - 1},${SYNTHETIC_METER.id},${stamp},${f(impIni / div)},${f(impEnd)},${f(impIncr)},${f(expIni / div)},${f(expEnd)},${f(expIncr)},${volts.join(',')}${empty}`,
    );
    prev = { q, impEnd, expEnd };
  }
  return { csv: lines.join('\n') + '\n', t0: T0, quarters, importWh, exportWh, reported };
}

/** SHA-256 (hex) of a text, for the check that the committed file is what the generator writes. */
export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const args = process.argv.slice(2);
  const i = args.indexOf('--out');
  const out = path.resolve(i >= 0 && i + 1 < args.length ? args[i + 1] : 'data/oldmongo');
  const { csv } = generateSyntheticOldMongo();
  mkdirSync(out, { recursive: true });
  const file = path.join(out, `${SYNTHETIC_METER.id}.csv`);
  writeFileSync(file, csv);
  const shown = path.relative(process.cwd(), file);
  console.log(`wrote ${shown.startsWith('..') ? file : shown} (${(Buffer.byteLength(csv) / 1024).toFixed(0)} KiB, sha256 ${sha256(csv)})`);
}
