#!/usr/bin/env node
// Regenerates the demo inputs under data/ (see data/README.md for provenance and licences). Not run
// by the tests or the demo. The SGSC files come from the real dataset in ../shared/datasets/; the
// old Mongo meter is synthetic, written by scripts/make-synthetic-oldmongo.ts (run from here too).
//
//   node scripts/make-sample-data.mjs [--datasets ../shared/datasets] [--out data]
//   node scripts/make-sample-data.mjs --full --out /tmp/sgsc-full   # every household, whole span
//
// `--full` (for checks and benchmarks on the whole real dataset, not for data/) converts all 50
// households over their whole span, each to BOTH the SQL files and the new Mongo export, with
// the same conversions; it writes no old Mongo file (read the real one in the datasets folder).
//
// Writes:
//   data/oldmongo/SYN0001.csv     the synthetic old-Mongo export (make-synthetic-oldmongo.ts: seeded,
//                                 no dataset; both register unit changes included)
//   data/sql/<METER>.txt          SQL historian exports (no header: timestamp, tagname, energy,
//                                 quality, qualityDetail, OPCquality) of 5 SGSC households
//   data/newmongo/newmongo.jsonl  a mongoexport-style JSON-lines export of daily documents of 4
//                                 other SGSC households
//   data/meters.csv               the meter description: the synthetic meter's row, then one row per
//                                 SGSC household
//
// Conversions of the SGSC data (30-minute general-supply kWh, naive NSW local clock times):
// - energy kWh → Wh (× 1000, rounded to 0.1 Wh — the source has 3-decimal kWh, so this is exact);
// - meter ids `SGSC<customer_id>`;
// - SQL: timestamps shifted by +418 weeks (2926 days; weekdays kept) so that they fall after the
//   SQL source's 2021-09-01 start date of the rules file; tag `Energy_Ameno_1_8_0_<METER>.kWh`;
//   quality columns are placeholders (192, 0, 192: "good"), the source has none;
// - new Mongo: one document per household and day with energy_type "active_sum"; each half-hour
//   value goes to its `HH:00:00` / `HH:30:00` key, the `HH:15:00` / `HH:45:00` keys are absent
//   (missing; at 15-minute resolution each is a one-slot gap that the short-gap rule fills); `_id` is a
//   deterministic made-up ObjectId (hash of id and date); dates are not shifted.
// Households are chosen deterministically: ascending customer id, at least 95 % of the window's
// half hours present; the first 5 for SQL, the next 4 (not used for SQL) for new Mongo.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const FULL = args.includes('--full');
const DATASETS = resolve(opt('--datasets', '../shared/datasets'));
const OUT = resolve(opt('--out', 'data'));

const SQL_FROM = FULL ? '2012-01-01' : '2013-09-01';
const SQL_TO = FULL ? '2014-12-31' : '2013-10-16'; // exclusive: 45 days
// 418 weeks: 2013-09-01 (Sun) → 2021-09-05 (Sun). With --full: 522 weeks (2012 → 2022).
const SQL_SHIFT_DAYS = FULL ? 3654 : 2926;
const SQL_METERS = FULL ? 50 : 5;
const NM_FROM = FULL ? SQL_FROM : '2013-05-01';
const NM_TO = FULL ? SQL_TO : '2013-08-01'; // exclusive: 92 days
const NM_METERS = FULL ? 50 : 4;
const MIN_COVERAGE = FULL ? 0 : 0.95;

const DAY_MS = 86_400_000;
const dayIndex = (date) => Math.round(Date.parse(`${date}T00:00:00Z`) / DAY_MS);

function write(rel, text) {
  const file = join(OUT, rel);
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, text);
  console.log(`wrote ${rel} (${(Buffer.byteLength(text) / 1024).toFixed(0)} KiB)`);
}

// --- old Mongo: the synthetic meter (no dataset), by its own script so that it stays the one
// place that knows the meter.
if (!FULL) {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'make-synthetic-oldmongo.ts');
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, '--out', join(OUT, 'oldmongo')], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`${script} failed (exit ${r.status})`);
}

