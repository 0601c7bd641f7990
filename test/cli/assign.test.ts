/**
 * `lpclust assign` end to end, on the bundled new Mongo export (4 SGSC households, May–July 2013):
 * a model is trained from it (etl → harmonize → cluster), then the day-ahead job runs for two
 * consecutive days with a fixed --until and once more for one of them, upserting into a real
 * PostgreSQL (test/support/postgres.ts); the metric histories (steps, timestamps) are read back
 * from the FileStore and from the MLflow contract server; drift is flagged on a shifted input and
 * not on the training data itself; the POST sink retries against a local HTTP server; failing
 * sinks leave the run FAILED, the table as it was, and no password anywhere.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/tracking/file-store.js';
import type { Run } from '../../src/tracking/store.js';
import { ContractServer } from '../support/contract-server.js';
import { startPostgres, type PgServer } from '../support/postgres.js';
import { BIN, ensureBuilt, REPO, tempDir } from '../tracking/helpers.js';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

const EXPORT = path.join(REPO, 'data/newmongo/newmongo.jsonl');
const METERS = path.join(REPO, 'data/meters.csv');
const DAY_MS = 86_400_000;

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(LPCLUST_|MLFLOW_)/.test(k)) env[k] = v;
  return {
    ...env,
    NO_COLOR: '1',
    LPCLUST_TRACKING_URI: 'file:./mlruns',
    MLFLOW_HTTP_REQUEST_MAX_RETRIES: '3',
    MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: '0.01',
    MLFLOW_HTTP_REQUEST_BACKOFF_JITTER: '0.01',
    MLFLOW_HTTP_REQUEST_TIMEOUT: '5',
    ...extra,
  };
}

function cli(cwd: string, args: string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, '--experiment-name', 'dayahead', ...args], { cwd, env: cleanEnv(env), timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

async function ok(cwd: string, args: string[], env: Record<string, string> = {}): Promise<Result> {
  const r = await cli(cwd, args, env);
  if (r.code !== 0) throw new Error(`lpclust ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r;
}

/** The run id printed by `--json assign`. */
function runIdOf(r: Result): string {
  return (JSON.parse(r.stdout) as { runId: string }).runId;
}

function step(date: string): number {
  return Date.parse(`${date}T00:00:00Z`) / DAY_MS;
}

let dir: string;
let model: string;
let pgServer: PgServer;

beforeAll(async () => {
  ensureBuilt();
  dir = tempDir('lpclust-assign-');
  pgServer = await startPostgres();
  await ok(dir, ['etl', 'newmongo', '--export', EXPORT, '--meters', METERS, '--out', 'clean.csv']);
  await ok(dir, ['harmonize', '--newmongo', 'clean.csv', '--out', 'harmonized.csv']);
  const c = await ok(dir, ['--json', 'cluster', '--in', 'harmonized.csv', '--model', 'kmeans', '--metric', 'euclidean', '-k', '3', '--seed', '7', '--out-dir', 'out']);
  model = path.join(dir, 'out', (JSON.parse(c.stdout) as { runId: string }).runId, 'model');
  expect(fs.existsSync(path.join(model, 'lpclust-model.json'))).toBe(true);
}, 180_000);

afterAll(async () => {
  await pgServer?.stop();
});

async function pgRows(table: string): Promise<Array<{ id: string; date: string; cluster: number; run_id: string; novel: boolean | null }>> {
  const client = new pg.Client({ connectionString: pgServer.url });
  await client.connect();
  try {
    const r = await client.query(`SELECT id, to_char(date, 'YYYY-MM-DD') AS date, cluster, run_id, novel FROM ${table} ORDER BY id, date`);
    return r.rows as Array<{ id: string; date: string; cluster: number; run_id: string; novel: boolean | null }>;
  } finally {
    await client.end();
  }
}

function csvRows(file: string): string[][] {
  return fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => l.split(','));
}

