/**
 * The SQLite store against what MLflow itself writes (../shared/mlflow/): a database lpclust
 * creates holds exactly MLflow's schema of its revision; the reference runs, replayed through the
 * store into a new database and into a copy of MLflow's empty database, give the same rows (columns,
 * types, value formats) as MLflow's own; databases of other revisions or of other programs are
 * refused without a byte changed.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { REVISION_MLFLOW_2, REVISION_MLFLOW_3 } from '../../src/tracking/sqlite-schema.js';
import { SqliteStore } from '../../src/tracking/sqlite-store.js';
import { GLOBAL_SETTINGS, resolveSettings, type SqliteSchemaChoice } from '../../src/config.js';
import { openStore } from '../../src/tracking/index.js';
import { REPO, tempDir } from './helpers.js';

// What MLflow itself wrote (test/fixtures/mlflow/README.md), committed so that npm test needs nothing beside the clone.
const SHARED = path.join(REPO, 'test', 'fixtures', 'mlflow');
const VERSIONS: Array<{ dir: string; choice: SqliteSchemaChoice; revision: string }> = [
  { dir: '2.12.2', choice: 'mlflow2', revision: REVISION_MLFLOW_2 },
  { dir: '3.11.2.dev0', choice: 'mlflow3', revision: REVISION_MLFLOW_3 },
];

type Row = Record<string, unknown>;

function query(file: string, sql: string, ...args: unknown[]): Row[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all(...args) as Row[];
  } finally {
    db.close();
  }
}

function master(file: string): Row[] {
  return query(file, 'SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid');
}

/** A writable copy of a reference database in `dir`. */
function copyOf(src: string, dir: string, name = 'mlflow.db'): string {
  const dest = path.join(dir, name);
  fs.copyFileSync(src, dest);
  fs.chmodSync(dest, 0o644);
  return dest;
}

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Every `;`-terminated statement of a `sqlite3 .schema` dump. */
function schemaStatements(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const out: string[] = [];
  let cur = '';
  for (const line of text.split('\n')) {
    if (line === '' && cur === '') continue;
    cur += (cur ? '\n' : '') + line;
    // A statement ends at a line ending in ";" (a trigger's body lines end in ";" too, its END; closes it).
    if (line.endsWith(';') && (!/^CREATE TRIGGER/.test(cur) || /^END;$/.test(line))) {
      out.push(cur.slice(0, -1));
      cur = '';
    }
  }
  return out;
}

