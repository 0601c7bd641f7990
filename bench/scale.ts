/**
 * Large-N benchmark (issue 17). Run from the repository root after building:
 *
 *   npm run build && node --import tsx bench/scale.ts [--quick] [--sizes 100000,300000,1000000] [--cli] [--pipeline] [--skip-exact]
 *
 * Data: synthetic daily load profiles (L = 24) from six archetypes (morning peak, evening peak,
 * double peak, flat, night heating, midday dip), each day with a random amplitude, a shift of up to
 * ±2 slots, and noise; L2-normalised as the CLI does.
 *
 * 1. Quality at N = 20,000 (skipped with --skip-exact or --quick): exact FasterPAM on the full float32
 *    DTW matrix (1.6 GB) against sampled k-medoids (FasterCLARA), same data, same seed; both total
 *    deviations are printed, measured the same way (float64 DTW of every profile to its medoid).
 * 2. Cost growth: sampled DTW k-medoids (k = 12, radius 1) at each size (default 10⁵, 3·10⁵, 10⁶;
 *    10⁵ only with --quick), on 2 worker threads, each size in its own child process so that the
 *    peak RSS is that size's: wall time, peak RSS, the time to assign all N days to the 12 medoids
 *    (what `predict` does) with every distance and with the lower bounds (share of exact DTW calls
 *    saved; labels and distances checked identical), and the fitted exponent of time against N.
 *    The fit is split into its fixed part (FasterPAM on the samples: five 2,000 × 2,000 sample
 *    matrices, whatever N) measured on its own, and the part that grows with N (scoring every
 *    candidate medoid set on all N); the exponent is fitted on what grows.
 * 3. With --cli: `lpclust cluster --model kmedoids --metric dtw -k 12` end to end (reading the CSV,
 *    plots, model and MLflow logging) on the largest size, with the child's wall time and peak RSS.
 * 4. With --pipeline: `lpclust pipeline --in <harmonized CSV> --model kmedoids --metric dtw -k 12`
 *    end to end (reading, FasterCLARA, validation, plots, model, MLflow logging) and `lpclust
 *    predict` of every day of that CSV against the pipeline's model, at each size, each under
 *    /usr/bin/time (wall, peak RSS). Their fixed costs (start-up, FasterPAM on the samples, the
 *    silhouette sample, rendering) are the same commands at N = 5,000, printed apart; the exponents
 *    are fitted on wall − fixed.
 *
 * It imports the compiled library (dist/) so that worker threads run plain JavaScript. `uptime` is
 * printed beside the figures: the machine is shared and the figures move with other load.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
// @ts-ignore -- compiled output, built by `npm run build`
import * as lp from '../dist/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SELF = fileURLToPath(import.meta.url);
const argv = process.argv.slice(2);
const flag = (f: string): boolean => argv.includes(f);
const value = (f: string): string | undefined => (argv.indexOf(f) >= 0 ? argv[argv.indexOf(f) + 1] : undefined);
const L = 24;
const K = 12;
const RADIUS = 1;
const WORKERS = 2;

/** Synthetic profiles: archetype × amplitude × shift + noise, L2-normalised rows (n × 24). */
export function syntheticProfiles(n: number, seed = 1): Float64Array {
  const rng = new lp.Random(seed);
  const shapes: Array<(t: number) => number> = [
    (t) => 0.4 + Math.exp(-((t - 8) ** 2) / 4),
    (t) => 0.4 + 1.2 * Math.exp(-((t - 19) ** 2) / 5),
    (t) => 0.3 + Math.exp(-((t - 7.5) ** 2) / 3) + Math.exp(-((t - 19.5) ** 2) / 4),
    () => 1,
    (t) => (t < 6 || t > 22 ? 1.4 : 0.5),
    (t) => 1 - 0.6 * Math.exp(-((t - 13) ** 2) / 8),
  ];
  const X = new Float64Array(n * L);
  for (let i = 0; i < n; i++) {
    const a = rng.int(shapes.length);
    const amp = 0.5 + rng.next() * 2;
    const shift = rng.int(5) - 2;
    let norm = 0;
    for (let t = 0; t < L; t++) {
      const v = Math.max(0.01, amp * shapes[a]((((t - shift) % L) + L) % L) * (1 + 0.15 * rng.normal()));
      X[i * L + t] = v;
      norm += v * v;
    }
    norm = Math.sqrt(norm);
    for (let t = 0; t < L; t++) X[i * L + t] /= norm;
  }
  return X;
}

