/**
 * DTW engine benchmark. Run from the repository root after building:
 *
 *   npm run build && node --import tsx bench/dtw.ts [--quick] [--skip-memory] [--command-only] [--baseline DIR]
 *                                                  [--dtaidistance-path DIR] [--python PY] [--dtaidistance-max N]
 *                                                  [--repeat K] [--dir DIR]
 *
 * First, the whole command (issue 16): `lpclust dtw` as a user runs it — start-up, reading the CSV,
 * the matrix, writing, fsync, SHA-256, tracking — at N = 5,000 and 20,000 (5,000 only with
 * --quick), L = 24, radius 1, full and condensed layouts, with the child's wall time, user and
 * system CPU and peak RSS. `--baseline DIR` runs DIR's `bin/lpclust.js` (e.g. the main branch's build
 * before a change) on the same data in the same run and checks that the full matrices are
 * byte-identical. dtaidistance's C/OpenMP `distance_matrix_fast` (window = radius + 1, compact) runs
 * on the same data when Debian's python3 (`--python PY`, default /usr/bin/python3) can import it,
 * from `--dtaidistance-path DIR` (prepended to PYTHONPATH: a build outside the repository, e.g.
 * `python3 setup.py build_ext --inplace` in its source, DIR = its `src`) or the inherited path; its
 * distances are checked against ours. Otherwise the benchmark says why and compares with the
 * figure of issue 16 (about 5 s at N = 5,000 on this machine). `--dtaidistance-max N` skips it
 * above N. `uptime` is printed beside every figure: on a shared machine wall times vary with other
 * load (system time much less). `--repeat K` reports the median of K runs of each case. After
 * each size, the floors of this machine measured in the same run: the time to write the matrix's
 * bytes (random, sequential 8 MiB direct writes, then fsync) to the same disk, and `node -e 0`; the
 * whole command cannot be faster than their sum, and the ratio to it is printed. `--dir DIR` writes
 * the matrices under DIR instead of the repository (e.g. a faster disk; it must take O_DIRECT for
 * the writer's direct path, which tmpfs does not: an ext4 loop device on a RAM-backed file does).
 * `--command-only` stops there.
 *
 * Then the library cases:
 * It imports the compiled library (dist/) so that the worker threads run plain JavaScript, and
 * prints for each case the wall time, the band cells per second and the ratio to the TypeScript
 * kernel measured in the same run (on a subset of pairs, extrapolated — said in the output).
 * Cases (issue 4): N = 20,000, L = 24, radius 1, float32, full matrix to .npy; L = 96, radius 4,
 * N = 5,000; full DTW (no band), N = 5,000; and the peak RSS of N = 50,000 (a 10 GB file, run in
 * a child process, skipped when the disk has not enough free space). Matrices are written to a
 * temporary directory beside the repository and deleted afterwards.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { closeSync, constants as fsConstants, createReadStream, existsSync, fsyncSync, mkdtempSync, openSync, rmSync, statfsSync, writeFileSync, writeSync } from 'node:fs';
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

function uptime(): string {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return `load average ${os.loadavg().map((x) => x.toFixed(2)).join(', ')}`;
  }
}

function optionValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** Seeded random-walk profiles as a profiles CSV (id,date,00:00..23:00), raw Wh. */
function profilesCsv(n: number, file: string): void {
  const rng = new lp.Random(1);
  const slots = Array.from({ length: 24 }, (_, h) => `${String(h).padStart(2, '0')}:00`);
  const lines = [`id,date,${slots.join(',')}`];
  for (let i = 0; i < n; i++) {
    const day = new Date(Date.UTC(2023, 0, 1) + (i % 365) * 864e5).toISOString().slice(0, 10);
    let x = 100 + 20 * rng.normal();
    const v: string[] = [];
    for (let t = 0; t < 24; t++) {
      x = Math.max(1, x + 10 * rng.normal());
      v.push(x.toFixed(3));
    }
    lines.push(`M${String(Math.floor(i / 365)).padStart(4, '0')},${day},${v.join(',')}`);
  }
  writeFileSync(file, lines.join('\n') + '\n');
}

async function sha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 22 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** The child reports its own CPU times and peak RSS at exit (the parent cannot read them from spawnSync). */
const USAGE_PROBE = `data:text/javascript,process.on('exit',()=>{const u=process.resourceUsage();process.stderr.write('\nUSAGE '+JSON.stringify({user:u.userCPUTime/1e6,system:u.systemCPUTime/1e6,maxRssMb:u.maxRSS/1024})+'\n')})`;

