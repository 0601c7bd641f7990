/**
 * The model registry of each local store against what MLflow itself writes
 * (test/fixtures/mlflow/): the FileStore's `mlruns/models/` files and the SQL registry rows have
 * the reference's layout, keys, columns and value types; lpclust reads MLflow's own registry
 * (the `uc7-clusters@production` of the references); and bad names, versions and aliases are
 * refused with what exists, nothing written.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import YAML from 'yaml';
import { describe, expect, it } from 'vitest';
import { FileStore } from '../../src/tracking/file-store.js';
import { registryOf, type ModelRegistry } from '../../src/tracking/registry.js';
import { SqliteStore, type SqliteSchemaChoice } from '../../src/tracking/sqlite-store.js';
import type { TrackingStore } from '../../src/tracking/store.js';
import { readTree, REPO, tempDir } from './helpers.js';

const FIXTURES = path.join(REPO, 'test', 'fixtures', 'mlflow');
const SQLITE: Array<{ dir: string; choice: SqliteSchemaChoice }> = [
  { dir: '2.12.2', choice: 'mlflow2' },
  { dir: '3.11.2.dev0', choice: 'mlflow3' },
];

type Row = Record<string, unknown>;

function query(file: string, sql: string): Row[] {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all() as Row[];
  } finally {
    db.close();
  }
}

/** Column → SQLite storage class of each row (`typeof()`), the shape a reader depends on. */
function types(file: string, table: string): Array<Record<string, string>> {
  const cols = (query(file, `PRAGMA table_info(${table})`) as Array<{ name: string }>).map((c) => c.name);
  const sql = `SELECT ${cols.map((c) => `typeof("${c}") AS "${c}"`).join(', ')} FROM ${table}`;
  return query(file, sql) as Array<Record<string, string>>;
}

/** A run with a `model/` artifact, as a clustering run leaves it. */
async function runWithModel(store: TrackingStore, dir: string): Promise<{ runId: string; source: string }> {
  const exp = await store.getOrCreateExperiment('registry');
  const run = await store.createRun({ experimentId: exp.experimentId, runName: 'clustering', userId: 'tester', startTime: Date.now(), tags: [] });
  const model = path.join(dir, 'model-src');
  fs.mkdirSync(model, { recursive: true });
  fs.writeFileSync(path.join(model, 'MLmodel'), 'flavors: {}\n');
  await store.logArtifact(run.runId, model, 'model');
  await store.updateRun(run.runId, 'FINISHED', Date.now());
  return { runId: run.runId, source: `${run.artifactUri}/model` };
}

interface StoreCase {
  label: string;
  open(dir: string): TrackingStore;
}

const STORES: StoreCase[] = [
  { label: 'FileStore', open: (dir) => new FileStore(path.join(dir, 'mlruns')) },
  ...SQLITE.map((v) => ({ label: `SQLite ${v.choice}`, open: (dir: string) => new SqliteStore('sqlite:///mlflow.db', { cwd: dir, schema: v.choice }) })),
];

function close(store: TrackingStore): void {
  if (store instanceof SqliteStore) store.close();
}

/** Everything a store keeps on disk, to prove a refused call wrote nothing. */
function snapshot(dir: string): string {
  const tree = readTree(dir);
  return JSON.stringify(Object.keys(tree).sort().map((k) => [k, k.endsWith('mlflow.db') || k.includes('-wal') || k.includes('-shm') ? '' : tree[k]]));
}

function dbRows(file: string): string {
  if (!fs.existsSync(file)) return '';
  return JSON.stringify(['registered_models', 'model_versions', 'registered_model_aliases'].map((t) => query(file, `SELECT * FROM ${t}`)));
}