function uptime(): string {
  return execFileSync('uptime', { encoding: 'utf8' }).trim();
}

/** Σ float64 DTW distance of every row to its nearest medoid. */
async function totalDeviation(X: Float64Array, medoids: Int32Array): Promise<number> {
  const rows = { data: X, n: X.length / L, dim: L };
  const a = await lp.assignNearest(X, L, lp.gatherRows(rows, medoids), RADIUS, { workers: WORKERS });
  let s = 0;
  for (let i = 0; i < a.d1.length; i++) s += a.d1[i];
  return s;
}

/** Part 1: exact FasterPAM vs FasterCLARA at N = 20,000. */
async function quality(): Promise<void> {
  const n = 20000;
  const X = syntheticProfiles(n, 7);
  const rows = { data: X, n, dim: L };
  console.log(`\n## Quality at N = ${n} (k = ${K}, radius ${RADIUS})   [${uptime()}]`);
  let t = performance.now();
  const D = new Float32Array(n * n);
  const X32 = new Float32Array(X);
  for (let r0 = 0; r0 < n; r0 += 1000) lp.dtwBlock(X32, L, { r0, r1: Math.min(n, r0 + 1000), c0: 0, c1: n }, RADIUS, D.subarray(r0 * n, Math.min(n, r0 + 1000) * n));
  const tMatrix = (performance.now() - t) / 1000;
  t = performance.now();
  const exact = new lp.KMedoids({ k: K, seed: 0 }).fit({ n, data: D }).state;
  const tExact = (performance.now() - t) / 1000;
  const exactDev = await totalDeviation(X, exact.medoids);
  t = performance.now();
  const pool = new lp.AssignPool(X, L, WORKERS);
  const s = await lp.fasterClara(rows, { k: K, radius: RADIUS, seed: 0 }, pool);
  await pool.close();
  const tSampled = (performance.now() - t) / 1000;
  console.log(`exact FasterPAM   : total deviation ${exactDev.toFixed(3)}  (matrix ${tMatrix.toFixed(1)} s, FasterPAM ${tExact.toFixed(1)} s, 1.6 GB matrix)`);
  console.log(`sampled FasterCLARA: total deviation ${s.totalDeviation.toFixed(3)}  (${tSampled.toFixed(1)} s, ${s.samples} samples of ${s.sampleSize})`);
  console.log(`sampled / exact    : ${((s.totalDeviation / exactDev - 1) * 100).toFixed(2)} % ${s.totalDeviation <= exactDev * 1.02 ? '(within 2 %)' : '(NOT within 2 %)'}`);
}

/** Part 2, in a child: one size. Prints one JSON line. */
async function oneSize(n: number): Promise<void> {
  const X = syntheticProfiles(n, 11);
  const rows = { data: X, n, dim: L };
  const pool = new lp.AssignPool(X, L, WORKERS);
  let t = performance.now();
  const s = await lp.fasterClara(rows, { k: K, radius: RADIUS, seed: 0 }, pool);
  const fit = (performance.now() - t) / 1000;
  // Timed after the fit, on the same warm code, so that the difference is the part that grows.
  const fixed = claraFixedCost(rows);
  const M = lp.gatherRows(rows, s.medoids);
  t = performance.now();
  const pruned = await pool.assign(M, RADIUS, { second: true, prune: true });
  const assign = (performance.now() - t) / 1000;
  t = performance.now();
  const full = await pool.assign(M, RADIUS, { second: true, prune: false });
  const assignFull = (performance.now() - t) / 1000;
  await pool.close();
  let same = true;
  for (let i = 0; i < n && same; i++) same = pruned.n1[i] === full.n1[i] && pruned.d1[i] === full.d1[i] && pruned.d2![i] === full.d2![i];
  // VmHWM is this process image's own peak (ru_maxrss would carry the parent's across fork + exec).
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  const rss = hwm ? Number(hwm[1]) * 1024 : process.resourceUsage().maxRSS * 1024;
  console.log(JSON.stringify({ n, fit, fixed, assign, assignFull, same, exactShare: s.exactPairs / s.candidatePairs, assignShare: pruned.exactPairs / full.exactPairs, rss, total: s.totalDeviation }));
}

