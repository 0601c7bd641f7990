/**
 * Large-N assignments on a real Redis (test/support/redis.ts) with real `lpclust worker`
 * processes: sampled-mode k-medoids (FasterCLARA) whose candidate scoring and final assignment go
 * out as row-range jobs gives the labels, medoids, total deviation and simplified silhouette of the
 * one-machine run, with three workers and after `kill -9` of a worker mid-job (its job retried
 * once the 1 s lock expires, and the log says so); the shared copies are removed at the end. A
 * worker of another lpclust version refuses the jobs and the submitter exits 4 with its reason;
 * Ctrl-C on the submitter takes its pending jobs off the queue; a Redis restarted mid-run (with its
 * append-only file) changes nothing. In exact mode `cluster --queue`
 * sends the DTW matrix it computes as tile jobs.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { Random } from '../../src/util/random.js';
import { ASSIGN_QUEUE } from '../../src/queue/assign.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { BIN, skewedCopy, startCli, stopProcs, until, type Started } from '../support/queue-procs.js';

const PASSWORD = 'a-s3cret-pw';
let redis: RedisServer;
let dir = '';
const workers: ChildProcess[] = [];
/** Without the native addon every process runs the TypeScript kernel: slow enough to kill a worker mid-job. */
const JS_ONLY = { LPCLUST_NATIVE_PATH: '/nonexistent/lpclust_dtw.node' };

function start(args: string[], env: Record<string, string> = {}, bin = BIN): Started {
  return startCli(dir, args, env, bin);
}

function worker(env: Record<string, string> = {}, bin = BIN): Started {
  const w = start(['worker', '--queue', redis.url, '--threads', '1', '--lock-duration', '1000'], env, bin);
  workers.push(w.proc);
  return w;
}

async function stopWorkers(): Promise<void> {
  await stopProcs(workers);
}

/** A CSV of n days of L slots in four daily shapes with noise. */
function profiles(file: string, n: number, L: number, seed: number): string {
  const rng = new Random(seed);
  const slots = Array.from({ length: L }, (_, k) => `${String(Math.floor((k * 24) / L)).padStart(2, '0')}:${String(((k * 24 * 60) / L) % 60).padStart(2, '0')}`);
  let text = `id,date,${slots.join(',')}\n`;
  for (let i = 0; i < n; i++) {
    const date = new Date(Date.UTC(2015, 0, 1) + Math.floor(i / 7) * 86400000).toISOString().slice(0, 10);
    const shape = i % 4;
    text += `m${i % 7},${date},${slots.map((_, k) => (100 + 80 * Math.sin((k / L) * Math.PI * (shape + 1) + shape) + 30 * rng.next()).toFixed(2)).join(',')}\n`;
  }
  writeFileSync(file, text);
  return file;
}

interface Outcome {
  labels: string;
  medoids: string;
  metrics: Record<string, number>;
}

/** Run `cluster` and read what must match. */
async function cluster(csv: string, out: string, extra: string[], env: Record<string, string> = {}): Promise<Outcome & { stderr: string }> {
  const r = await start(['--json', 'cluster', '--in', csv, '--model', 'kmedoids', '--metric', 'dtw', '-k', '4', '--scale', 'sampled', '--sample-size', '150', '--out-dir', out, ...extra], env).done;
  expect(r.status, r.stderr).toBe(0);
  const j = JSON.parse(r.stdout) as { labels: string; medoids: string; metrics: Record<string, number> };
  return { labels: readFileSync(j.labels, 'utf8'), medoids: readFileSync(j.medoids, 'utf8'), metrics: j.metrics, stderr: r.stderr };
}

// A small memory budget keeps the sampled silhouettes (the TypeScript kernel's slowest part here) to about 400 days.
const slow = ['--radius', '95', '--memory-budget', '5M'];
let slowRef: { csv: string; ref: Outcome } | undefined;

/** The slow dataset (TypeScript kernel, full band) and its one-machine outcome, made once. */
async function slowReference(): Promise<{ csv: string; ref: Outcome }> {
  if (!slowRef) {
    const csv = profiles(path.join(dir, 'slow.csv'), 1200, 96, 4);
    slowRef = { csv, ref: await cluster(csv, 'local-js', slow, JS_ONLY) };
  }
  return slowRef;
}

/** What must be identical between a local and a queued run (timings aside). */
function same(a: Outcome, b: Outcome): void {
  expect(b.labels).toBe(a.labels);
  expect(b.medoids).toBe(a.medoids);
  for (const key of ['fit/total_deviation', 'fit/best_sample', 'fit/exact_distance_share', 'Simplified Silhouette DTW', 'Silhouette DTW']) {
    expect(b.metrics[key], key).toBe(a.metrics[key]);
  }
}