describe('lpclust assign: two consecutive days, a rerun, the PostgreSQL sink and the FileStore histories', () => {
  let runs: Run[] = [];

  it('assigns 2013-07-29, then 2013-07-30, then 2013-07-29..30 again: one row per (meter, day) in the table', async () => {
    const to = `${pgServer.url}#public.assignments`;
    const base = ['--json', 'assign', '--model', model, '--newmongo-export', EXPORT, '--meters', METERS, '--to', to, '--drift-threshold', '100'];
    const d1 = await ok(dir, [...base, '--days', '1', '--until', '2013-07-29', '--out', 'a29.csv']);
    const d2 = await ok(dir, [...base, '--days', '1', '--until', '2013-07-30', '--out', 'a30.csv']);
    const rerun = await ok(dir, [...base, '--days', '2', '--until', '2013-07-30', '--out', 'a29-30.csv']);
    // The CSVs: header, and the window's meter-days only.
    const a29 = csvRows(path.join(dir, 'a29.csv'));
    expect(a29[0]).toEqual(['id', 'date', 'cluster', 'distance', 'margin', 'novel']);
    expect(new Set(a29.slice(1).map((r) => r[1]))).toEqual(new Set(['2013-07-29']));
    const a30 = csvRows(path.join(dir, 'a30.csv'));
    expect(new Set(a30.slice(1).map((r) => r[1]))).toEqual(new Set(['2013-07-30']));
    const both = csvRows(path.join(dir, 'a29-30.csv')).slice(1);
    expect(both.length).toBe(a29.length - 1 + a30.length - 1);
    for (const r of both) {
      expect(Number(r[2])).toBeGreaterThanOrEqual(0);
      expect(Number(r[3])).toBeGreaterThan(0);
      expect(['true', 'false']).toContain(r[5]);
    }
    // The same days give the same assignments in every run.
    const key = (r: string[]): string => `${r[0]} ${r[1]} ${r[2]} ${r[3]}`;
    expect(new Set(both.map(key))).toEqual(new Set([...a29.slice(1), ...a30.slice(1)].map(key)));

    // The table: one row per (meter, day), the rerun's run id on every row (it replaced them).
    const rows = await pgRows('public.assignments');
    expect(rows.length).toBe(both.length);
    expect(new Set(rows.map((r) => `${r.id} ${r.date}`)).size).toBe(rows.length);
    expect(new Set(rows.map((r) => r.run_id))).toEqual(new Set([runIdOf(rerun)]));
    const byKey = new Map(both.map((r) => [`${r[0]} ${r[1]}`, r]));
    for (const r of rows) {
      expect(String(r.cluster)).toBe(byKey.get(`${r.id} ${r.date}`)![2]);
      expect(String(r.novel)).toBe(byKey.get(`${r.id} ${r.date}`)![5]);
    }

    const store = new FileStore(path.join(dir, 'mlruns'));
    runs = await Promise.all([runIdOf(d1), runIdOf(d2), runIdOf(rerun)].map((id) => store.getRun(id)));
    for (const r of runs) {
      expect(r.info.status).toBe('FINISHED');
      expect(r.data.tags['lpclust.stage']).toBe('assign');
      expect(r.data.tags['lpclust.retrain_recommended']).toBe('false');
      expect(r.data.params.sinks).toContain('#public.assignments');
      expect(r.data.params.sinks).not.toContain(pgServer.password);
    }
    expect(runs.map((r) => r.info.runName)).toEqual(['assign 2013-07-29', 'assign 2013-07-30', 'assign 2013-07-29..2013-07-30']);

    // Metric histories: the day as the step (days since 1970-01-01), local midnight (UTC here) as the timestamp.
    const k = 3;
    const history = async (runId: string, key: string) => (await store.getMetricHistory(runId, key)).sort((a, b) => a.step - b.step);
    for (const [run, days] of [[runs[0], ['2013-07-29']], [runs[1], ['2013-07-30']], [runs[2], ['2013-07-29', '2013-07-30']]] as const) {
      for (const key of ['assign/rows', 'assign/distance_mean', 'assign/distance_p95', 'assign/novel_share', 'drift/psi', 'drift/js', ...Array.from({ length: k }, (_, c) => `assign/share/${c}`)]) {
        const h = await history(run.info.runId, key);
        expect(h.map((m) => m.step), key).toEqual(days.map(step));
        expect(h.map((m) => m.timestamp), key).toEqual(days.map((d) => Date.parse(`${d}T00:00:00Z`)));
      }
      const shares = await Promise.all(Array.from({ length: k }, (_, c) => history(run.info.runId, `assign/share/${c}`)));
      days.forEach((_, i) => expect(shares.reduce((s, h) => s + h[i].value, 0)).toBeCloseTo(1, 12));
      const win = await history(run.info.runId, 'drift/window_psi');
      expect(win.map((m) => m.step)).toEqual([step(days[days.length - 1])]);
    }
    // The rerun's per-day values equal those of the single-day runs.
    for (const [i, d] of [[0, '2013-07-29'], [1, '2013-07-30']] as const) {
      const single = await history(runs[i].info.runId, 'assign/distance_mean');
      const again = (await history(runs[2].info.runId, 'assign/distance_mean')).find((m) => m.step === step(d))!;
      expect(again.value).toBe(single[0].value);
    }
  }, 120_000);

  it('a failing PostgreSQL sink: exit 4, run FAILED, the table unchanged, no password shown', async () => {
    const before = await pgRows('public.assignments');
    // A table without the (id, date) key: the upsert cannot run, the transaction rolls back.
    const client = new pg.Client({ connectionString: pgServer.url });
    await client.connect();
    await client.query('CREATE TABLE public.nokey (id TEXT, date DATE, cluster INTEGER, distance DOUBLE PRECISION, margin DOUBLE PRECISION, novel BOOLEAN, run_id TEXT, model TEXT, assigned_at TIMESTAMPTZ)');
    await client.end();
    const base = ['--json', 'assign', '--model', model, '--newmongo-export', EXPORT, '--meters', METERS, '--days', '2', '--until', '2013-07-30'];
    const r = await cli(dir, [...base, '--out', 'fail.csv', '--to', `${pgServer.url}#public.nokey`]);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('public.nokey');
    expect(r.stderr).toMatch(/rolled back/);
    expect(r.stderr).toMatch(/primary key or unique constraint on \(id, date\)/);
    expect(r.stderr).not.toContain(pgServer.password);
    expect(await pgRows('public.nokey')).toEqual([]);
    expect(await pgRows('public.assignments')).toEqual(before);
    const store = new FileStore(path.join(dir, 'mlruns'));
    const exp = await store.getOrCreateExperiment('dayahead');
    const failed = (await store.searchRuns({ experimentIds: [exp.experimentId], statuses: ['FAILED'] })).filter((x) => x.data.params.out?.endsWith('fail.csv'));
    expect(failed.length).toBe(1);
    expect(failed[0].data.tags['lpclust.error.code']).toBe('E_EXTERNAL_DB');
    expect(JSON.stringify(failed[0].data)).not.toContain(pgServer.password);
    // A wrong password: refused at connect, masked.
    const wrong = pgServer.url.replace(pgServer.password, 'Wr0ngSecretPw');
    const w = await cli(dir, [...base, '--out', 'fail2.csv', '--to', `${wrong}#public.assignments`]);
    expect(w.code).toBe(4);
    expect(w.stderr).not.toContain('Wr0ngSecretPw');
    expect(await pgRows('public.assignments')).toEqual(before);
  }, 120_000);
});

