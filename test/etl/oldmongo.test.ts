/**
 * The old Mongo source on the bundled sample (data/oldmongo/BBB6004.csv: the real meter's first
 * months, 2019-04-25 → 2019-08-31 UTC, both register scale jumps included): the shipped rules, the
 * two scale jumps found automatically, the tracked run and the CLI (oldmongo-cases.ts). The parity
 * with the old pipeline on the whole meter is oldmongo.data.test.ts (data suite), which also
 * checks that these 78 days are, byte for byte, the first 78 of the whole meter's 224.
 */
import fs from 'node:fs';
import path from 'node:path';
import { REPO } from '../tracking/helpers.js';
import { oldMongoCases } from './oldmongo-cases.js';

const SAMPLE = path.join(REPO, 'data', 'oldmongo');

oldMongoCases('the sample of BBB6004', {
  source: SAMPLE,
  meters: path.join(REPO, 'data', 'meters.csv'),
  // Every data line of the sample (8,695), counted here rather than trusted.
  records: fs.readFileSync(path.join(SAMPLE, 'BBB6004.csv'), 'utf8').trim().split('\n').length - 1,
  days: 78,
  first: '2019-05-14',
  last: '2019-08-31',
});
