/**
 * Large-N benchmark (issue 17). Run from the repository root after building:
 *
 *   npm run build && node --import tsx bench/scale.ts [--quick] [--sizes 100000,300000,1000000] [--cli] [--pipeline] [--skip-exact]
 *   node --import tsx bench/scale.ts --assign 1000000     (part 5 only)
 *   node --import tsx bench/scale.ts --dba 100000,1000000 (part 6 only)
 *   … --float64                                           (parts 1, 2 and 6 on float64 profiles, as before)
 *
 * Data: synthetic daily load profiles (L = 24) from six archetypes (morning peak, evening peak,
 * double peak, flat, night heating, midday dip), each day with a random amplitude, a shift of up to
 * ±2 slots, and noise; L2-normalised as the CLI does, and held as float32 where sampled mode holds
 * them so (FasterCLARA, DBA: cluster/scale.ts), or as float64 with --float64 (the layout before).
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
 * 5. With --assign N: only the assignment of N profiles to 12 centres, float64 and float32 profiles,
 *    nearest only and nearest + second, every distance against the lower bounds in the native kernel
 *    (CPU seconds of one thread, share of exact calls saved).
 *
 * 6. With --dba N,…: DTW k-means (DBA, k = 12, n_init 3, max_iter 10) at each size on the worker
 *    threads: wall time, the share of exact DTW calls the bounds saved, peak RSS; at N ≤ 10⁵ also
 *    without the bounds, checking that labels, centres and inertia are identical.
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
/** The profiles as sampled mode holds them: float32 (or float64 with --float64, as before). */
const held = (X: Float64Array): Float32Array | Float64Array => (flag('--float64') ? X : new Float32Array(X));

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
  const H = held(X);
  const pool = new lp.AssignPool(H, L, WORKERS);
  const s = await lp.fasterClara({ data: H, n, dim: L }, { k: K, radius: RADIUS, seed: 0 }, pool);
  await pool.close();
  const tSampled = (performance.now() - t) / 1000;
  console.log(`exact FasterPAM   : total deviation ${exactDev.toFixed(3)}  (matrix ${tMatrix.toFixed(1)} s, FasterPAM ${tExact.toFixed(1)} s, 1.6 GB matrix)`);
  // Measured as the exact one is (float64 DTW), whatever precision the fit held its rows in.
  const sampledDev = await totalDeviation(X, s.medoids);
  console.log(`sampled FasterCLARA: total deviation ${sampledDev.toFixed(3)}  (${tSampled.toFixed(1)} s, ${s.samples} samples of ${s.sampleSize}, ${H instanceof Float32Array ? 'float32' : 'float64'} profiles)`);
  console.log(`sampled / exact    : ${((sampledDev / exactDev - 1) * 100).toFixed(2)} % ${sampledDev <= exactDev * 1.02 ? '(within 2 %)' : '(NOT within 2 %)'}`);
}

/** Part 2, in a child: one size. Prints one JSON line. */
async function oneSize(n: number): Promise<void> {
  const X = held(syntheticProfiles(n, 11));
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
  const rss = peakRss();
  console.log(JSON.stringify({ n, fit, fixed, assign, assignFull, same, exactShare: s.exactPairs / s.candidatePairs, assignShare: pruned.exactPairs / full.exactPairs, rss, total: s.totalDeviation }));
}

/**
 * The part of FasterCLARA's fit that does not grow with N, timed on its own: for each of its five
 * samples of 2,000 rows, the sample's DTW matrix and FasterPAM on it (what fasterClara does before
 * scoring the medoids on all N).
 */