describe.each(STORES)('the registry of the $label', (sc) => {
  it('registers versions, moves aliases and reads them back', async () => {
    const dir = tempDir();
    const store = sc.open(dir);
    try {
      const { runId, source } = await runWithModel(store, dir);
      const reg: ModelRegistry = registryOf(store);
      const model = await reg.getOrCreateRegisteredModel('uc7-clusters');
      expect(model).toMatchObject({ name: 'uc7-clusters', description: null, aliases: {} });
      expect(await reg.getOrCreateRegisteredModel('uc7-clusters')).toMatchObject({ creationTimestamp: model.creationTimestamp });
      // Two at once: the numbers are allocated under the store's lock / in one transaction each.
      const [a, b] = await Promise.all([reg.createModelVersion({ name: 'uc7-clusters', source, runId }), reg.createModelVersion({ name: 'uc7-clusters', source, runId })]);
      expect([a.version, b.version].sort()).toEqual([1, 2]);
      expect(a).toMatchObject({ source, runId, status: 'READY', storageLocation: source, modelId: null });
      await reg.setAlias('uc7-clusters', 'production', 1);
      expect((await reg.getModelVersionByAlias('uc7-clusters', 'production')).version).toBe(1);
      await reg.setAlias('uc7-clusters', 'production', 2);
      await reg.setAlias('uc7-clusters', 'staging', 1);
      expect((await reg.getModelVersionByAlias('uc7-clusters', 'production')).version).toBe(2);
      expect((await reg.getModelVersion('uc7-clusters', 2)).aliases).toEqual(['production']);
      const [m] = await reg.listRegisteredModels();
      expect(m).toMatchObject({ name: 'uc7-clusters', aliases: { production: 2, staging: 1 }, latestVersion: 2 });
      expect((await reg.listModelVersions('uc7-clusters')).map((v) => [v.version, v.aliases])).toEqual([[1, ['staging']], [2, ['production']]]);
      await reg.deleteAlias('uc7-clusters', 'staging');
      await reg.deleteAlias('uc7-clusters', 'never-set'); // as MLflow: not an error
      expect((await reg.getRegisteredModel('uc7-clusters')).aliases).toEqual({ production: 2 });
      await reg.getOrCreateRegisteredModel('other');
      await reg.deleteRegisteredModel('other');
      expect((await reg.listRegisteredModels()).map((x) => x.name)).toEqual(['uc7-clusters']);
    } finally {
      close(store);
    }
  });

  it('refuses a missing name, version or alias with what exists, and writes nothing', async () => {
    const dir = tempDir();
    const store = sc.open(dir);
    try {
      const { runId, source } = await runWithModel(store, dir);
      const reg = registryOf(store);
      await reg.getOrCreateRegisteredModel('uc7-clusters');
      await reg.createModelVersion({ name: 'uc7-clusters', source, runId });
      await reg.setAlias('uc7-clusters', 'production', 1);
      close(store);
      const before = snapshot(dir);
      const beforeRows = dbRows(path.join(dir, 'mlflow.db'));
      await expect(reg.getModelVersionByAlias('uc7', 'production')).rejects.toMatchObject({ code: 'E_REGISTERED_MODEL_NOT_FOUND', message: expect.stringContaining('registered models: uc7-clusters') });
      await expect(reg.getModelVersion('uc7-clusters', 3)).rejects.toMatchObject({ code: 'E_MODEL_VERSION_NOT_FOUND', message: expect.stringContaining('its versions: 1') });
      await expect(reg.getModelVersionByAlias('uc7-clusters', 'prod')).rejects.toMatchObject({ code: 'E_MODEL_ALIAS_NOT_FOUND', message: expect.stringContaining('its aliases: production → 1') });
      await expect(reg.setAlias('uc7-clusters', 'staging', 7)).rejects.toMatchObject({ code: 'E_MODEL_VERSION_NOT_FOUND' });
      await expect(reg.setAlias('nope', 'staging', 1)).rejects.toMatchObject({ code: 'E_REGISTERED_MODEL_NOT_FOUND' });
      await expect(reg.createModelVersion({ name: 'nope', source, runId })).rejects.toMatchObject({ code: 'E_REGISTERED_MODEL_NOT_FOUND' });
      for (const alias of ['latest', 'Latest', 'v2', 'has space', '']) {
        await expect(reg.setAlias('uc7-clusters', alias, 1)).rejects.toMatchObject({ code: 'E_REGISTRY_ALIAS' });
      }
      for (const name of ['', 'a/b', 'a@b', 'x'.repeat(257)]) {
        await expect(reg.getOrCreateRegisteredModel(name)).rejects.toMatchObject({ code: 'E_REGISTRY_NAME' });
      }
      close(store);
      expect(snapshot(dir)).toBe(before);
      expect(dbRows(path.join(dir, 'mlflow.db'))).toBe(beforeRows);
    } finally {
      close(store);
    }
  });
});

