/**
 * Data suite (`npm run test:data`): the old Mongo source on the whole real meter BBB6004
 * (inergy-uc7 in the datasets folder; data/oldmongo holds only its first months): parity with the
 * old pipeline under the shipped rules (224 days), the two scale jumps found automatically, the
 * tracked run and the CLI (oldmongo-cases.ts); and the bundled sample gives exactly the whole
 * meter's first days.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { oldMongoSource } from '../../src/etl/oldmongo.js';
import { runEtlStage } from '../../src/pipeline/etl.js';
import { FileStore } from '../../src/tracking/file-store.js';
import { REPO, tempDir } from '../tracking/helpers.js';
import { dataset } from '../support/datasets.js';
import { exportFolder, oldMongoCases, RULES, type OldMongoCase } from './oldmongo-cases.js';

const UC7 = dataset('inergy-uc7');
const WHOLE: OldMongoCase = {
  source: UC7,
  meters: path.join(UC7, 'smart_meter_description.csv'),
  records: 22_931,
  days: 224,
  first: '2019-05-14',
  last: '2020-06-23',
};

oldMongoCases('the whole BBB6004', WHOLE);

describe('the bundled sample of BBB6004', () => {
  it('gives, byte for byte, the whole meter’s days up to 2019-08-31 (what oldmongo.test.ts pins: 78 days)', async () => {
    const dir = exportFolder(WHOLE);
    const store = new FileStore(path.join(dir, 'mlruns'));
    const run = async (source: string, out: string): Promise<string[]> => {
      await runEtlStage(
        { reader: oldMongoSource(source), runName: 'etl_oldmongo', out, metersFile: WHOLE.meters, rulesFile: RULES, clean: { resolutionMinutes: 60, timeZone: 'UTC' } },
        { store, experimentName: 'etl-test' },
      );
      return fs.readFileSync(out, 'utf8').split('\n');
    };
    const whole = await run(dir, path.join(tempDir(), 'whole.csv'));
    const sample = await run(path.join(REPO, 'data', 'oldmongo'), path.join(tempDir(), 'sample.csv'));
    expect(sample.length - 2).toBe(78);
    expect(sample).toEqual([...whole.filter((l, i) => i === 0 || (l !== '' && l.split(',')[1] <= '2019-08-31')), '']);
  });
});
