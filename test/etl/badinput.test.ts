/**
 * Bad input: one clear error naming file, line and field (or a count with --on-bad-row skip), and
 * nothing written on failure.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { isLpclustError, type LpclustError } from '../../src/errors.js';
import { genericSource } from '../../src/etl/generic.js';
import { readMeterDescription } from '../../src/etl/meters.js';
import { oldMongoSource } from '../../src/etl/oldmongo.js';
import { runEtlStage } from '../../src/pipeline/etl.js';
import { FileStore } from '../../src/tracking/file-store.js';
import { BIN, ensureBuilt, tempDir } from '../tracking/helpers.js';

const HEADER = ',id,timestamp,Active_Energy_+_Total_ini,Active_Energy_+_Total_end,Active_Energy_+_Incr,Active_Energy_-_Total_ini,Active_Energy_-_Total_end,Active_Energy_-_Incr';

/** An old Mongo folder with one meter file of `rows` (after the header). */
function folder(rows: string[], meter = 'M1', header = HEADER): string {
  const dir = tempDir('lpclust-bad-');
  fs.mkdirSync(path.join(dir, 'csv'));
  fs.writeFileSync(path.join(dir, 'csv', `${meter}.csv`), [header, ...rows].join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'meters.csv'), 'id,Contractual power (kW),Production (kW),Type\nM1,10,,company\n');
  return dir;
}

/** Good rows: a 1000 Wh/h register every 15 minutes for two days from 2021-03-01T00:00Z. */
function rows(n = 2 * 96): string[] {
  const out: string[] = [];
  for (let k = 0; k < n; k++) {
    const ts = new Date(Date.UTC(2021, 2, 1) + k * 900_000).toISOString().replace('.000Z', 'Z');
    out.push(`${k},M1,${ts},0,${1000 + k * 250},0,0,0,0`);
  }
  return out;
}

async function stage(dir: string, extra: { onBadRow?: 'error' | 'skip'; meters?: string } = {}) {
  const work = tempDir('lpclust-bad-work-');
  const store = new FileStore(path.join(work, 'mlruns'));
  const out = path.join(work, 'out.csv');
  try {
    const res = await runEtlStage(
      { reader: oldMongoSource(dir), runName: 'etl_oldmongo', out, metersFile: extra.meters ?? path.join(dir, 'meters.csv'), onBadRow: extra.onBadRow },
      { store, experimentName: 'bad' },
    );
    return { res, error: undefined, out, store };
  } catch (e) {
    if (!isLpclustError(e)) throw e;
    return { res: undefined, error: e as LpclustError, out, store };
  }
}

