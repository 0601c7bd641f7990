/**
 * Helpers of the SQL-source tests: write historian rows as text exports, a SQLite table or a
 * PostgreSQL table, and run the cleaning on a source.
 */
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { cleanSource, type EtlSourceReader } from '../../src/etl/run.js';
import { DEFAULT_CLEAN_OPTIONS, type CleanOptions, type MeterInfo, type OnBadRow } from '../../src/etl/types.js';
import { SQL_CLEAN_DEFAULTS } from '../../src/etl/sql.js';
import { emptyRules, type RulesFile } from '../../src/etl/rules.js';

/** One historian row: timestamp text, tag, energy (number or raw text). */
export type Row = [string, string, number | string];

/** A fresh temporary directory. */
export function tempDir(prefix = 'lpclust-sql-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Write rows as `<dir>/<meter>.txt` historian exports (quality columns as the historian has them). */
export function writeTxt(dir: string, byMeter: Record<string, Row[]>): void {
  mkdirSync(dir, { recursive: true });
  for (const [meter, rows] of Object.entries(byMeter)) {
    writeFileSync(join(dir, `${meter}.txt`), rows.map((r) => `${r[0]},${r[1]},${r[2]},192,0,192`).join('\n') + '\n');
  }
}

/** Write rows of all meters into a SQLite table `historian` (text timestamps, real energy). */
export function writeSqlite(file: string, rows: Row[], table = 'historian'): void {
  const db = new Database(file);
  db.exec(`CREATE TABLE ${table} (timestamp TEXT, tagname TEXT, energy REAL, quality INTEGER, qualityDetail INTEGER, OPCquality INTEGER)`);
  const ins = db.prepare(`INSERT INTO ${table} VALUES (?, ?, ?, 192, 0, 192)`);
  db.transaction(() => {
    for (const r of rows) ins.run(r[0], r[1], r[2]);
  })();
  db.close();
}

/**
 * Create a PostgreSQL historian table and insert the rows (parameterised, in batches).
 * `tsType` picks the timestamp column type.
 */
export async function writePostgres(url: string, rows: Row[], table = 'historian', tsType = 'timestamp'): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(`CREATE TABLE ${table} ("timestamp" ${tsType}, tagname text, energy double precision, quality integer, "qualityDetail" integer, "OPCquality" integer)`);
    for (let i = 0; i < rows.length; i += 500) {
      const chunk = rows.slice(i, i + 500);
      const values: unknown[] = [];
      const tuples = chunk.map((r, j) => {
        values.push(r[0], r[1], r[2]);
        return `($${3 * j + 1}, $${3 * j + 2}, $${3 * j + 3}, 192, 0, 192)`;
      });
      await c.query(`INSERT INTO ${table} VALUES ${tuples.join(',')}`, values);
    }
  } finally {
    await c.end();
  }
}

/** Meter description entries. */
export function meterMap(entries: Array<[string, number | null, number | null]>): Map<string, MeterInfo> {
  return new Map(entries.map(([id, p, prod]) => [id, { id, contractualPowerKw: p, productionKw: prod, type: '' }]));
}

/** Clean a source with the SQL defaults and return the CSV text of the table plus the report. */
export async function cleanToCsv(
  reader: EtlSourceReader,
  meters: Map<string, MeterInfo> | null,
  opts: { clean?: Partial<CleanOptions>; rules?: RulesFile; onBadRow?: OnBadRow } = {},
): Promise<{ csv: string; metrics: Record<string, number>; report: Awaited<ReturnType<typeof cleanSource>>['report'] }> {
  const r = await cleanSource(reader, {
    clean: { ...DEFAULT_CLEAN_OPTIONS, ...SQL_CLEAN_DEFAULTS, ...opts.clean },
    rules: opts.rules ?? emptyRules(),
    meters,
    onBadRow: opts.onBadRow ?? 'error',
  });
  const t = r.table;
  const lines = [['id', 'date', ...t.slots].join(',')];
  for (let i = 0; i < t.n; i++) lines.push([t.ids[i], t.dates[i], ...Array.from(t.values.subarray(i * t.length, (i + 1) * t.length), (v) => String(v))].join(','));
  return { csv: lines.join('\n'), metrics: r.report.metrics(), report: r.report };
}

/** Hourly interval rows of one full UTC day for a tag: value(h) Wh at each quarter hour. */
export function quarterRows(date: string, tag: string, value: (h: number, q: number) => number): Row[] {
  const rows: Row[] = [];
  for (let h = 0; h < 24; h++) {
    for (let q = 0; q < 4; q++) rows.push([`${date} ${String(h).padStart(2, '0')}:${String(q * 15).padStart(2, '0')}:00`, tag, value(h, q)]);
  }
  return rows;
}
