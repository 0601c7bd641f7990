/**
 * Dataset inputs against what MLflow itself writes (test/fixtures/mlflow/): the reference run's
 * dataset (`harmonized`, context `training`) logged through each store gives MLflow's FileStore
 * files byte for byte, MLflow's rows in both SQLite revisions, and MLflow's `runs/log-inputs`
 * request to a server that validates as MLflow's does; `sync` carries inputs from a spool.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDatasetInputs, fileStoreDatasetId, fileStoreInputId, parseMetaYaml, profilesDatasetInput } from '../../src/tracking/datasets.js';
import { FileStore } from '../../src/tracking/file-store.js';
import { SqliteStore, type SqliteSchemaChoice } from '../../src/tracking/sqlite-store.js';
import type { DatasetInput, TrackingStore } from '../../src/tracking/store.js';
import { syncRuns } from '../../src/tracking/sync.js';
import { withRun } from '../../src/tracking/run.js';
import { logRawSourceInput } from '../../src/pipeline/datasets.js';
import { pathDigest } from '../../src/pipeline/reuse.js';
import { collectRunDetail, formatRunDetail } from '../../src/tracking/runs-view.js';
import type { ContractServer } from '../support/contract-server.js';
import { restStore, runRequest, startServer } from '../tracking-rest/helpers.js';
import { REPO, tempDir } from './helpers.js';

const FIXTURES = path.join(REPO, 'test', 'fixtures', 'mlflow');

interface Reference {
  version: string;
  choice: SqliteSchemaChoice;
  /** `mlruns/<exp>/datasets/<id>/meta.yaml` and `<run>/inputs/<id>/meta.yaml`, relative to FIXTURES/<version>/reference. */
  datasetFile: string;
  inputFile: string;
  runId: string;
}

const REFERENCES: Reference[] = [
  {
    version: '2.12.2',
    choice: 'mlflow2',
    datasetFile: 'mlruns/371990019711117684/datasets/f6b7f53e330ebebe0b2cd01804a78b3f/meta.yaml',
    inputFile: 'mlruns/371990019711117684/9b36ba455bec41058e74b78eba048e33/inputs/fc09e6cd03d3325562709f7ce94b0955/meta.yaml',
    runId: '9b36ba455bec41058e74b78eba048e33',
  },
  {
    version: '3.11.2.dev0',
    choice: 'mlflow3',
    datasetFile: 'mlruns/373579331491049732/datasets/6bef24976c2b711f433f8a3053e0934a/meta.yaml',
    inputFile: 'mlruns/373579331491049732/7247ec7e39034e819c2a6bf0125aee59/inputs/2b0ffa05c478f2dad83c696be0a36af0/meta.yaml',
    runId: '7247ec7e39034e819c2a6bf0125aee59',
  },
];

/** The reference run's dataset input, read from MLflow's own FileStore files. */
function referenceInput(ref: Reference): DatasetInput {
  const d = parseMetaYaml(fs.readFileSync(path.join(FIXTURES, ref.version, 'reference', ref.datasetFile), 'utf8'));
  const link = parseMetaYaml(fs.readFileSync(path.join(FIXTURES, ref.version, 'reference', ref.inputFile), 'utf8'));
  return {
    dataset: { name: String(d.name), digest: String(d.digest), sourceType: String(d.source_type), source: String(d.source), schema: String(d.schema), profile: String(d.profile) },
    tags: Object.entries(link.tags as Record<string, string>).map(([key, value]) => ({ key, value })),
  };
}

async function newRun(store: TrackingStore, name = 'clustering'): Promise<string> {
  const exp = await store.getOrCreateExperiment('reference');
  return (await store.createRun(runRequest(exp.experimentId, name))).runId;
}

