/**
 * The generic CSV source: hand-made inputs (units, cumulative, gzip, time zones, grouping) and the
 * SGSC households of the bundled sample. The whole SGSC 50-household file (1.45 M rows) is in
 * generic.data.test.ts (data suite).
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

  it('cleans the SGSC households of the bundled sample (data/sql) written as one long kWh CSV, gzip', async () => {
    // data/sql holds 5 real SGSC households, 45 days of 30-minute Wh each (historian text export:
    // timestamp,tag,Wh,...). Written here as generic input in kWh, grouped by meter.
    const sqlDir = path.join(REPO, 'data', 'sql');
    let text = 'meter,ts,kwh\n';
    const perDay = new Map<string, number>();
    for (const f of fs.readdirSync(sqlDir).sort()) {
      for (const line of fs.readFileSync(path.join(sqlDir, f), 'utf8').trim().split('\n')) {
        const [ts, tag, wh] = line.split(',');
        const meter = tag.replace(/^Energy_Ameno_1_8_0_/, '').replace(/\.kWh$/, '');
        text += `${meter},${ts},${Number(wh) / 1000}\n`;
        const key = `${meter} ${ts.slice(0, 10)}`;
        perDay.set(key, (perDay.get(key) ?? 0) + 1);
      }
    }
    const complete = [...perDay.values()].filter((c) => c === 48).length;
    const r = await clean(gzipSync(text), { unit: 'kWh' }, { resolutionMinutes: 30 }, 'error', 'sgsc.csv.gz');
    const m = r.report.metrics();
    expect(m.records_read).toBe(10_800);
    expect(m.meters).toBe(5);
    expect(m.records_dropped).toBe(0);
    // Every day with its 48 readings is kept; short gaps filled may add a few.
    expect(complete).toBeGreaterThan(200);
    expect(m.days_kept).toBeGreaterThanOrEqual(complete);
    expect(m.days_kept).toBeLessThanOrEqual(perDay.size);
    expect(r.table.length).toBe(48);
    // The first day of the first household, back in Wh (the first line of its file: 133 Wh at 00:00).
    expect(r.table.ids[0]).toBe('SGSC10006414');
    expect(r.table.dates[0]).toBe('2021-09-05');
    expect(r.table.values[0]).toBeCloseTo(133, 9);
  });

});
