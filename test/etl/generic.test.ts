/**
 * The generic CSV source: hand-made inputs (units, cumulative, gzip, time zones, grouping) and the
 * real SGSC 50-household file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { genericSource, type GenericSourceOptions } from '../../src/etl/generic.js';
import { cleanSource } from '../../src/etl/run.js';
import { runEtlStage } from '../../src/pipeline/etl.js';
import { FileStore } from '../../src/tracking/file-store.js';
import { DEFAULT_CLEAN_OPTIONS, type CleanOptions, type OnBadRow } from '../../src/etl/types.js';
import { REPO, tempDir } from '../tracking/helpers.js';

const SGSC = path.resolve(REPO, '..', 'shared', 'datasets', 'sgsc-50-households', 'sm_cust50.csv.gz');

/** Half-hourly kWh rows `meter,ts,kwh` for `days` days from 2013-01-01 00:00 (naive). */
function halfHourly(meters: string[], days: number, kwh = 0.5): string {
  let out = 'meter,ts,kwh,other\n';
  for (const m of meters) {
    for (let k = 0; k < days * 48; k++) {
      const t = new Date(Date.UTC(2013, 0, 1) + k * 1_800_000).toISOString().replace('T', ' ').slice(0, 19);
      out += `${m},${t},${kwh},x\n`;
    }
  }
  return out;
}

async function clean(text: string | Buffer, o: Partial<GenericSourceOptions> = {}, opts: Partial<CleanOptions> = {}, onBadRow: OnBadRow = 'error', name = 'in.csv') {
  const dir = tempDir('lpclust-generic-');
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return cleanSource(genericSource({ input: file, idCol: 'meter', timeCol: 'ts', valueCol: 'kwh', ...o }), {
    clean: { ...DEFAULT_CLEAN_OPTIONS, ...opts },
    meters: null,
    onBadRow,
  });
}

describe('etl generic', () => {
  it('reads interval kWh, converts to Wh and sums to the resolution', async () => {
    const r = await clean(halfHourly(['A', 'B'], 2), { unit: 'kWh' });
    expect(r.table.n).toBe(4);
    expect(r.table.ids).toEqual(['A', 'A', 'B', 'B']);
    expect(r.table.dates).toEqual(['2013-01-01', '2013-01-02', '2013-01-01', '2013-01-02']);
    for (const v of r.table.values) expect(v).toBe(1000);
    const wh = await clean(halfHourly(['A'], 1), { unit: 'Wh' }, { resolutionMinutes: 30 });
    expect(wh.table.length).toBe(48);
    expect(wh.table.values[0]).toBe(0.5);
  });

  it('reads cumulative registers with --cumulative', async () => {
    let text = 'meter,ts,kwh\n';
    for (let k = 0; k < 3 * 24 * 4 + 4; k++) text += `A,${new Date(Date.UTC(2013, 0, 1) - 3_600_000 + k * 900_000).toISOString()},${100 + k * 0.25}\n`;
    const r = await clean(text, { unit: 'kWh', cumulative: true });
    expect(r.table.dates).toEqual(['2013-01-01', '2013-01-02', '2013-01-03']);
    for (const v of r.table.values) expect(v).toBeCloseTo(1000, 6);
  });

  it('reads gzip input', async () => {
    const r = await clean(gzipSync(halfHourly(['A'], 2)), { unit: 'kWh' }, {}, 'error', 'in.csv.gz');
    expect(r.table.n).toBe(2);
  });

  it('reads naive timestamps in --input-timezone and labels days in --timezone', async () => {
    // Naive Sydney clock times, output in Sydney: the local days are the labels' days.
    const r = await clean(halfHourly(['A'], 3), { unit: 'kWh', inputTimeZone: 'Australia/Sydney' }, { timeZone: 'Australia/Sydney' });
    expect(r.table.dates).toEqual(['2013-01-01', '2013-01-02', '2013-01-03']);
    // Same input read as UTC but shown in Sydney (UTC+11): the days shift.
    const shifted = await clean(halfHourly(['A'], 3), { unit: 'kWh', inputTimeZone: 'UTC' }, { timeZone: 'Australia/Sydney' });
    expect(shifted.table.dates).toEqual(['2013-01-02', '2013-01-03']);
  });

  it('refuses rows that are not grouped by meter, naming the line', async () => {
    const text = 'meter,ts,kwh\nA,2013-01-01 00:00:00,1\nB,2013-01-01 00:00:00,1\nA,2013-01-01 00:30:00,1\n';
    await expect(clean(text)).rejects.toThrow(/in\.csv:4: rows of meter A appear again/);
  });

  it('is a tracked run etl_generic with its params and metrics', async () => {
    const dir = tempDir('lpclust-generic-');
    const file = path.join(dir, 'g.csv.gz');
    fs.writeFileSync(file, gzipSync(halfHourly(['A', 'B'], 3)));
    const store = new FileStore(path.join(dir, 'mlruns'));
    const res = await runEtlStage(
      {
        reader: genericSource({ input: file, idCol: 'meter', timeCol: 'ts', valueCol: 'kwh', unit: 'kWh' }),
        runName: 'etl_generic',
        out: path.join(dir, 'out.csv'),
        clean: { resolutionMinutes: 30, timeZone: 'Europe/Rome' },
        params: { input_file: file, id_col: 'meter', unit: 'kWh' },
      },
      { store, experimentName: 'g' },
    );
    const run = await store.getRun(res.runId);
    expect(run.data.tags['mlflow.runName']).toBe('etl_generic');
    expect(run.data.params).toMatchObject({ source: 'generic', resolution: '30', timezone: 'Europe/Rome', unit: 'kWh', id_col: 'meter', on_bad_row: 'error' });
    expect(run.data.metrics).toMatchObject({ meters: 2, records_read: 288, days_kept: 6, rows: 6 }); // naive times read in the output zone
    expect(fs.readFileSync(path.join(dir, 'out.csv'), 'utf8').split('\n')[0].split(',').length).toBe(50);
  });

  it('cleans the 1.45 M rows of the SGSC 50-household file', async () => {
    const r = await cleanSource(
      genericSource({ input: SGSC, idCol: 'customer_id', timeCol: 'reading_datetime', valueCol: 'general_supply_kwh', unit: 'kWh' }),
      { clean: { ...DEFAULT_CLEAN_OPTIONS, resolutionMinutes: 30 }, meters: null, onBadRow: 'error' },
    );
    const m = r.report.metrics();
    expect(m.records_read).toBe(1_450_232);
    expect(m.meters).toBe(50);
    expect(m.records_dropped).toBe(0);
    // 29,928 meter-days hold all 48 readings; short gaps filled add a few.
    expect(m.days_kept).toBeGreaterThanOrEqual(29_928);
    expect(m.days_kept).toBeLessThan(30_500);
    expect(r.table.length).toBe(48);
  });
});
