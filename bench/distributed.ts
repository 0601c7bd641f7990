/**
 * The job queue (issue 19): `node --import tsx bench/distributed.ts [--n 20000] [--overhead-n 60]
 * [--assign-n 200000] [--radius 1] [--only tiles,assign]`. Starts its own redis-server (test/support/redis.ts)
 * and `lpclust worker` processes (dist/: build first), and prints, for the DTW matrix (`tiles`)
 *   1. queue overhead per tile: a matrix of one-pair tiles (tile size 1), so that enqueue →
 *      worker → tile file → assembled is all there is; one worker, one thread;
 *   2. throughput with 1 and then 2 worker processes of one thread each on N profiles (their
 *      ratio; it approaches 2 when two cores are free), and the one-machine run with one thread;
 *   3. the submitter's peak resident memory while assembling (bounded by the band writer's budget,
 *      not N²);
 *   4. the projected time for N = 10⁵ on 8 machines of 16 cores from the measured cells/s per core;
 * and for the large-N assignment (`assign`: sampled-mode candidate scoring, queue/assign.ts)
 *   5. queue overhead per job: one-row jobs against 2 centres, so that enqueue → worker → result
 *      file → placed is all there is; one worker, one thread;
 *   6. rows/s of assigning --assign-n profiles to 12 centres (radius 1, 16 jobs per candidate set,
 *      a warm-up set first, then 4 timed sets) with 1 and then 2 worker processes of one thread
 *      each (their ratio), and the one-machine AssignPool on one thread.
 * The N = 20,000 throughput case on a quiet machine is this one command (after `npm run build`):
 *   node --import tsx bench/distributed.ts --n 20000
 * On a loaded machine the figures say so: `uptime` is printed beside them.
 */
import { spawn, execSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Random } from '../src/util/random.js';
import { normalizeRows } from '../src/profiles/normalize.js';
import { bandCells, computeDtwMatrix } from '../src/dtw/matrix.js';
import { parseQueueUrl } from '../src/queue/connection.js';
import { newQueueStats, queueTileSource } from '../src/queue/dtw.js';
import { newAssignQueueStats, QueueAssigner } from '../src/queue/assign.js';
import { AssignPool } from '../src/dtw/assign.js';
import { startRedis } from '../test/support/redis.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

const N = arg('n', 20_000);
const OVERHEAD_N = arg('overhead-n', 60);
const ASSIGN_N = arg('assign-n', 10 * N);
/** Sakoe–Chiba radius of the tile throughput cases (a wider band: more DTW work per byte written). */
const RADIUS = arg('radius', 1);
const onlyAt = process.argv.indexOf('--only');
const ONLY = new Set(onlyAt >= 0 ? process.argv[onlyAt + 1].split(',') : ['tiles', 'assign']);
const L = 24;
const BIN = path.resolve('bin/lpclust.js');

function series(n: number, seed = 3): Float64Array {
  const rng = new Random(seed);
  const raw = new Float64Array(n * L);
  for (let i = 0; i < raw.length; i++) raw[i] = 300 + 200 * Math.sin((i % L) / 4 + Math.floor(i / L)) + 100 * rng.next();
  return normalizeRows(raw, L, 'l2');
}

/** Start `count` worker processes and wait until they have taken jobs (a warm-up matrix), so that start-up is not timed. */
async function startWorkers(count: number, url: string, shared: string): Promise<ChildProcess[]> {
  const ws = Array.from({ length: count }, () => spawn(process.execPath, [BIN, '-q', 'worker', '--queue', url, '--threads', '1'], { stdio: 'ignore' }));
  await queued(series(8 * count + 2, 99), path.join(shared, 'warm.npy'), 2, url, shared);
  rmSync(path.join(shared, 'warm.npy'), { force: true });
  rmSync(path.join(shared, 'warm.npy.json'), { force: true });
  return ws;
}

async function stop(ws: ChildProcess[]): Promise<void> {
  await Promise.all(ws.map((w) => new Promise<void>((r) => {
        if (w.exitCode !== null) return r();
        w.once('exit', () => r());
        w.kill('SIGTERM');
      })));
}

