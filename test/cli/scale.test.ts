/**
 * `--scale` / `--memory-budget` / `--sample-size` through the CLI (spawns bin/lpclust.js: build
 * first): auto switches to sampled when one n × n matrix exceeds the budget and tags the run; an
 * impossible `--scale exact` and impossible sample sizes are refused before any run or output.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Random } from '../../src/util/random.js';

const BIN = path.resolve('bin/lpclust.js');
const N = 3000;
let dir = '';
let csv = '';

function lpclust(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, '--tracking-uri', `file:${path.join(dir, 'mlruns')}`, ...args], { cwd: dir, encoding: 'utf8' });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function runFile(runId: string, kind: 'tags' | 'params', key: string): string {
  const root = path.join(dir, 'mlruns');
  for (const exp of readdirSync(root)) {
    const p = path.join(root, exp, runId, kind, key);
    if (existsSync(p)) return readFileSync(p, 'utf8');
  }
  return '';
}

beforeAll(() => {
  if (!existsSync(path.resolve('dist/cluster/scale.js'))) execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { stdio: 'ignore' });
  dir = mkdtempSync(path.join(tmpdir(), 'lpclust-scale-cli-'));
  const rng = new Random(2);
  const slots = Array.from({ length: 24 }, (_, h) => `${String(h).padStart(2, '0')}:00`);
  let out = `id,date,${slots.join(',')}\n`;
  for (let i = 0; i < N; i++) {
    const a = i % 5;
    const shift = rng.int(3) - 1;
    const v = slots.map((_, t) => (2 + Math.sin((t + shift + a * 5) / 3.5) * (1 + a / 4) + 0.2 * rng.normal()).toFixed(4));
    const date = new Date(Date.UTC(2020, 0, 1) + (i % 300) * 86400000).toISOString().slice(0, 10);
    out += `M${Math.floor(i / 300)},${date},${v.join(',')}\n`;
  }
  csv = path.join(dir, 'profiles.csv');
  writeFileSync(csv, out);
}, 120_000);

describe('--scale', () => {
  it('auto samples when the DTW matrix exceeds --memory-budget: FasterCLARA, sampled silhouettes with size and CI, tagged run', () => {
    // One 3000 × 3000 float32 matrix is 36 MB: a 30 MB budget cannot hold it.
    const r = lpclust(['--json', 'cluster', '--in', csv, '--model', 'kmedoids', '--metric', 'dtw', '-k', '5', '--memory-budget', '30M', '--workers', '2', '--out-dir', 'sampled']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/sampled \(--scale auto\): the 3000 × 3000 DTW matrix .* more than the memory budget of 30 MB/);
    const res = JSON.parse(r.stdout);
    expect(runFile(res.runId, 'tags', 'lpclust.scale')).toBe('sampled');
    expect(runFile(res.runId, 'params', 'method')).toBe('fasterclara');
    const m = res.metrics;
    expect(m['Silhouette DTW']).toBeGreaterThan(0.3);
    expect(m['Silhouette DTW_sample_size']).toBeGreaterThan(400);
    expect(m['Silhouette DTW_sample_size']).toBeLessThan(N);
    expect(m['Silhouette DTW_ci95']).toBeGreaterThan(0);
    expect(m['Silhouette DTW_ci95']).toBeLessThan(0.1);
    expect(m['Silhouette Score_sample_size']).toBe(m['Silhouette DTW_sample_size']);
    expect(m['Simplified Silhouette DTW']).toBeGreaterThan(m['Silhouette DTW'] - 0.2);
    expect(m['model/predict_agreement']).toBe(1);
    expect(existsSync(path.join(res.outDir, 'dtw.npy'))).toBe(false);
    expect(readFileSync(path.join(res.outDir, 'medoids.csv'), 'utf8').trim().split('\n').length).toBe(6);
    // Sampled mode holds the profiles as float32: the medoids are float32 values and the model
    // predicts with float32 DTW, as the fit assigned.
    const model = JSON.parse(readFileSync(path.join(res.outDir, 'model', 'lpclust-model.json'), 'utf8'));
    expect(model.dtw.precision).toBe('float32');
    const values = (model.medoids as Array<{ profile: number[] }>).flatMap((md) => md.profile);
    expect(values.length).toBe(5 * 24);
    expect(values.every((v) => Math.fround(v) === v)).toBe(true);
    const svg = readFileSync(path.join(res.outDir, 'plots', 'silhouette.svg'), 'utf8');
    // Thousands grouped by a thin space, as in the other charts.
    const group = (v: number): string => String(v).replace(/\B(?=(\d{3})+(?!\d))/g, '\u2009');
    expect(svg).toMatch(new RegExp(`stratified sample of ${group(m['Silhouette DTW_sample_size'])} of ${group(N)} days`));
  }, 120_000);

  it('chooses k in sampled mode by the sampled DTW silhouette', () => {
    const r = lpclust(['--json', 'cluster', '--in', csv, '--model', 'kmedoids', '--metric', 'dtw', '-k', '0', '--k-range', '3..7', '--scale', 'sampled', '--out-dir', 'choose']);
    expect(r.status, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout);
    // Five archetypes were generated.
    expect(res.metrics['choose_k/k']).toBe(5);
    expect(res.metrics['choose_k/silhouette_dtw']).toBe(res.metrics['Silhouette DTW']);
    expect(res.metrics['Silhouette DTW_sample_size']).toBeGreaterThan(0);
    expect(runFile(res.runId, 'tags', 'lpclust.scale')).toBe('sampled');
  }, 120_000);

  it('auto stays exact on small data and says so', () => {
    const r = lpclust(['--json', 'cluster', '--in', csv, '--model', 'kmeans', '-k', '4', '--out-dir', 'exact']);
    expect(r.status, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(runFile(res.runId, 'tags', 'lpclust.scale')).toBe('exact');
    expect(res.metrics['Silhouette Score_sample_size']).toBeUndefined();
  }, 60_000);

  it('refuses --scale exact that cannot fit, before any run or output, with the size and the hint', () => {
    const r = lpclust(['cluster', '--in', csv, '--model', 'kmedoids', '--metric', 'dtw', '-k', '5', '--scale', 'exact', '--memory-budget', '10M', '--out-dir', 'refused']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/`--scale exact` needs 36 MB for the 3000 × 3000 DTW matrix .* more than the memory budget of 10 MB/);
    expect(r.stderr).toMatch(/--scale sampled/);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
    expect(existsSync(path.join(dir, 'refused'))).toBe(false);
  });

  it('refuses impossible sizes: sample > n, k ≥ sample, a budget too small even to sample, a malformed budget', () => {
    const cases: Array<[string[], RegExp]> = [
      [['--scale', 'sampled', '--sample-size', '5000'], /--sample-size` ≤ the number of profiles \(3000\) but received 5000/],
      [['--scale', 'sampled', '--sample-size', '4'], /k < `--sample-size` but k = 5 and the sample holds 4 profiles/],
      [['--memory-budget', '1M'], /memory budget of 1 MB is too small even for the sampled method, which needs about \d+ MB/],
      [['--memory-budget', 'lots'], /Expected a size such as 4G, 512M .* `--memory-budget` but received `lots`/],
      [['--scale', 'huge'], /Expected exact\|sampled\|auto for `--scale` but received `huge`/],
    ];
    for (const [extra, re] of cases) {
      const r = lpclust(['cluster', '--in', csv, '--model', 'kmedoids', '--metric', 'dtw', '-k', '5', '--out-dir', 'bad', ...extra]);
      expect(r.status, extra.join(' ')).toBe(2);
      expect(r.stderr).toMatch(re);
    }
    expect(existsSync(path.join(dir, 'bad'))).toBe(false);
  }, 60_000);
});

describe('pipeline --scale sampled', () => {
  it('skips the DTW stage, fits FasterCLARA k-medoids and tags the parent and the clustering run', () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'lpclust-scale-pipeline-'));
    const r = spawnSync(process.execPath, [BIN, '--tracking-uri', `file:${path.join(cwd, 'mlruns')}`, 'pipeline', '--model', 'kmedoids', '--metric', 'dtw', '-k', '4', '--scale', 'sampled', '--sample-size', '60', '--json', '--quiet'], { cwd, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout);
    const stages = (res.stages as Array<{ stage: string; runId?: string; skipped?: string }>).map((s) => s.stage);
    expect(stages).toContain('clustering');
    // The DTW stage did not run (no matrix) and says what clustering does instead.
    const dtw = (res.stages as Array<{ stage: string; runId?: string; skipped?: string }>).find((s) => s.stage === 'dtw');
    expect(dtw?.runId).toBeUndefined();
    expect(dtw?.skipped).toMatch(/^sampled mode: no \d+ × \d+ matrix, which would take .*; the clustering run computes DTW only where it needs it/);
    expect(res.metrics['Silhouette DTW_sample_size']).toBeGreaterThan(0);
    expect(res.metrics['Simplified Silhouette DTW']).toBeDefined();
    const root = path.join(cwd, 'mlruns');
    const tag = (runId: string, key: string): string => {
      for (const exp of readdirSync(root)) {
        const p = path.join(root, exp, runId, 'tags', key);
        if (existsSync(p)) return readFileSync(p, 'utf8');
      }
      return '';
    };
    expect(tag(res.runId, 'lpclust.scale')).toBe('sampled');
    expect(tag(res.runId, 'lpclust.skipped.dtw')).toBe(dtw?.skipped);
    const child = (res.stages as Array<{ stage: string; runId?: string }>).find((s) => s.stage === 'clustering')!;
    expect(tag(child.runId!, 'lpclust.scale')).toBe('sampled');
    expect(existsSync(path.join(res.outDir, 'dtw.npy'))).toBe(false);
  }, 120_000);
});

describe('sweep --scale sampled', () => {
  it('shares one pool and first sample across configurations, each giving what `cluster` gives alone at the sweep\'s sample size', () => {
    const r = lpclust(['--json', 'sweep', '--in', csv, '--models', 'kmedoids,agglomerative', '--metrics', 'dtw', '-k', '3..5', '--scale', 'sampled', '--sample-size', '250', '--out-dir', 'sweep-sampled']);
    expect(r.status, r.stderr).toBe(0);
    // Six configurations of one seed and metric: the first sample's matrix once, read five more times.
    expect(r.stderr).toMatch(/1 first-sample matrices computed, 5 times reused/);
    const res = JSON.parse(r.stdout);
    const configs = res.rows as Array<{ model: string; k: number; status: string; metrics: Record<string, number> }>;
    expect(configs.length).toBe(6);
    for (const c of configs) expect(c.status).toBe('FINISHED');
    for (const [model, k] of [['kmedoids', 3], ['kmedoids', 5], ['agglomerative', 4]] as const) {
      const one = lpclust(['--json', 'cluster', '--in', csv, '--model', model, '--metric', 'dtw', '-k', String(k), '--scale', 'sampled', '--sample-size', '250', '--out-dir', `one-${model}-${k}`]);
      expect(one.status, one.stderr).toBe(0);
      const alone = JSON.parse(one.stdout).metrics as Record<string, number>;
      const inSweep = configs.find((c) => c.model === model && c.k === k)!.metrics;
      for (const key of ['Silhouette DTW', 'Simplified Silhouette DTW', 'DB Index', ...(model === 'kmedoids' ? ['fit/total_deviation'] : [])]) expect(inSweep[key], key).toBe(alone[key]);
    }
  }, 240_000);
});