interface CommandRun {
  wall: number;
  user: number;
  system: number;
  maxRssMb: number;
  /** `uptime` right after the run. */
  uptime: string;
}

function runCommand(bin: string, args: string[], cwd: string): CommandRun {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--import', USAGE_PROBE, bin, '--tracking-uri', `file:${path.join(cwd, 'mlruns')}`, '-q', ...args], { cwd, encoding: 'utf8' });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`lpclust ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  // Worker threads run the preload too: the main thread's line, written last, is the process's.
  const m = [...r.stderr.matchAll(/USAGE (\{[^}]*\})/g)].pop();
  const u = m ? (JSON.parse(m[1]) as Omit<CommandRun, 'wall' | 'uptime'>) : { user: NaN, system: NaN, maxRssMb: NaN };
  return { wall, ...u, uptime: uptime() };
}

/** Median of `k` runs of a command (wall time decides; the run with the median wall is reported). */
function medianRun(k: number, run: () => CommandRun): CommandRun {
  const runs = Array.from({ length: k }, run).sort((a, b) => a.wall - b.wall);
  return runs[Math.floor((runs.length - 1) / 2)];
}

/**
 * What this machine's disk allows: `bytes` of random bytes (so that no layer can compress or
 * deduplicate them) written to a new file in `dir` as the matrix writer does at best — sequential
 * 8 MiB direct writes (O_DIRECT, one in flight) — then fsync'd. No writer of a file that size can
 * finish faster here, so it is the floor under the whole command's wall time. Buffered writes
 * when direct I/O is unavailable (said).
 */
