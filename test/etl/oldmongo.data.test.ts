/**
 * Data suite (`npm run test:data`): the old Mongo source on the whole real meter BBB6004
 * (inergy-uc7 in the datasets folder; no licence, so nothing of it is in the repository):
 * parity with the old pipeline under the shipped rules (224 days), the two scale jumps found
 * automatically, the tracked run and the CLI (oldmongo-cases.ts). The bundled sample meter
 * (data/oldmongo/SYN0001.csv) is synthetic and is tested in oldmongo.test.ts.
 */
import path from 'node:path';
import { dataset } from '../support/datasets.js';
import { oldMongoCases, type OldMongoCase } from './oldmongo-cases.js';

const UC7 = dataset('inergy-uc7');
const WHOLE: OldMongoCase = {
  meter: 'BBB6004',
  source: UC7,
  meters: path.join(UC7, 'smart_meter_description.csv'),
  powerKw: 40,
  records: 22_931,
  droppedBefore: 170,
  days: 224,
  first: '2019-05-14',
  last: '2020-06-23',
};

oldMongoCases('the whole BBB6004', WHOLE);
