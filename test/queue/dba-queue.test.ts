/**
 * DTW k-means (DBA) in sampled mode on a real Redis (test/support/redis.ts) with two real
 * `lpclust worker` processes: each round's nearest-centre assignment goes out as row-range jobs,
 * the barycentre sums stay on the submitter, and the labels, centres and fit metrics equal the
 * one-machine sampled run's bit for bit.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Random } from '../../src/util/random.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { startCli, stopProcs } from '../support/queue-procs.js';

let redis: RedisServer;
let dir = '';
const workers: ChildProcess[] = [];

/** A CSV of n days of L slots in three daily shapes with noise. */
function profiles(file: string, n: number, L: number, seed: number): string {
  const rng = new Random(seed);
  const slots = Array.from({ length: L }, (_, k) => `${String(k).padStart(2, '0')}:00`);
  let text = `id,date,${slots.join(',')}\n`;
  for (let i = 0; i < n; i++) {
    const date = new Date(Date.UTC(2016, 0, 1) + Math.floor(i / 5) * 86400000).toISOString().slice(0, 10);
    const shape = i % 3;
    text += `m${i % 5},${date},${slots.map((_, k) => (50 + 40 * Math.sin((k / L) * Math.PI * (shape + 1) + shape) + 25 * rng.next()).toFixed(2)).join(',')}\n`;
  }
  writeFileSync(file, text);
  return file;
}

interface Outcome {
  labels: string;
  centres: string;
  metrics: Record<string, number>;
  stderr: string;
}

async function cluster(csv: string, out: string, extra: string[]): Promise<Outcome> {
  const r = await startCli(dir, ['--json', 'cluster', '--in', csv, '--model', 'kmeans', '--metric', 'dtw', '-k', '3', '--radius', '2', '--seed', '4', '--scale', 'sampled', '--out-dir', out, ...extra]).done;
  expect(r.status, r.stderr).toBe(0);
  const j = JSON.parse(r.stdout) as { labels: string; centres: string; metrics: Record<string, number> };
  return { labels: readFileSync(j.labels, 'utf8'), centres: readFileSync(j.centres, 'utf8'), metrics: j.metrics, stderr: r.stderr };
}

beforeAll(async () => {
  redis = await startRedis();
  dir = mkdtempSync(path.join(tmpdir(), 'lpclust-dbaq-'));
  mkdirSync(path.join(dir, 'shared'));
}, 60_000);

afterAll(async () => {
  await stopProcs(workers);
  await redis?.stop();
});

describe('cluster --model kmeans --metric dtw --scale sampled --queue', () => {
  it('two workers take the assignment jobs; labels, centres and fit metrics equal the one-machine sampled run', async () => {
    const csv = profiles(path.join(dir, 'p.csv'), 500, 24, 7);
    const ref = await cluster(csv, 'local', []);
    const ws = [0, 1].map(() => {
      const w = startCli(dir, ['worker', '--queue', redis.url, '--threads', '1']);
      workers.push(w.proc);
      return w;
    });
    const q = await cluster(csv, 'queued', ['--queue', redis.url, '--shared-dir', 'shared', '--queue-rows', '200']);
    expect(q.labels).toBe(ref.labels);
    expect(q.centres).toBe(ref.centres);
    const fitKeys = Object.keys(ref.metrics).filter((key) => key.startsWith('fit/'));
    expect(fitKeys).toEqual(expect.arrayContaining(['fit/dtw_inertia', 'fit/iterations', 'fit/exact_distance_share']));
    // Every metric but timings (fit metrics, validation indices).
    const keys = Object.keys(ref.metrics).filter((key) => !key.startsWith('seconds/'));
    expect(keys.length).toBeGreaterThan(fitKeys.length);
    for (const key of keys) expect(q.metrics[key], key).toBe(ref.metrics[key]);
    expect(readdirSync(path.join(dir, 'shared'))).toEqual([]);
    await stopProcs(workers);
    const logs = await Promise.all(ws.map((w) => w.done));
    const jobs = logs.map((l) => Number(/and (\d+) assignment job/.exec(l.stdout)?.[1] ?? -1));
    expect(jobs.every((c) => c >= 0), logs.map((l) => l.stdout).join('\n')).toBe(true);
    // 3 ranges of 200 rows per assignment; DBA assigns at least twice (a round and the final one).
    expect(jobs.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(3 * 2);
  }, 120_000);
});
