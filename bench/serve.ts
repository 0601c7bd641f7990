/**
 * Scoring-server load test. Run from the repository root after building:
 *
 *   npm run build && node --import tsx bench/serve.ts [--requests 400] [--concurrency 4] [--seconds 30]
 *
 * For a Euclidean k-means and a DTW k-means model (k = 12, fitted on ItalyPowerDemand's 1,029
 * test days, 24 hourly slots) it starts `lpclust serve` as a separate process on an ephemeral
 * loopback port, then sends POST /invocations requests of 100 days each (dataframe_split) from
 * this process with a fixed number of requests in flight, and prints requests/s, days/s and the
 * p50 / p99 latency. The number of requests and the time are bounded (whichever comes first).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
// @ts-ignore -- compiled output, built by `npm run build`
import * as lp from '../dist/index.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

const REQUESTS = arg('requests', 400);
const CONCURRENCY = arg('concurrency', 4);
const SECONDS = arg('seconds', 30);
const BATCH = 100;
const SLOTS = Array.from({ length: 24 }, (_, h) => `${String(h).padStart(2, '0')}:00`);

const rows = readFileSync(path.resolve('../shared/datasets/ucr-ItalyPowerDemand/ItalyPowerDemand_TEST.tsv'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => l.split('\t').slice(1).map((x) => Number(x) + 3));
const values = Float64Array.from(rows.flat());
const X = lp.normalizeRows(values, 24, 'l2');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'lpclust-bench-serve-'));

async function startServer(modelDir: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ['bin/lpclust.js', '--json', '--quiet', 'serve', '--model', modelDir, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      try {
        resolve((JSON.parse(out) as { url: string }).url);
      } catch {
        // wait for the whole JSON document
      }
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
  });
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGINT');
      }),
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function load(url: string): Promise<{ n: number; seconds: number; p50: number; p99: number }> {
  const bodies: string[] = [];
  for (let b = 0; b + BATCH <= rows.length; b += BATCH) {
    bodies.push(JSON.stringify({ dataframe_split: { columns: SLOTS, data: rows.slice(b, b + BATCH) } }));
  }
  // Warm-up (JIT, connection).
  for (let i = 0; i < 5; i++) await fetch(`${url}/invocations`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: bodies[0] }).then((r) => r.json());
  const lat: number[] = [];
  let sent = 0;
  const t0 = performance.now();
  const deadline = t0 + SECONDS * 1000;
  const worker = async (): Promise<void> => {
    while (sent < REQUESTS && performance.now() < deadline) {
      const body = bodies[sent++ % bodies.length];
      const s = performance.now();
      const r = await fetch(`${url}/invocations`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
      const j = (await r.json()) as { predictions: unknown[] };
      if (r.status !== 200 || j.predictions.length !== BATCH) throw new Error(`unexpected answer ${r.status}`);
      lat.push(performance.now() - s);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return { n: lat.length, seconds, p50: percentile(lat, 50), p99: percentile(lat, 99) };
}

try {
  console.log(`lpclust serve load test: ${BATCH} days (24 slots) per request, ${CONCURRENCY} in flight, ≤ ${REQUESTS} requests / ${SECONDS} s, loopback, server in its own process`);
  for (const metric of ['euclidean', 'dtw'] as const) {
    const fit = lp.fitClustering({ data: X, n: rows.length, dim: 24 }, { model: 'kmeans', metric, k: 12, seed: 0, nInit: metric === 'dtw' ? 1 : 10 });
    const dir = path.join(tmp, metric, 'model');
    await lp.logModel(null, dir, { fit, slots: SLOTS, X, ids: [], dates: [], normalization: 'l2', radius: 1 });
    const srv = await startServer(dir);
    try {
      const r = await load(srv.url);
      console.log(
        `  kmeans ${metric.padEnd(9)} k=12: ${r.n} requests in ${r.seconds.toFixed(2)} s = ${(r.n / r.seconds).toFixed(0)} requests/s (${((r.n * BATCH) / r.seconds).toFixed(0)} days/s), latency p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms`,
      );
    } finally {
      await srv.stop();
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