describe.each(REFERENCES)('FileStore dataset inputs as MLflow $version writes them', (ref) => {
  it('writes the dataset and input meta.yaml byte for byte, under MLflow\'s folder ids', async () => {
    const dir = tempDir();
    const store = new FileStore(path.join(dir, 'mlruns'));
    const runId = await newRun(store);
    const input = referenceInput(ref);
    await store.logInputs(runId, [input]);
    await store.logInputs(runId, [input]); // a second time changes nothing
    const exp = (await store.getExperimentByName('reference'))!;
    const datasetId = path.basename(path.dirname(ref.datasetFile));
    expect(fileStoreDatasetId(input.dataset.name, input.dataset.digest)).toBe(datasetId);
    // MLflow's own input folder id of its own run, from the same formula.
    expect(fileStoreInputId(datasetId, ref.runId)).toBe(path.basename(path.dirname(ref.inputFile)));
    const expDir = path.join(dir, 'mlruns', exp.experimentId);
    expect(fs.readdirSync(path.join(expDir, 'datasets'))).toEqual([datasetId]);
    expect(fs.readFileSync(path.join(expDir, 'datasets', datasetId, 'meta.yaml'), 'utf8')).toBe(fs.readFileSync(path.join(FIXTURES, ref.version, 'reference', ref.datasetFile), 'utf8'));
    const inputs = fs.readdirSync(path.join(expDir, runId, 'inputs'));
    expect(inputs).toEqual([fileStoreInputId(datasetId, runId)]);
    expect(fs.readFileSync(path.join(expDir, runId, 'inputs', inputs[0], 'meta.yaml'), 'utf8')).toBe(fs.readFileSync(path.join(FIXTURES, ref.version, 'reference', ref.inputFile), 'utf8'));
    expect(await store.getRunInputs(runId)).toEqual([input]);
  });
});

describe.each(REFERENCES)('SQLite dataset inputs at the revision of MLflow $version', (ref) => {
  type Row = Record<string, unknown>;
  const rows = (file: string, sql: string): Row[] => {
    const db = new Database(file, { readonly: true });
    try {
      return db.prepare(sql).all() as Row[];
    } finally {
      db.close();
    }
  };
  /** Each column's value with its SQLite storage class; ids replaced by their shape. */
  const shape = (r: Row, ids: string[]): Row =>
    Object.fromEntries(Object.entries(r).map(([k, v]) => [k, ids.includes(k) ? `${typeof v}:${String(v).length}` : v]));

  it('writes the datasets, inputs and input_tags rows MLflow writes (columns, types, values)', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'mlflow.db');
    const store = new SqliteStore(`sqlite:///${file}`, { schema: ref.choice });
    try {
      const runId = await newRun(store);
      const input = referenceInput(ref);
      await store.logInputs(runId, [input]);
      await store.logInputs(runId, [input]);
      expect(await store.getRunInputs(runId)).toEqual([input]);
      // Types and values next to MLflow's own rows of the same dataset input.
      const refDb = path.join(FIXTURES, ref.version, 'reference', 'mlflow.db');
      const q = {
        datasets: 'SELECT *, typeof(experiment_id) AS t_exp, typeof(dataset_schema) AS t_schema FROM datasets',
        inputs: "SELECT *, typeof(destination_id) AS t_dest FROM inputs WHERE source_type = 'DATASET'",
        input_tags: 'SELECT * FROM input_tags',
      };
      const refDatasets = rows(refDb, q.datasets);
      const mine = rows(file, q.datasets);
      expect(mine).toHaveLength(1);
      expect(shape({ ...mine[0], experiment_id: 'x' }, ['dataset_uuid'])).toEqual(shape({ ...refDatasets[0], experiment_id: 'x' }, ['dataset_uuid']));
      const refInputs = rows(refDb, q.inputs);
      const myInputs = rows(file, q.inputs);
      expect(myInputs).toHaveLength(1);
      expect(myInputs[0].source_id).toBe(mine[0].dataset_uuid);
      expect(myInputs[0].destination_id).toBe(runId);
      expect(shape(myInputs[0], ['input_uuid', 'source_id', 'destination_id'])).toEqual(shape(refInputs[0], ['input_uuid', 'source_id', 'destination_id']));
      const tags = rows(file, q.input_tags);
      expect(tags.map((t) => ({ ...t, input_uuid: t.input_uuid === myInputs[0].input_uuid }))).toEqual(rows(refDb, q.input_tags).map((t) => ({ ...t, input_uuid: true })));
      // A second run reading the same data links the one dataset row.
      const other = await newRun(store, 'validation');
      await store.logInputs(other, [input]);
      expect(rows(file, 'SELECT count(*) AS n FROM datasets')[0].n).toBe(1);
      expect(rows(file, "SELECT count(*) AS n FROM inputs WHERE source_type = 'DATASET'")[0].n).toBe(2);
    } finally {
      store.close();
    }
  });

  it('writes nothing for an input MLflow would refuse', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'mlflow.db');
    const store = new SqliteStore(`sqlite:///${file}`, { schema: ref.choice });
    try {
      const runId = await newRun(store);
      const good = referenceInput(ref);
      const bad: DatasetInput = { dataset: { ...good.dataset, name: 'other', digest: 'x'.repeat(37) }, tags: [] };
      await expect(store.logInputs(runId, [good, bad])).rejects.toThrow(/dataset "other": the field digest has 37 characters; MLflow accepts at most 36/);
      expect(rows(file, 'SELECT count(*) AS n FROM datasets')[0].n).toBe(0);
    } finally {
      store.close();
    }
  });
});