describe('a registry nothing was registered in', () => {
  it.each(STORES)('$label: says there are no registered models, and creates no store', async (sc) => {
    const dir = tempDir();
    const store = sc.open(dir);
    await expect(registryOf(store).getModelVersionByAlias('uc7-clusters', 'production')).rejects.toMatchObject({
      code: 'E_REGISTERED_MODEL_NOT_FOUND',
      message: expect.stringContaining('registered models: none'),
    });
    expect(await registryOf(store).listRegisteredModels()).toEqual([]);
    close(store);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe('the FileStore registry against MLflow 2.12.2 (mlruns/models/)', () => {
  const REF = path.join(FIXTURES, '2.12.2', 'reference', 'mlruns', 'models', 'uc7-clusters');

  function yamlOf(file: string): Record<string, unknown> {
    return YAML.parse(fs.readFileSync(file, 'utf8'), { version: '1.1' }) as Record<string, unknown>;
  }

  /** key → type of each value (null stays null): the shape MLflow's reader expects. */
  function shape(m: Record<string, unknown>): Record<string, string> {
    return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v]));
  }

  it('writes the same files, keys, value types and key order as MLflow', async () => {
    const dir = tempDir();
    const store = new FileStore(path.join(dir, 'mlruns'));
    const { runId, source } = await runWithModel(store, dir);
    const reg = registryOf(store);
    await reg.getOrCreateRegisteredModel('uc7-clusters');
    await reg.createModelVersion({ name: 'uc7-clusters', source, runId });
    await reg.setAlias('uc7-clusters', 'production', 1);
    const ours = path.join(dir, 'mlruns', 'models', 'uc7-clusters');
    expect(Object.keys(readTree(ours)).sort()).toEqual(Object.keys(readTree(REF)).sort());
    for (const f of ['meta.yaml', 'version-1/meta.yaml']) {
      const mine = fs.readFileSync(path.join(ours, f), 'utf8');
      const theirs = fs.readFileSync(path.join(REF, f), 'utf8');
      expect(shape(yamlOf(path.join(ours, f)))).toEqual(shape(yamlOf(path.join(REF, f))));
      // Same lines apart from values that differ by nature (times, ids, paths).
      const keysOf = (t: string): string[] => t.split('\n').map((l) => l.split(':')[0]);
      expect(keysOf(mine)).toEqual(keysOf(theirs));
    }
    expect(fs.readFileSync(path.join(ours, 'meta.yaml'), 'utf8')).toContain("aliases:\n  production: '1'\n");
    expect(fs.readFileSync(path.join(ours, 'aliases', 'production'), 'utf8')).toBe(fs.readFileSync(path.join(REF, 'aliases', 'production'), 'utf8'));
    const v = yamlOf(path.join(ours, 'version-1', 'meta.yaml'));
    expect(v).toMatchObject({ current_stage: 'None', status: 'READY', run_id: runId, source, storage_location: source, version: 1 });
    expect(source).toMatch(/^file:\/\/\/.*\/artifacts\/model$/);
  });

  it('reads the registry MLflow wrote', async () => {
    const dir = tempDir();
    fs.cpSync(path.join(FIXTURES, '2.12.2', 'reference', 'mlruns', 'models'), path.join(dir, 'mlruns', 'models'), { recursive: true });
    const reg = registryOf(new FileStore(path.join(dir, 'mlruns')));
    const v = await reg.getModelVersionByAlias('uc7-clusters', 'production');
    expect(v).toMatchObject({
      name: 'uc7-clusters',
      version: 1,
      runId: '9b36ba455bec41058e74b78eba048e33',
      source: 'file:///srv/reference/mlruns/371990019711117684/9b36ba455bec41058e74b78eba048e33/artifacts/model',
      aliases: ['production'],
    });
    expect((await reg.listRegisteredModels())[0]).toMatchObject({ name: 'uc7-clusters', latestVersion: 1, aliases: { production: 1 } });
  });
});

describe.each(SQLITE)('the SQLite registry against MLflow $dir', (v) => {
  const REF_DB = path.join(FIXTURES, v.dir, 'reference', 'mlflow.db');

  it('writes rows with the reference columns and value types', async () => {
    const dir = tempDir();
    const store = new SqliteStore('sqlite:///mlflow.db', { cwd: dir, schema: v.choice });
    const { runId, source } = await runWithModel(store, dir);
    const reg = registryOf(store);
    await reg.getOrCreateRegisteredModel('uc7-clusters');
    await reg.createModelVersion({ name: 'uc7-clusters', source, runId });
    await reg.setAlias('uc7-clusters', 'production', 1);
    store.close();
    const file = path.join(dir, 'mlflow.db');
    for (const table of ['registered_models', 'model_versions', 'registered_model_aliases']) {
      expect(types(file, table), table).toEqual(types(REF_DB, table));
    }
    const [row] = query(file, 'SELECT * FROM model_versions');
    const [ref] = query(REF_DB, 'SELECT * FROM model_versions');
    expect(row).toMatchObject({ current_stage: ref.current_stage, status: ref.status, run_id: runId, source, storage_location: source, version: 1 });
    // MLflow's SQL store records plain paths, as the run's artifact_uri is.
    expect(source.startsWith('/')).toBe(true);
    expect(query(file, 'SELECT alias, version, name FROM registered_model_aliases')).toEqual(query(REF_DB, 'SELECT alias, version, name FROM registered_model_aliases'));
  });

  it('reads the registry MLflow wrote', async () => {
    const dir = tempDir();
    fs.copyFileSync(REF_DB, path.join(dir, 'mlflow.db'));
    fs.chmodSync(path.join(dir, 'mlflow.db'), 0o644);
    const store = new SqliteStore('sqlite:///mlflow.db', { cwd: dir });
    const ref = query(REF_DB, 'SELECT run_id, source FROM model_versions')[0];
    const got = await registryOf(store).getModelVersionByAlias('uc7-clusters', 'production');
    expect(got).toMatchObject({ version: 1, runId: ref.run_id, source: ref.source, aliases: ['production'] });
    if (v.choice === 'mlflow3') expect(got.modelId).toMatch(/^m-[0-9a-f]{32}$/);
    store.close();
  });
});