/** Each profile of a CSV turned by half a day: the same shapes at other hours (a deliberate shift). */
function shifted(src: string, dest: string): void {
  const lines = fs.readFileSync(src, 'utf8').trim().split('\n');
  const out = [lines[0]];
  for (const line of lines.slice(1)) {
    const f = line.split(',');
    const v = f.slice(2);
    const h = v.length / 2;
    out.push([f[0], f[1], ...v.slice(h), ...v.slice(0, h)].join(','));
  }
  fs.writeFileSync(dest, out.join('\n') + '\n');
}

describe('lpclust assign: drift', () => {
  it('the training days themselves: PSI 0, no retraining; shifted by 12 hours: flagged with a warning, exit 0', async () => {
    const same = await ok(dir, ['--json', 'assign', '--model', model, '--in', 'harmonized.csv', '--out', 'same.csv', '--drift-threshold', '0.1', '--js-threshold', '0.1']);
    const s = JSON.parse(same.stdout) as { psi: number; js: number; retrainRecommended: boolean; rows: number };
    expect(s.psi).toBeCloseTo(0, 12);
    expect(s.js).toBeCloseTo(0, 6);
    expect(s.retrainRecommended).toBe(false);
    expect(same.stderr).not.toMatch(/retrain/i);
    shifted(path.join(dir, 'harmonized.csv'), path.join(dir, 'shifted.csv'));
    const moved = await cli(dir, ['--json', 'assign', '--model', model, '--in', 'shifted.csv', '--out', 'shifted-a.csv', '--drift-threshold', '0.1']);
    expect(moved.code).toBe(0);
    const m = JSON.parse(moved.stdout) as { psi: number; retrainRecommended: boolean; runId: string };
    expect(m.psi).toBeGreaterThan(0.1);
    expect(m.retrainRecommended).toBe(true);
    expect(moved.stderr).toMatch(/warn: drift: .*retraining is recommended/);
    const store = new FileStore(path.join(dir, 'mlruns'));
    const run = await store.getRun(m.runId);
    expect(run.info.status).toBe('FINISHED');
    expect(run.data.tags['lpclust.retrain_recommended']).toBe('true');
    expect(run.data.tags['lpclust.retrain_reason']).toMatch(/PSI \d/);
    expect(run.data.tags['lpclust.retrain_recommended']).toBe('true');
    const sameRun = await store.getRun(runIdOf(same));
    expect(sameRun.data.tags['lpclust.retrain_recommended']).toBe('false');
    // The CSV it assigned is the run's dataset input, for inference.
    const inputs = await store.getRunInputs(runIdOf(same));
    expect(inputs.map((i) => i.dataset.name)).toEqual(['harmonized']);
    expect(inputs[0].tags).toContainEqual({ key: 'mlflow.data.context', value: 'inference' });
  }, 120_000);

  it('a model saved without the training reference: novel left empty, drift from the fitted sizes, the run says what is missing', async () => {
    const old = path.join(dir, 'old-model');
    fs.cpSync(model, old, { recursive: true });
    const file = path.join(old, 'lpclust-model.json');
    const doc = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    delete doc.reference;
    fs.writeFileSync(file, JSON.stringify(doc));
    const r = await ok(dir, ['--json', 'assign', '--model', old, '--newmongo-export', EXPORT, '--meters', METERS, '--days', '2', '--until', '2013-07-30', '--out', 'old.csv']);
    const out = JSON.parse(r.stdout) as { runId: string; missing: string[]; novel: null; psi: number };
    expect(out.novel).toBeNull();
    expect(out.missing.join(' ')).toMatch(/99th percentile/);
    expect(Number.isFinite(out.psi)).toBe(true);
    expect(r.stderr).toMatch(/without a training reference/);
    for (const row of csvRows(path.join(dir, 'old.csv')).slice(1)) expect(row[5] ?? '').toBe('');
    const store = new FileStore(path.join(dir, 'mlruns'));
    const run = await store.getRun(out.runId);
    expect(run.data.tags['lpclust.assign.missing']).toMatch(/99th percentile/);
    expect(await store.getMetricHistory(out.runId, 'assign/novel_share')).toEqual([]);
    expect((await store.getMetricHistory(out.runId, 'drift/psi')).length).toBe(2);
  }, 60_000);
});

