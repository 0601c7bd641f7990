/**
 * Whole-CLI runs of `lpclust cluster` (needs `npm run build` first: spawns bin/lpclust.js)
 * on 67 generated days of three shapes (test/support/synthetic.ts) written as a profiles CSV.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { syntheticDays } from '../support/synthetic.js';

const BIN = path.resolve('bin/lpclust.js');
let dir = '';
let csv = '';

function lpclust(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, '--tracking-uri', `file:${path.join(dir, 'mlruns')}`, ...args], { cwd: dir, encoding: 'utf8' });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function runTag(runId: string, tag: string): string {
  const root = path.join(dir, 'mlruns');
  for (const exp of readdirSync(root)) {
    const p = path.join(root, exp, runId, 'tags', tag);
    if (existsSync(p)) return readFileSync(p, 'utf8');
  }
  return '';
}

beforeAll(() => {
  if (!existsSync(path.resolve('dist/cli/commands/cluster.js'))) execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { stdio: 'ignore' });
  dir = mkdtempSync(path.join(tmpdir(), 'lpclust-cluster-cli-'));
  const slots = Array.from({ length: 24 }, (_, h) => `${String(h).padStart(2, '0')}:00`);
  const { rows, classes } = syntheticDays(67, 1, 3);
  let out = `id,date,${slots.join(',')}\n`;
  rows.forEach((v, i) => {
    const date = new Date(Date.UTC(2020, 0, 1) + i * 86400000).toISOString().slice(0, 10);
    out += `M${classes[i] + 1},${date},${v.map((x) => x.toFixed(3)).join(',')}\n`;
  });
  csv = path.join(dir, 'profiles.csv');
  writeFileSync(csv, out);
}, 120_000);

describe('lpclust cluster', () => {
  it('kmeans euclidean: labels.csv by decreasing size, centres.csv with sizes, run name and --json metrics', () => {
    const r = lpclust(['--json', 'cluster', '--in', csv, '--model', 'kmeans', '-k', '3', '--out-dir', 'km']);
    expect(r.status, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res.runId).toMatch(/^[0-9a-f]{32}$/);
    // --out-dir is a base, as for pipeline and sweep: each run writes to <out-dir>/<run id>/.
    expect(res.outDir).toBe(path.join(dir, 'km', res.runId));
    expect(res.metrics['Silhouette Score']).toBeGreaterThan(0);
    expect(res.metrics['DB Index']).toBeGreaterThan(0);
    const labels = readFileSync(path.join(res.outDir, 'labels.csv'), 'utf8').trim().split('\n');
    expect(labels[0]).toBe('id,date,cluster');
    expect(labels.length).toBe(68);
    const sizes = [0, 0, 0];
    for (const l of labels.slice(1)) sizes[Number(l.split(',')[2])]++;
    expect(sizes).toEqual(res.clusterSizes);
    expect(sizes[0]).toBeGreaterThanOrEqual(sizes[1]);
    expect(sizes[1]).toBeGreaterThanOrEqual(sizes[2]);
    const centres = readFileSync(path.join(res.outDir, 'centres.csv'), 'utf8').trim().split('\n');
    expect(centres[0].startsWith('cluster,size,00:00,')).toBe(true);
    expect(centres.slice(1).map((l) => Number(l.split(',')[1]))).toEqual(sizes);
    expect(runTag(res.runId, 'mlflow.runName')).toBe('kmeans euclidean k=3');
  });

  it('DTW: computes the matrix once, reuses it with --dtw, writes medoids and the SciPy linkage matrix; a stale matrix is refused', () => {
    const a = lpclust(['--json', 'cluster', '--in', csv, '--model', 'kmedoids', '--metric', 'dtw', '-k', '2', '--init', 'build', '--out-dir', 'kmed']);
    expect(a.status, a.stderr).toBe(0);
    const ra = JSON.parse(a.stdout);
    expect(ra.metrics['Silhouette DTW']).toBeGreaterThan(-1);
    const kmed = path.relative(dir, ra.outDir);
    expect(kmed).toBe(path.join('kmed', ra.runId));
    expect(ra.metrics['fit/total_deviation']).toBeGreaterThan(0);
    expect(existsSync(path.join(ra.outDir, 'dtw.npy'))).toBe(true);
    expect(readFileSync(path.join(ra.outDir, 'medoids.csv'), 'utf8').split('\n')[0].startsWith('cluster,size,id,date,')).toBe(true);
    const b = lpclust(['--json', 'cluster', '--in', csv, '--model', 'agglomerative', '--metric', 'dtw', '-k', '3', '--dtw', path.join(kmed, 'dtw.npy'), '--out-dir', 'agg']);
    expect(b.status, b.stderr).toBe(0);
    expect(b.stderr).not.toMatch(/computing the DTW matrix/);
    const npy = readFileSync(path.join(JSON.parse(b.stdout).outDir, 'linkage.npy'));
    expect(npy.subarray(1, 6).toString()).toBe('NUMPY');
    expect(npy.toString('latin1', 10, 80)).toMatch(/'shape': \(66, 4\)/);
    // A matrix of other data.
    writeFileSync(path.join(dir, 'fewer.csv'), readFileSync(csv, 'utf8').split('\n').slice(0, 40).join('\n') + '\n');
    const c = lpclust(['cluster', '--in', 'fewer.csv', '--model', 'kmedoids', '--metric', 'dtw', '-k', '2', '--dtw', path.join(kmed, 'dtw.npy')]);
    expect(c.status).toBe(3);
    expect(c.stderr).toMatch(/does not belong to these profiles/);
    expect(c.stderr).toMatch(/lpclust dtw --in fewer.csv/);
    // A corrupted matrix (NaN cell) is refused, not clustered.
    const bad = readFileSync(path.join(ra.outDir, 'dtw.npy'));
    bad.writeFloatLE(NaN, bad.length - 67 * 67 * 4 + 4 * 5);
    writeFileSync(path.join(dir, 'bad.npy'), bad);
    writeFileSync(path.join(dir, 'bad.npy.json'), readFileSync(path.join(ra.outDir, 'dtw.npy.json')));
    const d = lpclust(['cluster', '--in', csv, '--model', 'agglomerative', '--metric', 'dtw', '-k', '2', '--dtw', 'bad.npy']);
    expect(d.status).toBe(3);
    expect(d.stderr).toMatch(/cell \(0, 5\) of the matrix is NaN/);
  });

  it('-k 0 chooses k by silhouette among the eligible k, logs the curve with step = k and the chosen score as plain keys', () => {
    const r = lpclust(['--json', 'cluster', '--in', csv, '--model', 'kmeans', '-k', '0', '--k-range', '2..5', '--n-init', '3']);
    expect(r.status, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout);
    type K = { k: number; value: number; excluded?: string };
    expect(res.kScores.map((s: K) => s.k)).toEqual([2, 3, 4, 5]);
    const best = res.kScores.filter((s: K) => !s.excluded).reduce((a: K, b: K) => (b.value > a.value ? b : a));
    expect(res.k).toBe(best.k);
    expect(res.metrics['choose_k/k']).toBe(res.k);
    expect(res.metrics['choose_k/silhouette_score']).toBe(best.value);
    expect(res.metrics['choose_k/silhouette_score']).toBe(res.metrics['Silhouette Score']);
    expect(res.metrics['choose_k/eligible_k']).toBe(res.kScores.filter((s: K) => !s.excluded).length);
    // --select with a lower-is-better score, and --min-cluster-share refused when out of range.
    const db = JSON.parse(lpclust(['--json', 'cluster', '--in', csv, '--model', 'kmeans', '-k', '0', '--k-range', '2..5', '--n-init', '3', '--select', 'db index', '--out-dir', 'db']).stdout);
    const eligible = db.kScores.filter((s: K) => !s.excluded);
    expect(db.metrics['choose_k/db_index']).toBe(Math.min(...eligible.map((s: K) => s.value)));
    const bad = lpclust(['cluster', '--in', csv, '-k', '0', '--min-cluster-share', '2']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/Expected a share 0 ≤ s < 1 .* for `--min-cluster-share` but received `2`/);
    const sel = lpclust(['cluster', '--in', csv, '-k', '0', '--select', 'accuracy']);
    expect(sel.status).toBe(2);
    expect(sel.stderr).toMatch(/Expected a score for `--select` but received `accuracy`[\s\S]*"DB Index" \(lower is better\)/);
    expect(res.outDir).toContain(path.join('lpclust-out', 'cluster', res.runId));
    expect(runTag(res.runId, 'mlflow.runName')).toBe(`kmeans euclidean k=${res.k}`);
  });

  it('bad input gives one clear error and a non-zero exit code', () => {
    expect(lpclust(['cluster', '--in', csv, '-k', '1']).stderr).toMatch(/Expected an integer k ≥ 2/);
    expect(lpclust(['cluster', '--in', csv, '-k', '500']).stderr).toMatch(/Expected k < the number of profiles .* \(67\)/);
    expect(lpclust(['cluster', '--in', csv, '--model', 'som', '--metric', 'dtw', '-k', '2']).stderr).toMatch(/--metric euclidean/);
    expect(lpclust(['cluster', '--in', csv, '--linkage', 'median', '--model', 'agglomerative']).stderr).toMatch(/ward\|average\|complete\|single/);
    const zero = path.join(dir, 'zero.csv');
    writeFileSync(zero, readFileSync(csv, 'utf8').split('\n')[0] + '\nM1,2020-01-01' + ',0'.repeat(24) + '\nM1,2020-01-02' + ',1'.repeat(24) + '\nM1,2020-01-03' + ',2'.repeat(24) + '\n');
    const z = lpclust(['cluster', '--in', zero, '-k', '2']);
    expect(z.status).toBe(3);
    expect(z.stderr).toMatch(/all-zero profile/);
    const r = lpclust(['cluster', '--in', zero, '-k', '2', '--normalize', 'none']);
    expect(r.status, r.stderr).toBe(0);
  });
});