beforeAll(async () => {
  redis = await startRedis({ password: PASSWORD });
  dir = mkdtempSync(path.join(tmpdir(), 'lpclust-assignq-'));
  mkdirSync(path.join(dir, 'shared'));
}, 60_000);

afterAll(async () => {
  await stopWorkers();
  await redis?.stop();
});

describe('cluster --scale sampled --queue', () => {
  it('three workers give the labels, medoids, total deviation and silhouettes of the one-machine run; nothing is left in the shared directory', async () => {
    const csv = profiles(path.join(dir, 'p.csv'), 1500, 48, 3);
    const ref = await cluster(csv, 'local', ['--radius', '2']);
    const ws = [worker(), worker(), worker()];
    const q = await cluster(csv, 'queued', ['--radius', '2', '--queue', redis.url, '--shared-dir', 'shared', '--queue-rows', '200']);
    same(ref, q);
    expect(q.stderr).toContain(`redis://:***@127.0.0.1:${redis.port}/0`);
    expect(readdirSync(path.join(dir, 'shared'))).toEqual([]);
    await stopWorkers();
    const logs = await Promise.all(ws.map((w) => w.done));
    // 8 ranges of 200 rows per candidate set: 5 samples, and the final assignment with second-nearest.
    const jobs = logs.map((l) => Number(/and (\d+) assignment job/.exec(l.stdout)?.[1] ?? -1));
    expect(jobs.every((c) => c >= 0)).toBe(true);
    expect(jobs.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(8 * 6);
    for (const t of [q.stderr, ...logs.flatMap((l) => [l.stdout, l.stderr])]) expect(t).not.toContain(PASSWORD);
  }, 180_000);

  it('a worker killed with SIGKILL mid-job: the job is retried after the lock expires, the log says so, the results are the same', async () => {
    const { csv, ref } = await slowReference();
    const victim = worker(JS_ONLY);
    const sub = start(['--json', 'cluster', '--in', csv, '--model', 'kmedoids', '--metric', 'dtw', '-k', '4', '--scale', 'sampled', '--sample-size', '150', '--out-dir', 'queued-js', ...slow, '--queue', redis.url, '--shared-dir', 'shared', '--queue-rows', '600'], JS_ONLY);
    const q = new Queue(ASSIGN_QUEUE, { connection: { host: '127.0.0.1', port: redis.port, password: PASSWORD } });
    try {
      await until('an assignment job in progress', async () => (await q.getActiveCount()) > 0);
    } finally {
      await q.close();
    }
    victim.proc.kill('SIGKILL');
    worker(JS_ONLY);
    worker(JS_ONLY);
    const r = await sub.done;
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/assignment job of rows \d+–\d+: its worker stopped answering \(lock expired\); the job is retried by another worker/);
    const j = JSON.parse(r.stdout) as { labels: string; medoids: string; metrics: Record<string, number> };
    same(ref, { labels: readFileSync(j.labels, 'utf8'), medoids: readFileSync(j.medoids, 'utf8'), metrics: j.metrics });
    expect(existsSync(path.join(dir, 'shared')) && readdirSync(path.join(dir, 'shared')).length).toBe(0);
    await stopWorkers();
  }, 240_000);

  it('a worker of another lpclust version refuses the jobs and the submitter shows why (exit 4)', async () => {
    const csv = profiles(path.join(dir, 'p2.csv'), 1500, 48, 3);
    // A copy of this lpclust that says it is version 9.9.9.
    const skew = skewedCopy(path.join(dir, 'skew'), '9.9.9');
    worker({}, skew.bin);
    const r = await start(['cluster', '--in', csv, '--model', 'kmedoids', '--metric', 'dtw', '-k', '4', '--scale', 'sampled', '--sample-size', '150', '--out-dir', 'skewed', '--queue', redis.url, '--shared-dir', 'shared']).done;
    expect(r.status).toBe(4);
    expect(r.stderr).toContain('lpclust worker 9.9.9 on');
    expect(r.stderr).toContain(`refuses a job of lpclust ${skew.mine}`);
    expect(r.stderr).toContain('run the same lpclust version on the submitter and every worker');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(readdirSync(path.join(dir, 'shared'))).toEqual([]);
    await stopWorkers();
  }, 120_000);

  it('Ctrl-C on the submitter takes its pending assignment jobs off the queue; the run ends KILLED', async () => {
    const csv = profiles(path.join(dir, 'p2.csv'), 1500, 48, 3);
    const sub = start(['cluster', '--in', csv, '--model', 'kmedoids', '--metric', 'dtw', '-k', '4', '--scale', 'sampled', '--sample-size', '150', '--out-dir', 'stopped', '--queue', redis.url, '--shared-dir', 'shared', '--queue-rows', '100']);
    const q = new Queue(ASSIGN_QUEUE, { connection: { host: '127.0.0.1', port: redis.port, password: PASSWORD } });
    try {
      // No worker: the first candidate set's 15 jobs wait.
      await until('the jobs on the queue', async () => (await q.getWaitingCount()) === 15);
      sub.proc.kill('SIGINT');
      const r = await sub.done;
      expect(r.status).toBe(130);
      expect(r.stderr).toContain('removed 15 pending assignment job(s) from the queue');
      expect(await q.getWaitingCount()).toBe(0);
    } finally {
      await q.close();
    }
    expect(readdirSync(path.join(dir, 'shared'))).toEqual([]);
    // The run (the one writing under stopped/) ends KILLED: status 5 in the FileStore's meta.yaml.
    const mlruns = path.join(dir, 'mlruns');
    const outDirs = readdirSync(mlruns, { recursive: true }).map(String).filter((f) => f.endsWith(path.join('params', 'out_dir')));
    const mine = outDirs.filter((f) => readFileSync(path.join(mlruns, f), 'utf8').includes(`${path.sep}stopped${path.sep}`));
    expect(mine).toHaveLength(1);
    expect(readFileSync(path.join(mlruns, path.dirname(path.dirname(mine[0])), 'meta.yaml'), 'utf8')).toMatch(/^status: 5$/m);
  }, 120_000);

  it('exact mode: cluster --queue computes its DTW matrix as tile jobs (the local run\'s labels and medoids); with nothing to send it says so', async () => {
    const csv = profiles(path.join(dir, 'small.csv'), 300, 24, 5);
    const exact = ['--model', 'kmedoids', '--metric', 'dtw', '-k', '3', '--scale', 'exact'];
    const run = async (out: string, extra: string[]) => {
      const r = await start(['--json', 'cluster', '--in', csv, ...exact, '--out-dir', out, ...extra]).done;
      expect(r.status, r.stderr).toBe(0);
      const j = JSON.parse(r.stdout) as { labels: string; medoids: string; dtw: string };
      return { labels: readFileSync(j.labels, 'utf8'), medoids: readFileSync(j.medoids, 'utf8'), dtw: readFileSync(j.dtw), stderr: r.stderr };
    };
    const local = await run('exact-local', []);
    const w = worker();
    const q = await run('exact-queued', ['--queue', redis.url, '--shared-dir', 'shared']);
    expect(q.stderr).toContain('tile job(s) on the queue');
    expect(q.labels).toBe(local.labels);
    expect(q.medoids).toBe(local.medoids);
    expect(q.dtw.equals(local.dtw)).toBe(true);
    await stopWorkers();
    expect(Number(/after (\d+) tile/.exec((await w.done).stdout)?.[1])).toBe(1);
    // Euclidean k-means in exact mode has nothing for the queue: a warning, and the run goes on here.
    const r = await start(['cluster', '--in', csv, '-k', '3', '--out-dir', 'exact-eu', '--queue', redis.url, '--shared-dir', 'shared']).done;
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain('--queue: nothing of this run goes to the queue (exact mode, no DTW matrix to compute); it runs here');
  }, 120_000);

  it('Redis restarted mid-run (append-only file): the run completes with the one-machine results', async () => {
    const { csv, ref } = await slowReference();
    worker(JS_ONLY);
    const sub = start(['--json', 'cluster', '--in', csv, '--model', 'kmedoids', '--metric', 'dtw', '-k', '4', '--scale', 'sampled', '--sample-size', '150', '--out-dir', 'restarted', ...slow, '--queue', redis.url, '--shared-dir', 'shared', '--queue-rows', '300'], JS_ONLY);
    const q = new Queue(ASSIGN_QUEUE, { connection: { host: '127.0.0.1', port: redis.port, password: PASSWORD } });
    try {
      await until('an assignment job in progress', async () => (await q.getActiveCount()) > 0, 120_000);
    } finally {
      await q.close();
    }
    await redis.restart(1000);
    const r = await sub.done;
    // Completing is what Redis's append-only file allows; a clear error would be acceptable, wrong results never.
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { labels: string; medoids: string; metrics: Record<string, number> };
    same(ref, { labels: readFileSync(j.labels, 'utf8'), medoids: readFileSync(j.medoids, 'utf8'), metrics: j.metrics });
    await stopWorkers();
  }, 240_000);
});
