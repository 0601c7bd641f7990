/**
 * DTW engine benchmark. Run from the repository root after building:
 *
 *   npm run build && node --import tsx bench/dtw.ts [--quick] [--skip-memory]
 *
 * It imports the compiled library (dist/) so that the worker threads run plain JavaScript, and
 * prints for each case the wall time, the band cells per second and the ratio to the TypeScript
 * kernel measured in the same run (on a subset of pairs, extrapolated — said in the output).
 * Cases (issue 4): N = 20,000, L = 24, radius 1, float32, full matrix to .npy; L = 96, radius 4,
 * N = 5,000; full DTW (no band), N = 5,000; and the peak RSS of N = 50,000 (a 10 GB file, run in
 * a child process, skipped when the disk has not enough free space). Matrices are written to a
 * temporary directory beside the repository and deleted afterwards.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
// @ts-ignore -- compiled output, built by `npm run build`
import * as lp from '../dist/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));

/** Seeded random-walk daily profiles, L2-normalised like the CLI does. */
function profiles(n: number, L: number, seed = 1): Float64Array {
  const rng = new lp.Random(seed);
  const v = new Float64Array(n * L);
  for (let i = 0; i < n; i++) {
    let x = 100 + 20 * rng.normal();
    for (let t = 0; t < L; t++) {
      x = Math.max(1, x + 10 * rng.normal());
      v[i * L + t] = x;
    }
  }
  return lp.normalizeRows(v, L, 'l2');
}

/**
 * Band cells per CPU-second of a kernel on the main thread (no worker runs meanwhile), over the
 * block rows [0, h) × columns [0, w). CPU time, not wall time, so that other load on a shared
 * machine does not count against the kernel.
 */
function kernelRate(kernel: 'native' | 'js', data: Float32Array, L: number, radius: number, h: number, w: number): number {
  const out = new Float32Array(h * w);
  const k = lp.selectKernel(kernel);
  const c0 = process.cpuUsage();
  k.block(data, data, L, { r0: 0, r1: h, c0: 0, c1: w }, lp.effectiveRadius(radius, L), out, false);
  const c = process.cpuUsage(c0);
  return (h * w * lp.bandCells(L, radius)) / ((c.user + c.system) / 1e6);
}

function fmt(x: number): string {
  return x >= 1e9 ? `${(x / 1e9).toFixed(2)}e9` : `${(x / 1e6).toFixed(1)}e6`;
}

async function matrixCase(label: string, n: number, L: number, radius: number, dir: string): Promise<void> {
  const values = profiles(n, L);
  const f32 = Float32Array.from(values);
  // Kernel rates on one thread: native on a block, TypeScript on a smaller subset.
  const jsPairs = Math.max(50, Math.round(3e7 / lp.bandCells(L, radius) / 200));
  const jsRate = kernelRate('js', f32, L, radius, 200, Math.min(n, jsPairs));
  const natRate = kernelRate('native', f32, L, radius, 256, Math.min(n, 2048));
  const out = path.join(dir, `${label}.npy`);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const res = await lp.computeDtwMatrix({ values, length: L, out, radius, dtype: 'float32', normalization: 'l2', hashMatrix: false, progress: false });
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  rmSync(out, { force: true });
  rmSync(`${out}.json`, { force: true });
  const rate = res.cells / res.seconds;
  console.log(
    `${label.padEnd(22)} N=${n} L=${L} r=${radius === Infinity ? 'none' : radius}: ${res.cells.toExponential(3)} cells, ` +
      `wall ${wall.toFixed(2)} s (matrix ${res.seconds.toFixed(2)} s, ${res.workers} workers, ${(res.rows * res.rows * 4 / 1e9).toFixed(2)} GB written) → ${fmt(rate)} cells/s; CPU ${cpuSeconds.toFixed(2)} s (${fmt(res.cells / cpuSeconds)} cells per CPU-second); ` +
      `kernel per CPU-second: native ${fmt(natRate)}, TypeScript ${fmt(jsRate)} (subset of ${200 * Math.min(n, jsPairs)} pairs) → ` +
      `native/TS ×${(natRate / jsRate).toFixed(0)} per CPU-second, matrix wall rate / TS rate ×${(rate / jsRate).toFixed(0)}; ` +
      `TS extrapolated to this matrix: ${(res.cells / jsRate).toFixed(0)} CPU-s`,
  );
}

async function memoryChild(n: number, dir: string): Promise<void> {
  const values = profiles(n, 24);
  const out = path.join(dir, 'mem.npy');
  const res = await lp.computeDtwMatrix({ values, length: 24, out, radius: 1, dtype: 'float32', normalization: 'l2', hashMatrix: false, progress: false });
  rmSync(out, { force: true });
  rmSync(`${out}.json`, { force: true });
  const rss = process.resourceUsage().maxRSS * 1024;
  console.log(JSON.stringify({ n, seconds: res.seconds, cells: res.cells, maxRssBytes: rss }));
}

async function main(): Promise<void> {
  const memN = process.argv.indexOf('--memory-child');
  if (memN > 0) return memoryChild(Number(process.argv[memN + 1]), process.argv[memN + 2]);
  const st = lp.nativeStatus();
  console.log(`lpclust DTW bench — node ${process.version}, ${os.cpus()[0]?.model}, ${os.availableParallelism()} cores, native ${st.loaded ? st.isa : `NOT loaded (${st.reason})`}`);
  console.log('note: the machine may be shared; figures vary with other load.');
  const dir = mkdtempSync(path.join(ROOT, '.bench-dtw-'));
  try {
    await matrixCase('L24 r1 (target)', args.has('--quick') ? 5000 : 20000, 24, 1, dir);
    await matrixCase('L96 r4', 5000, 96, 4, dir);
    await matrixCase('L24 full DTW', 5000, 24, Infinity, dir);
    if (args.has('--skip-memory') || args.has('--quick')) {
      console.log('memory check N=50000 skipped (--skip-memory/--quick)');
    } else {
      const s = statfsSync(dir);
      const free = s.bavail * s.bsize;
      const need = 50000 * 50000 * 4 + 4096;
      if (free < need * 1.1) {
        console.log(`memory check N=50000 skipped: needs ${(need / 1e9).toFixed(1)} GB free, ${(free / 1e9).toFixed(1)} GB available`);
      } else {
        const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--memory-child', '50000', dir], { encoding: 'utf8', cwd: ROOT });
        if (r.status !== 0) throw new Error(`memory child failed: ${r.stderr}`);
        const m = JSON.parse(r.stdout.trim().split('\n').pop()!) as { seconds: number; cells: number; maxRssBytes: number };
        console.log(`memory check N=50000 L=24 r=1: ${m.seconds.toFixed(1)} s, ${fmt(m.cells / m.seconds)} cells/s, peak RSS ${(m.maxRssBytes / 2 ** 30).toFixed(2)} GiB (limit 2 GiB), 10 GB file deleted`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