function diskFloor(dir: string, bytes: number): { seconds: number; mbPerS: number; how: string } {
  const file = path.join(dir, 'disk-floor.bin');
  const chunk = 8 * 2 ** 20;
  const addon = lp.loadNative();
  const direct = process.platform === 'linux' && fsConstants.O_DIRECT && addon?.alignedBuffer;
  const buf = new Uint8Array(direct ? addon!.alignedBuffer!(chunk, 4096) : new ArrayBuffer(chunk));
  randomFillSync(buf);
  const total = Math.ceil(bytes / chunk) * chunk;
  let fd: number;
  let how = 'direct 8 MiB writes + fsync';
  try {
    fd = openSync(file, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC | (direct ? fsConstants.O_DIRECT : 0));
  } catch {
    fd = openSync(file, 'w');
    how = 'buffered 8 MiB writes + fsync (direct I/O refused)';
  }
  const t0 = performance.now();
  try {
    for (let pos = 0; pos < total; pos += chunk) writeSync(fd, buf, 0, chunk, pos);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  const seconds = (performance.now() - t0) / 1000;
  rmSync(file, { force: true });
  return { seconds, mbPerS: total / 1e6 / seconds, how };
}

/** Wall time of a process that does nothing (`node -e 0`): the floor under any command's start-up. */
function nodeFloor(): number {
  const t0 = performance.now();
  spawnSync(process.execPath, ['-e', '0']);
  return (performance.now() - t0) / 1000;
}

/** What dtaidistance did on the same data, or why it could not run. */
type DtaiResult =
  | { seconds: number; processSeconds: number; version: string; openmp: boolean; checked: number; maxAbsDiff: number; maxRelDiff: number }
  | { unavailable: string };

/**
 * The Python that runs dtaidistance: `--python`, else Debian's /usr/bin/python3 (the one the
 * brief builds dtaidistance for; a pyenv shim earlier on PATH would not see it), else python3.
 */
function python(): string {
  return optionValue('--python') ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
}

/** PYTHONPATH for dtaidistance: `--dtaidistance-path DIR` (a source build, e.g. DIR/src) before the inherited one. */
function pythonEnv(): NodeJS.ProcessEnv {
  const extra = optionValue('--dtaidistance-path');
  return extra ? { ...process.env, PYTHONPATH: [path.resolve(extra), process.env.PYTHONPATH].filter(Boolean).join(path.delimiter) } : process.env;
}

/**
 * dtaidistance's C/OpenMP \`distance_matrix_fast\` on the same CSV, normalised as lpclust does (L2
 * per row), window = radius + 1 (dtaidistance allows |i − j| < window, lpclust |i − j| ≤ radius),
 * its documented defaults otherwise (use_pruning=True, parallel=True), compact=True (the upper
 * triangle in squareform order, as \`--layout condensed\`). It must report the C library with
 * OpenMP. Its distances are compared with lpclust's condensed matrix of the same data (every value
 * up to N = 5,000, 2,000,000 sampled pairs above) so that the two times are of the same numbers.
 */
function dtaidistance(csv: string, radius: number, ours: string): DtaiResult {
  const script = `
import sys, time, json, numpy as np
from dtaidistance import dtw, dtw_cc_omp, __version__
if not dtw.try_import_c(verbose=False):
    sys.exit("dtaidistance's C library does not load")
x = np.loadtxt(sys.argv[1], delimiter=',', skiprows=1, usecols=range(2, 26))
x = x / np.linalg.norm(x, axis=1, keepdims=True)
t = time.perf_counter()
d = dtw.distance_matrix_fast(x, window=int(sys.argv[2]) + 1, compact=True)
seconds = time.perf_counter() - t
d = np.frombuffer(d, dtype=np.float64) if not isinstance(d, np.ndarray) else d  # compact: an array.array of doubles
ours = np.load(sys.argv[3], mmap_mode='r')
if ours.shape != d.shape:
    sys.exit(f'shape {d.shape} against lpclust {ours.shape}')
idx = np.arange(d.size) if d.size <= 13_000_000 else np.random.default_rng(0).choice(d.size, 2_000_000, replace=False)
a = d[idx]; b = np.asarray(ours[idx], dtype=np.float64)
diff = np.abs(a - b)
print(json.dumps({'seconds': seconds, 'version': __version__, 'openmp': bool(dtw_cc_omp.is_openmp_supported()), 'checked': int(idx.size),
                  'maxAbsDiff': float(diff.max()), 'maxRelDiff': float((diff / np.maximum(np.abs(a), 1e-12)).max())}))
`;
  const py = python();
  const probe = spawnSync(py, ['-c', 'import dtaidistance, numpy; print(dtaidistance.__version__)'], { encoding: 'utf8', env: pythonEnv() });
  if (probe.status !== 0) return { unavailable: `${py}: ${(probe.stderr || probe.error?.message || 'failed').trim().split('\n').pop()}` };
  const t0 = performance.now();
  const r = spawnSync(py, ['-c', script, csv, String(radius), ours], { encoding: 'utf8', env: pythonEnv(), maxBuffer: 1 << 20 });
  const processSeconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) return { unavailable: `${py}: ${(r.stderr || r.error?.message || 'failed').trim().split('\n').pop()}` };
  return { ...(JSON.parse(r.stdout.trim().split('\n').pop()!) as Omit<Extract<DtaiResult, { seconds: number }>, 'processSeconds'>), processSeconds };
}

/** Issue 16: dtaidistance distance_matrix_fast at N = 5,000, L = 24 on this machine. */
const DTAIDISTANCE_ISSUE_SECONDS: Record<number, number> = { 5000: 5 };