function claraFixedCost(rows: { data: Float32Array | Float64Array; n: number; dim: number }): number {
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

/**
 * Part 5 (--assign N), in a child: all N profiles to 12 centres (random rows), float64 and float32
 * profiles, nearest only and nearest + second, with every distance and with the lower bounds. CPU
 * time of one thread, best of 5: wall times on this shared machine move with the load more than
 * the difference measured.
 */
async function assignSize(n: number): Promise<void> {
  const X64 = syntheticProfiles(n, 13);
  const M = lp.gatherRows({ data: X64, n, dim: L }, new lp.Random(5).sample(n, K));
  const cpu = (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  for (const X of [X64, new Float32Array(X64)]) {
    for (const second of [false, true]) {
      const best = { pruned: Infinity, full: Infinity };
      let pruned = await lp.assignNearest(X, L, M, RADIUS, { second, prune: true });
      let full = pruned;
      for (let rep = 0; rep < 5; rep++) {
        let t = cpu();
        pruned = await lp.assignNearest(X, L, M, RADIUS, { second, prune: true });
        best.pruned = Math.min(best.pruned, cpu() - t);
        t = cpu();
        full = await lp.assignNearest(X, L, M, RADIUS, { second, prune: false });
        best.full = Math.min(best.full, cpu() - t);
      }
      let same = true;
      for (let i = 0; i < n && same; i++) same = pruned.n1[i] === full.n1[i] && pruned.d1[i] === full.d1[i] && (!second || (pruned.n2![i] === full.n2![i] && pruned.d2![i] === full.d2![i]));
      console.log(JSON.stringify({ dtype: X instanceof Float32Array ? 'float32' : 'float64', second, n, pruned: best.pruned, full: best.full, saved: 1 - pruned.exactPairs / full.exactPairs, same }));
    }
  }
}

/** Peak RSS of this process (VmHWM: its own image's peak, not the parent's). */
function peakRss(): number {
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return hwm ? Number(hwm[1]) * 1024 : process.resourceUsage().maxRSS * 1024;
}

/**
 * Part 6 (--dba N,…), in a child: DTW k-means (DBA) with k = 12, n_init 3, max_iter 10 on the worker
 * threads (lower bounds as by default). With `compare`, also without the bounds: labels, centres and
 * inertia must be identical.
 */
async function dbaSize(n: number, compare: boolean): Promise<void> {
  const X = held(syntheticProfiles(n, 17));
  const rows = { data: X, n, dim: L };
  const pool = new lp.AssignPool(X, L, WORKERS);
  const options = { k: K, nInit: 3, maxIter: 10, radius: RADIUS, seed: 0 };
  let t = performance.now();
  const pruned = (await new lp.DbaKMeans({ ...options, prune: true }).fitPool(rows, pool)).state;
  const seconds = (performance.now() - t) / 1000;
  const out: Record<string, unknown> = { n, seconds, saved: 1 - pruned.exactPairs / pruned.candidatePairs, nIter: pruned.nIter, inertia: pruned.inertia, rss: peakRss() };
  if (compare) {
    t = performance.now();
    const full = (await new lp.DbaKMeans({ ...options, prune: false }).fitPool(rows, pool)).state;
    out.secondsFull = (performance.now() - t) / 1000;
    let same = full.inertia === pruned.inertia;
    for (let i = 0; i < n && same; i++) same = full.labels[i] === pruned.labels[i];
    for (let i = 0; i < full.centres.length && same; i++) same = full.centres[i] === pruned.centres[i];
    out.same = same;
  }
  await pool.close();
  console.log(JSON.stringify(out));
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
  if (value('--assign-child') !== undefined) return assignSize(Number(value('--assign-child')));
  if (value('--dba-child') !== undefined) return dbaSize(Number(value('--dba-child')), flag('--compare'));
  if (value('--dba') !== undefined) {
    console.log(`## DTW k-means (DBA): k = ${K}, n_init 3, max_iter 10, radius ${RADIUS}, ${WORKERS} worker threads`);
    for (const n of value('--dba')!.split(',').map(Number)) {
      const before = uptime();
      const compare = n <= 100000;
      const r = spawnSync(process.execPath, ['--import', 'tsx', SELF, '--dba-child', String(n), ...(compare ? ['--compare'] : []), ...(flag('--float64') ? ['--float64'] : [])], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 24 });
      if (r.status !== 0) {
        console.log(`N = ${n}: child failed (${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
        continue;
      }
      const j = JSON.parse(r.stdout.trim().split('\n').pop()!);
      console.log(
        `N = ${String(n).padStart(8)}: ${j.seconds.toFixed(1)} s with the lower bounds (${(100 * j.saved).toFixed(1)} % of exact DTW calls saved), peak RSS ${(j.rss / 1e9).toFixed(2)} GB, ${j.nIter} rounds in the best restart` +
          (compare ? `; without the bounds ${j.secondsFull.toFixed(1)} s, identical labels, centres and inertia: ${j.same}` : '') +
          `   [${before}]`,
      );
    }
    console.log(`[${uptime()}]`);
    return;
  }
  if (value('--assign') !== undefined) {
    const n = Number(value('--assign'));
    console.log(`## Assignment of ${n} profiles to ${K} centres (radius ${RADIUS}; CPU seconds of one thread, best of 5)   [${uptime()}]`);
    const r = spawnSync(process.execPath, ['--import', 'tsx', SELF, '--assign-child', String(n)], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 24 });
    for (const line of r.stdout.trim().split('\n')) {
      if (!line.startsWith('{')) continue;
      const j = JSON.parse(line);
      console.log(`${j.dtype}, ${j.second ? 'nearest + second' : 'nearest only    '}: every distance ${j.full.toFixed(3)} s; with LB_Kim + LB_Keogh ${j.pruned.toFixed(3)} s (${(100 * j.saved).toFixed(1)} % of exact DTW calls saved, ${(j.full / j.pruned).toFixed(2)}× less CPU), identical: ${j.same}`);
    }
    if (r.status !== 0) console.log(`child failed (${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    console.log(`[${uptime()}]`);
    if (value('--dba') === undefined) return;
  }
  const sizes = (value('--sizes') ?? (flag('--quick') ? '100000' : '100000,300000,1000000')).split(',').map(Number);
  console.log(`# lpclust large-N benchmark: L = ${L}, k = ${K}, radius ${RADIUS}, ${WORKERS} worker threads, ${os.cpus().length} cores`);
  if (!flag('--quick') && !flag('--skip-exact')) await quality();
  console.log(`\n## Sampled DTW k-medoids (FasterCLARA) by N`);
  const points: Array<{ n: number; t: number }> = [];
  const assignPoints: Array<{ n: number; t: number }> = [];
  for (const n of sizes) {
    const before = uptime();
    const r = spawnSync(process.execPath, ['--import', 'tsx', SELF, '--child', String(n), ...(flag('--float64') ? ['--float64'] : [])], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 24 });
    if (r.status !== 0) {
      console.log(`N = ${n}: child failed (${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
      continue;
    }
    const j = JSON.parse(r.stdout.trim().split('\n').pop()!);
    points.push({ n, t: Math.max(1e-3, j.fit - j.fixed) });
    assignPoints.push({ n, t: j.assignFull });
    console.log(
      `N = ${String(n).padStart(8)}: fit ${j.fit.toFixed(1)} s (fixed ${j.fixed.toFixed(1)} s for FasterPAM on the samples + ${(j.fit - j.fixed).toFixed(1)} s scoring on all N), peak RSS ${(j.rss / 1e9).toFixed(2)} GB; ` +
        `assign all N to the 12 medoids: ${j.assignFull.toFixed(2)} s every distance, ${j.assign.toFixed(2)} s with LB_Kim/LB_Keogh (${(100 * (1 - j.assignShare)).toFixed(1)} % of exact DTW calls saved), identical: ${j.same}   [${before}]`,
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
