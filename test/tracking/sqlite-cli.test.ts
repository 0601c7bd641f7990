/**
 * The CLI with the SQLite store (spawns bin/lpclust.js; needs dist/): a new folder gets
 * `sqlite:///mlflow.db` by default and a pipeline there logs what it logs into `./mlruns`;
 * `lpclust runs`, `--reuse`, `predict runs:/...` and `sync --from sqlite:///...` read it; an
 * existing `./mlruns` keeps being the default (with the MLflow 3 note, once); a read-only
 * database is read, and refused for writing with nothing written.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/tracking/file-store.js';
import { SqliteStore } from '../../src/tracking/sqlite-store.js';
import { ContractServer } from '../support/contract-server.js';
import { shape } from '../support/run-shape.js';
import { BIN, ensureBuilt, REPO, tempDir } from './helpers.js';

interface Result { code: number; stdout: string; stderr: string }

function cli(cwd: string, args: string[], options: { uid?: number; gid?: number } = {}): Promise<Result> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(LPCLUST_|MLFLOW_)/.test(k)) env[k] = v;
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, env: { ...env, NO_COLOR: '1' }, timeout: 120_000, ...options }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

const PIPELINE = ['pipeline', '--model', 'kmeans', '-k', '3', '--no-plots', '--json', '--quiet'];

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

beforeAll(() => ensureBuilt());

describe('a pipeline in a new folder', () => {
  it('goes to sqlite:///mlflow.db by default, as into ./mlruns; runs, reuse, predict and sync read it', async () => {
    const [dbDir, fileDir] = [tempDir('lpclust-sqlite-cli-'), tempDir('lpclust-file-cli-')];
    const [inDb, inFiles] = await Promise.all([cli(dbDir, PIPELINE), cli(fileDir, ['--tracking-uri', 'file:./mlruns', ...PIPELINE])]);
    expect(inDb.code, inDb.stderr).toBe(0);
    expect(inFiles.code, inFiles.stderr).toBe(0);
    expect(fs.existsSync(path.join(dbDir, 'mlflow.db'))).toBe(true);
    // ./mlruns holds only artifacts of the database's runs: no experiment meta.yaml, so it stays a SQLite folder.
    expect(fs.readdirSync(path.join(dbDir, 'mlruns'))).toEqual(['1']);
    expect(fs.existsSync(path.join(dbDir, 'mlruns', '1', 'meta.yaml'))).toBe(false);
    const db = new SqliteStore('sqlite:///mlflow.db', { cwd: dbDir });
    const dbShape = await shape(db);
    expect(dbShape).toHaveLength(6); // parent + 5 stages
    expect(dbShape).toEqual(await shape(new FileStore(path.join(fileDir, 'mlruns'))));
    const out = JSON.parse(inDb.stdout) as { runId: string; metrics: Record<string, number>; stages: Array<{ stage: string; runId: string }> };
    expect(out.metrics['Silhouette Score']).toBe((JSON.parse(inFiles.stdout) as { metrics: Record<string, number> }).metrics['Silhouette Score']);

    const [list, show] = await Promise.all([cli(dbDir, ['--json', 'runs']), cli(dbDir, ['--json', 'runs', 'show', out.runId.slice(0, 8)])]);
    expect(list.code, list.stderr).toBe(0);
    const view = JSON.parse(list.stdout) as { trackingUri: string; experiments: Array<{ name: string; runs: Array<{ runId: string }> }> };
    expect(view.trackingUri).toBe(`sqlite:///${path.join(dbDir, 'mlflow.db')}`);
    expect(view.experiments.find((e) => e.name === 'lpclust')!.runs.map((r) => r.runId)).toContain(out.runId);
    expect(show.code, show.stderr).toBe(0);
    expect((JSON.parse(show.stdout) as { children: unknown[] }).children).toHaveLength(5);

    // --reuse finds the FINISHED stage runs in the database; with the local outputs gone, it copies their artifacts.
    fs.rmSync(path.join(dbDir, 'outputs'), { recursive: true, force: true });
    const reused = await cli(dbDir, [...PIPELINE, '--reuse']);
    expect(reused.code, reused.stderr).toBe(0);
    const reusedOut = JSON.parse(reused.stdout) as { metrics: Record<string, number>; stages: Array<{ reusedFrom?: string }> };
    expect(reusedOut.stages.filter((s) => s.reusedFrom).length).toBeGreaterThan(0);
    expect(reusedOut.metrics['Silhouette Score']).toBe(out.metrics['Silhouette Score']);

    // predict loads the model of the clustering run from the database's artifact folder.
    const clustering = out.stages.find((s) => s.stage === 'clustering')!.runId;
    const days = path.join(fileDir, 'outputs', (JSON.parse(inFiles.stdout) as { runId: string }).runId, 'harmonized.csv');
    const predicted = await cli(dbDir, ['--json', 'predict', '--model', `runs:/${clustering}/model`, '--in', days, '--out', 'pred.csv']);
    expect(predicted.code, predicted.stderr).toBe(0);
    expect((JSON.parse(predicted.stdout) as { trainingAgreement: number }).trainingAgreement).toBe(1);

    // sync uploads the database's runs to a server; a second sync sends nothing.
    const server = await new ContractServer().start();
    try {
      const synced = await cli(dbDir, ['--json', 'sync', '--from', 'sqlite:///mlflow.db', '--to', server.url]);
      expect(synced.code, synced.stderr).toBe(0);
      expect(JSON.parse(synced.stdout)).toMatchObject({ created: 12, failed: 0 });
      const again = await cli(dbDir, ['--json', 'sync', '--from', 'sqlite:///mlflow.db', '--to', server.url]);
      expect(JSON.parse(again.stdout)).toMatchObject({ created: 0, updated: 0, unchanged: 12, failed: 0 });
      const missing = await cli(dbDir, ['sync', '--from', 'sqlite:///nothing.db', '--to', server.url]);
      expect(missing.code).toBe(3);
      expect(missing.stderr).toContain(`no tracking database ${path.join(dbDir, 'nothing.db')}`);
    } finally {
      await server.stop();
    }
    db.close();
  }, 300_000);
});

describe('a folder whose ./mlruns holds runs', () => {
  it('keeps it as the default store and says once what MLflow 3 needs to open it', async () => {
    const dir = tempDir();
    const store = new FileStore(path.join(dir, 'mlruns'));
    const exp = await store.getOrCreateExperiment('old');
    await store.createRun({ experimentId: exp.experimentId, runName: 'before', userId: 'u', startTime: Date.now(), tags: [] });
    // Listing never prints the note (it would pollute --json output on stderr) ...
    const listed = await cli(dir, ['runs']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain('before');
    expect(listed.stderr).not.toContain('MLFLOW_ALLOW_FILE_STORE');
    // ... the first command that logs runs there does, once.
    const etl = (out: string) => ['etl', 'sql', '--input', path.join(REPO, 'data', 'sql'), '--meters', path.join(REPO, 'data', 'meters.csv'), '--out', out];
    const first = await cli(dir, etl('a.csv'));
    const second = await cli(dir, etl('b.csv'));
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain('MLFLOW_ALLOW_FILE_STORE=true');
    expect(first.stderr).toContain('mlflow migrate-filestore');
    expect(second.code).toBe(0);
    expect(second.stderr).not.toContain('MLFLOW_ALLOW_FILE_STORE');
    expect(fs.existsSync(path.join(dir, 'mlflow.db'))).toBe(false);
    const doctor = await cli(dir, ['--json', 'doctor']);
    expect(JSON.parse(doctor.stdout)).toMatchObject({ trackingUri: 'file:./mlruns', trackingUriSource: 'default: ./mlruns holds runs' });
  });
});

describe('a read-only database', () => {
  it('is read; a tracked command is refused before anything is written', async () => {
    const dir = tempDir();
    const seed = await cli(dir, ['--quiet', 'pipeline', '--model', 'kmeans', '-k', '3', '--no-plots']);
    expect(seed.code, seed.stderr).toBe(0);
    const file = path.join(dir, 'mlflow.db');
    const before = sha256(file);
    const artifactsBefore = fs.readdirSync(path.join(dir, 'mlruns', '1')).sort();
    fs.chmodSync(file, 0o444);
    fs.chmodSync(dir, 0o555);
    // root may write anything: the commands then run as "nobody", for whom the file is read-only.
    const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    // "nobody" must reach the clone (a checkout in a `mktemp -d` folder is 0700): folders above it
    // that others cannot traverse get o+x (traverse, not list) for the test, restored after.
    const opened = process.getuid?.() === 0 ? openTraversal(REPO) : [];
    try {
      const list = await cli(dir, ['--json', 'runs'], asUser);
      expect(list.code, list.stderr).toBe(0);
      expect((JSON.parse(list.stdout) as { experiments: unknown[] }).experiments.length).toBeGreaterThan(0);
      const out = tempDir();
      fs.chmodSync(out, 0o777);
      const write = await cli(dir, ['pipeline', '--model', 'kmeans', '-k', '3', '--no-plots', '--out-dir', out], asUser);
      expect(write.code).toBe(4);
      expect(write.stderr).toContain(`cannot write to the tracking database ${file}: it is read-only`);
      expect(write.stderr).toContain('nothing was written');
      expect(write.stderr).not.toMatch(/^\s+at /m);
    } finally {
      fs.chmodSync(dir, 0o755);
      fs.chmodSync(file, 0o644);
      for (const [folder, mode] of opened) fs.chmodSync(folder, mode);
    }
    expect(sha256(file)).toBe(before);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('mlflow.db-'))).toEqual([]);
    expect(fs.readdirSync(path.join(dir, 'mlruns', '1')).sort()).toEqual(artifactsBefore);
  }, 120_000);
});

/** Give o+x to the folders from `dir` up to the root that lack it; returns them with their old modes. */
function openTraversal(dir: string): Array<[string, number]> {
  const changed: Array<[string, number]> = [];
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const mode = fs.statSync(d).mode & 0o7777;
    if (!(mode & 0o001)) {
      fs.chmodSync(d, mode | 0o001);
      changed.push([d, mode]);
    }
    if (path.dirname(d) === d) break;
  }
  return changed;
}
