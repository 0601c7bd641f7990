/**
 * Whole-CLI runs of `lpclust dtw` and `lpclust doctor` (spawn bin/lpclust.js, so dist/ must be
 * built: `npm run build`) on 67 generated days of three shapes (test/support/synthetic.ts).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { syntheticDays } from '../support/synthetic.js';
import { dtwNaive } from '../../src/dtw/reference.js';
import { loadDtwMatrix } from '../../src/dtw/index.js';

const BIN = path.resolve('bin/lpclust.js');
let dir = '';
let csv = '';
let big = '';

function lpclust(args: string[], env: Record<string, string> = {}): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, '--tracking-uri', `file:${path.join(dir, 'mlruns')}`, ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function runFile(runId: string, ...parts: string[]): string | undefined {
  const root = path.join(dir, 'mlruns');
  for (const exp of readdirSync(root)) {
    const p = path.join(root, exp, runId, ...parts);
    if (existsSync(p)) return readFileSync(p, 'utf8');
  }
  return undefined;
}

const SLOTS = Array.from({ length: 24 }, (_, h) => `${String(h).padStart(2, '0')}:00`);
const HEAD = `id,date,${SLOTS.join(',')}\n`;

beforeAll(() => {
  if (!existsSync(path.resolve('dist/cli/commands/dtw.js'))) execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { stdio: 'ignore' });
  dir = mkdtempSync(path.join(tmpdir(), 'lpclust-dtw-cli-'));
  const { rows, classes } = syntheticDays(67, 2, 3);
  let out = HEAD;
  rows.forEach((v, i) => {
    const date = new Date(Date.UTC(2020, 0, 1) + i * 86400000).toISOString().slice(0, 10);
    out += `M${classes[i] + 1},${date},${v.map((x) => x.toFixed(3)).join(',')}\n`;
  });
  csv = path.join(dir, 'profiles.csv');
  writeFileSync(csv, out);
  // A larger synthetic file for the interrupt test (the TypeScript kernel needs a few seconds).
  let b = HEAD;
  for (let i = 0; i < 2500; i++) b += `m${i % 50},${new Date(Date.UTC(2000, 0, 1) + i * 86400000).toISOString().slice(0, 10)},${SLOTS.map((_, h) => (10 + Math.sin(h / 2 + i) * 5 + ((i * 7 + h * 3) % 11)).toFixed(3)).join(',')}\n`;
  big = path.join(dir, 'big.csv');
  writeFileSync(big, b);
}, 120_000);

describe('lpclust dtw', () => {
  it('writes the matrix and sidecar, logs the run `dtw`, and --json has runId and metrics', () => {
    const r = lpclust(['--json', 'dtw', '--in', csv, '--out', 'd.npy', '--radius', '2', '--dtype', 'float64', '--workers', '2', '--tile-size', '16']);
    expect(r.status, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res.runId).toMatch(/^[0-9a-f]{32}$/);
    expect(res.metrics).toMatchObject({ rows: 67, pairs: 67 * 33 });
    expect(res.metrics.cells).toBe(67 * 33 * (24 * 5 - 6));
    expect(res.metrics.cells_per_s).toBeGreaterThan(0);
    expect(runFile(res.runId, 'tags', 'mlflow.runName')).toBe('dtw');
    expect(runFile(res.runId, 'params', 'radius')).toBe('2');
    expect(runFile(res.runId, 'params', 'normalize')).toBe('l2');
    expect(runFile(res.runId, 'tags', 'dtw.matrix.sha256')).toBe(res.sha256);
    expect(runFile(res.runId, 'tags', 'dtw.matrix.path')).toBe(path.join(dir, 'd.npy'));
    expect(runFile(res.runId, 'artifacts', 'dtw', 'd.npy.json')).toContain('"inputDigest"');
    expect(runFile(res.runId, 'artifacts', 'dtw', 'd.npy')).toBeUndefined();
    const side = JSON.parse(readFileSync(path.join(dir, 'd.npy.json'), 'utf8'));
    expect(side.ids[0]).toEqual(['M1', '2020-01-01']);
    expect(side).toMatchObject({ rows: 67, radius: 2, dtype: 'float64', normalization: 'l2', lpclustVersion: '0.1.0' });
  });

  it('equals the naive definition on the L2-normalised rows', async () => {
    const rows = readFileSync(csv, 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').slice(2).map(Number));
    const norm = rows.map((v) => {
      const s = Math.sqrt(v.reduce((a, x) => a + x * x, 0));
      return v.map((x) => x / s);
    });
    const m = await loadDtwMatrix(path.join(dir, 'd.npy'));
    for (const [i, j] of [[0, 1], [5, 60], [66, 3], [10, 10]]) expect(m.data[i * 67 + j]).toBe(i === j ? 0 : dtwNaive(norm[i], norm[j], 2));
  });

  it('refuses bad options and bad input with clear messages and leaves no output', () => {
    expect(lpclust(['dtw', '--in', csv, '--out', 'd.npy']).stderr).toMatch(/d\.npy already exists[\s\S]*--force/);
    // The one radius parser (dtw/settings.ts parseRadius) of every command.
    expect(lpclust(['dtw', '--in', csv, '--out', 'x.npy', '--radius', '-3']).stderr).toMatch(/Expected a non-negative integer .*for `--radius` but received `-3`/);
    expect(lpclust(['dtw', '--in', csv, '--out', 'x.npy', '--workers', '0']).stderr).toContain('Expected a positive integer for `--workers` but received `0`');
    expect(lpclust(['dtw', '--in', csv, '--out', 'x.npy', '--normalize', 'max']).stderr).toContain('Expected l2|zscore|none for `--normalize` but received `max`');
    const one = path.join(dir, 'one.csv');
    writeFileSync(one, HEAD + `m1,2020-01-01,${SLOTS.map(() => '1').join(',')}\n`);
    const r1 = lpclust(['dtw', '--in', one, '--out', 'x.npy']);
    expect(r1.status).toBe(3);
    expect(r1.stderr).toContain('Expected at least 2 profiles for a DTW matrix but found 1');
    const inf = path.join(dir, 'inf.csv');
    writeFileSync(inf, HEAD + `m1,2020-01-01,${SLOTS.map(() => '1').join(',')}\nm1,2020-01-02,${SLOTS.map((_, h) => (h === 5 ? 'Infinity' : '2')).join(',')}\n`);
    const r2 = lpclust(['dtw', '--in', inf, '--out', 'x.npy', '--normalize', 'none']);
    expect(r2.status, r2.stderr).toBe(3);
    expect(r2.stderr).toMatch(/inf\.csv:3: expected a finite number/);
    const short = path.join(dir, 'short.csv');
    writeFileSync(short, HEAD + `m1,2020-01-01,${SLOTS.map(() => '1').join(',')}\nm1,2020-01-02,${SLOTS.slice(1).map(() => '2').join(',')}\n`);
    const r3 = lpclust(['dtw', '--in', short, '--out', 'x.npy']);
    expect(r3.status).toBe(3);
    expect(r3.stderr).toMatch(/short\.csv:3: expected 26 fields but found 25/);
    expect(existsSync(path.join(dir, 'x.npy'))).toBe(false);
    expect(existsSync(path.join(dir, 'x.npy.partial'))).toBe(false);
  });

  it('falls back to the TypeScript kernel with one warning when the addon cannot load', () => {
    const r = lpclust(['--json', 'dtw', '--in', csv, '--out', 'js.npy', '--radius', '2', '--dtype', 'float64'], { LPCLUST_NATIVE_PATH: path.join(dir, 'missing.node') });
    expect(r.status, r.stderr).toBe(0);
    const warnings = r.stderr.split('\n').filter((l) => /native DTW kernel not loaded/.test(l));
    expect(warnings.length).toBe(1);
    expect(warnings[0]).toContain('missing.node: not found');
    expect(warnings[0]).toContain('node-gyp rebuild');
    expect(JSON.parse(r.stdout).kernel).toBe('js');
    // Same bytes as the native run.
    expect(readFileSync(path.join(dir, 'js.npy')).equals(readFileSync(path.join(dir, 'd.npy')))).toBe(true);
    const n = lpclust(['dtw', '--in', csv, '--out', 'n.npy', '--kernel', 'native'], { LPCLUST_NATIVE_PATH: path.join(dir, 'missing.node') });
    expect(n.status).toBe(4);
    expect(n.stderr).toContain('the native DTW kernel could not be loaded');
  });

  it('Ctrl-C leaves only <out>.partial; the same command finishes it to the same bytes as an uninterrupted run', async () => {
    const out = path.join(dir, 'big.npy');
    const child = spawn(process.execPath, [BIN, '--tracking-uri', `file:${path.join(dir, 'mlruns')}`, 'dtw', '--in', big, '--out', out, '--kernel', 'js', '--workers', '1', '--tile-size', '128'], { cwd: dir });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    const ckpt = `${out}.partial.ckpt`;
    const t0 = Date.now();
    while (!(existsSync(ckpt) && readFileSync(ckpt, 'utf8').split('\n').length > 4) && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGINT');
    const code = await exited;
    expect(code, stderr).toBe(130);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(`${out}.json`)).toBe(false);
    expect(existsSync(`${out}.partial`)).toBe(true);
    // Other settings: refused clearly, the partial kept.
    const other = lpclust(['dtw', '--in', big, '--out', out, '--radius', '2']);
    expect(other.status).toBe(3);
    expect(other.stderr).toContain('was started with other data or settings (radius: 1, now 2); it cannot be resumed');
    expect(existsSync(`${out}.partial`)).toBe(true);
    // The same command again (no --resume; another tile size and kernel do not change the result): resumed.
    const res = lpclust(['--json', 'dtw', '--in', big, '--out', out, '--tile-size', '64']);
    expect(res.status, res.stderr).toBe(0);
    const j = JSON.parse(res.stdout);
    expect(j.tilesResumed).toBeGreaterThan(2);
    expect(j.tilesComputed).toBeGreaterThan(0);
    expect(runFile(j.runId, 'tags', 'dtw.tiles.resumed')).toBe(`${j.tilesResumed} of ${j.tilesResumed + j.tilesComputed}`);
    const fresh = lpclust(['dtw', '--in', big, '--out', 'fresh.npy', '--workers', '2', '--tile-size', '300']);
    expect(fresh.status, fresh.stderr).toBe(0);
    expect(readFileSync(out).equals(readFileSync(path.join(dir, 'fresh.npy')))).toBe(true);
  });

  it('--layout condensed: half the bytes, and cluster / validate give the same results as with the full matrix', () => {
    const full = path.join(dir, 'lay-full.npy');
    const cond = path.join(dir, 'lay-cond.npy');
    expect(lpclust(['-q', 'dtw', '--in', csv, '--out', full]).status).toBe(0);
    const c = lpclust(['-q', '--json', 'dtw', '--in', csv, '--out', cond, '--layout', 'condensed']);
    expect(c.status, c.stderr).toBe(0);
    const n = JSON.parse(readFileSync(full + '.json', 'utf8')).rows as number;
    expect(JSON.parse(readFileSync(cond + '.json', 'utf8'))).toMatchObject({ layout: 'condensed', rows: n });
    expect(readFileSync(cond).length - 128).toBe(((n * (n - 1)) / 2) * 4);
    expect(lpclust(['dtw', '--in', csv, '--out', path.join(dir, 'x.npy'), '--layout', 'upper']).stderr).toContain('Expected full|condensed for `--layout` but received `upper`');
    const outputs = (matrix: string, tag: string): unknown[] =>
      [
        ['cluster', '--model', 'kmedoids', '--metric', 'dtw', '-k', '3'],
        ['cluster', '--model', 'agglomerative', '--metric', 'dtw', '-k', '4'],
        ['cluster', '--model', 'kmeans', '--metric', 'euclidean', '-k', '3'],
      ].map((a, i) => {
        const outDir = path.join(dir, `lay-${tag}-${i}`);
        const r = lpclust(['-q', '--json', ...a, '--in', csv, '--dtw', matrix, '--out-dir', outDir]);
        expect(r.status, r.stderr).toBe(0);
        // --out-dir is a base: the run writes into <out-dir>/<run id>/.
        const runDir = JSON.parse(r.stdout).outDir as string;
        const labels = readFileSync(path.join(runDir, 'labels.csv'), 'utf8');
        const v = lpclust(['-q', '--json', 'validate', '--in', csv, '--labels', path.join(runDir, 'labels.csv'), '--dtw', matrix]);
        expect(v.status, v.stderr).toBe(0);
        // Everything but the timings.
        const numbers = (m: Record<string, number>): Record<string, number> => Object.fromEntries(Object.entries(m).filter(([key]) => !/seconds/i.test(key)));
        return { labels, cluster: numbers(JSON.parse(r.stdout).metrics), validate: numbers(JSON.parse(v.stdout).metrics) };
      });
    const a = outputs(full, 'full');
    expect(outputs(cond, 'cond')).toEqual(a);
    expect(JSON.stringify(a)).toContain('Silhouette DTW');
  });
});

describe('lpclust doctor', () => {
  it('reports node, native kernel and ISA, workers and the masked tracking URI', () => {
    const r = lpclust(['--json', 'doctor'], { LPCLUST_TRACKING_URI: 'https://user:s3cret@mlflow.example:5000' });
    expect(r.status, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout);
    expect(d.node).toBe(process.version);
    expect(d.native.loaded).toBe(true);
    expect(['avx512f', 'avx2', 'sse2', 'portable']).toContain(d.native.isa);
    expect(d.workers).toBeGreaterThan(0);
    // The flag (--tracking-uri file:...) wins over the environment.
    expect(d.trackingUri).toContain('file:');
    const e = spawnSync(process.execPath, [BIN, 'doctor'], { cwd: dir, encoding: 'utf8', env: { ...process.env, LPCLUST_TRACKING_URI: 'https://user:s3cret@mlflow.example:5000' } });
    expect(e.stdout).toContain('mlflow.example');
    expect(e.stdout).not.toContain('s3cret');
    expect(e.stdout).toMatch(/native DTW {2}loaded, instruction set/);
    const f = lpclust(['doctor'], { LPCLUST_NATIVE_PATH: '/nonexistent/x.node' });
    expect(f.stdout).toContain('native DTW  NOT loaded: /nonexistent/x.node: not found');
  });
});
