/**
 * Data suite (`npm run test:data`): the generic CSV source on the whole SGSC 50-household file of
 * the datasets folder (1,450,232 rows, gzip).
 */
import { describe, expect, it } from 'vitest';
import { genericSource } from '../../src/etl/generic.js';
import { cleanSource } from '../../src/etl/run.js';
import { DEFAULT_CLEAN_OPTIONS } from '../../src/etl/types.js';
import { dataset } from '../support/datasets.js';

const SGSC = dataset('sgsc-50-households', 'sm_cust50.csv.gz');

describe('etl generic on the real SGSC file', () => {
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