describe('REST runs/log-inputs', () => {
  let server: ContractServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('sends MLflow\'s request and reads the inputs back from runs/get', async () => {
    const store = restStore(server);
    const runId = await newRun(store);
    const input = referenceInput(REFERENCES[0]);
    await store.logInputs(runId, [input]);
    const req = server.requests.filter((r) => r.path.endsWith('/runs/log-inputs')).at(-1)!;
    expect(req.method).toBe('POST');
    expect(req.json).toEqual({
      run_id: runId,
      datasets: [{ tags: [{ key: 'mlflow.data.context', value: 'training' }], dataset: { name: 'harmonized', digest: '0fb19328', source_type: 'local', source: input.dataset.source, schema: input.dataset.schema, profile: input.dataset.profile } }],
    });
    expect(await store.getRunInputs(runId)).toEqual([input]);
  });

  it('the server refuses what MLflow refuses, and the store checks it before sending', async () => {
    const store = restStore(server);
    const runId = await newRun(store);
    const post = async (body: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
      const res = await fetch(`${server.url}/api/2.0/mlflow/runs/log-inputs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    };
    const dataset = { name: 'd', digest: 'abcd1234', source_type: 'local', source: '{"uri": "x.csv"}' };
    expect((await post({ run_id: runId, datasets: [{ dataset: { ...dataset, digest: undefined } }] })).json.error_code).toBe('INVALID_PARAMETER_VALUE');
    expect((await post({ run_id: runId, datasets: [{ dataset: { ...dataset, name: 'n'.repeat(501) } }] })).status).toBe(400);
    expect((await post({ run_id: runId, datasets: [{ dataset: { ...dataset, profile: 'p'.repeat(16385) } }] })).status).toBe(400);
    expect((await post({ run_id: runId, datasets: [{ dataset, tags: [{ key: 'mlflow.data.context', value: 'v'.repeat(501) }] }] })).status).toBe(400);
    expect((await post({ run_id: 'nope', datasets: [{ dataset }] })).status).toBe(404);
    expect(server.runs.get(runId)!.datasetInputs ?? []).toEqual([]);
    const before = server.count('/runs/log-inputs');
    await expect(store.logInputs(runId, [{ dataset: { name: 'd', digest: 'abcd1234', sourceType: 'local', source: '' }, tags: [] }])).rejects.toThrow(/the field source is required/);
    expect(server.count('/runs/log-inputs')).toBe(before);
  });

  it('sync carries the inputs of spooled runs to the server, once', async () => {
    const dir = tempDir();
    const local = new FileStore(path.join(dir, 'mlruns'));
    const runId = await newRun(local);
    const input = profilesDatasetInput({ name: 'harmonized', source: '/data/harmonized.csv', sha256: 'ab'.repeat(32), slots: ['00:00', '01:00'], rows: 4, meters: 2, days: 2, context: 'training' });
    await local.logInputs(runId, [input]);
    await local.updateRun(runId, 'FINISHED', Date.now());
    const remote = restStore(server);
    await syncRuns(local, remote, { experiment: 'reference' });
    const synced = [...server.runs.values()].find((r) => r.tags.get('lpclust.syncSourceRunId') === runId)!;
    expect(synced.datasetInputs).toHaveLength(1);
    // The FileStore keeps input tags as a YAML mapping (sorted keys), so the order may differ.
    const byKey = (i: DatasetInput): DatasetInput => ({ ...i, tags: [...i.tags].sort((a, b) => a.key.localeCompare(b.key)) });
    expect((await remote.getRunInputs(synced.info.run_id)).map(byKey)).toEqual([byKey(input)]);
    const calls = server.count('/runs/log-inputs');
    await syncRuns(local, remote, { experiment: 'reference' });
    expect(server.count('/runs/log-inputs')).toBe(calls);
    expect(synced.datasetInputs).toHaveLength(1);
  });
});

describe('profilesDatasetInput', () => {
  it('forms MLflow\'s fields: 8-character digest, {"uri"} source, colspec schema, profile; masks passwords', () => {
    const i = profilesDatasetInput({ name: 'h', source: 'postgresql://u:secret@db/x', sourceType: 'postgresql', sha256: '0123456789abcdef'.repeat(4), slots: ['00:00'], rows: 3, meters: 1, days: 3, context: 'validation' });
    expect(i.dataset).toEqual({
      name: 'h',
      digest: '01234567',
      sourceType: 'postgresql',
      source: '{"uri": "postgresql://u:***@db/x"}',
      schema: '{"mlflow_colspec": [{"type": "double", "name": "00:00", "required": true}]}',
      profile: '{"num_rows": 3, "num_elements": 3, "meters": 1, "days": 3}',
    });
    expect(i.tags).toEqual([
      { key: 'mlflow.data.context', value: 'validation' },
      { key: 'lpclust.data.sha256', value: '0123456789abcdef'.repeat(4) },
    ]);
    expect(() => checkDatasetInputs([i])).not.toThrow();
  });
});

describe('the raw source of an ETL', () => {
  it('a folder or a database file (read by table) is a local source with its content digest; a server URI has its password masked', async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'export'));
    fs.writeFileSync(path.join(dir, 'export', 'a.csv'), 'x\n1\n');
    fs.writeFileSync(path.join(dir, 'hist.db'), 'not really sqlite');
    const store = new FileStore(path.join(dir, 'mlruns'));
    let runId = '';
    await withRun({ store, experimentName: 'etl', runName: 'etl', commandLine: 'lpclust etl' }, async (run) => {
      runId = run.runId;
      await logRawSourceInput(run, 'oldmongo', path.join(dir, 'export'), 10, 1);
      await logRawSourceInput(run, 'sql', `${path.join(dir, 'hist.db')} (table readings)`, 20, 2);
      await logRawSourceInput(run, 'newmongo', 'mongodb://reader:s3cret-pw@db:27017/meters', 30, 3);
    });
    const inputs = new Map((await store.getRunInputs(runId)).map((i) => [i.dataset.name, i.dataset]));
    const folder = await pathDigest(path.join(dir, 'export'));
    expect(inputs.get('oldmongo')).toEqual({ name: 'oldmongo', digest: folder.slice(0, 8), sourceType: 'local', source: `{"uri": "${path.join(dir, 'export')}"}`, profile: '{"num_rows": 10, "meters": 1}' });
    expect(inputs.get('sql')).toMatchObject({ digest: (await pathDigest(path.join(dir, 'hist.db'))).slice(0, 8), sourceType: 'local', source: `{"uri": "${path.join(dir, 'hist.db')}"}` });
    expect(inputs.get('newmongo')).toMatchObject({ sourceType: 'mongodb', source: '{"uri": "mongodb://reader:***@db:27017/meters"}', profile: '{"num_rows": 30, "meters": 3}' });
    expect(JSON.stringify([...inputs.values()])).not.toContain('s3cret');
    // `lpclust runs show` lists them.
    const shown = formatRunDetail(await collectRunDetail(store, runId));
    expect(shown).toContain('Datasets (3)');
    expect(shown).toMatch(new RegExp(`oldmongo +${folder.slice(0, 8)}  source +${path.join(dir, 'export').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\n`));
    expect(shown).toContain('mongodb://reader:***@db:27017/meters');
  });
});
