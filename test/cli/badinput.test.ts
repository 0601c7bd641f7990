/**
 * Bad input answered well (issue #14, "Bad input that is not answered well", and #15 item 5): each
 * mistake gets one clear message naming the file, line, key or option and the cause, the right exit
 * code, and leaves nothing behind — no run in the store (a usage mistake is not work that started)
 * and no output folder.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fitClustering } from '../../src/cluster/fit.js';
import { normalizeRows } from '../../src/profiles/normalize.js';
import { buildModel } from '../../src/model/artifact.js';
import { checkInputSlots, Predictor } from '../../src/model/predict.js';
import { startScoringServer } from '../../src/serve/server.js';
import { restClientOptionsFromEnv } from '../../src/tracking/rest-client.js';
import { FileStore } from '../../src/tracking/file-store.js';
import { BIN, ensureBuilt, REPO, tempDir } from '../tracking/helpers.js';

const METERS = path.join(REPO, 'data', 'meters.csv');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(LPCLUST_|MLFLOW_)/.test(k)) env[k] = v;
  // The file store, so that the checks below can read what a command left in ./mlruns (a new
  // folder's default would be sqlite:///mlflow.db).
  return { ...env, NO_COLOR: '1', LPCLUST_TRACKING_URI: 'file:./mlruns', ...extra };
}

function cli(args: string[], cwd: string, env: Record<string, string> = {}): Promise<Result> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, env: cleanEnv(env), timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

/** Every run of every experiment of the FileStore in `<dir>/mlruns` (none when it does not exist). */
async function runsIn(dir: string): Promise<Array<{ status: string; params: Record<string, string> }>> {
  const root = path.join(dir, 'mlruns');
  if (!fs.existsSync(root)) return [];
  const store = new FileStore(root);
  const exps = await store.listExperiments();
  if (exps.length === 0) return [];
  const runs = await store.searchRuns({ experimentIds: exps.map((e) => e.experimentId) });
  return runs.map((r) => ({ status: r.info.status, params: r.data.params }));
}

const SLOTS24 = Array.from({ length: 24 }, (_, h) => `${String(h).padStart(2, '0')}:00`);
const SLOTS96 = Array.from({ length: 96 }, (_, i) => `${String(Math.floor(i / 4)).padStart(2, '0')}:${String((i % 4) * 15).padStart(2, '0')}`);

/** Deterministic positive profiles: `meters` × `days` rows of `slots`, two shapes so clusters exist. */
function profileRows(meters: number, days: number, L: number): string[] {
  const rows: string[] = [];
  for (let m = 0; m < meters; m++) {
    for (let d = 1; d <= days; d++) {
      const v = Array.from({ length: L }, (_, t) => (1 + ((m * 7 + d * 3 + t * 5) % 11) + (m % 2 ? 20 * Math.sin((Math.PI * t) / L) ** 2 : 0)).toFixed(3));
      rows.push(`M${m},2023-01-${String(d).padStart(2, '0')},${v.join(',')}`);
    }
  }
  return rows;
}

function writeProfiles(file: string, rows: string[], slots = SLOTS24): void {
  fs.writeFileSync(file, `id,date,${slots.join(',')}\n${rows.join('\n')}\n`);
}

/** Expect no run in the store and none of `outputs` on disk. */
async function expectNothingLeft(dir: string, outputs: string[] = ['outputs', 'lpclust-out']): Promise<void> {
  expect(await runsIn(dir)).toEqual([]);
  for (const o of outputs) expect(fs.existsSync(path.join(dir, o)), `${o} left behind`).toBe(false);
}

