/**
 * Data suite (`npm run test:data`): `lpclust validate` (spawns bin/lpclust.js: run `npm run build`
 * first) on the real UCR ItalyPowerDemand training days labelled by their season classes, against
 * scikit-learn. The wiring and the errors are tested on generated days in cli.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataset } from '../support/datasets.js';
import { ensureBuilt } from '../tracking/helpers.js';

const BIN = path.resolve('bin/lpclust.js');
const TRAIN = dataset('ucr-ItalyPowerDemand', 'ItalyPowerDemand_TRAIN.tsv');
let dir: string;

beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(path.join(os.tmpdir(), 'lpclust-validate-data-'));
  const slots = Array.from({ length: 24 }, (_, h) => `${String(h).padStart(2, '0')}:00`);
  const lines = readFileSync(TRAIN, 'utf8').split('\n').filter((l) => l.trim() !== '');
  let h = `id,date,${slots.join(',')}\n`;
  let labels = 'id,date,cluster\n';
  lines.forEach((l, i) => {
    const f = l.trim().split(/\s+/);
    const date = new Date(Date.UTC(2020, 0, 1 + i)).toISOString().slice(0, 10);
    h += `M1,${date},${f.slice(1).join(',')}\n`;
    labels += `M1,${date},${Number(f[0]) - 1}\n`;
  });
  writeFileSync(path.join(dir, 'h.csv'), h);
  writeFileSync(path.join(dir, 'labels.csv'), labels);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('lpclust validate on ItalyPowerDemand', () => {
  it('the metrics equal scikit-learn on the real data', () => {
    const r = spawnSync(process.execPath, [BIN, '--tracking-uri', `file:${path.join(dir, 'mlruns')}`, '--json', 'validate', '--in', 'h.csv', '--labels', 'labels.csv'], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.clusterSizes).toEqual([34, 33]);
    // scikit-learn 1.2.1 on the L2-normalised rows and the season classes.
    const rel = (a: number, b: number): number => Math.abs(a - b) / Math.abs(b);
    expect(rel(out.metrics['Silhouette Score'], 0.22859102076630863)).toBeLessThan(1e-12);
    expect(rel(out.metrics['DB Index'], 1.8253612370746761)).toBeLessThan(1e-12);
    expect(rel(out.metrics['Calinski-Harabasz'], 14.884305338252956)).toBeLessThan(1e-12);
  });
});
