/**
 * DTW tiles on a real Redis (test/support/redis.ts) with real `lpclust worker` processes: the
 * queued matrix is the one-machine file byte for byte with three workers; after `kill -9` of a
 * worker mid-tile (its tile retried once the 1 s lock expires, and the log says so); across a Redis
 * restart; a version-skewed worker's refusal reaches the submitter; Ctrl-C takes the pending jobs
 * off the queue. The server requires a password, and it appears in no output and no logged param.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { Random } from '../../src/util/random.js';
import { DTW_QUEUE } from '../../src/queue/dtw.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { BIN, skewedCopy, startCli, stopProcs, until, type Started } from '../support/queue-procs.js';

const PASSWORD = 'q-s3cret-pw';
let redis: RedisServer;
let dir = '';
let csv = '';
const workers: ChildProcess[] = [];

/** Start the CLI in the test folder; `done` resolves when it exits. */
function start(args: string[], bin = BIN, env: Record<string, string> = {}): Started {
  return startCli(dir, args, env, bin);
}

function worker(extra: string[] = [], bin = BIN): Started {
  const w = start(['worker', '--queue', redis.url, '--threads', '1', '--lock-duration', '1000', ...extra], bin);
  workers.push(w.proc);
  return w;
}

async function stopWorkers(): Promise<void> {
  await stopProcs(workers);
}

async function oneMachine(out: string, extra: string[]): Promise<Buffer> {
  const r = await start(['-q', 'dtw', '--in', csv, '--out', out, ...extra]).done;
  expect(r.status, r.stderr).toBe(0);
  return readFileSync(path.join(dir, out));
}

function noPassword(...texts: string[]): void {
  for (const t of texts) expect(t).not.toContain(PASSWORD);
}

beforeAll(async () => {
  redis = await startRedis({ password: PASSWORD });
  dir = mkdtempSync(path.join(tmpdir(), 'lpclust-queue-'));
  mkdirSync(path.join(dir, 'shared'));
  // 600 days of 48 half-hours: full DTW (--radius none) on 200-row tiles takes the TypeScript
  // kernel a good fraction of a second per tile, long enough to kill a worker in the middle of one.
  const rng = new Random(5);
  const slots = Array.from({ length: 48 }, (_, k) => `${String(Math.floor(k / 2)).padStart(2, '0')}:${k % 2 ? '30' : '00'}`);
  let text = `id,date,${slots.join(',')}\n`;
  for (let i = 0; i < 600; i++) {
    const date = new Date(Date.UTC(2019, 0, 1) + i * 86400000).toISOString().slice(0, 10);
    text += `m${i % 9},${date},${slots.map((_, k) => (200 + 150 * Math.sin((k + i) / 6) + 80 * rng.next()).toFixed(2)).join(',')}\n`;
  }
  csv = path.join(dir, 'p.csv');
  writeFileSync(csv, text);
}, 60_000);

afterAll(async () => {
  await stopWorkers();
  await redis?.stop();
});