async function queued(values: Float64Array, out: string, tileSize: number, url: string, shared: string): Promise<{ seconds: number; peakRss: number; tiles: number; cells: number }> {
  const stats = newQueueStats();
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
  const t = performance.now();
  const r = await computeDtwMatrix({
    values,
    length: L,
    out,
    radius: RADIUS,
    tileSize,
    normalization: 'l2',
    progress: false,
    hashMatrix: false,
    tileSource: queueTileSource({ queue: parseQueueUrl(url), sharedDir: shared, values, length: L, radius: RADIUS, dtype: 'float32', tileSize, normalization: 'l2', kernel: 'auto', layout: 'full', stats }),
  });
  clearInterval(sampler);
  return { seconds: (performance.now() - t) / 1000, peakRss, tiles: stats.delivered, cells: r.cells };
}

/** Assign `values` to `rounds` candidate sets of k rows on the queue (after one warm-up set); rows/s. */
async function queuedAssign(values: Float64Array, k: number, rounds: number, rowsPerJob: number, url: string, shared: string): Promise<{ seconds: number; jobs: number; rowsPerS: number }> {
  const stats = newAssignQueueStats();
  const a = await QueueAssigner.open({ queue: parseQueueUrl(url), sharedDir: shared, X: values, L, rowsPerJob, stats });
  try {
    await a.assign(centres(values, k, 0), 1);
    const jobs0 = stats.delivered;
    const t = performance.now();
    for (let r = 1; r <= rounds; r++) await a.assign(centres(values, k, r), 1);
    const seconds = (performance.now() - t) / 1000;
    return { seconds, jobs: stats.delivered - jobs0, rowsPerS: (rounds * a.n) / seconds };
  } finally {
    await a.close();
  }
}

/** k seeded rows of `values` as a candidate set. */
function centres(values: Float64Array, k: number, seed: number): Float64Array {
  const n = values.length / L;
  const idx = new Random(1000 + seed).sample(n, k);
  const M = new Float64Array(k * L);
  for (let c = 0; c < k; c++) M.set(values.subarray(idx[c] * L, (idx[c] + 1) * L), c * L);
  return M;
}

const uptime = (): string => execSync('uptime').toString().trim();
const redis = await startRedis();
const dir = mkdtempSync(path.join(tmpdir(), 'lpclust-bench-dist-'));
try {
  console.log(`bench/distributed: N = ${N} (throughput), ${OVERHEAD_N} (overhead), L = ${L}, radius ${RADIUS}, float32; assignment: ${ASSIGN_N} rows × 12 centres`);
  console.log(`  ${uptime()}`);
  if (ONLY.has('tiles')) await tiles();
  if (ONLY.has('assign')) await assignments();
} finally {
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}

async function assignments(): Promise<void> {
  // 5. Overhead per job: one-row jobs.
  {
    const ws = await startWorkers(1, redis.url, dir);
    const v = series(64, 5);
    const r = await queuedAssign(v, 2, 3, 1, redis.url, dir);
    await stop(ws);
    console.log(`assignment queue overhead: ${r.jobs} one-row jobs in ${r.seconds.toFixed(2)} s with 1 worker → ${((1000 * r.seconds) / r.jobs).toFixed(2)} ms per job (enqueue → computed → result file → placed)`);
  }
  // 6. Rows/s, 1 vs 2 worker processes of one thread; and this machine's AssignPool on one thread.
  const values = series(ASSIGN_N, 7);
  const rounds = 4;
  const pool = new AssignPool(values, L, 1);
  try {
    await pool.assign(centres(values, 12, 0), 1);
    const t = performance.now();
    for (let r = 1; r <= rounds; r++) await pool.assign(centres(values, 12, r), 1);
    const seconds = (performance.now() - t) / 1000;
    console.log(`assignment, one machine, 1 thread: ${rounds} × ${ASSIGN_N} rows in ${seconds.toFixed(2)} s → ${((rounds * ASSIGN_N) / seconds / 1e6).toFixed(3)}·10⁶ rows/s`);
  } finally {
    await pool.close();
  }
  const rates: number[] = [];
  for (const count of [1, 2]) {
    const ws = await startWorkers(count, redis.url, dir);
    const r = await queuedAssign(values, 12, rounds, Math.ceil(ASSIGN_N / 16), redis.url, dir);
    await stop(ws);
    rates.push(r.rowsPerS);
    console.log(`assignment on the queue, ${count} worker process(es) × 1 thread: ${r.jobs} jobs of ${Math.ceil(ASSIGN_N / 16)} rows in ${r.seconds.toFixed(2)} s → ${(r.rowsPerS / 1e6).toFixed(3)}·10⁶ rows/s`);
  }
  console.log(`assignment, 2 workers / 1 worker: ${(rates[1] / rates[0]).toFixed(2)}× (2.00 is the ideal with two free cores)`);
  console.log(`  ${uptime()}`);
}