async function commandCases(dir: string): Promise<void> {
  const baselineDir = optionValue('--baseline');
  const sizes = args.has('--quick') ? [5000] : [5000, 20000];
  const repeat = Math.max(1, Number(optionValue('--repeat') ?? 1));
  console.log(`whole command: lpclust dtw, L = 24, radius 1, float32, default workers; uptime ${uptime()}`);
  for (const n of sizes) {
    const csv = path.join(dir, `profiles-${n}.csv`);
    profilesCsv(n, csv);
    const rows: Array<[string, CommandRun, string]> = [];
    const ours = path.join(ROOT, 'bin', 'lpclust.js');
    const full = path.join(dir, `full-${n}.npy`);
    // --repeat K: the median of K runs of each case. Each run writes a new file (the previous one
    // is deleted first, outside the timing), as the first run does.
    const fresh = (file: string, bin: string, extra: string[]) => (): CommandRun => {
      rmSync(file, { force: true });
      rmSync(`${file}.json`, { force: true });
      return runCommand(bin, ['dtw', '--in', csv, '--out', file, ...extra], dir);
    };
    rows.push(['full', medianRun(repeat, fresh(full, ours, [])), full]);
    const cond = path.join(dir, `condensed-${n}.npy`);
    rows.push(['condensed', medianRun(repeat, fresh(cond, ours, ['--layout', 'condensed'])), cond]);
    let identical = '';
    if (baselineDir) {
      const before = path.join(dir, `baseline-${n}.npy`);
      const bin = path.join(path.resolve(baselineDir), 'bin', 'lpclust.js');
      rows.push([`baseline full (${baselineDir})`, medianRun(repeat, fresh(before, bin, [])), before]);
      identical = (await sha256(before)) === (await sha256(full)) ? 'full matrix byte-identical to the baseline' : 'FULL MATRIX DIFFERS FROM THE BASELINE';
    }
    const dtaiMax = Number(optionValue('--dtaidistance-max') ?? 20000);
    const dtai: DtaiResult = n <= dtaiMax ? dtaidistance(csv, 1, cond) : { unavailable: `skipped above N = ${dtaiMax} (--dtaidistance-max)` };
    const ref = 'seconds' in dtai ? dtai.seconds : DTAIDISTANCE_ISSUE_SECONDS[n];
    const refText =
      'seconds' in dtai
        ? `dtaidistance ${dtai.version} distance_matrix_fast (C, OpenMP ${dtai.openmp ? 'on' : 'OFF'}, window 2, use_pruning, compact) in this run: ${dtai.seconds.toFixed(2)} s for the call (${dtai.processSeconds.toFixed(2)} s the whole Python process, reading the CSV and the check included); ` +
          `same numbers: ${dtai.checked} distances compared with lpclust's condensed matrix, max |Δ| ${dtai.maxAbsDiff.toExponential(2)} (max relative ${dtai.maxRelDiff.toExponential(2)}; lpclust float32, dtaidistance float64); uptime ${uptime()}`
        : `dtaidistance did not run (${dtai.unavailable})${ref ? `; issue 16's figure: ${ref} s` : '; no figure to compare with at this N'}`;
    for (const [label, r, file] of rows) {
      const versus = ref ? `, dtaidistance's call / our whole command ×${(ref / r.wall).toFixed(1)}` : '';
      console.log(
        `  N=${n} ${label.padEnd(12)} wall ${r.wall.toFixed(2)} s, user ${r.user.toFixed(2)} s, system ${r.system.toFixed(2)} s, peak RSS ${r.maxRssMb.toFixed(0)} MB${versus}; uptime ${r.uptime}`,
      );
      rmSync(file, { force: true });
      rmSync(`${file}.json`, { force: true });
    }
    const [f, c] = [rows[0][1], rows[1][1]];
    console.log(`  N=${n} condensed / full: wall ×${(c.wall / f.wall).toFixed(2)}, system ×${(c.system / f.system).toFixed(2)}${identical ? `; ${identical}` : ''}`);
    // The floors of this machine, measured now: the disk for each layout's bytes, and node's start-up.
    const fullBytes = 4 * n * n;
    const condBytes = 4 * ((n * (n - 1)) / 2);
    const dFull = diskFloor(dir, fullBytes);
    const dCond = diskFloor(dir, condBytes);
    const nodeS = nodeFloor();
    console.log(
      `  N=${n} floors here: writing ${(fullBytes / 1e9).toFixed(2)} GB (full) takes ${dFull.seconds.toFixed(2)} s (${dFull.mbPerS.toFixed(0)} MB/s, ${dFull.how}), ` +
        `${(condBytes / 1e9).toFixed(2)} GB (condensed) ${dCond.seconds.toFixed(2)} s; \`node -e 0\` ${nodeS.toFixed(3)} s; ` +
        `full command / (disk + node) floor ×${(f.wall / (dFull.seconds + nodeS)).toFixed(2)}, condensed ×${(c.wall / (dCond.seconds + nodeS)).toFixed(2)}; uptime ${uptime()}`,
    );
    console.log(`  N=${n} ${refText}`);
    rmSync(csv, { force: true });
  }
  console.log(`uptime after the command cases: ${uptime()}`);
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
  // --dir DIR: where the matrices (and the disk floor's file) are written, e.g. a faster disk.
  const dir = mkdtempSync(path.join(path.resolve(optionValue('--dir') ?? ROOT), '.bench-dtw-'));
  console.log(`matrices written under ${dir}`);
  try {
    await commandCases(dir);
    if (args.has('--command-only')) return;
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
