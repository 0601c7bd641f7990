import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { harmonizeTables, SOURCE_PRECEDENCE, type SourceTable } from '../../src/harmonize/harmonize.js';
import { matrixDigest } from '../../src/profiles/normalize.js';
import { readProfiles, type ProfileTable } from '../../src/io/profiles.js';
import { runHarmonizeStage, exclusionsFromRules, defaultDtwPath } from '../../src/pipeline/harmonize.js';
import { FileStore } from '../../src/tracking/file-store.js';
import { emptyRules } from '../../src/etl/rules.js';
import { dtwNaive } from '../../src/dtw/reference.js';
import { readNpy } from '../../src/io/npy.js';
import { normalizeRows } from '../../src/profiles/normalize.js';

const run = promisify(execFile);
const root = path.resolve(__dirname, '../..');
const bin = path.join(root, 'bin/lpclust.js');
const dir = mkdtempSync(path.join(os.tmpdir(), 'lpclust-harmonize-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A table from rows [id, date, ...values] (null = missing). */
function table(slots: string[], rows: Array<[string, string, ...Array<number | null>]>): ProfileTable {
  const L = slots.length;
  const values = new Float64Array(rows.length * L);
  rows.forEach((r, i) => r.slice(2).forEach((v, j) => (values[i * L + j] = v === null ? NaN : (v as number))));
  return { ids: rows.map((r) => r[0]), dates: rows.map((r) => r[1]), slots, values, n: rows.length, length: L };
}

const S4 = ['00:00', '06:00', '12:00', '18:00'];

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe('harmonizeTables', () => {
  it('joins sources, drops excluded meters and incomplete rows, keeps the newest source on duplicates, sorts by id then date', () => {
    const oldmongo: SourceTable = {
      source: 'oldmongo',
      file: 'old.csv',
      table: table(S4, [
        ['M2', '2020-01-02', 1, 1, 1, 1],
        ['M1', '2020-01-01', 9, 9, 9, 9],
        ['BBB6179', '2020-01-01', 1, 2, 3, 4],
        ['M1', '2020-01-03', 1, null, 1, 1],
      ]),
    };
    const sql: SourceTable = { source: 'sql', file: 'sql.csv', table: table(S4, [['M1', '2020-01-01', 1, 2, 3, 4], ['BBB6179', '2020-01-05', 1, 1, 1, 1]]) };
    const newmongo: SourceTable = { source: 'newmongo', file: 'new.csv', table: table(S4, [['M1', '2020-01-01', 1, 2, 3, 4], ['M10', '2020-01-01', 2, 2, 2, 2]]) };
    const { table: t, report } = harmonizeTables([oldmongo, sql, newmongo], { exclude: [{ meter: 'BBB6179', sources: ['oldmongo'] }] });
    expect(t.ids.map((id, i) => `${id} ${t.dates[i]}`)).toEqual(['BBB6179 2020-01-05', 'M1 2020-01-01', 'M10 2020-01-01', 'M2 2020-01-02']);
    // M1 2020-01-01 comes from new Mongo (values 1,2,3,4), not the old export (9,9,9,9).
    expect([...t.values.subarray(4, 8)]).toEqual([1, 2, 3, 4]);
    expect(report.perSource.oldmongo).toMatchObject({ rowsIn: 4, excluded: 1, droppedIncomplete: 1, duplicatesDropped: 1, rowsKept: 1 });
    expect(report.perSource.sql).toMatchObject({ rowsIn: 2, excluded: 0, droppedIncomplete: 0, duplicatesDropped: 1, rowsKept: 1 });
    expect(report.perSource.newmongo).toMatchObject({ rowsIn: 2, duplicatesDropped: 0, rowsKept: 2 });
    expect(report.duplicateKeys).toBe(1);
    expect(report.duplicateKeysDiffering).toBe(1);
    expect(report.duplicateExamples).toEqual([{ id: 'M1', date: '2020-01-01', sources: ['newmongo', 'sql', 'oldmongo'], valuesDiffer: true }]);
    expect(report.excludedMeters).toEqual({ oldmongo: ['BBB6179'] });
    expect(report).toMatchObject({ rowsOut: 4, meters: 4, resolutionMinutes: 360 });
    expect(SOURCE_PRECEDENCE).toEqual(['newmongo', 'sql', 'oldmongo']);
    for (const c of Object.values(report.perSource)) expect(c!.excluded + c!.droppedIncomplete + c!.droppedZero + c!.duplicatesDropped + c!.rowsKept).toBe(c!.rowsIn);
  });

  it('counts all-zero days, and drops them only when asked', () => {
    const src: SourceTable = { source: 'sql', file: 's.csv', table: table(S4, [['A', '2020-01-01', 0, 0, 0, 0], ['A', '2020-01-02', 0, 1, 0, 0]]) };
    const kept = harmonizeTables([src]);
    expect(kept.table.n).toBe(2);
    expect(kept.report.zeroRows).toBe(1);
    const dropped = harmonizeTables([src], { dropZeroDays: true });
    expect(dropped.table.dates).toEqual(['2020-01-02']);
    expect(dropped.report.perSource.sql).toMatchObject({ droppedZero: 1, rowsKept: 1 });
    expect(dropped.report.zeroRows).toBe(0);
  });

  it('does not let an incomplete row of a preferred source hide a complete one', () => {
    const { table: t, report } = harmonizeTables([
      { source: 'newmongo', file: 'n.csv', table: table(S4, [['M1', '2020-01-01', 1, null, 1, 1]]) },
      { source: 'oldmongo', file: 'o.csv', table: table(S4, [['M1', '2020-01-01', 5, 5, 5, 5]]) },
    ]);
    expect(t.n).toBe(1);
    expect([...t.values]).toEqual([5, 5, 5, 5]);
    expect(report.duplicateKeys).toBe(0);
  });

  it('excludes a meter from every source when the exclusion names none', () => {
    const { table: t, report } = harmonizeTables(
      [
        { source: 'sql', file: 's.csv', table: table(S4, [['X', '2020-01-01', 1, 1, 1, 1], ['Y', '2020-01-01', 1, 1, 1, 1]]) },
        { source: 'newmongo', file: 'n.csv', table: table(S4, [['X', '2020-01-02', 1, 1, 1, 1]]) },
      ],
      { exclude: [{ meter: 'X' }] },
    );
    expect(t.ids).toEqual(['Y']);
    expect(report.perSource.sql!.excluded).toBe(1);
    expect(report.perSource.newmongo!.excluded).toBe(1);
  });

  it('refuses different resolutions, naming the files and their resolutions', () => {
    const a: SourceTable = { source: 'oldmongo', file: 'clean_oldmongo.csv', table: table(S4, []) };
    const b: SourceTable = { source: 'sql', file: 'clean_sql.csv', table: table(['00:00', '12:00'], []) };
    expect(() => harmonizeTables([a, b])).toThrow(
      /clean_oldmongo\.csv \(oldmongo\): 4 slots, 360-minute resolution.*clean_sql\.csv \(sql\): 2 slots, 720-minute resolution/,
    );
    try {
      harmonizeTables([a, b]);
    } catch (e) {
      expect((e as { code: string }).code).toBe('E_HARMONIZE_RESOLUTION');
    }
  });

  it('refuses no source, a source twice and a repeated row in one file', () => {
    expect(() => harmonizeTables([])).toThrow(/at least one clean CSV/);
    const t = table(S4, [['M', '2020-01-01', 1, 1, 1, 1]]);
    expect(() => harmonizeTables([{ source: 'sql', file: 'a', table: t }, { source: 'sql', file: 'b', table: t }])).toThrow(/given twice/);
    const dup = table(S4, [['M', '2020-01-01', 1, 1, 1, 1], ['M', '2020-01-01', 2, 2, 2, 2]]);
    expect(() => harmonizeTables([{ source: 'sql', file: 'dup.csv', table: dup }])).toThrow(/dup\.csv: meter M on 2020-01-01 appears twice/);
  });

  it('maps the rules file to exclusions (harmonize: every source; sources.<s>: that source)', () => {
    const rules = emptyRules();
    rules.harmonize.excludeMeters = ['BBB6179', 'BBB6169'];
    rules.sources.sql = { excludeMeters: ['Z'], rules: [] };
    expect(exclusionsFromRules(rules)).toEqual([{ meter: 'BBB6179' }, { meter: 'BBB6169' }, { meter: 'Z', sources: ['sql'] }]);
  });
});

describe('harmonization stage and command', () => {
  let oldCsv: string;
  let sqlCsv: string;
  let rulesYaml: string;
  beforeAll(() => {
    oldCsv = write(
      'clean_oldmongo.csv',
      'id,date,00:00,06:00,12:00,18:00\nBBB6169,2020-01-01,1,1,1,1\nM1,2020-01-01,9,9,9,9\nM1,2020-01-02,1,,3,4\nM2,2020-01-01,5,6,7,8\n',
    );
    sqlCsv = write('clean_sql.csv', 'id,date,00:00,06:00,12:00,18:00\nM1,2020-01-01,1,2,3,4\nM0,2020-01-03,4,3,2,1\n');
    rulesYaml = write('rules.yaml', 'harmonize:\n  excludeMeters: [BBB6179, BBB6169]\n');
  });

  it('logs a FINISHED run `harmonization` with counts per source, the CSV and the dataset digest', async () => {
    const store = new FileStore(path.join(dir, 'mlruns'));
    const out = path.join(dir, 'stage', 'harmonized.csv');
    const res = await runHarmonizeStage({ sources: { oldmongo: oldCsv, sql: sqlCsv }, rulesFile: rulesYaml, out }, { store, experimentName: 'test' });
    const t = await readProfiles(out);
    expect(t.ids.map((id, i) => `${id} ${t.dates[i]}`)).toEqual(['M0 2020-01-03', 'M1 2020-01-01', 'M2 2020-01-01']);
    const r = await store.getRun(res.runId);
    expect(r.info.status).toBe('FINISHED');
    expect(r.info.runName).toBe('harmonization');
    expect(r.data.metrics).toMatchObject({
      oldmongo_rows_in: 4,
      oldmongo_excluded: 1,
      oldmongo_dropped_incomplete: 1,
      oldmongo_duplicates: 1,
      oldmongo_rows_kept: 1,
      sql_rows_in: 2,
      sql_rows_kept: 2,
      rows: 3,
      meters: 3,
      duplicate_keys: 1,
      resolution_minutes: 360,
    });
    expect(r.data.params).toMatchObject({ sources: 'oldmongo,sql', oldmongo_csv: oldCsv, sql_csv: sqlCsv, precedence: 'newmongo>sql>oldmongo' });
    expect(r.data.tags['lpclust.dataset.digest']).toBe(matrixDigest(t.values, 4));
    expect(r.data.tags['lpclust.dataset.digest.l2']).toBe(matrixDigest(normalizeRows(t.values, 4, 'l2'), 4));
    expect(r.data.tags.harmonized_csv).toBe(out);
    const artifacts = (await store.listArtifacts(res.runId, 'harmonized')).map((a) => a.path);
    expect(artifacts).toEqual(['harmonized/harmonized.csv']);
    expect((await store.listArtifacts(res.runId)).map((a) => a.path)).toContain('harmonize_report.json');
  });

  it('fails the run (and writes nothing) on different resolutions', async () => {
    const store = new FileStore(path.join(dir, 'mlruns'));
    const other = write('clean_newmongo.csv', 'id,date,00:00,12:00\nM9,2020-01-01,1,2\n');
    const out = path.join(dir, 'bad', 'harmonized.csv');
    await expect(runHarmonizeStage({ sources: { sql: sqlCsv, newmongo: other }, out }, { store, experimentName: 'test' })).rejects.toThrow(
      /clean_sql\.csv \(sql\): 4 slots, 360-minute.*clean_newmongo\.csv \(newmongo\): 2 slots, 720-minute/,
    );
    expect(existsSync(out)).toBe(false);
    const runs = await store.searchRuns({ experimentIds: [(await store.getExperimentByName("test"))!.experimentId] });
    const failed = runs.filter((x) => x.info.status === 'FAILED');
    expect(failed.length).toBe(1);
    expect(failed[0].data.tags['lpclust.error.code']).toBe('E_HARMONIZE_RESOLUTION');
  });

  it('computes the DTW matrix of the L2-normalised result with --compute-dtw, through the CLI', async () => {
    const out = path.join(dir, 'cli', 'harmonized.csv');
    const { stdout } = await run(
      process.execPath,
      [bin, '--tracking-uri', `file:${path.join(dir, 'mlruns-cli')}`, '--json', 'harmonize', '--oldmongo', oldCsv, '--sql', sqlCsv, '--rules', rulesYaml, '--out', out, '--compute-dtw', '--workers', '1'],
      { cwd: dir },
    );
    const res = JSON.parse(stdout);
    expect(res.runId).toMatch(/^[0-9a-f]{32}$/);
    expect(res.metrics.rows).toBe(3);
    expect(res.metrics.oldmongo_excluded).toBe(1);
    expect(res.dtw.out).toBe(defaultDtwPath(out));
    const t = await readProfiles(out);
    const X = normalizeRows(t.values, 4, 'l2');
    const m = await readNpy(res.dtw.out);
    expect(m.header.shape).toEqual([3, 3]);
    const d01 = dtwNaive(X.subarray(0, 4), X.subarray(4, 8), 1);
    expect(Number((m.data as Float32Array)[1])).toBeCloseTo(d01, 5);
    const sidecar = JSON.parse(readFileSync(`${res.dtw.out}.json`, 'utf8'));
    expect(JSON.stringify(sidecar)).toContain(matrixDigest(X, 4));
  });

  it('rejects a command line without a source, and DTW options without --compute-dtw', async () => {
    const args = [bin, '--tracking-uri', `file:${path.join(dir, 'mlruns-cli')}`, 'harmonize', '--out', path.join(dir, 'x.csv')];
    const noSource = await run(process.execPath, args, { cwd: dir }).catch((e) => e);
    expect(noSource.code).toBe(2);
    expect(noSource.stderr).toMatch(/Expected at least one of `--oldmongo`, `--sql`, `--newmongo`/);
    const radius = await run(process.execPath, [...args, '--sql', sqlCsv, '--radius', '2'], { cwd: dir }).catch((e) => e);
    expect(radius.code).toBe(2);
    expect(radius.stderr).toMatch(/only apply with `--compute-dtw`/);
    const bad = await run(process.execPath, [...args, '--sql', sqlCsv, '--compute-dtw', '--radius', '-3'], { cwd: dir }).catch((e) => e);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/Expected a non-negative integer .*for `--radius` but received `-3`/);
  });
});