describe('lpclust assign: the model\'s contract and usage errors', () => {
  it('refuses another resolution or time zone naming both values, before any run', async () => {
    const res = await cli(dir, ['assign', '--model', model, '--newmongo-export', EXPORT, '--meters', METERS, '--resolution', '30', '--until', '2013-07-30', '--out', 'x.csv']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('--resolution 30');
    expect(res.stderr).toContain("model's 60-minute resolution");
    const zoned = path.join(dir, 'zoned-model');
    fs.cpSync(model, zoned, { recursive: true });
    const file = path.join(zoned, 'lpclust-model.json');
    const doc = JSON.parse(fs.readFileSync(file, 'utf8')) as { reference: { timezone: string | null } };
    doc.reference.timezone = 'Australia/Sydney';
    fs.writeFileSync(file, JSON.stringify(doc));
    const tz = await cli(dir, ['assign', '--model', zoned, '--newmongo-export', EXPORT, '--meters', METERS, '--timezone', 'UTC', '--until', '2013-07-30', '--out', 'x.csv']);
    expect(tz.code).toBe(2);
    expect(tz.stderr).toContain('--timezone UTC');
    expect(tz.stderr).toContain('Australia/Sydney');
    // A profiles CSV of another resolution: named with both slot counts.
    const lines = fs.readFileSync(path.join(dir, 'harmonized.csv'), 'utf8').trim().split('\n');
    const half = lines.map((l) => l.split(',').slice(0, 2 + 12).join(','));
    fs.writeFileSync(path.join(dir, 'half.csv'), half.join('\n') + '\n');
    const h = await cli(dir, ['assign', '--model', model, '--in', 'half.csv', '--out', 'x.csv']);
    expect(h.code).toBe(3);
    expect(h.stderr).toContain('12 slot columns');
    expect(h.stderr).toContain('expects 24');
    expect(fs.existsSync(path.join(dir, 'x.csv'))).toBe(false);
    // No run was started for any of them (the contract is checked first).
    const store = new FileStore(path.join(dir, 'mlruns'));
    const exp = await store.getOrCreateExperiment('dayahead');
    expect((await store.searchRuns({ experimentIds: [exp.experimentId] })).filter((x) => x.data.params.out?.endsWith('x.csv'))).toEqual([]);
  }, 60_000);

  it('no day in the window: exit 3 naming the window and the latest day; bad options: exit 2', async () => {
    const r = await cli(dir, ['assign', '--model', model, '--newmongo-export', EXPORT, '--meters', METERS, '--days', '3', '--until', '2014-01-10', '--out', 'none.csv']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('between 2014-01-08 and 2014-01-10');
    expect(r.stderr).toContain('the latest day in the input is 2013-07-31');
    const usage = await Promise.all([
      cli(dir, ['assign', '--model', model, '--out', 'x.csv']),
      cli(dir, ['assign', '--model', model, '--in', 'harmonized.csv', '--newmongo-export', EXPORT, '--out', 'x.csv']),
      cli(dir, ['assign', '--model', model, '--in', 'harmonized.csv', '--days', '2', '--since', '2013-07-01', '--out', 'x.csv']),
      cli(dir, ['assign', '--model', model, '--in', 'harmonized.csv', '--until', '2013-02-30', '--out', 'x.csv']),
      cli(dir, ['assign', '--model', model, '--in', 'harmonized.csv', '--to', 'postgres://u:SecretPw1@h/db', '--out', 'x.csv']),
      cli(dir, ['assign', '--model', model, '--in', 'harmonized.csv', '--to', 'mysql://u:SecretPw1@h/db', '--out', 'x.csv']),
      cli(dir, ['assign', '--model', model, '--newmongo-export', EXPORT, '--until', '2013-07-30', '--out', 'x.csv']),
    ]);
    for (const u of usage) expect(u.code, u.stderr).toBe(2);
    expect(usage[0].stderr).toContain('Expected exactly one source');
    expect(usage[1].stderr).toContain('--in, --newmongo-export');
    expect(usage[3].stderr).toContain('2013-02-30');
    expect(usage[4].stderr).toContain('#table');
    expect(usage[6].stderr).toContain('`--newmongo-export` needs `--meters <csv>`');
    for (const u of usage) expect(u.stderr).not.toContain('SecretPw1');
  }, 60_000);
});

describe('lpclust assign: --post', () => {
  it('POSTs the assignments as JSON, retrying a 503; a 400 fails the run without showing the password', async () => {
    const bodies: Array<{ auth?: string; body: { run_id: string; since: string; until: string; assignments: Array<{ id: string; date: string }> } }> = [];
    let calls = 0;
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        calls++;
        if (req.url?.startsWith('/bad')) {
          res.writeHead(400, { 'Content-Type': 'text/plain' }).end('no such feed');
          return;
        }
        if (calls === 1) {
          res.writeHead(503).end();
          return;
        }
        bodies.push({ auth: req.headers.authorization, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    try {
      const base = ['--json', 'assign', '--model', model, '--newmongo-export', EXPORT, '--meters', METERS, '--days', '2', '--until', '2013-07-30'];
      const r = await ok(dir, [...base, '--out', 'post.csv', '--post', `http://feed:PostSecret9@127.0.0.1:${port}/assignments`]);
      expect(calls).toBe(2);
      expect(bodies.length).toBe(1);
      expect(bodies[0].auth).toBe(`Basic ${Buffer.from('feed:PostSecret9').toString('base64')}`);
      expect(bodies[0].body.run_id).toBe(runIdOf(r));
      expect([bodies[0].body.since, bodies[0].body.until]).toEqual(['2013-07-29', '2013-07-30']);
      expect(bodies[0].body.assignments.length).toBe(csvRows(path.join(dir, 'post.csv')).length - 1);
      expect(r.stderr).not.toContain('PostSecret9');
      const bad = await cli(dir, [...base, '--out', 'post-bad.csv', '--post', `http://feed:PostSecret9@127.0.0.1:${port}/bad`]);
      expect(bad.code).toBe(4);
      expect(bad.stderr).toContain('answered 400: no such feed');
      expect(bad.stderr).not.toContain('PostSecret9');
      const store = new FileStore(path.join(dir, 'mlruns'));
      const exp = await store.getOrCreateExperiment('dayahead');
      const failed = (await store.searchRuns({ experimentIds: [exp.experimentId], statuses: ['FAILED'] })).filter((x) => x.data.params.out?.endsWith('post-bad.csv'));
      expect(failed.length).toBe(1);
      expect(failed[0].data.tags['lpclust.error.code']).toBe('E_EXTERNAL_POST');
      expect(JSON.stringify(failed[0].data)).not.toContain('PostSecret9');
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  }, 60_000);
});

describe('lpclust assign: metric histories on a tracking server', () => {
  it('the contract server records one value per day, with the day as step and local midnight as timestamp', async () => {
    const server = await new ContractServer().start();
    try {
      const r = await ok(dir, ['--tracking-uri', server.url, '--json', 'assign', '--model', model, '--newmongo-export', EXPORT, '--meters', METERS, '--days', '2', '--until', '2013-07-30', '--timezone', 'Australia/Sydney', '--out', 'srv.csv']);
      const run = server.runs.get(runIdOf(r))!;
      expect(run.info.status).toBe('FINISHED');
      const days = ['2013-07-29', '2013-07-30'];
      // Sydney is UTC+10 in July: local midnight is 14:00 UTC the day before.
      const midnight = (d: string): number => Date.parse(`${d}T00:00:00Z`) - 10 * 3_600_000;
      for (const key of ['assign/rows', 'assign/share/0', 'assign/distance_p95', 'assign/novel_share', 'drift/js']) {
        const h = run.metrics.filter((m) => m.key === key).sort((a, b) => a.step - b.step);
        expect(h.map((m) => m.step), key).toEqual(days.map(step));
        expect(h.map((m) => m.timestamp), key).toEqual(days.map(midnight));
      }
      expect(run.params.get('timezone')).toBe('Australia/Sydney');
    } finally {
      await server.stop();
    }
  }, 60_000);
});

const LIVE_URI = process.env.LPCLUST_TEST_MONGODB_URI;

describe('lpclust assign: the MongoDB sink', () => {
  it('an unreachable server: exit 4, run FAILED, the password masked', async () => {
    const r = await cli(dir, ['assign', '--model', model, '--in', 'harmonized.csv', '--out', 'mongo-fail.csv', '--to', 'mongodb://writer:MongoSecret7@127.0.0.1:1/energy.assignments?serverSelectionTimeoutMS=500']);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('energy.assignments');
    expect(r.stderr).not.toContain('MongoSecret7');
  }, 60_000);

  it('an unreachable live source: exit 4, run FAILED, the password masked, no temporary file left', async () => {
    const tmp = tempDir('lpclust-assign-tmp-');
    const r = await cli(dir, ['--json', 'assign', '--model', model, '--meters', METERS, '--until', '2013-07-30', '--out', 'live-fail.csv'], {
      LPCLUST_MONGO_URI: 'mongodb://reader:LiveSecret8@127.0.0.1:1/?serverSelectionTimeoutMS=500',
      TMPDIR: tmp,
    });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('cannot read mongodb://reader:***@127.0.0.1:1/');
    expect(r.stderr).not.toContain('LiveSecret8');
    expect(fs.readdirSync(tmp)).toEqual([]);
    expect(fs.existsSync(path.join(dir, 'live-fail.csv'))).toBe(false);
    const store = new FileStore(path.join(dir, 'mlruns'));
    const exp = await store.getOrCreateExperiment('dayahead');
    const failed = (await store.searchRuns({ experimentIds: [exp.experimentId], statuses: ['FAILED'] })).filter((x) => x.data.params.out?.endsWith('live-fail.csv'));
    expect(failed.length).toBe(1);
    expect(failed[0].data.tags['lpclust.error.code']).toBe('E_EXTERNAL_MONGO');
    expect(failed[0].data.params.uri).toBe('mongodb://reader:***@127.0.0.1:1/?serverSelectionTimeoutMS=500');
    expect(JSON.stringify(failed[0].data)).not.toContain('LiveSecret8');
  }, 60_000);

  it.skipIf(!LIVE_URI)(
    LIVE_URI ? 'upserts on (id, date): a rerun of a day replaces its documents' : 'live MongoDB sink test skipped: LPCLUST_TEST_MONGODB_URI is not set (no MongoDB server can be installed here)',
    async () => {
      const { MongoClient } = await import('mongodb');
      const coll = `assign_test_${process.pid}`;
      const to = LIVE_URI!.replace(/\/(\?|$)/, `/lpclust_test.${coll}$1`);
      const base = ['assign', '--model', model, '--newmongo-export', EXPORT, '--meters', METERS, '--to', to];
      await ok(dir, [...base, '--days', '1', '--until', '2013-07-30', '--out', 'm1.csv']);
      await ok(dir, [...base, '--days', '2', '--until', '2013-07-30', '--out', 'm2.csv']);
      const client = new MongoClient(LIVE_URI!);
      try {
        await client.connect();
        const docs = await client.db('lpclust_test').collection(coll).find().toArray();
        expect(docs.length).toBe(csvRows(path.join(dir, 'm2.csv')).length - 1);
        expect(new Set(docs.map((d) => `${d.id} ${d.date}`)).size).toBe(docs.length);
        await client.db('lpclust_test').collection(coll).drop();
      } finally {
        await client.close();
      }
    },
    60_000,
  );
});
