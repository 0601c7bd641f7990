/**
 * The SQL historian source against a REAL PostgreSQL server started in a temporary directory
 * (test/support/postgres.ts). Fails — does not skip — when PostgreSQL is not installed.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRules } from '../../src/etl/rules.js';
import { readMeterDescription } from '../../src/etl/meters.js';
import { exportTagFor, sqlDatabaseSource, sqlFolderSource, SQL_CLEAN_DEFAULTS } from '../../src/etl/sql.js';
import { runEtlStage } from '../../src/pipeline/etl.js';
import { runPipeline } from '../../src/pipeline/pipeline.js';
import { configuredSources } from '../../src/pipeline/sources.js';
import { writeFileSync } from 'node:fs';
import { openStore } from '../../src/tracking/index.js';
import { startPostgres, type PgServer } from '../support/postgres.js';
import { cleanToCsv, meterMap, quarterRows, tempDir, writePostgres, writeSqlite, writeTxt, type Row } from './sql-support.js';

const IMP = (m: string) => `Energy_Ameno_1_8_0_${m}.kWh`;

let server: PgServer;

beforeAll(async () => {
  server = await startPostgres();
});

afterAll(async () => {
  await server?.stop();
});

function sampleRows(): Row[] {
  const rows: Row[] = [];
  for (const f of readdirSync('data/sql').sort()) {
    for (const line of readFileSync(`data/sql/${f}`, 'utf8').trim().split('\n')) {
      const p = line.split(',');
      rows.push([p[0]!, p[1]!, Number(p[2])]);
    }
  }
  return rows;
}

/** Every file under a directory, read as text. */
function allText(dir: string): string {
  let out = '';
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    out += statSync(p).isDirectory() ? allText(p) : readFileSync(p, 'utf8');
  }
  return out;
}

