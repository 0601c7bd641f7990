/**
 * Benchmark of the ETL sources, reported as input rows per second (parse + clean + build the
 * table; no tracking, no output file):
 *  - `etl generic` over the SGSC 50-household file (1,450,232 rows, gzip), 30-minute slots, UTC;
 *  - `etl oldmongo` over BBB6004 (22,931 rows) with the shipped rules, 60-minute slots.
 * The real files come from the datasets folder (LPCLUST_DATASETS, default ../shared/datasets).
 * Without it — a fresh clone — the benchmark says so and measures stand-ins instead: a generated
 * gzip CSV of the same shape and size for generic (50 meters × 29,005 half hours), and the bundled
 * sample data/oldmongo (the synthetic meter SYN0001, 9,954 rows of the same format) for oldmongo.
 * Both wall-clock and CPU-time rates are printed: on a shared machine the CPU-time rate is the
 * one that does not depend on the other processes. Target: ≥ 500,000 rows/s for generic.
 *
 * Run: npx tsx bench/etl.ts [--reps 3] [--timezone UTC]   (old Mongo: best of max(reps, 10), after JIT warm-up)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { genericSource } from '../src/etl/generic.js';
import { oldMongoSource } from '../src/etl/oldmongo.js';
import { loadRules } from '../src/etl/rules.js';
import { readMeterDescription } from '../src/etl/meters.js';
import { cleanSource, type EtlSourceReader } from '../src/etl/run.js';
import { DEFAULT_CLEAN_OPTIONS, type CleanOptions } from '../src/etl/types.js';
import type { RulesFile } from '../src/etl/rules.js';
import type { MeterInfo } from '../src/etl/types.js';
import { log } from '../src/util/log.js';
import { Random } from '../src/util/random.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DATA = process.env.LPCLUST_DATASETS ? path.resolve(process.env.LPCLUST_DATASETS) : path.resolve(REPO, '..', 'shared', 'datasets');
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

/**
 * A stand-in for the SGSC file with the same columns and size: 50 meters × 29,005 half hours of
 * kWh with 3 decimals, naive timestamps, grouped by meter, gzip. Written to a temporary folder.
 */
function generatedSgsc(): string {
  const rnd = new Random(0);
  const parts: string[] = ['customer_id,reading_datetime,event_key,general_supply_kwh,controlled_load_kwh,gross_generation_kwh,net_generation_kwh,other_kwh\n'];
  const t0 = Date.UTC(2012, 4, 1);
  for (let m = 0; m < 50; m++) {
    let chunk = '';
    for (let k = 0; k < 29_005; k++) {
      const ts = new Date(t0 + k * 1_800_000).toISOString();
      const kwh = (0.05 + 0.4 * rnd.next() * (1 + Math.sin(((k % 48) / 48) * 2 * Math.PI))).toFixed(3);
      chunk += `${10006414 + m},${ts.slice(0, 10)} ${ts.slice(11, 19)},0,${kwh},0,0,0,0\n`;
    }
    parts.push(chunk);
  }
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lpclust-bench-etl-')), 'generated_sgsc.csv.gz');
  fs.writeFileSync(file, gzipSync(parts.join('')));
  return file;
}

async function main(): Promise<void> {
  log.level = 'warn'; // the per-correction info lines would repeat on every run
  let sgsc = path.join(DATA, 'sgsc-50-households', 'sm_cust50.csv.gz');
  let uc7 = path.join(DATA, 'inergy-uc7');
  let metersFile = path.join(uc7, 'smart_meter_description.csv');
  const real = fs.existsSync(sgsc) && fs.existsSync(uc7);
  if (!real) {
    console.log(
      `note: the real datasets are not under ${DATA} (set LPCLUST_DATASETS to the folder holding sgsc-50-households and inergy-uc7): ` +
        'measuring a generated CSV of the same shape for generic and the bundled sample data/oldmongo for oldmongo instead.',
    );
    sgsc = generatedSgsc();
    uc7 = path.join(REPO, 'data', 'oldmongo');
    metersFile = path.join(REPO, 'data', 'meters.csv');
  }
  console.log(`ETL benchmark — node ${process.version}, ${os.cpus().length} CPU(s), load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}, best of ${reps}, zone ${timeZone}`);
  const generic = await measure(
    () => genericSource({ input: sgsc, idCol: 'customer_id', timeCol: 'reading_datetime', valueCol: 'general_supply_kwh', unit: 'kWh' }),
    { resolutionMinutes: 30, timeZone },
    null,
  );
  console.log(line(real ? 'etl generic (SGSC 50, gzip, 30 min)' : 'etl generic (generated, gzip, 30 min)', generic));
  if (!real) fs.rmSync(path.dirname(sgsc), { recursive: true, force: true });
  const meters = await readMeterDescription(metersFile);
  const rules = await loadRules(path.join(REPO, 'data', 'rules.yaml'));
  // One small file: the first runs are dominated by JIT warm-up, so take the best of more runs.
  const old = await measure(() => oldMongoSource(uc7), { resolutionMinutes: 60, timeZone }, meters, rules, Math.max(reps, 10));
  console.log(line(real ? 'etl oldmongo (BBB6004, rules, 60 min)' : 'etl oldmongo (sample SYN0001, rules, 60 min)', old));
  const target = 500_000;
  const best = generic.rows / Math.min(generic.wall, generic.cpu);
  console.log(`generic target ≥ ${target.toLocaleString('en-US')} rows/s: ${best >= target ? 'met' : 'NOT met'} (cpu-time rate ${Math.round(generic.rows / generic.cpu).toLocaleString('en-US')} rows/s)`);
}

await main();
