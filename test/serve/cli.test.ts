/**
 * `lpclust predict` and `lpclust serve` as processes (spawns bin/lpclust.js; needs dist/, built
 * by `npm run build`): predict writes the labels file and reports the training
 * agreement; a resolution mismatch is one clear error line; serve answers on loopback and stops
 * cleanly on SIGINT.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { syntheticDays } from '../support/synthetic.js';
import { fitClustering } from '../../src/cluster/fit.js';
import { normalizeRows } from '../../src/profiles/normalize.js';
import { readProfiles } from '../../src/io/profiles.js';
import { logModel } from '../../src/model/resolve.js';

const BIN = path.resolve('bin/lpclust.js');
let dir = '';
let csv = '';
let fitted: number[] = [];

beforeAll(async () => {
  if (!existsSync(path.resolve('dist/cli/commands/predict.js'))) execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'ignore' });
  dir = mkdtempSync(path.join(tmpdir(), 'lpclust-serve-cli-'));
  const slots = Array.from({ length: 24 }, (_, h) => `${String(h).padStart(2, '0')}:00`);
  let out = `id,date,${slots.join(',')}\n`;
  syntheticDays(67, 6, 3).rows.forEach((row, i) => {
    const v = row.map((x) => x.toFixed(3));
    out += `M${i % 5},${new Date(Date.UTC(2020, 0, 1) + i * 86400000).toISOString().slice(0, 10)},${v.join(',')}\n`;
  });
  csv = path.join(dir, 'days.csv');
  writeFileSync(csv, out);
  const t = await readProfiles(csv);
  const X = normalizeRows(t.values, 24, 'l2');
  const fit = fitClustering({ data: X, n: t.n, dim: 24 }, { model: 'kmedoids', metric: 'euclidean', k: 3, seed: 0 });
  fitted = Array.from(fit.labels);
  await logModel(null, path.join(dir, 'model'), { fit, slots: t.slots, X, ids: t.ids, dates: t.dates, normalization: 'l2' });
}, 120_000);

describe('lpclust predict / serve (processes)', () => {
  it('predict writes id,date,cluster,distance,margin equal to the fitted labels', () => {
    const r = spawnSync(process.execPath, [BIN, '--json', 'predict', '--model', path.join(dir, 'model'), '--in', csv, '--out', path.join(dir, 'out.csv')], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res.n).toBe(67);
    expect(res.trainingAgreement).toBe(1);
    const lines = readFileSync(path.join(dir, 'out.csv'), 'utf8').trim().split('\n');
    expect(lines[0]).toBe('id,date,cluster,distance,margin');
    expect(lines.slice(1).map((l) => Number(l.split(',')[2]))).toEqual(fitted);
  });

  it('predict on half-hourly days names both resolutions', () => {
    const slots = Array.from({ length: 48 }, (_, i) => `${String(Math.floor(i / 2)).padStart(2, '0')}:${i % 2 ? '30' : '00'}`);
    const f = path.join(dir, 'hh.csv');
    writeFileSync(f, `id,date,${slots.join(',')}\nm,2020-01-01,${slots.map((_, i) => i + 1).join(',')}\n`);
    const r = spawnSync(process.execPath, [BIN, 'predict', '--model', path.join(dir, 'model'), '--in', f], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/48 slot columns \(30-minute resolution\) but the model expects 24 \(60-minute resolution/);
    expect(existsSync(path.join(dir, 'hh.labels.csv'))).toBe(false);
  });

  it('serve answers on an ephemeral loopback port and stops on SIGINT', async () => {
    const child = spawn(process.execPath, [BIN, '--json', 'serve', '--model', path.join(dir, 'model'), '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        try {
          resolve(JSON.parse(out).url);
        } catch {
          // more to come
        }
      });
      child.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
    });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await fetch(`${url}/ping`)).status).toBe(200);
    const rows = readFileSync(csv, 'utf8').trim().split('\n').slice(1, 4).map((l) => l.split(',').slice(2).map(Number));
    const r = await fetch(`${url}/invocations`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ inputs: rows }) });
    expect(((await r.json()) as { predictions: Array<{ cluster: number }> }).predictions.map((p) => p.cluster)).toEqual(fitted.slice(0, 3));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
  }, 20_000);
});