describe('SQL historian in PostgreSQL (real server)', () => {
  it('gives the same clean profiles as SQLite and the text exports for the shipped sample', async () => {
    const rows = sampleRows();
    await writePostgres(server.url, rows, 'historian');
    const dir = tempDir();
    writeSqlite(join(dir, 'sample.sqlite'), rows);
    const meters = await readMeterDescription('data/meters.csv');
    const rules = await loadRules('data/rules.yaml');
    const txt = await cleanToCsv(sqlFolderSource('data/sql'), meters, { rules });
    const lite = await cleanToCsv(sqlDatabaseSource(join(dir, 'sample.sqlite')), meters, { rules });
    const pgr = await cleanToCsv(sqlDatabaseSource(server.url), meters, { rules });
    expect(pgr.csv).toBe(txt.csv);
    expect(lite.csv).toBe(txt.csv);
    expect(pgr.metrics.records_read).toBe(rows.length);
    expect(pgr.metrics.days_kept).toBeGreaterThan(200);
  });

  it('reads timestamptz columns and a schema-qualified table, with export negation', async () => {
    const m1: Row[] = [...quarterRows('2021-09-02', IMP('M1'), () => 100), ...quarterRows('2021-09-02', exportTagFor('M1'), (h) => (h === 12 ? 50 : 0))];
    const withOffsets = m1.map(([t, tag, e]) => [`${t}+00`, tag, e] as Row);
    await writePostgres(server.url, withOffsets, 'public.hist_tz', 'timestamptz');
    const dir = tempDir();
    writeTxt(dir, { M1: m1 });
    const meters = meterMap([['M1', 40, 10]]);
    const a = await cleanToCsv(sqlFolderSource(dir), meters);
    const b = await cleanToCsv(sqlDatabaseSource(server.url, 'public.hist_tz'), meters);
    expect(b.csv).toBe(a.csv);
    expect(b.csv.split('\n')[1]!.split(',')[2 + 12]).toBe('200');
  });

  it('groups rows by exact meter even when tag texts interleave (M, M.kWh, M-x.kWh)', async () => {
    const rows: Row[] = [
      ...quarterRows('2021-09-02', 'Energy_Ameno_1_8_0_M', () => 1),
      ...quarterRows('2021-09-02', 'Energy_Ameno_1_8_0_M-x.kWh', () => 5),
      ...quarterRows('2021-09-02', 'Energy_Ameno_2_8_0_M.kWh', () => 0.5),
      ...quarterRows('2021-09-02', 'Energy_Ameno_1_8_0_m.kWh', () => 3),
    ];
    const mixed = rows.map((r, i) => [r, (i % 96) * 10 + Math.floor(i / 96)] as const).sort((a, b) => a[1] - b[1]).map((x) => x[0]);
    await writePostgres(server.url, mixed, 'hist_mixed');
    const dir = tempDir();
    writeSqlite(join(dir, 'mixed.sqlite'), mixed);
    const meters = meterMap([['M', null, null], ['M-x', null, null], ['m', null, null]]);
    const pgr = await cleanToCsv(sqlDatabaseSource(server.url, 'hist_mixed'), meters);
    expect(pgr.csv).toBe((await cleanToCsv(sqlDatabaseSource(join(dir, 'mixed.sqlite')), meters)).csv);
    expect(pgr.csv.split('\n').slice(1).map((l) => l.split(',').slice(0, 3).join(','))).toEqual(['M,2021-09-02,2', 'M-x,2021-09-02,20', 'm,2021-09-02,12']);
  });

  it('streams a meter larger than one cursor page', async () => {
    // 30 days of quarter hours × 2 tags = 5760 rows for one meter; page size is 10 000, so use 60 days.
    const rows: Row[] = [];
    for (let d = 1; d <= 60; d++) {
      const date = new Date(Date.UTC(2021, 8, 1) + (d - 1) * 86_400_000).toISOString().slice(0, 10);
      rows.push(...quarterRows(date, IMP('BIG'), () => 25), ...quarterRows(date, exportTagFor('BIG'), () => 5));
    }
    await writePostgres(server.url, rows, 'hist_big');
    const r = await cleanToCsv(sqlDatabaseSource(server.url, 'hist_big'), meterMap([['BIG', null, null]]));
    expect(r.metrics.records_read).toBe(11_520);
    expect(r.metrics.days_kept).toBe(60);
    expect(r.csv.split('\n')[1]!.split(',').slice(2).every((v) => v === '80')).toBe(true);
  });

  it('names the table, meter and row of bad data; a missing table is an input error', async () => {
    const c = (await import('pg')).default;
    const client = new c.Client({ connectionString: server.url });
    await client.connect();
    await client.query(`CREATE TABLE hist_text ("timestamp" text, tagname text, energy text, quality int, "qualityDetail" int, "OPCquality" int)`);
    await client.query(`INSERT INTO hist_text VALUES ($1, $2, $3, 192, 0, 192), ($4, $2, $5, 192, 0, 192)`, ['2021-09-02 00:00:00', IMP('M1'), '1.5', '2021-09-02 00:15:00', 'oops']);
    await client.end();
    const meters = meterMap([['M1', 40, 10]]);
    const err = await cleanToCsv(sqlDatabaseSource(server.url, 'hist_text'), meters).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/table hist_text, meter M1, row \d: field "energy": expected a number but found "oops"/);
    expect((err as Error).message).not.toContain(server.password);
    await expect(cleanToCsv(sqlDatabaseSource(server.url, 'nope'), meters)).rejects.toMatchObject({ code: 'E_INPUT_TABLE' });
  });

  it('never shows the password: wrong password, unreachable server, tracked params', async () => {
    const wrong = server.url.replace(server.password, 'Wr0ngSecretPw');
    const e1 = (await cleanToCsv(sqlDatabaseSource(wrong), null).catch((e: Error) => e)) as Error & { code: string };
    expect(e1.code).toBe('E_EXTERNAL_DB');
    expect(e1.message).toContain('lpclust:***@127.0.0.1');
    expect(e1.message).not.toContain('Wr0ngSecretPw');
    const down = `postgres://lpclust:UnreachablePw1@127.0.0.1:1/postgres`;
    const e2 = (await cleanToCsv(sqlDatabaseSource(down), null).catch((e: Error) => e)) as Error;
    expect(e2.message).not.toContain('UnreachablePw1');

    // A tracked etl_sql run from PostgreSQL: the password appears nowhere in the run's files.
    const dir = tempDir('lpclust-sql-run-');
    const store = await openStore(`file:${join(dir, 'mlruns')}`);
    const res = await runEtlStage(
      {
        reader: sqlDatabaseSource(server.url),
        runName: 'etl_sql',
        out: join(dir, 'clean_sql.csv'),
        metersFile: 'data/meters.csv',
        rulesFile: 'data/rules.yaml',
        clean: { ...SQL_CLEAN_DEFAULTS },
        params: { db: server.url, table: 'historian' },
      },
      { store, experimentName: 'sqltest' },
    );
    expect(res.metrics.days_kept).toBeGreaterThan(200);
    const everything = allText(join(dir, 'mlruns'));
    expect(everything).toContain('lpclust:***@127.0.0.1');
    expect(everything).not.toContain(server.password);
  });

  it('a pipeline whose sql source is a PostgreSQL URI named in the config (dbEnv) never shows the password', async () => {
    await writePostgres(server.url, sampleRows(), 'historian_pipeline');
    const dir = tempDir('lpclust-sql-pipeline-');
    const ENV = 'LPCLUST_TEST_PG_HISTORIAN_URI';
    process.env[ENV] = server.url;
    try {
      const cfg = join(dir, 'lpclust.config.json');
      writeFileSync(cfg, JSON.stringify({ pipeline: { sources: { sql: { dbEnv: ENV, table: 'historian_pipeline' } } } }));
      const conf = configuredSources({}, cfg, dir)!;
      const store = await openStore(`file:${join(dir, 'mlruns')}`);
      const res = await runPipeline(
        { model: 'kmeans', metric: 'euclidean', k: 3, nInit: 1, sources: conf.sources, meters: 'data/meters.csv', rules: 'data/rules.yaml', outDir: join(dir, 'out'), plots: false },
        { store, experimentName: 'sqlpipe' },
      );
      expect(res.outputs.stages.filter((x) => !x.skipped).map((x) => x.stage)).toEqual(['etl_sql', 'harmonization', 'clustering']);
      const everything = allText(join(dir, 'mlruns')) + allText(join(dir, 'out'));
      expect(everything).toContain('lpclust:***@127.0.0.1');
      expect(everything).not.toContain(server.password);
    } finally {
      delete process.env[ENV];
    }
  });
});
