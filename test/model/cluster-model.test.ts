/**
 * `lpclust cluster` writes model/ to its --out-dir and logs it with the run; `lpclust predict`
 * on the training days, through runs:/<run-id>/model, gives back labels.csv (spawns
 * bin/lpclust.js; needs dist/).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { syntheticDays } from '../support/synthetic.js';

const BIN = path.resolve('bin/lpclust.js');
let dir = '';

function lpclust(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, '--tracking-uri', `file:${path.join(dir, 'mlruns')}`, ...args], { cwd: dir, encoding: 'utf8' });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  if (!existsSync(path.resolve('dist/model/resolve.js'))) execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'ignore' });
  dir = mkdtempSync(path.join(tmpdir(), 'lpclust-cluster-model-'));
  const slots = Array.from({ length: 24 }, (_, h) => `${String(h).padStart(2, '0')}:00`);
  let out = `id,date,${slots.join(',')}\n`;
  syntheticDays(67, 3, 3).rows.forEach((row, i) => {
    const v = row.map((x) => x.toFixed(3));
    out += `M${i % 3},${new Date(Date.UTC(2021, 0, 1) + i * 86400000).toISOString().slice(0, 10)},${v.join(',')}\n`;
  });
  writeFileSync(path.join(dir, 'days.csv'), out);
}, 120_000);

describe('cluster → model/ → predict', () => {
  for (const [model, metric] of [['kmedoids', 'dtw'], ['kmeans', 'dtw'], ['agglomerative', 'euclidean']] as const) {
    it(`${model} ${metric}: model/ in --out-dir and the run; predict runs:/<id>/model on the training days`, () => {
      const out = `${model}-${metric}`;
      const c = lpclust(['--json', 'cluster', '--in', 'days.csv', '--model', model, '--metric', metric, '-k', '3', '--n-init', '1', '--out-dir', out]);
      expect(c.status, c.stderr).toBe(0);
      const runId = JSON.parse(c.stdout).runId as string;
      expect(existsSync(path.join(dir, out, runId, 'model', 'MLmodel'))).toBe(true);
      const exp = readdirSync(path.join(dir, 'mlruns')).find((e) => existsSync(path.join(dir, 'mlruns', e, runId)))!;
      expect(readdirSync(path.join(dir, 'mlruns', exp, runId, 'artifacts', 'model')).sort()).toEqual(['MLmodel', 'code', 'conda.yaml', 'input_example.json', 'lpclust-model.json', 'python_env.yaml', 'requirements.txt', 'serving_input_example.json']);
      const p = lpclust(['--json', 'predict', '--model', `runs:/${runId}/model`, '--in', 'days.csv', '--out', `${out}.pred.csv`]);
      expect(p.status, p.stderr).toBe(0);
      const fitted = readFileSync(path.join(dir, out, runId, 'labels.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',')[2]);
      const predicted = readFileSync(path.join(dir, `${out}.pred.csv`), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',')[2]);
      const agreement = JSON.parse(p.stdout).trainingAgreement as number;
      if (model === 'agglomerative') {
        expect(predicted.filter((v, i) => v === fitted[i]).length / fitted.length).toBeCloseTo(agreement, 12);
      } else {
        expect(predicted).toEqual(fitted);
        expect(agreement).toBe(1);
      }
    }, 30_000);
  }
});
