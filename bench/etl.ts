/**
 * Benchmark of the ETL sources, reported as input rows per second (parse + clean + build the
 * table; no tracking, no output file):
 *  - `etl generic` over the SGSC 50-household file (1,450,232 rows, gzip), 30-minute slots, UTC;
 *  - `etl oldmongo` over BBB6004 (22,931 rows) with the shipped rules, 60-minute slots.
 * Both wall-clock and CPU-time rates are printed: on a shared machine the CPU-time rate is the
 * one that does not depend on the other processes. Target: ≥ 500,000 rows/s for generic.
 *
 * Run: npx tsx bench/etl.ts [--reps 3] [--timezone UTC]   (old Mongo: best of max(reps, 10), after JIT warm-up)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { genericSource } from '../src/etl/generic.js';
import { oldMongoSource } from '../src/etl/oldmongo.js';
import { loadRules } from '../src/etl/rules.js';
import { readMeterDescription } from '../src/etl/meters.js';
import { cleanSource, type EtlSourceReader } from '../src/etl/run.js';
import { DEFAULT_CLEAN_OPTIONS, type CleanOptions } from '../src/etl/types.js';
import type { RulesFile } from '../src/etl/rules.js';
import type { MeterInfo } from '../src/etl/types.js';
import { log } from '../src/util/log.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DATA = path.resolve(REPO, '..', 'shared', 'datasets');
const args = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const reps = Number(opt('--reps', '3'));
const timeZone = opt('--timezone', 'UTC');

interface Figure {
  rows: number;
  days: number;
  wall: number;
  cpu: number;
}

async function measure(reader: () => EtlSourceReader, clean: Partial<CleanOptions>, meters: Map<string, MeterInfo> | null, rules?: RulesFile, runs = reps): Promise<Figure> {
  let best: Figure | undefined;
  for (let r = 0; r < runs; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const res = await cleanSource(reader(), { clean: { ...DEFAULT_CLEAN_OPTIONS, ...clean }, meters, rules, onBadRow: 'error' });
    const wall = (performance.now() - t0) / 1000;
    const cu = process.cpuUsage(c0);
    const cpu = (cu.user + cu.system) / 1e6;
    const f = { rows: res.report.metrics().records_read, days: res.table.n, wall, cpu };
    if (best === undefined || f.wall < best.wall) best = f;
  }
  return best!;
}

function line(name: string, f: Figure): string {
  const rate = (s: number) => Math.round(f.rows / s).toLocaleString('en-US');
  return `${name.padEnd(34)} ${f.rows.toLocaleString('en-US').padStart(10)} rows  ${f.days.toLocaleString('en-US').padStart(7)} days  wall ${f.wall.toFixed(2)} s = ${rate(f.wall)} rows/s  cpu ${f.cpu.toFixed(2)} s = ${rate(f.cpu)} rows/s`;
}

async function main(): Promise<void> {
  log.level = 'warn'; // the per-correction info lines would repeat on every run
  const sgsc = path.join(DATA, 'sgsc-50-households', 'sm_cust50.csv.gz');
  const uc7 = path.join(DATA, 'inergy-uc7');
  if (!fs.existsSync(sgsc) || !fs.existsSync(uc7)) throw new Error(`the shared datasets are missing under ${DATA}`);
  console.log(`ETL benchmark — node ${process.version}, ${os.cpus().length} CPU(s), load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}, best of ${reps}, zone ${timeZone}`);
  const generic = await measure(
    () => genericSource({ input: sgsc, idCol: 'customer_id', timeCol: 'reading_datetime', valueCol: 'general_supply_kwh', unit: 'kWh' }),
    { resolutionMinutes: 30, timeZone },
    null,
  );
  console.log(line('etl generic (SGSC 50, gzip, 30 min)', generic));
  const meters = await readMeterDescription(path.join(uc7, 'smart_meter_description.csv'));
  const rules = await loadRules(path.join(REPO, 'data', 'rules.yaml'));
  // One small file: the first runs are dominated by JIT warm-up, so take the best of more runs.
  const old = await measure(() => oldMongoSource(uc7), { resolutionMinutes: 60, timeZone }, meters, rules, Math.max(reps, 10));
  console.log(line('etl oldmongo (BBB6004, rules, 60 min)', old));
  const target = 500_000;
  const best = generic.rows / Math.min(generic.wall, generic.cpu);
  console.log(`generic target ≥ ${target.toLocaleString('en-US')} rows/s: ${best >= target ? 'met' : 'NOT met'} (cpu-time rate ${Math.round(generic.rows / generic.cpu).toLocaleString('en-US')} rows/s)`);
}

await main();