describe('lpclust dtw --queue', () => {
  it('three worker processes give the one-machine .npy byte for byte; the password is shown nowhere', async () => {
    const ref = await oneMachine('one-r2.npy', ['--radius', '2', '--tile-size', '64']);
    const ws = [worker(), worker(), worker()];
    const sub = await start(['dtw', '--in', csv, '--out', 'q3.npy', '--radius', '2', '--tile-size', '64', '--queue', redis.url, '--shared-dir', 'shared']).done;
    expect(sub.status, sub.stderr).toBe(0);
    expect(readFileSync(path.join(dir, 'q3.npy')).equals(ref)).toBe(true);
    // The sidecar too (its kernel and instruction set are the workers', here this machine's), but its time.
    const sidecar = (f: string): unknown => ({ ...(JSON.parse(readFileSync(path.join(dir, `${f}.json`), 'utf8')) as object), createdAt: undefined });
    expect(sidecar('q3.npy')).toEqual(sidecar('one-r2.npy'));
    // The tiles were spread over the workers and the shared copies removed at the end.
    expect(readdirSync(path.join(dir, 'shared'))).toEqual([]);
    await stopWorkers();
    const logs = await Promise.all(ws.map((w) => w.done));
    const counts = logs.map((l) => Number(/worker stopped after (\d+) tile/.exec(l.stdout)?.[1] ?? -1));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(55); // 10 × 11 / 2 tiles of 64 rows for 600 rows
    noPassword(sub.stdout, sub.stderr, ...logs.flatMap((l) => [l.stdout, l.stderr]));
    expect(sub.stderr).toContain('redis://:***@127.0.0.1');
    // The logged params show the masked URL.
    const params = readdirSync(path.join(dir, 'mlruns'), { recursive: true }).map(String).filter((f) => f.endsWith(path.join('params', 'queue')));
    expect(params.length).toBeGreaterThan(0);
    for (const p of params) expect(readFileSync(path.join(dir, 'mlruns', p), 'utf8')).toBe(`redis://:***@127.0.0.1:${redis.port}/0`);
  }, 180_000);

  it('a worker killed with SIGKILL mid-tile: its tile is retried after the lock expires, the log says so, the bytes are the same', async () => {
    const ref = await oneMachine('one-full.npy', ['--radius', 'none', '--tile-size', '200', '--kernel', 'js']);
    const victim = worker();
    const sub = start(['dtw', '--in', csv, '--out', 'qk.npy', '--radius', 'none', '--tile-size', '200', '--kernel', 'js', '--queue', redis.url, '--shared-dir', 'shared']);
    const q = new Queue(DTW_QUEUE, { connection: { host: '127.0.0.1', port: redis.port, password: PASSWORD } });
    try {
      await until('a tile in progress', async () => (await q.getActiveCount()) > 0);
    } finally {
      await q.close();
    }
    victim.proc.kill('SIGKILL');
    worker();
    worker();
    const r = await sub.done;
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/tile \d+: its worker stopped answering \(lock expired\); the tile is retried by another worker/);
    expect(readFileSync(path.join(dir, 'qk.npy')).equals(ref)).toBe(true);
    await stopWorkers();
  }, 180_000);

  it('Redis restarted mid-run (append-only file): the run completes with the same bytes', async () => {
    const ref = readFileSync(path.join(dir, 'one-full.npy'));
    const w = worker();
    const sub = start(['dtw', '--in', csv, '--out', 'qr.npy', '--radius', 'none', '--tile-size', '200', '--kernel', 'js', '--queue', redis.url, '--shared-dir', 'shared']);
    await until('a first tile', () => {
      const d = readdirSync(path.join(dir, 'shared')).find((f) => f.startsWith('dtw-'));
      return d !== undefined && existsSync(path.join(dir, 'shared', d, 'tiles')) && readdirSync(path.join(dir, 'shared', d, 'tiles')).some((f) => f.endsWith('.tiles'));
    });
    await redis.restart(1000);
    const r = await sub.done;
    // Completing is what Redis's append-only file allows; a clear error would be acceptable, a wrong matrix never.
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(path.join(dir, 'qr.npy')).equals(ref)).toBe(true);
    await stopWorkers();
    await w.done;
  }, 180_000);

  it('a worker of another lpclust version refuses the job and the submitter shows why (exit 4)', async () => {
    // A copy of this lpclust that says it is version 9.9.9.
    const skew = skewedCopy(path.join(dir, 'skew'), '9.9.9');
    worker([], skew.bin);
    try {
      const r = await start(['dtw', '--in', csv, '--out', 'qv.npy', '--radius', '1', '--tile-size', '300', '--queue', redis.url, '--shared-dir', 'shared']).done;
      expect(r.status, r.stderr).toBe(4);
      expect(r.stderr).toContain(`lpclust worker 9.9.9 on`);
      expect(r.stderr).toContain(`refuses a job of lpclust ${skew.mine}`);
      expect(r.stderr).toContain('run the same lpclust version on the submitter and every worker');
      expect(existsSync(path.join(dir, 'qv.npy'))).toBe(false);
    } finally {
      // Whatever happened, the skewed worker must not take the next test's jobs.
      await stopWorkers();
    }
  }, 120_000);

  it('Ctrl-C on the submitter takes its pending jobs off the queue', async () => {
    const sub = start(['dtw', '--in', csv, '--out', 'qc.npy', '--radius', '3', '--tile-size', '50', '--queue', redis.url, '--shared-dir', 'shared']);
    await until('the jobs on the queue', () => sub.stderr().includes('tile job(s) on the queue'));
    const q = new Queue(DTW_QUEUE, { connection: { host: '127.0.0.1', port: redis.port, password: PASSWORD } });
    try {
      expect(await q.getWaitingCount()).toBe(78); // 12 × 13 / 2 tiles
      sub.proc.kill('SIGINT');
      const r = await sub.done;
      expect(r.status).toBe(130);
      expect(r.stderr).toContain('removed 78 pending tile job(s) from the queue');
      expect(await q.getWaitingCount()).toBe(0);
    } finally {
      await q.close();
    }
    expect(existsSync(path.join(dir, 'qc.npy'))).toBe(false);
  }, 120_000);

  it('rediss:// (TLS, with a password) gives the same bytes; without trusting the certificate it is a clear error', async () => {
    const tls = await startRedis({ tls: true, password: PASSWORD });
    try {
      const trust = { NODE_EXTRA_CA_CERTS: tls.caFile! };
      const w = start(['worker', '--queue', tls.url, '--threads', '1'], BIN, trust);
      workers.push(w.proc);
      const r = await start(['dtw', '--in', csv, '--out', 'qt.npy', '--radius', '2', '--tile-size', '128', '--queue', tls.url, '--shared-dir', 'shared'], BIN, trust).done;
      expect(r.status, r.stderr).toBe(0);
      expect(readFileSync(path.join(dir, 'qt.npy')).equals(readFileSync(path.join(dir, 'one-r2.npy')))).toBe(true);
      expect(r.stderr).toContain(`rediss://:***@127.0.0.1:${tls.port}/0`);
      const untrusted = await start(['dtw', '--in', csv, '--out', 'qu.npy', '--queue', tls.url, '--shared-dir', 'shared']).done;
      expect(untrusted.status).toBe(4);
      expect(untrusted.stderr).toContain(`the job queue at rediss://:***@127.0.0.1:${tls.port}/0 does not answer`);
      await stopWorkers();
      noPassword(r.stdout, r.stderr, untrusted.stderr, (await w.done).stderr);
    } finally {
      await tls.stop();
    }
  }, 120_000);

  it('a wrong password or an unreachable Redis is a clear error (exit 4), the password masked', async () => {
    const wrong = await start(['dtw', '--in', csv, '--out', 'qw.npy', '--queue', `redis://:${PASSWORD}x@127.0.0.1:${redis.port}/0`, '--shared-dir', 'shared']).done;
    expect(wrong.status).toBe(4);
    expect(wrong.stderr).toContain(`the job queue at redis://:***@127.0.0.1:${redis.port}/0 does not answer`);
    noPassword(wrong.stderr, wrong.stdout);
    const bad = await start(['dtw', '--in', csv, '--out', 'qw.npy', '--queue', 'http://127.0.0.1:1/0']).done;
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('Expected a redis:// or rediss:// URL for `--queue`');
  }, 60_000);
});