describe('a database lpclust creates', () => {
  for (const v of VERSIONS) {
    it(`has exactly MLflow's schema of revision ${v.revision} (${v.dir}), its revision row and the Default experiment`, async () => {
      const dir = tempDir();
      const store = new SqliteStore('sqlite:///mlflow.db', { cwd: dir, schema: v.choice });
      await store.getOrCreateExperiment('first');
      store.close();
      const file = path.join(dir, 'mlflow.db');
      const reference = path.join(SHARED, v.dir, 'empty-mlflow.db');
      // The same statements in the same order, the same automatic indexes.
      expect(master(file)).toEqual(master(reference));
      // ... and the statements of schema.sql (`sqlite3 .schema`, which shows some tables as
      // "CREATE TABLE IF NOT EXISTS", the form SQLite does not store).
      const ours = master(file).filter((r) => r.sql !== null).map((r) => String(r.sql)).sort();
      const given = schemaStatements(path.join(SHARED, v.dir, 'schema.sql')).map((s) => s.replace(/^CREATE TABLE IF NOT EXISTS "/, 'CREATE TABLE "')).sort();
      expect(ours).toEqual(given);
      expect(query(file, 'SELECT version_num FROM alembic_version')).toEqual([{ version_num: fs.readFileSync(path.join(SHARED, v.dir, 'alembic_version.txt'), 'utf8').trim() }]);
      const zero = query(file, 'SELECT * FROM experiments WHERE experiment_id = 0')[0];
      const refZero = query(reference, 'SELECT * FROM experiments WHERE experiment_id = 0')[0];
      expect(Object.keys(zero)).toEqual(Object.keys(refZero));
      expect(zero).toMatchObject({ name: 'Default', lifecycle_stage: 'active', artifact_location: path.join(dir, 'mlruns', '0') });
      if (v.choice === 'mlflow3') {
        expect(query(file, 'SELECT * FROM workspaces')).toEqual(query(reference, 'SELECT * FROM workspaces'));
        expect(zero.workspace).toBe('default');
      }
      // Closed by its last user, it is back in the rollback journal MLflow creates it with.
      expect(query(file, 'PRAGMA journal_mode')).toEqual(query(reference, 'PRAGMA journal_mode'));
    });
  }

  it('is created at 2.12.2\'s revision unless the sqliteSchema setting asks for MLflow 3\'s; a bad value is a usage error', async () => {
    const dir = tempDir();
    const two = await openStore('sqlite:///a.db', { cwd: dir, env: { LPCLUST_SQLITE_SCHEMA: 'mlflow3' } });
    await two.getOrCreateExperiment('x');
    const three = await openStore('sqlite:///b.db', { cwd: dir, sqliteSchema: 'mlflow3' });
    await three.getOrCreateExperiment('x');
    // The library reads no environment: the variable reaches it only through the settings table.
    expect(query(path.join(dir, 'a.db'), 'SELECT version_num FROM alembic_version')).toEqual([{ version_num: REVISION_MLFLOW_2 }]);
    expect(query(path.join(dir, 'b.db'), 'SELECT version_num FROM alembic_version')).toEqual([{ version_num: REVISION_MLFLOW_3 }]);
    expect(resolveSettings(GLOBAL_SETTINGS, { flags: {}, env: { LPCLUST_SQLITE_SCHEMA: 'mlflow3' }, cwd: dir }).sqliteSchema).toEqual({ value: 'mlflow3', source: 'env', from: 'LPCLUST_SQLITE_SCHEMA' });
    expect(() => resolveSettings(GLOBAL_SETTINGS, { flags: {}, env: { LPCLUST_SQLITE_SCHEMA: 'mlflow4' }, cwd: dir })).toThrow(expect.objectContaining({ code: 'E_USAGE_VALUE', kind: 'usage' }));
    // An existing database keeps its revision whatever is asked.
    const again = await openStore('sqlite:///a.db', { cwd: dir, sqliteSchema: 'mlflow3' });
    await again.getOrCreateExperiment('y');
    expect(query(path.join(dir, 'a.db'), 'SELECT version_num FROM alembic_version')).toEqual([{ version_num: REVISION_MLFLOW_2 }]);
  });

  it('reads sqlite: URIs as MLflow does: three slashes relative, four absolute; no memory, host or options', async () => {
    const dir = tempDir();
    expect(new SqliteStore('sqlite:///sub/x.db', { cwd: dir }).file).toBe(path.join(dir, 'sub', 'x.db'));
    expect(new SqliteStore(`sqlite:///${path.join(dir, 'abs.db')}`, { cwd: '/' }).file).toBe(path.join(dir, 'abs.db'));
    expect(new SqliteStore(`sqlite:///${path.join(dir, 'abs.db')}`, { cwd: '/' }).displayUri).toBe(`sqlite:///${path.join(dir, 'abs.db')}`);
    for (const bad of ['sqlite://', 'sqlite:///:memory:', 'sqlite://host/x.db', 'sqlite:///x.db?mode=ro', 'sqlite:x.db']) {
      expect(() => new SqliteStore(bad, { cwd: dir }), bad).toThrow(expect.objectContaining({ code: 'E_TRACKING_URI', kind: 'usage' }));
    }
    // A missing folder is named, and nothing is created.
    const store = new SqliteStore('sqlite:///nope/x.db', { cwd: dir });
    await expect(store.getOrCreateExperiment('e')).rejects.toThrow(/the folder .*nope does not exist/);
    expect(fs.existsSync(path.join(dir, 'nope'))).toBe(false);
    // Reading a database that does not exist yet shows an empty store and creates nothing.
    const empty = new SqliteStore('sqlite:///later.db', { cwd: dir });
    expect(await empty.listExperiments()).toEqual([]);
    expect(fs.existsSync(path.join(dir, 'later.db'))).toBe(false);
  });
});

/**
 * Replay the runs of a reference database through the store: same experiment name, run names,
 * users, start and end times, statuses, params, tags and every metric value with its timestamp and
 * step. Returns the map from reference run ids to the new ones.
 */
async function replay(reference: string, store: SqliteStore): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  const refExp = query(reference, "SELECT * FROM experiments WHERE name = 'reference'")[0];
  const exp = await store.getOrCreateExperiment(String(refExp.name));
  const runs = query(reference, 'SELECT * FROM runs ORDER BY start_time');
  for (const r of runs) {
    const tags = query(reference, 'SELECT "key", value FROM tags WHERE run_uuid = ? ORDER BY rowid', r.run_uuid) as Array<{ key: string; value: string }>;
    const own = tags
      // The model and its history tag are not part of the tracking store's job.
      .filter((t) => t.key !== 'mlflow.log-model.history')
      .map((t) => (t.key === 'mlflow.parentRunId' ? { key: t.key, value: ids.get(t.value)! } : t));
    const info = await store.createRun({
      experimentId: exp.experimentId,
      runName: String(r.name),
      userId: String(r.user_id),
      startTime: Number(r.start_time),
      tags: own.filter((t) => t.key !== 'mlflow.runName'),
    });
    ids.set(String(r.run_uuid), info.runId);
    const params = query(reference, 'SELECT "key", value FROM params WHERE run_uuid = ? ORDER BY rowid', r.run_uuid) as Array<{ key: string; value: string }>;
    const metrics = (query(reference, 'SELECT "key", value, timestamp, step, is_nan FROM metrics WHERE run_uuid = ? ORDER BY rowid', r.run_uuid) as Array<{ key: string; value: number; timestamp: number; step: number; is_nan: number }>)
      .map((m) => ({ key: m.key, value: m.is_nan ? NaN : m.value, timestamp: m.timestamp, step: m.step }));
    // One value per batch, as a training loop logs them.
    if (params.length) await store.logBatch(info.runId, { params });
    for (const m of metrics) await store.logBatch(info.runId, { metrics: [m] });
    await store.updateRun(info.runId, String(r.status) as 'FINISHED', Number(r.end_time));
  }
  return ids;
}

const TABLES = ['runs', 'params', 'tags', 'metrics', 'latest_metrics'];

/** Rows of the reference's tracking tables with ids and the artifact location mapped to ours, and every value's SQLite type. */
function normalised(file: string, ids: Map<string, string>, location: [string, string]): Record<string, Row[]> {
  const out: Record<string, Row[]> = {};
  const map = (v: unknown): unknown => {
    if (typeof v !== 'string') return v;
    let s = v;
    for (const [a, b] of ids) s = s.split(a).join(b);
    return s.split(location[0]).join(location[1]);
  };
  for (const t of TABLES) {
    const cols = (query(file, `SELECT name FROM pragma_table_info('${t}')`) as Array<{ name: string }>).map((c) => c.name);
    const typed = cols.map((c) => `"${c}", typeof("${c}") AS "${c}:type"`).join(', ');
    // The model's history tag is not the tracking store's job; lpclust.owner is lpclust's own
    // bookkeeping of the process writing a run (recovery after kill -9), which MLflow does not write.
    const exclude = t === 'tags' ? ` WHERE "key" NOT IN ('mlflow.log-model.history', 'lpclust.owner')` : '';
    out[t] = query(file, `SELECT ${typed} FROM ${t}${exclude}`)
      .map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, map(v)])))
      .sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
  }
  return out;
}