// --- SGSC: read the two windows of every household.
const sqlRows = new Map(); // customer → [[datetime, kwh]]
const nmRows = new Map();
{
  const rl = createInterface({ input: createReadStream(join(DATASETS, 'sgsc-50-households', 'sm_cust50.csv.gz')).pipe(createGunzip()), crlfDelay: Infinity });
  let header = null;
  for await (const line of rl) {
    if (header === null) {
      header = line.split(',');
      if (header[0] !== 'customer_id' || header[1] !== 'reading_datetime' || header[3] !== 'general_supply_kwh') throw new Error(`unexpected SGSC header: ${line}`);
      continue;
    }
    const f = line.split(',');
    const dt = f[1];
    const targets = [];
    if (dt >= SQL_FROM && dt < SQL_TO) targets.push(sqlRows);
    if (dt >= NM_FROM && dt < NM_TO && (FULL || targets.length === 0)) targets.push(nmRows);
    for (const target of targets) {
      let list = target.get(f[0]);
      if (!list) {
        list = [];
        target.set(f[0], list);
      }
      list.push([dt, f[3]]);
    }
  }
}
const halfHours = (from, to) => (dayIndex(to) - dayIndex(from)) * 48;
const covered = (rows, from, to) => [...rows.entries()].filter(([, r]) => new Set(r.map((x) => x[0])).size >= MIN_COVERAGE * halfHours(from, to)).map(([c]) => c).sort();
const sqlCustomers = covered(sqlRows, SQL_FROM, SQL_TO).slice(0, SQL_METERS);
const nmCustomers = covered(nmRows, NM_FROM, NM_TO).filter((c) => FULL || !sqlCustomers.includes(c)).slice(0, NM_METERS);
if (sqlCustomers.length < SQL_METERS || nmCustomers.length < NM_METERS) throw new Error('not enough households with the required coverage');
const wh = (kwh) => String(Math.round(Number(kwh) * 10000) / 10); // kWh (3 decimals) → Wh

// --- SQL historian txt files.
for (const c of sqlCustomers) {
  const meter = `SGSC${c}`;
  const tag = `Energy_Ameno_1_8_0_${meter}.kWh`;
  const lines = sqlRows.get(c).map(([dt, kwh]) => {
    const shifted = new Date(Date.parse(`${dt.replace(' ', 'T')}Z`) + SQL_SHIFT_DAYS * DAY_MS).toISOString().slice(0, 19).replace('T', ' ');
    return `${shifted},${tag},${wh(kwh)},192,0,192`;
  });
  write(`sql/${meter}.txt`, lines.join('\n') + '\n');
}

// --- new Mongo JSON lines: one document per household and day.
{
  const out = [];
  for (const c of nmCustomers) {
    const meter = `SGSC${c}`;
    const byDay = new Map();
    for (const [dt, kwh] of nmRows.get(c)) {
      const [date, time] = dt.split(' ');
      let doc = byDay.get(date);
      if (!doc) {
        const oid = createHash('sha256').update(`${meter}|${date}|active_sum`).digest('hex').slice(0, 24);
        doc = { _id: { $oid: oid }, id: meter, date, energy_type: 'active_sum' };
        byDay.set(date, doc);
      }
      doc[time] = Number(wh(kwh));
    }
    for (const date of [...byDay.keys()].sort()) {
      const doc = byDay.get(date);
      // Time keys in day order after the fixed fields, as the collection stores them.
      const fixed = { _id: doc._id, id: doc.id, date: doc.date, energy_type: doc.energy_type };
      const times = Object.keys(doc).filter((k) => /^\d\d:\d\d:\d\d$/.test(k)).sort();
      for (const k of times) fixed[k] = doc[k];
      out.push(JSON.stringify(fixed));
    }
  }
  write('newmongo/newmongo.jsonl', out.join('\n') + '\n');
}

// --- meter description: the synthetic meter (written by hand; test/etl/oldmongo.test.ts checks it
// against make-synthetic-oldmongo.ts) and the SGSC households (power unknown, no production).
{
  const header = 'id,Contractual power (kW),Production (kW),Type';
  const synthetic = FULL ? [] : ['SYN0001,45.0,12.0,office'];
  const households = [...new Set([...sqlCustomers, ...nmCustomers])].sort().map((c) => `SGSC${c},,0.0,household`);
  write('meters.csv', [header, ...synthetic, ...households].join('\n') + '\n');
}
console.log(`SQL households: ${sqlCustomers.join(', ')}; new Mongo households: ${nmCustomers.join(', ')}`);
