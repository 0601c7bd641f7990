/**
 * `lpclust sweep --queue`: a tiny sweep whose configurations are run by two real `lpclust worker`
 * processes on a real Redis (test/support/redis.ts) gives the local sweep's summary (every column
 * but the run ids) and stability, with nested runs under the submitter's parent run, and its DTW
 * matrix computed by the workers as tile jobs; a sampled sweep on the queue runs its
 * configurations here and sends their assignments to the workers as row-range jobs, with the
 * local sampled sweep's summary.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { HOURLY_SLOTS, syntheticDays } from '../support/synthetic.js';
import { startRedis, type RedisServer } from '../support/redis.js';

const BIN = path.resolve('bin/lpclust.js');
let redis: RedisServer;
let shared = '';
const procs: ChildProcess[] = [];

function run(args: string[]): { proc: ChildProcess; done: Promise<{ status: number | null; stdout: string; stderr: string }> } {
  const proc = spawn(process.execPath, [BIN, '--tracking-uri', `file:${path.join(shared, 'mlruns')}`, ...args], { cwd: shared });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return { proc, done: new Promise((resolve) => proc.on('exit', (status) => resolve({ status, stdout, stderr }))) };
}

/** summary.csv without run_id and the seconds/* timings (which differ between any two sweeps). */
function summaryOf(outDir: string): string {
  const [runDir] = readdirSync(outDir);
  const lines = readFileSync(path.join(outDir, runDir, 'summary.csv'), 'utf8').trimEnd().split('\n');
  const head = lines[0].split(',');
  const drop = new Set(head.flatMap((h, i) => (h === 'run_id' || h.startsWith('seconds/') ? [i] : [])));
  expect(drop.size).toBe(2);
  return lines.map((l) => l.split(',').filter((_, i) => !drop.has(i)).join(',')).join('\n');
}

beforeAll(async () => {
  redis = await startRedis();
  shared = mkdtempSync(path.join(tmpdir(), 'lpclust-sweepq-'));
  const { rows, classes } = syntheticDays(60, 4, 3);
  let csv = `id,date,${HOURLY_SLOTS.join(',')}\n`;
  rows.forEach((v, i) => {
    csv += `M${classes[i] + 1},${new Date(Date.UTC(2022, 0, 1) + i * 86400000).toISOString().slice(0, 10)},${v.map((x) => x.toFixed(3)).join(',')}\n`;
  });
  writeFileSync(path.join(shared, 'p.csv'), csv);
  mkdirSync(path.join(shared, 'local'));
  mkdirSync(path.join(shared, 'queued'));
}, 60_000);

afterAll(async () => {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
  await redis?.stop();
});

it('a queued sweep gives the local sweep\'s summary and stability; its configurations are nested runs of its parent', async () => {
  const sweep = ['sweep', '--in', 'p.csv', '--models', 'kmeans,kmedoids', '--metrics', 'euclidean,dtw', '-k', '3..4', '--seeds', '0,1'];
  const local = await run([...sweep, '--out-dir', 'local']).done;
  expect(local.status, local.stderr).toBe(0);
  const workers = [run(['worker', '--queue', redis.url, '--threads', '1']), run(['worker', '--queue', redis.url, '--threads', '1'])];
  procs.push(...workers.map((w) => w.proc));
  const queued = await run(['--json', ...sweep, '--out-dir', 'queued', '--queue', redis.url, '--shared-dir', '.']).done;
  expect(queued.status, queued.stderr).toBe(0);
  expect(summaryOf(path.join(shared, 'queued'))).toBe(summaryOf(path.join(shared, 'local')));
  const stability = (d: string): string => readFileSync(path.join(shared, d, readdirSync(path.join(shared, d))[0], 'stability.csv'), 'utf8');
  expect(stability('queued')).toBe(stability('local'));
  // Every configuration ran on a worker, as a child of the submitter's parent run.
  const out = JSON.parse(queued.stdout) as { runId: string; rows: Array<{ runId: string; status: string }> };
  expect(out.rows).toHaveLength(16);
  for (const r of out.rows) expect(r.status).toBe('FINISHED');
  const mlruns = path.join(shared, 'mlruns');
  for (const r of out.rows) {
    const exp = readdirSync(mlruns).find((e) => readdirSync(path.join(mlruns, e)).includes(r.runId))!;
    expect(readFileSync(path.join(mlruns, exp, r.runId, 'tags', 'mlflow.parentRunId'), 'utf8')).toBe(out.runId);
    expect(readFileSync(path.join(mlruns, exp, r.runId, 'tags', 'lpclust.worker.host'), 'utf8').length).toBeGreaterThan(0);
  }
  for (const w of workers) w.proc.kill('SIGTERM');
  const logs = await Promise.all(workers.map((w) => w.done));
  const counts = logs.map((l) => Number(/(\d+) sweep configuration/.exec(l.stdout)?.[1] ?? -1));
  expect(counts.reduce((a, b) => a + b, 0)).toBe(16);
  // The sweep's DTW matrix (one 1024-row tile for 60 profiles) was computed by a worker, not here.
  const tiles = logs.map((l) => Number(/after (\d+) tile/.exec(l.stdout)?.[1] ?? -1));
  expect(tiles.reduce((a, b) => a + b, 0)).toBe(1);
  expect(queued.stderr).toContain('tile job(s) on the queue');
}, 300_000);

it('a sampled sweep on the queue: configurations run here, their assignments on the workers, with the local sampled sweep\'s summary', async () => {
  const sweep = ['sweep', '--in', 'p.csv', '--models', 'kmedoids,agglomerative', '--metrics', 'dtw', '-k', '3..4', '--scale', 'sampled', '--sample-size', '40'];
  mkdirSync(path.join(shared, 'local-s'));
  mkdirSync(path.join(shared, 'queued-s'));
  const local = await run([...sweep, '--out-dir', 'local-s']).done;
  expect(local.status, local.stderr).toBe(0);
  const workers = [run(['worker', '--queue', redis.url, '--threads', '1']), run(['worker', '--queue', redis.url, '--threads', '1'])];
  procs.push(...workers.map((w) => w.proc));
  const queued = await run([...sweep, '--out-dir', 'queued-s', '--queue', redis.url, '--shared-dir', '.']).done;
  expect(queued.status, queued.stderr).toBe(0);
  expect(summaryOf(path.join(shared, 'queued-s'))).toBe(summaryOf(path.join(shared, 'local-s')));
  for (const w of workers) w.proc.kill('SIGTERM');
  const logs = await Promise.all(workers.map((w) => w.done));
  const jobs = logs.map((l) => Number(/and (\d+) assignment job/.exec(l.stdout)?.[1] ?? -1));
  expect(jobs.every((c) => c >= 0)).toBe(true);
  // k-medoids: 5 candidate sets and the simplified silhouette per configuration; agglomerative: its assignment and silhouette.
  expect(jobs.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(2 * 6 + 2 * 2);
  expect(logs.map((l) => Number(/(\d+) sweep configuration/.exec(l.stdout)?.[1] ?? -1))).toEqual([0, 0]);
}, 300_000);