describe('the reference runs written by lpclust and by MLflow give the same rows', () => {
  for (const v of VERSIONS) {
    for (const into of ['a new database', "a copy of MLflow's empty database"] as const) {
      it(`${v.dir}: ${into}`, async () => {
        const dir = tempDir();
        const reference = path.join(SHARED, v.dir, 'reference', 'mlflow.db');
        if (into !== 'a new database') copyOf(path.join(SHARED, v.dir, 'empty-mlflow.db'), dir);
        const store = new SqliteStore('sqlite:///mlflow.db', { cwd: dir, schema: v.choice });
        const ids = await replay(reference, store);
        store.close();
        const file = path.join(dir, 'mlflow.db');
        expect(query(file, 'SELECT version_num FROM alembic_version')).toEqual([{ version_num: v.revision }]);
        const refExp = query(reference, "SELECT * FROM experiments WHERE name = 'reference'")[0];
        const exp = query(file, "SELECT * FROM experiments WHERE name = 'reference'")[0];
        // Same columns and value types; the location is MLflow's default for its client-side SQL store.
        expect(Object.keys(exp)).toEqual(Object.keys(refExp));
        for (const k of Object.keys(exp)) expect(typeof exp[k], k).toBe(typeof refExp[k]);
        expect(exp).toMatchObject({ lifecycle_stage: 'active', artifact_location: path.join(dir, 'mlruns', String(exp.experiment_id)) });
        if (v.choice === 'mlflow3') expect(exp.workspace).toBe('default');
        const ours = normalised(file, new Map(), ['', '']);
        const theirs = normalised(reference, ids, [String(refExp.artifact_location), String(exp.artifact_location)]);
        for (const t of TABLES) expect(ours[t], t).toEqual(theirs[t]);
        // The run's artifact location is its experiment's plus <run id>/artifacts, as MLflow's.
        for (const r of query(file, 'SELECT run_uuid, artifact_uri FROM runs')) expect(r.artifact_uri).toBe(`${exp.artifact_location}/${r.run_uuid}/artifacts`);
      });
    }
  }
});