async function tiles(): Promise<void> {
  // 1. Overhead per tile.
  let overheadMs = 0;
  {
    const ws = await startWorkers(1, redis.url, dir);
    const v = series(OVERHEAD_N);
    const r = await queued(v, path.join(dir, 'overhead.npy'), 1, redis.url, dir);
    await stop(ws);
    overheadMs = (1000 * r.seconds) / r.tiles;
    console.log(`queue overhead: ${r.tiles} one-pair tiles in ${r.seconds.toFixed(2)} s with 1 worker → ${((1000 * r.seconds) / r.tiles).toFixed(2)} ms per tile (enqueue → computed → tile file → assembled)`);
  }

  // 2. Throughput, 1 vs 2 worker processes of one thread; and the one-machine run on one thread.
  const values = series(N);
  const tileSize = Math.max(64, Math.min(1024, Math.ceil(N / 16)));
  const local = await computeDtwMatrix({ values, length: L, out: path.join(dir, 'local.npy'), radius: RADIUS, tileSize, workers: 1, normalization: 'l2', progress: false, hashMatrix: false });
  const perCoreLocal = local.cells / local.seconds;
  console.log(`one machine, 1 thread: ${local.cells.toExponential(3)} cells in ${local.seconds.toFixed(2)} s → ${(perCoreLocal / 1e9).toFixed(3)}·10⁹ cells/s`);
  rmSync(path.join(dir, 'local.npy'), { force: true });
  const rates: number[] = [];
  for (const count of [1, 2]) {
    const ws = await startWorkers(count, redis.url, dir);
    const r = await queued(values, path.join(dir, `q${count}.npy`), tileSize, redis.url, dir);
    await stop(ws);
    rmSync(path.join(dir, `q${count}.npy`), { force: true });
    rmSync(path.join(dir, `q${count}.npy.json`), { force: true });
    rates.push(r.cells / r.seconds);
    console.log(
      `queue, ${count} worker process(es) × 1 thread: ${r.tiles} tiles of ${tileSize} rows in ${r.seconds.toFixed(2)} s → ${(rates[rates.length - 1] / 1e9).toFixed(3)}·10⁹ cells/s; submitter peak RSS ${(r.peakRss / 2 ** 20).toFixed(0)} MiB (the matrix is ${((N * N * 4) / 2 ** 20).toFixed(0)} MiB)`,
    );
  }
  console.log(`2 workers / 1 worker: ${(rates[1] / rates[0]).toFixed(2)}× (2.00 is the ideal with two free cores)`);
  console.log(`  ${uptime()}`);

  // 4. Projection.
  const perCore = Math.max(rates[0], perCoreLocal);
  const bigCells = ((1e5 * (1e5 - 1)) / 2) * bandCells(L, RADIUS);
  const seconds = bigCells / (perCore * 8 * 16);
  const bigTiles = (Math.ceil(1e5 / 1024) * (Math.ceil(1e5 / 1024) + 1)) / 2;
  console.log(
    `projection, N = 10⁵ (L = ${L}, radius ${RADIUS}: ${bigCells.toExponential(2)} cells) on 8 machines × 16 cores at ${(perCore / 1e9).toFixed(3)}·10⁹ cells/s per core: ` +
      `${seconds.toFixed(0)} s of DTW, plus ${bigTiles} tiles × ${overheadMs.toFixed(1)} ms of queue handling at the submitter ≈ ${((bigTiles * overheadMs) / 1000).toFixed(0)} s, ` +
      `plus 40 GB of tile files read from the shared directory and 40 GB of matrix written: at radius ${RADIUS} the disks, not the cores, set the time`,
  );
}