/**
 * The part of FasterCLARA's fit that does not grow with N, timed on its own: for each of its five
 * samples of 2,000 rows, the sample's DTW matrix and FasterPAM on it (what fasterClara does before
 * scoring the medoids on all N).
 */
function claraFixedCost(rows: { data: Float64Array; n: number; dim: number }): number {
  const s = lp.defaultSampleSize(rows.n, K);
  const rng = new lp.Random(0);
  const t = performance.now();
  for (let i = 0; i < lp.DEFAULT_CLARA_SAMPLES; i++) {
    const idx = Int32Array.from(rng.sample(rows.n, s)).sort();
    const D = lp.sampleMatrix(rows, idx, RADIUS);
    new lp.KMedoids({ k: K, init: 'random', method: 'fasterpam', maxIter: 300, nInit: 1, seed: 0 }).fit(D, rng);
  }
  return (performance.now() - t) / 1000;
}

/** Least-squares slope of log(time) against log(n). */
function exponent(points: Array<{ n: number; t: number }>): number {
  const xs = points.map((p) => Math.log(p.n));
  const ys = points.map((p) => Math.log(p.t));
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return num / den;
}

async function writeCsv(file: string, n: number): Promise<void> {
  const X = syntheticProfiles(n, 11);
  const out = createWriteStream(file);
  const write = (s: string): Promise<void> => new Promise((resolve) => (out.write(s) ? resolve() : out.once('drain', () => resolve())));
  await write(`id,date,${Array.from({ length: L }, (_, h) => `${String(h).padStart(2, '0')}:00`).join(',')}\n`);
  let chunk = '';
  for (let i = 0; i < n; i++) {
    const date = new Date(Date.UTC(2024, 0, 1) + (i % 365) * 86400000).toISOString().slice(0, 10);
    let line = `M${Math.floor(i / 365)},${date}`;
    for (let t = 0; t < L; t++) line += `,${(X[i * L + t] * 10).toFixed(4)}`;
    chunk += `${line}\n`;
    if (chunk.length > 1 << 20) {
      await write(chunk);
      chunk = '';
    }
  }
  await write(chunk);
  await new Promise<void>((resolve) => out.end(() => resolve()));
}