describe('reading MLflow\'s own databases', () => {
  for (const v of VERSIONS) {
    it(`${v.dir}: experiments, runs with params, tags and latest metrics, metric history`, async () => {
      const dir = tempDir();
      const file = copyOf(path.join(SHARED, v.dir, 'reference', 'mlflow.db'), dir);
      const before = sha256(file);
      const store = new SqliteStore(`sqlite:///${file}`, { cwd: dir });
      const exp = (await store.getExperimentByName('reference'))!;
      const runs = await store.searchRuns({ experimentIds: [exp.experimentId] });
      expect(runs.map((r) => r.info.runName)).toEqual(['clustering', 'parent pipeline']);
      const [child, parent] = runs;
      expect(parent.data.params).toEqual({ model: 'kmeans', k: '12' });
      expect(child.data.tags['mlflow.parentRunId']).toBe(parent.info.runId);
      expect(child.data.metrics.Inertia).toBe(2.25);
      expect(child.info).toMatchObject({ status: 'FINISHED', userId: 'root', lifecycleStage: 'active' });
      expect((await store.getMetricHistory(child.info.runId, 'Inertia')).map((m) => [m.step, m.value])).toEqual([[0, 3], [1, 2.5], [2, 2.25]]);
      expect(await store.searchRuns({ experimentIds: [exp.experimentId], params: { k: '12' } })).toHaveLength(1);
      expect(await store.searchRuns({ experimentIds: [exp.experimentId], tags: { 'mlflow.parentRunId': parent.info.runId } })).toHaveLength(1);
      store.close();
      expect(sha256(file)).toBe(before); // reading writes nothing (not even the journal mode)
    });
  }
});