describe('bad input', () => {
  it('an unparsable timestamp: file, line and column; nothing written; the run FAILED', async () => {
    const r = rows();
    r[10] = r[10].replace(/2021-03-01T02:30:00Z/, '2021-03-01 2:30');
    const dir = folder(r);
    const { error, out, store } = await stage(dir);
    expect(error?.code).toBe('E_INPUT_TIMESTAMP');
    expect(error?.message).toMatch(/csv\/M1\.csv:12: expected an ISO 8601 timestamp .* in column timestamp but found "2021-03-01 2:30"/);
    expect(error?.where).toMatchObject({ line: 12, field: 'timestamp' });
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.readdirSync(path.dirname(out)).filter((f) => f !== 'mlruns')).toEqual([]);
    const runs = await store.searchRuns({ experimentIds: [(await store.getExperimentByName('bad'))!.experimentId] } as never);
    expect(runs.map((x) => x.info.status)).toEqual(['FAILED']);
  });

  it('an unparsable number, and --on-bad-row skip counts bad rows in the report', async () => {
    const r = rows();
    r[20] = r[20].replace(/,0,(\d+),0,0,0,0$/, ',0,12x4,0,0,0,0');
    r[30] = r[30].replace(/2021-03-01T07:30:00Z/, 'not-a-time');
    const dir = folder(r);
    const failed = await stage(dir);
    expect(failed.error?.code).toBe('E_INPUT_NUMBER');
    expect(failed.error?.message).toMatch(/M1\.csv:22: expected a number in column Active_Energy_\+_Total_end but found "12x4"/);
    const skipped = await stage(dir, { onBadRow: 'skip' });
    expect(skipped.res?.metrics.records_dropped_bad_row).toBe(2);
    expect(skipped.res?.outputs.report.meter('M1').badRows).toBe(2);
    expect(skipped.res?.metrics.days_kept).toBe(1);
  });

  it('a wrong header names the missing column', async () => {
    const dir = folder(rows(), 'M1', HEADER.replace('Active_Energy_+_Total_end', 'Energy_end'));
    const { error } = await stage(dir);
    expect(error?.code).toBe('E_INPUT_HEADER');
    expect(error?.message).toMatch(/M1\.csv:1: .*column Active_Energy_\+_Total_end is missing/);
  });

  it('an unknown meter is an error, or skipped and listed with --on-bad-row skip', async () => {
    const dir = folder(rows().map((l) => l.replace(',M1,', ',ZZ9,')), 'ZZ9');
    const { error } = await stage(dir);
    expect(error?.code).toBe('E_INPUT_UNKNOWN_METER');
    expect(error?.message).toMatch(/ZZ9\.csv: meter ZZ9 is not in the meter description/);
    const skip = await stage(dir, { onBadRow: 'skip' });
    expect(skip.res?.metrics.meters_unknown).toBe(1);
    expect(skip.res?.metrics.days_kept).toBe(0);
  });

  it('an empty source: a header-only file, an empty folder, a missing folder', async () => {
    const headerOnly = await stage(folder([]));
    expect(headerOnly.error?.code).toBe('E_INPUT_EMPTY');
    const empty = tempDir('lpclust-bad-');
    fs.writeFileSync(path.join(empty, 'meters.csv'), 'id,Contractual power (kW),Production (kW),Type\nM1,10,,\n');
    const e2 = await stage(empty);
    expect(e2.error?.code).toBe('E_INPUT_EMPTY');
    expect(e2.error?.message).toMatch(/holds no old Mongo export with records \(files: meters\.csv\)/);
    const e3 = await stage(path.join(empty, 'nope'), { meters: path.join(empty, 'meters.csv') });
    expect(e3.error?.code).toBe('E_INPUT_MISSING');
  });

  it('a bad meter description: missing file, missing column, bad number', async () => {
    const dir = tempDir('lpclust-bad-');
    await expect(readMeterDescription(path.join(dir, 'none.csv'))).rejects.toThrow(/cannot read .*none\.csv: no such file/);
    fs.writeFileSync(path.join(dir, 'a.csv'), 'id,Power,Type\nM1,3,\n');
    await expect(readMeterDescription(path.join(dir, 'a.csv'))).rejects.toThrow(/a\.csv:1: .*column Contractual power \(kW\), Production \(kW\) is missing/);
    fs.writeFileSync(path.join(dir, 'b.csv'), 'id,Contractual power (kW),Production (kW),Type\nM1,3,\nM2,lots,,\n');
    await expect(readMeterDescription(path.join(dir, 'b.csv'))).rejects.toThrow(/b\.csv:3: expected a non-negative number of kW in column "Contractual power \(kW\)" for meter M2 but found "lots"/);
  });

  it('generic: a missing column and a missing file', async () => {
    const dir = tempDir('lpclust-bad-');
    const file = path.join(dir, 'g.csv');
    fs.writeFileSync(file, 'meter,time,value\nA,2021-01-01 00:00:00,1\n');
    const store = new FileStore(path.join(dir, 'mlruns'));
    const go = (input: string) =>
      runEtlStage({ reader: genericSource({ input, idCol: 'meter', timeCol: 'ts', valueCol: 'value' }), runName: 'etl_generic', out: path.join(dir, 'o.csv') }, { store, experimentName: 'bad' });
    await expect(go(file)).rejects.toThrow(/g\.csv:1: the header has no column --time-col ts/);
    await expect(go(path.join(dir, 'missing.csv'))).rejects.toThrow(/cannot read .*missing\.csv: no such file/);
    expect(fs.existsSync(path.join(dir, 'o.csv'))).toBe(false);
  });
});

describe('etl CLI usage errors', () => {
  beforeAll(() => ensureBuilt());
  const cli = (args: string[]) =>
    new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(process.execPath, [BIN, ...args], { cwd: tempDir(), timeout: 30_000 }, (err, _o, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stderr }));
    });

  it('rejects bad option values with the option named', async () => {
    const base = ['etl', 'oldmongo', '--input', '.', '--meters', 'm.csv', '--out', 'o.csv'];
    const [res, tz, bad] = await Promise.all([cli([...base, '--resolution', '7']), cli([...base, '--timezone', 'Mars/Base']), cli([...base, '--on-bad-row', 'maybe'])]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/divides a day .* `--resolution` but received `7`/);
    expect(tz.code).toBe(2);
    expect(tz.stderr).toMatch(/IANA time zone for `--timezone`/);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/error\|skip for `--on-bad-row`/);
  });
});