describe('bad input is answered well and leaves nothing behind (#14, #15 item 5)', () => {
  beforeAll(() => ensureBuilt());

  it('pipeline: a config naming a missing SQL folder, old-Mongo folder or new-Mongo file names the file, key and path (exit 3)', async () => {
    const dir = tempDir();
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['sql.json', { sql: { input: 'no-sql' } }, 'pipeline.sources.sql.input'],
      ['old.json', { oldmongo: { input: 'no-old' } }, 'pipeline.sources.oldmongo.input'],
      ['new.json', { newmongo: { export: 'no-new.jsonl' } }, 'pipeline.sources.newmongo.export'],
    ];
    for (const [file, sources] of cases) fs.writeFileSync(path.join(dir, file), JSON.stringify({ pipeline: { sources } }));
    const results = await Promise.all(cases.map(([file]) => cli(['pipeline', '--config', file, '--no-plots'], dir)));
    results.forEach((r, i) => {
      const [file, sources, key] = cases[i];
      const missing = Object.values(sources as Record<string, Record<string, string>>)[0];
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).not.toMatch(/internal error|at .*\.js:\d+/);
      expect(r.stderr).toContain(`${path.join(dir, file)}: ${key}: cannot read ${path.join(dir, Object.values(missing)[0])}: no such ${key.endsWith('export') ? 'file' : 'directory'}`);
    });
    await expectNothingLeft(dir);
  });

  it('cluster and pipeline: an output folder that cannot be created names the folder and the cause (exit 4), no run', async () => {
    const dir = tempDir();
    writeProfiles(path.join(dir, 'p.csv'), profileRows(4, 8, 24));
    fs.writeFileSync(path.join(dir, 'afile'), 'x');
    const [proc, underFile, pipe, store] = await Promise.all([
      cli(['cluster', '--in', 'p.csv', '-k', '3', '--out-dir', '/proc/lpclust-out'], dir),
      cli(['cluster', '--in', 'p.csv', '-k', '3', '--out-dir', 'afile/out'], dir),
      cli(['pipeline', '--no-plots', '--out-dir', '/proc/lpclust-out'], dir),
      // The tracking store's own folder (this used to spin on its lock for ever).
      cli(['--tracking-uri', 'file:/proc/lpclust-mlruns', 'cluster', '--in', 'p.csv', '-k', '3', '--out-dir', 'o'], dir),
    ]);
    expect(store.stderr).toContain('--tracking-uri: cannot create the output folder /proc/lpclust-mlruns');
    for (const r of [proc, underFile, pipe, store]) {
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).not.toMatch(/internal error|ENOENT: no such file or directory, mkdir/);
    }
    expect(proc.stderr).toContain('--out-dir: cannot create the output folder /proc/lpclust-out: the file system of /proc does not allow creating folders');
    expect(underFile.stderr).toContain(`--out-dir: cannot create the output folder ${path.join(dir, 'afile', 'out')}: ${path.join(dir, 'afile')} is a file, not a folder`);
    expect(pipe.stderr).toContain('cannot create the output folder /proc/lpclust-out');
    await expectNothingLeft(dir, ['outputs', 'lpclust-out', 'o']);
  });

  it('profiles CSV: 1e200, a repeated (meter, day) and 2023-02-30 are refused naming the line (exit 3), no run', async () => {
    const dir = tempDir();
    const rows = profileRows(3, 8, 24);
    const big = [...rows];
    const f = big[3].split(',');
    f[5] = '1e200';
    big[3] = f.join(',');
    writeProfiles(path.join(dir, 'big.csv'), big);
    writeProfiles(path.join(dir, 'dup.csv'), [...rows.slice(0, 10), rows[2], ...rows.slice(10)]);
    writeProfiles(path.join(dir, 'date.csv'), rows.map((r, i) => (i === 4 ? r.replace('2023-01-05', '2023-02-30') : r)));
    const [b, d, t, dtwBig] = await Promise.all([
      cli(['cluster', '--in', 'big.csv', '-k', '3'], dir),
      cli(['cluster', '--in', 'dup.csv', '-k', '3'], dir),
      cli(['cluster', '--in', 'date.csv', '-k', '3'], dir),
      cli(['dtw', '--in', 'big.csv', '--out', 'd.npy'], dir),
    ]);
    for (const r of [b, d, t, dtwBig]) expect(r.code, r.stderr).toBe(3);
    expect(b.stderr).toContain('big.csv:5: meter M0 on 2023-01-04 has 1e200 Wh in column 03:00');
    expect(b.stderr).not.toContain('all-zero');
    expect(dtwBig.stderr).toContain('1e200');
    expect(d.stderr).toContain('dup.csv:12: meter M0 on 2023-01-03 appears again (first on line 4)');
    expect(t.stderr).toContain('date.csv:6: expected a date YYYY-MM-DD in column "date" but found "2023-02-30", which is not a day of the calendar');
    await expectNothingLeft(dir);
    expect(fs.existsSync(path.join(dir, 'd.npy'))).toBe(false);
  });

  it('--workers 1000 is capped to the cores, and says so; params hold absolute input paths', async () => {
    const dir = tempDir();
    writeProfiles(path.join(dir, 'p.csv'), profileRows(4, 8, 24));
    const r = await cli(['cluster', '--in', 'p.csv', '-k', '3', '--workers', '1000', '--out-dir', 'out'], dir);
    expect(r.code, r.stderr).toBe(0);
    const cores = availableParallelism();
    expect(r.stderr).toContain(`--workers 1000 is more than the ${cores} core${cores === 1 ? '' : 's'} of this machine: capped to ${cores} worker thread`);
    const runs = await runsIn(dir);
    expect(runs).toHaveLength(1);
    expect(runs[0].params.in).toBe(path.join(dir, 'p.csv'));
  });

  it('--dtw none.npy that does not exist names the option and path; no run, no empty output folder', async () => {
    const dir = tempDir();
    writeProfiles(path.join(dir, 'p.csv'), profileRows(4, 8, 24));
    const [r, withOut] = await Promise.all([
      cli(['cluster', '--in', 'p.csv', '-k', '3', '--metric', 'dtw', '--model', 'kmedoids', '--dtw', 'none.npy'], dir),
      cli(['cluster', '--in', 'p.csv', '-k', '3', '--metric', 'dtw', '--model', 'kmedoids', '--dtw', 'none.npy', '--out-dir', 'o'], dir),
    ]);
    for (const x of [r, withOut]) {
      expect(x.code, x.stderr).toBe(3);
      expect(x.stderr).toContain(`--dtw: cannot read ${path.join(dir, 'none.npy')}: no such file`);
      expect(x.stderr).not.toContain('does not belong');
    }
    await expectNothingLeft(dir, ['lpclust-out', 'o']);
  });

  it('a missing --in, a mistyped value or an existing output of every run-making command leaves no run', async () => {
    const dir = tempDir();
    writeProfiles(path.join(dir, 'p.csv'), profileRows(4, 8, 24));
    fs.writeFileSync(path.join(dir, 'exists.npy'), 'x');
    const results = await Promise.all([
      cli(['cluster', '--in', 'nope.csv', '-k', '3'], dir),
      cli(['dtw', '--in', 'nope.csv', '--out', 'd.npy'], dir),
      cli(['dtw', '--in', 'p.csv', '--out', 'exists.npy'], dir),
      cli(['validate', '--in', 'p.csv', '--labels', 'nope.csv'], dir),
      cli(['harmonize', '--sql', 'nope.csv', '--out', 'h.csv'], dir),
      cli(['harmonize', '--sql', 'p.csv', '--rules', 'nope.yaml', '--out', 'h.csv'], dir),
      cli(['etl', 'oldmongo', '--input', 'nope', '--meters', METERS, '--out', 'c.csv'], dir),
      cli(['etl', 'sql', '--input', 'nope', '--meters', METERS, '--out', 'c.csv'], dir),
      cli(['etl', 'newmongo', '--export', 'nope.jsonl', '--meters', METERS, '--out', 'c.csv'], dir),
      cli(['etl', 'oldmongo', '--input', path.join(REPO, 'data', 'oldmongo'), '--meters', 'nope.csv', '--out', 'c.csv'], dir),
      cli(['etl', 'generic', '--input', 'nope.csv', '--id-col', 'a', '--time-col', 'b', '--value-col', 'c', '--out', 'c.csv'], dir),
      cli(['sweep', '--in', 'nope.csv', '-k', '3'], dir),
      cli(['pipeline', '--meters', 'nope.csv', '--no-plots'], dir),
      cli(['cluster', '--in', 'p.csv', '-k', '30'], dir),
    ]);
    for (const r of results) {
      expect([2, 3], r.stderr).toContain(r.code);
      expect(r.stderr).not.toMatch(/internal error/);
    }
    for (const r of results.slice(0, 13)) expect(r.stderr).toMatch(/nope|exists\.npy/);
    await expectNothingLeft(dir, ['outputs', 'lpclust-out', 'd.npy', 'h.csv', 'c.csv']);
  });

  it('etl generic: a row with more (or fewer) fields than the header is refused naming the line', async () => {
    const dir = tempDir();
    const lines = ['meter,ts,wh,quality'];
    for (let h = 0; h < 48; h++) lines.push(`A,2023-01-0${1 + Math.floor(h / 24)} ${String(h % 24).padStart(2, '0')}:00:00,${(h % 5) + 1},ok`);
    lines[10] += ',extra';
    fs.writeFileSync(path.join(dir, 'long.csv'), lines.join('\n') + '\n');
    const r = await cli(['etl', 'generic', '--input', 'long.csv', '--id-col', 'meter', '--time-col', 'ts', '--value-col', 'wh', '--out', 'c.csv'], dir);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain('long.csv:11: expected 4 fields as in the header (meter,ts,wh,quality) but found 5');
    expect(fs.existsSync(path.join(dir, 'c.csv'))).toBe(false);
    // The run had started (the file is read inside it): FAILED, not RUNNING.
    for (const run of await runsIn(dir)) expect(run.status).toBe('FAILED');
  });

  it('a misspelt config key, top level or in a section, names the key, the file and the nearest key (exit 2)', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'top.json'), JSON.stringify({ experimentNmae: 'x' }));
    fs.writeFileSync(path.join(dir, 'sec.json'), JSON.stringify({ pipeline: { modle: 'som' } }));
    fs.writeFileSync(path.join(dir, 'src.json'), JSON.stringify({ pipeline: { sources: { sql: { inptu: 'data/sql' } } } }));
    const [top, sec, src] = await Promise.all([
      cli(['--config', 'top.json', 'runs'], dir),
      cli(['--config', 'sec.json', 'pipeline'], dir),
      cli(['--config', 'src.json', 'pipeline'], dir),
    ]);
    for (const r of [top, sec, src]) expect(r.code, r.stderr).toBe(2);
    expect(top.stderr).toContain(`${path.join(dir, 'top.json')}: unknown key "experimentNmae" (did you mean "experimentName"?)`);
    expect(sec.stderr).toContain(`${path.join(dir, 'sec.json')}: unknown key "pipeline.modle" (did you mean "pipeline.model"?)`);
    expect(src.stderr).toContain(`${path.join(dir, 'src.json')}: unknown key "pipeline.sources.sql.inptu" (did you mean "pipeline.sources.sql.input"?)`);
    await expectNothingLeft(dir);
  });

  it('a tracking server that is down: said at once, retried within LPCLUST_HTTP_RETRY_BUDGET, then spooled', async () => {
    const dir = tempDir();
    writeProfiles(path.join(dir, 'p.csv'), profileRows(4, 8, 24));
    const port = await closedPort();
    const r = await cli(['--tracking-uri', `http://127.0.0.1:${port}`, 'cluster', '--in', 'p.csv', '-k', '3', '--out-dir', 'out'], dir, { LPCLUST_HTTP_RETRY_BUDGET: '2' });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.split('\n');
    const first = lines.findIndex((l) => l.includes('does not answer'));
    expect(lines[first]).toContain(`tracking server http://127.0.0.1:${port} does not answer (connection refused, ECONNREFUSED); retrying for up to 2 s (LPCLUST_HTTP_RETRY_BUDGET)`);
    expect(lines.findIndex((l) => l.includes('writes the runs to the local store'))).toBeGreaterThan(first);
    expect(r.ms).toBeLessThan(20_000);
    expect((await runsIn(dir)).map((x) => x.status)).toEqual(['FINISHED']);
    // The default budget for a watched command is short, and configurable.
    expect(restClientOptionsFromEnv('http://h', {}, dir).retryBudgetSeconds).toBe(20);
    expect(restClientOptionsFromEnv('http://h', { LPCLUST_HTTP_RETRY_BUDGET: '300' }, dir).retryBudgetSeconds).toBe(300);
  });

  it('--no-spool (or LPCLUST_SPOOL=off): a tracking server that is down fails the command instead of spooling', async () => {
    const dir = tempDir();
    writeProfiles(path.join(dir, 'p.csv'), profileRows(4, 8, 24));
    const port = await closedPort();
    const args = ['--tracking-uri', `http://127.0.0.1:${port}`, 'cluster', '--in', 'p.csv', '-k', '3', '--out-dir', 'out'];
    const [flag, env] = await Promise.all([
      cli(['--no-spool', ...args], dir, { LPCLUST_HTTP_RETRY_BUDGET: '1' }),
      cli(args, dir, { LPCLUST_HTTP_RETRY_BUDGET: '1', LPCLUST_SPOOL: 'off' }),
    ]);
    for (const r of [flag, env]) {
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toContain(`tracking server http://127.0.0.1:${port}`);
      expect(r.stderr).not.toContain('writes the runs to the local store');
    }
    expect(fs.existsSync(path.join(dir, 'mlruns'))).toBe(false);
  });

  it('predict of hourly days with a 15-minute model advises what can work', () => {
    const rows = profileRows(4, 8, 96).map((l) => l.split(',').slice(2).map(Number));
    const X = normalizeRows(Float64Array.from(rows.flat()), 96, 'l2');
    const fit = fitClustering({ data: X, n: rows.length, dim: 96 }, { model: 'kmeans', metric: 'euclidean', k: 2, seed: 0, nInit: 1 });
    const model = buildModel({ fit, slots: SLOTS96, X, ids: [], dates: [], normalization: 'l2' });
    let err: { message: string; hint?: string } | undefined;
    try {
      checkInputSlots(model, SLOTS24, 'hourly.csv');
    } catch (e) {
      err = e as { message: string; hint?: string };
    }
    expect(err?.message).toContain('hourly.csv has 24 slot columns (60-minute resolution) but the model expects 96 (15-minute resolution');
    expect(err?.hint).not.toContain('harmonize --resolution');
    expect(err?.hint).toContain('60-minute data cannot be split into 15-minute slots');
    expect(err?.hint).toContain('lpclust pipeline --resolution 60');
    expect(err?.hint).toContain('--resolution 15');
  });

  it('serve: a value that overflows to infinity (1e309) is a 400 naming the row and column', async () => {
    const rows = profileRows(4, 8, 24).map((l) => l.split(',').slice(2).map(Number));
    const X = normalizeRows(Float64Array.from(rows.flat()), 24, 'l2');
    const fit = fitClustering({ data: X, n: rows.length, dim: 24 }, { model: 'kmeans', metric: 'euclidean', k: 2, seed: 0, nInit: 1 });
    const model = buildModel({ fit, slots: SLOTS24, X, ids: [], dates: [], normalization: 'l2' });
    const srv = await startScoringServer({ model, predictor: new Predictor(model), port: 0 });
    try {
      const row = rows[0].map(String);
      row[5] = '1e309';
      const post = async (body: string): Promise<{ status: number; json: { message: string } }> => {
        const r = await fetch(`${srv.url}/invocations`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
        return { status: r.status, json: (await r.json()) as { message: string } };
      };
      const inputs = await post(`{"inputs": [[${rows[1].join(',')}], [${row.join(',')}]]}`);
      expect(inputs.status).toBe(400);
      expect(inputs.json.message).toBe('Expected a finite number at inputs[1][5] but received a number too large for double precision (it overflows to infinity)');
      const records = await post(`{"dataframe_records": [{${SLOTS24.map((s, j) => `"${s}": ${row[j]}`).join(',')}}]}`);
      expect(records.status).toBe(400);
      expect(records.json.message).toContain('dataframe_records[0]["05:00"]');
      const big = rows[0].map(String);
      big[2] = '1e200';
      const huge = await post(`{"inputs": [[${big.join(',')}]]}`);
      expect(huge.status).toBe(400);
      expect(huge.json.message).toContain('inputs[0][2]');
    } finally {
      await srv.close();
    }
  });
});

/** A loopback port nobody listens on: taken, then released. */
function closedPort(): Promise<number> {
  return new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}