describe('writing', () => {
  it('keeps NaN and infinities as MLflow does, moves latest_metrics by (step, timestamp, value), stores a repeated value once', async () => {
    const dir = tempDir();
    const store = new SqliteStore('sqlite:///mlflow.db', { cwd: dir });
    const exp = await store.getOrCreateExperiment('e');
    const run = await store.createRun({ experimentId: exp.experimentId, runName: 'r', userId: 'u', startTime: 1, tags: [] });
    await store.logBatch(run.runId, {
      metrics: [
        { key: 'a', value: 5, timestamp: 10, step: 2 },
        { key: 'a', value: 1, timestamp: 20, step: 1 },
        { key: 'a', value: 5, timestamp: 10, step: 2 },
        { key: 'n', value: NaN, timestamp: 1, step: 0 },
        { key: 'i', value: Infinity, timestamp: 1, step: 0 },
        { key: 'j', value: -Infinity, timestamp: 1, step: 0 },
      ],
    });
    const file = path.join(dir, 'mlflow.db');
    expect(query(file, 'SELECT "key", value, timestamp, step, is_nan FROM metrics ORDER BY rowid')).toEqual([
      { key: 'a', value: 5, timestamp: 10, step: 2, is_nan: 0 },
      { key: 'a', value: 1, timestamp: 20, step: 1, is_nan: 0 },
      { key: 'n', value: 0, timestamp: 1, step: 0, is_nan: 1 },
      { key: 'i', value: 1.7976931348623157e308, timestamp: 1, step: 0, is_nan: 0 },
      { key: 'j', value: -1.7976931348623157e308, timestamp: 1, step: 0, is_nan: 0 },
    ]);
    expect(query(file, 'SELECT "key", value, step FROM latest_metrics WHERE "key" = \'a\'')).toEqual([{ key: 'a', value: 5, step: 2 }]);
    const got = await store.getRun(run.runId);
    expect(got.data.metrics.a).toBe(5);
    expect(got.data.metrics.n).toBeNaN();
    expect((await store.getMetricHistory(run.runId, 'n'))[0].value).toBeNaN();
  });

  it('rejects a changed param and writes nothing of that batch; renames the run with mlflow.runName', async () => {
    const dir = tempDir();
    const store = new SqliteStore('sqlite:///mlflow.db', { cwd: dir });
    const exp = await store.getOrCreateExperiment('e');
    const run = await store.createRun({ experimentId: exp.experimentId, runName: 'r', userId: 'u', startTime: 1, tags: [] });
    await store.logBatch(run.runId, { params: [{ key: 'k', value: '3' }] });
    await expect(store.logBatch(run.runId, { params: [{ key: 'k', value: '4' }], tags: [{ key: 't', value: 'x' }], metrics: [{ key: 'm', value: 1, timestamp: 1, step: 0 }] }))
      .rejects.toMatchObject({ code: 'E_PARAM_CHANGED' });
    const got = await store.getRun(run.runId);
    expect(got.data).toEqual({ params: { k: '3' }, metrics: {}, tags: { 'mlflow.runName': 'r', 'lpclust.owner': expect.stringMatching(new RegExp(`^${process.pid}@`)) } });
    await store.logBatch(run.runId, { params: [{ key: 'k', value: '3' }], tags: [{ key: 'mlflow.runName', value: 'renamed' }] });
    expect((await store.getRun(run.runId)).info.runName).toBe('renamed');
    await expect(store.getRun('0123456789abcdef0123456789abcdef')).rejects.toMatchObject({ code: 'E_RUN_NOT_FOUND' });
  });

  it('copies artifacts under the run\'s artifact_uri, lists and downloads them', async () => {
    const dir = tempDir();
    const store = new SqliteStore('sqlite:///mlflow.db', { cwd: dir });
    const exp = await store.getOrCreateExperiment('e');
    const run = await store.createRun({ experimentId: exp.experimentId, runName: 'r', userId: 'u', startTime: 1, tags: [] });
    const src = path.join(dir, 'note.txt');
    fs.writeFileSync(src, 'hello');
    await store.logArtifact(run.runId, src, 'plots');
    expect(fs.readFileSync(path.join(run.artifactUri, 'plots', 'note.txt'), 'utf8')).toBe('hello');
    expect(await store.listArtifacts(run.runId)).toEqual([{ path: 'plots', isDir: true }]);
    expect(await store.listArtifacts(run.runId, 'plots')).toEqual([{ path: 'plots/note.txt', isDir: false, size: 5 }]);
    const out = await store.downloadArtifacts(run.runId, 'plots', path.join(dir, 'dl'));
    expect(fs.readFileSync(path.join(out, 'note.txt'), 'utf8')).toBe('hello');
    // Only the artifact is in the run's folder: no temporary file left beside it.
    expect(fs.readdirSync(path.dirname(run.artifactUri))).toEqual(['artifacts']);
  });
});

describe('databases lpclust refuses, unchanged', () => {
  async function refused(file: string, dir: string, code: string, pattern: RegExp): Promise<void> {
    const before = sha256(file);
    const store = new SqliteStore(`sqlite:///${file}`, { cwd: dir });
    const err = await store.getOrCreateExperiment('e').then(() => null, (e: unknown) => e as { code: string; message: string; hint?: string });
    expect(err, 'expected a refusal').not.toBeNull();
    expect(err!.code).toBe(code);
    expect(`${err!.message} ${err!.hint ?? ''}`).toMatch(pattern);
    store.close();
    expect(sha256(file)).toBe(before);
    expect(fs.readdirSync(dir).filter((f) => f.includes('-wal') || f.includes('-journal') || f === 'mlruns')).toEqual([]);
  }

  it('a database at another revision: names the revision found and what to do', async () => {
    const dir = tempDir();
    const file = copyOf(path.join(SHARED, '2.12.2', 'empty-mlflow.db'), dir);
    const db = new Database(file);
    db.prepare('UPDATE alembic_version SET version_num = ?').run('0584bdc529eb');
    db.close();
    await refused(file, dir, 'E_TRACKING_DB_REVISION', /revision 0584bdc529eb.*acf3f17fdcc7.*7d34483879f0.*mlflow db upgrade/s);
  });

  it('a SQLite database of another program', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'other.db');
    const db = new Database(file);
    db.exec('CREATE TABLE historian (timestamp TEXT, tagname TEXT, energy REAL)');
    db.close();
    await refused(file, dir, 'E_TRACKING_DB', /not MLflow's tracking database.*tables found: historian/);
  });

  it('a file that is not a database', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'notes.db');
    fs.writeFileSync(file, 'these are notes, not a database\n'.repeat(200));
    await refused(file, dir, 'E_TRACKING_DB', /is not a SQLite database/);
  });
});