async function main(): Promise<void> {
  if (value('--child') !== undefined) return oneSize(Number(value('--child')));
  const sizes = (value('--sizes') ?? (flag('--quick') ? '100000' : '100000,300000,1000000')).split(',').map(Number);
  console.log(`# lpclust large-N benchmark: L = ${L}, k = ${K}, radius ${RADIUS}, ${WORKERS} worker threads, ${os.cpus().length} cores`);
  if (!flag('--quick') && !flag('--skip-exact')) await quality();
  console.log(`\n## Sampled DTW k-medoids (FasterCLARA) by N`);
  const points: Array<{ n: number; t: number }> = [];
  const assignPoints: Array<{ n: number; t: number }> = [];
  for (const n of sizes) {
    const before = uptime();
    const r = spawnSync(process.execPath, ['--import', 'tsx', SELF, '--child', String(n)], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 24 });
    if (r.status !== 0) {
      console.log(`N = ${n}: child failed (${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
      continue;
    }
    const j = JSON.parse(r.stdout.trim().split('\n').pop()!);
    points.push({ n, t: Math.max(1e-3, j.fit - j.fixed) });
    assignPoints.push({ n, t: j.assignFull });
    console.log(
      `N = ${String(n).padStart(8)}: fit ${j.fit.toFixed(1)} s (fixed ${j.fixed.toFixed(1)} s for FasterPAM on the samples + ${(j.fit - j.fixed).toFixed(1)} s scoring on all N), peak RSS ${(j.rss / 1e9).toFixed(2)} GB; ` +
        `assign all N to the 12 medoids: ${j.assignFull.toFixed(2)} s every distance (the default on the native kernel), ${j.assign.toFixed(2)} s with LB_Kim/LB_Keogh (${(100 * (1 - j.assignShare)).toFixed(1)} % of exact DTW calls saved), identical: ${j.same}   [${before}]`,
    );
  }
  if (points.length >= 2) {
    // The fit is a fixed part (FasterPAM on the samples) plus the all-N scoring: the exponent is of what grows.
    console.log(`fitted exponent of time against N (1 = linear): fit minus its fixed part ${exponent(points).toFixed(2)}, all-N assignment ${exponent(assignPoints).toFixed(2)}`);
  }
  if (flag('--cli')) {
    const n = Math.max(...sizes);
    const dir = mkdtempSync(path.join(ROOT, '..', 'lpclust-bench-scale-'));
    try {
      const csv = path.join(dir, 'profiles.csv');
      await writeCsv(csv, n);
      console.log(`\n## lpclust cluster --model kmedoids --metric dtw -k ${K} on ${n} profiles (CSV ${csv})   [${uptime()}]`);
      const t = performance.now();
      const r = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, path.join(ROOT, 'bin', 'lpclust.js'), '--tracking-uri', `file:${path.join(dir, 'mlruns')}`, 'cluster', '--in', csv, '--model', 'kmedoids', '--metric', 'dtw', '-k', String(K), '--workers', String(WORKERS), '--out-dir', path.join(dir, 'out')], {
        cwd: dir,
        encoding: 'utf8',
        maxBuffer: 1 << 26,
      });
      const wall = (performance.now() - t) / 1000;
      const rssKb = Number(r.stderr.trim().split('\n').pop());
      console.log(`exit ${r.status}, wall ${wall.toFixed(1)} s, peak RSS ${(rssKb / 1e6).toFixed(2)} GB`);
      if (r.status !== 0) console.log(r.stderr.split('\n').slice(-6).join('\n'));
      else console.log(r.stderr.split('\n').filter((l) => /profiles:|clusters of/.test(l)).join('\n'));
      const runId = /cluster run ([0-9a-f]{32})/.exec(r.stdout)?.[1];
      if (runId) {
        // predict: every day of the same CSV against the fitted DTW model.
        console.log(`\n## lpclust predict of ${n} days against that DTW k-medoids model   [${uptime()}]`);
        const t2 = performance.now();
        const p = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, path.join(ROOT, 'bin', 'lpclust.js'), '--tracking-uri', `file:${path.join(dir, 'mlruns')}`, 'predict', '--model', `runs:/${runId}/model`, '--in', csv, '--out', path.join(dir, 'predicted.csv')], { cwd: dir, encoding: 'utf8', maxBuffer: 1 << 26 });
        const wall2 = (performance.now() - t2) / 1000;
        console.log(`exit ${p.status}, wall ${wall2.toFixed(1)} s (reading the CSV, normalising, assigning, writing), peak RSS ${(Number(p.stderr.trim().split('\n').pop()) / 1e6).toFixed(2)} GB`);
        if (p.status !== 0) console.log(p.stderr.split('\n').slice(-6).join('\n'));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  if (flag('--pipeline')) await pipelineByN(sizes);
  console.log(`\n[${uptime()}]`);
}

/** One CLI command under /usr/bin/time: exit code, wall seconds, peak RSS bytes, stdout, stderr. */
function timed(args: string[], cwd: string): { status: number | null; wall: number; rss: number; stdout: string; stderr: string } {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', process.execPath, path.join(ROOT, 'bin', 'lpclust.js'), ...args], { cwd, encoding: 'utf8', maxBuffer: 1 << 26 });
  const [wall, rssKb] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return { status: r.status, wall, rss: rssKb * 1024, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Part 4: `lpclust pipeline --in` and `lpclust predict` at each size and at N = 5,000 (their fixed
 * costs), in a scratch folder beside the repository (FileStore), removed afterwards.
 */
async function pipelineByN(sizes: number[]): Promise<void> {
  const FIXED_N = 5000;
  console.log(`\n## lpclust pipeline --in <CSV> --model kmedoids --metric dtw -k ${K} --scale sampled end to end, then lpclust predict of the same days`);
  const dir = mkdtempSync(path.join(ROOT, '..', 'lpclust-bench-pipeline-'));
  const rows: Array<{ n: number; pipeline: number; predict: number }> = [];
  try {
    for (const n of [FIXED_N, ...sizes]) {
      const csv = path.join(dir, `profiles-${n}.csv`);
      await writeCsv(csv, n);
      const before = uptime();
      const tracking = ['--tracking-uri', `file:${path.join(dir, 'mlruns')}`];
      const p = timed([...tracking, '--json', '--quiet', 'pipeline', '--in', csv, '--model', 'kmedoids', '--metric', 'dtw', '-k', String(K), '--scale', 'sampled', '--workers', String(WORKERS), '--out-dir', path.join(dir, 'out')], dir);
      if (p.status !== 0) {
        console.log(`N = ${n}: pipeline failed (${p.status}): ${p.stderr.trim().split('\n').slice(-4).join(' | ')}`);
        continue;
      }
      const res = JSON.parse(p.stdout) as { stages: Array<{ stage: string; runId?: string; skipped?: string }>; cluster: { plots: string[] } };
      const clustering = res.stages.find((s) => s.stage === 'clustering')!.runId!;
      const q = timed([...tracking, '--quiet', 'predict', '--model', `runs:/${clustering}/model`, '--in', csv, '--out', path.join(dir, `predicted-${n}.csv`)], dir);
      if (q.status !== 0) console.log(`N = ${n}: predict failed (${q.status}): ${q.stderr.trim().split('\n').slice(-4).join(' | ')}`);
      const plots = res.cluster.plots.map((f) => `${path.basename(f)} ${(statSync(f).size / 1024).toFixed(0)} KiB`).join(', ');
      console.log(
        `N = ${String(n).padStart(8)}${n === FIXED_N ? ' (fixed costs)' : ''}: pipeline ${p.wall.toFixed(1)} s, peak RSS ${(p.rss / 1e9).toFixed(2)} GB; predict ${q.wall.toFixed(1)} s, peak RSS ${(q.rss / 1e9).toFixed(2)} GB   [${before}]`,
      );
      if (n === Math.max(...sizes)) console.log(`  DTW stage: ${res.stages.find((s) => s.stage === 'dtw')?.skipped ?? 'ran'}\n  plots: ${plots}`);
      rows.push({ n, pipeline: p.wall, predict: q.wall });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const fixed = rows.find((r) => r.n === FIXED_N);
  const grown = rows.filter((r) => r.n !== FIXED_N);
  if (fixed && grown.length >= 2) {
    const growth = (key: 'pipeline' | 'predict') => exponent(grown.map((r) => ({ n: r.n, t: Math.max(1e-3, r[key] - fixed[key]) })));
    console.log(`fixed costs (N = ${FIXED_N}): pipeline ${fixed.pipeline.toFixed(1)} s, predict ${fixed.predict.toFixed(1)} s; fitted exponent of (time − fixed) against N: pipeline ${growth('pipeline').toFixed(2)}, predict ${growth('predict').toFixed(2)} (1 = linear)`);
  }
}

await main();
