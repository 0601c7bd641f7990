/**
 * MLflow 3 logged models over REST, against the contract server in its 3.x mode (which answers
 * `GET /version` with 3.11.2.dev0 and serves the logged-model endpoints with MLflow's validation):
 * a pipeline's clustering model becomes a logged model — created, its files uploaded under
 * `<exp>/models/<model_id>/artifacts/`, finalized READY, params and user/source tags of its run,
 * the run's output link, later metrics linked — with `model_id` in its MLmodel, as the 3.11
 * reference (`../shared/mlflow/3.11.2.dev0/`) has them; `--register-model` registers
 * `models:/<model_id>`; `predict models:/<model_id>` and `models:/NAME@ALIAS` give the bytes of
 * `predict runs:/…`. A 2.x server, and one whose version cannot be read, keep the MLflow 2 way
 * (the `mlflow.log-model.history` tag only, no logged-model request, no model_id).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContractServer } from '../support/contract-server.js';
import { runCli, startServer } from './helpers.js';

const REFERENCE = path.resolve(__dirname, '../fixtures/mlflow/3.11.2.dev0/reference');

let v3: ContractServer;
let v2: ContractServer;
let hidden: ContractServer;

beforeAll(async () => {
  v3 = await startServer({ mlflowVersion: 3 });
  v2 = await startServer();
  hidden = await startServer({ mlflowVersion: 3, versionText: null });
});

afterAll(async () => {
  await v3?.stop();
  await v2?.stop();
  await hidden?.stop();
});

async function call(server: ContractServer, method: string, endpoint: string, body?: unknown, query?: Record<string, string>): Promise<{ status: number; json: Record<string, unknown> }> {
  const url = new URL(`${server.url}/api/2.0/mlflow/${endpoint}`);
  for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, v);
  const res = await fetch(url, { method, ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } } : {}) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

function cliIn(server: ContractServer, cwd: string) {
  return async (args: string[]): Promise<Record<string, unknown>> => {
    const r = await runCli(cwd, ['--tracking-uri', server.url, '--json', ...args]);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  };
}

/** The reference's one logged model in its FileStore: `mlruns/<exp>/models/<model_id>/`. */
function referenceModelDir(): string {
  const root = path.join(REFERENCE, 'mlruns');
  const exp = fs.readdirSync(root).find((d) => /^\d{5,}$/.test(d) && fs.existsSync(path.join(root, d, 'models')))!;
  const models = path.join(root, exp, 'models');
  return path.join(models, fs.readdirSync(models)[0]);
}

/** The run's `model/` artifacts on the contract server, by path below `model/`. */
function runModelFiles(server: ContractServer, runId: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [p, b] of server.runs.get(runId)!.artifacts) if (p.startsWith('model/')) out.set(p.slice('model/'.length), b);
  return out;
}

describe('a pipeline on an MLflow 3 tracking server', () => {
  it('logs the clustering model as a logged model, as MLflow 3.11 does, and registers models:/<model_id>', async () => {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'lpclust-lm-'));
    const cli = cliIn(v3, cwd);
    const p = await cli(['pipeline', '-k', '4', '--no-plots', '--register-model', 'served']);
    const reg = p.registered as { version: number; runId: string; source: string };
    const run = v3.runs.get(reg.runId)!;
    const models = [...v3.loggedModels.models.values()];
    expect(models).toHaveLength(1);
    const lm = models[0];
    const id = lm.info.model_id;
    expect(id).toMatch(/^m-[0-9a-f]{32}$/);
    // The entity, as the reference's logged_models row: name model, READY, from the clustering run, its experiment.
    expect(lm.info).toMatchObject({
      name: 'model', status: 'LOGGED_MODEL_READY', source_run_id: reg.runId, experiment_id: run.info.experiment_id,
      artifact_uri: `mlflow-artifacts:/${run.info.experiment_id}/models/${id}/artifacts`,
    });
    // Params: the run's; tags: the run's user and source (reference: mlflow.user, mlflow.source.name,
    // mlflow.source.type) and mlflow.modelVersions as MLflow writes it after registering.
    expect(Object.fromEntries(lm.params)).toEqual(Object.fromEntries(run.params));
    const refModel = referenceModelDir();
    expect([...lm.tags.keys()].sort()).toEqual(fs.readdirSync(path.join(refModel, 'tags')).sort());
    for (const k of ['mlflow.user', 'mlflow.source.name', 'mlflow.source.type']) expect(lm.tags.get(k)).toBe(run.tags.get(k));
    expect(lm.tags.get('mlflow.modelVersions')).toBe('[{"name": "served", "version": 1}]');
    // Metrics logged after the model are the model's too (with the run's id).
    expect(lm.metrics.map((m) => m.key)).toContain('model/predict_agreement');
    expect(lm.metrics.every((m) => m.run_id === reg.runId)).toBe(true);
    // The run's output link; no mlflow.log-model.history tag (MLflow 3 writes none).
    const got = await call(v3, 'GET', 'runs/get', undefined, { run_id: reg.runId });
    expect((got.json.run as { outputs: unknown }).outputs).toEqual({ model_outputs: [{ model_id: id, step: 0 }] });
    expect(run.tags.has('mlflow.log-model.history')).toBe(false);
    // The files: the run's model/ byte for byte, with MLflow's model files of the reference among them.
    const files = runModelFiles(v3, reg.runId);
    expect([...lm.artifacts.keys()].sort()).toEqual([...files.keys()].sort());
    for (const [k, b] of lm.artifacts) expect(b.equals(files.get(k)!), k).toBe(true);
    const refFiles = fs.readdirSync(path.join(refModel, 'artifacts')).filter((f) => f !== 'python_model.pkl');
    for (const f of refFiles) expect(lm.artifacts.has(f), f).toBe(true);
    // MLmodel: model_id, model_uuid = model_id, artifact_path = the model's location, run_id (the reference's fields).
    const mlmodel = YAML.parse(lm.artifacts.get('MLmodel')!.toString('utf8')) as Record<string, unknown>;
    const ref = YAML.parse(fs.readFileSync(path.join(refModel, 'artifacts', 'MLmodel'), 'utf8')) as Record<string, unknown>;
    expect(ref.model_id).toBe(ref.model_uuid);
    expect(mlmodel).toMatchObject({ model_id: id, model_uuid: id, artifact_path: lm.info.artifact_uri, run_id: reg.runId });
    // The registered version points at the logged model.
    expect(reg.source).toBe(`models:/${id}`);
    expect(v3.registry.models.get('served')!.versions.get(1)).toMatchObject({ source: `models:/${id}`, model_id: id, run_id: reg.runId });

    // predict through the logged model and through the alias: the bytes of predict runs:/…
    await cli(['models', 'alias', 'served', '1', 'prod']);
    const harmonized = path.join(p.outDir as string, 'harmonized.csv');
    const before = v3.count(`logged-models/${id}/artifacts/directories`);
    await cli(['predict', '--model', `models:/${id}`, '--in', harmonized, '--out', 'a.csv']);
    expect(v3.count(`logged-models/${id}/artifacts/directories`)).toBeGreaterThan(before); // read from the model's own location
    await cli(['predict', '--model', 'models:/served@prod', '--in', harmonized, '--out', 'b.csv']);
    await cli(['predict', '--model', `runs:/${reg.runId}/model`, '--in', harmonized, '--out', 'c.csv']);
    const c = fs.readFileSync(path.join(cwd, 'c.csv'), 'utf8');
    expect(fs.readFileSync(path.join(cwd, 'a.csv'), 'utf8')).toBe(c);
    expect(fs.readFileSync(path.join(cwd, 'b.csv'), 'utf8')).toBe(c);
    // An unknown logged model: a clear input error, nothing written.
    const miss = await runCli(cwd, ['--tracking-uri', v3.url, 'predict', '--model', `models:/m-${'0'.repeat(32)}`, '--in', harmonized, '--out', 'd.csv']);
    expect(miss.code).toBe(3);
    expect(miss.stderr).toContain(`no logged model m-${'0'.repeat(32)}`);
    expect(fs.existsSync(path.join(cwd, 'd.csv'))).toBe(false);
  }, 180_000);
});

describe('a lost answer to the create', () => {
  it('is recovered by search: one logged model, READY, the run linked to it once', async () => {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'lpclust-lm-lost-'));
    const before = new Set(v3.loggedModels.models.keys());
    // The server creates the model, then the connection drops before the answer.
    v3.inject({ match: /^POST \/api\/2\.0\/mlflow\/logged-models$/, kind: 'dropAfter' });
    const p = await cliIn(v3, cwd)(['pipeline', '-k', '3', '--no-plots']);
    const clustering = (p.stages as Array<{ stage: string; runId: string }>).find((x) => x.stage === 'clustering')!.runId;
    const made = [...v3.loggedModels.models.values()].filter((m) => !before.has(m.info.model_id));
    expect(made.map((m) => [m.info.source_run_id, m.info.status])).toEqual([[clustering, 'LOGGED_MODEL_READY']]);
    expect(v3.loggedModels.outputs.get(clustering)).toEqual([{ model_id: made[0].info.model_id, step: 0 }]);
    expect(v3.count('logged-models/search', 'POST')).toBeGreaterThan(0);
  }, 120_000);
});

describe('a logged model whose files cannot be uploaded', () => {
  it('is finalized UPLOAD_FAILED and the run fails with the server\'s answer (exit 4)', async () => {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'lpclust-lm-fail-'));
    const before = new Set(v3.loggedModels.models.keys());
    v3.inject({ match: /^PUT \/api\/2\.0\/mlflow-artifacts\/artifacts\/\d+\/models\//, kind: 'status', status: 400 });
    const r = await runCli(cwd, ['--tracking-uri', v3.url, 'pipeline', '-k', '3', '--no-plots']);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toContain('mlflow-artifacts/artifacts');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const made = [...v3.loggedModels.models.values()].filter((m) => !before.has(m.info.model_id));
    expect(made.map((m) => m.info.status)).toEqual(['LOGGED_MODEL_UPLOAD_FAILED']);
    expect(v3.runs.get(made[0].info.source_run_id!)!.info.status).toBe('FAILED');
  }, 120_000);
});

describe('MLflow 2 servers, and servers that do not say their version', () => {
  for (const [label, get] of [['a 2.x server', () => v2], ['a server without GET /version', () => hidden]] as const) {
    it(`${label}: the mlflow.log-model.history tag only, no logged-model request, no model_id`, async () => {
      const server = get();
      const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'lpclust-lm2-'));
      const p = await cliIn(server, cwd)(['pipeline', '-k', '4', '--no-plots', '--register-model', 'served']);
      const reg = p.registered as { runId: string; source: string };
      expect(server.count('/version', 'GET')).toBeGreaterThan(0);
      expect(server.count('logged-models')).toBe(0);
      expect(server.count('runs/outputs')).toBe(0);
      expect(server.runs.get(reg.runId)!.tags.has('mlflow.log-model.history')).toBe(true);
      expect(reg.source).toBe(`${server.runs.get(reg.runId)!.info.artifact_uri}/model`);
      const mlmodel = YAML.parse(runModelFiles(server, reg.runId).get('MLmodel')!.toString('utf8')) as Record<string, unknown>;
      expect(mlmodel.model_id).toBeUndefined();
      expect(mlmodel.artifact_path).toBe('model');
    }, 120_000);
  }
});

describe('the contract server answers bad logged-model calls as MLflow 3 does', () => {
  it('required fields, unknown ids, finalize statuses; a 2.x server has no such endpoints', async () => {
    const exp = (await call(v3, 'POST', 'experiments/create', { name: 'lm-contract' })).json.experiment_id as string;
    expect(await call(v3, 'POST', 'logged-models', {})).toMatchObject({ status: 400, json: { error_code: 'INVALID_PARAMETER_VALUE', message: expect.stringContaining("'experiment_id'") } });
    expect(await call(v3, 'POST', 'logged-models', { experiment_id: '999' })).toMatchObject({ status: 404, json: { error_code: 'RESOURCE_DOES_NOT_EXIST' } });
    expect(await call(v3, 'POST', 'logged-models', { experiment_id: exp, params: [{ value: 'x' }] })).toMatchObject({ status: 400, json: { error_code: 'INVALID_PARAMETER_VALUE' } });
    const created = await call(v3, 'POST', 'logged-models', { experiment_id: exp, name: 'model' });
    expect(created.status).toBe(200);
    const info = (created.json.model as { info: Record<string, unknown> }).info;
    expect(info).toMatchObject({ status: 'LOGGED_MODEL_PENDING', artifact_uri: `mlflow-artifacts:/${exp}/models/${String(info.model_id)}/artifacts` });
    const id = String(info.model_id);
    expect(await call(v3, 'GET', `logged-models/m-${'1'.repeat(32)}`)).toMatchObject({ status: 404, json: { error_code: 'RESOURCE_DOES_NOT_EXIST' } });
    expect(await call(v3, 'PATCH', `logged-models/${id}`, { model_id: id })).toMatchObject({ status: 400, json: { message: expect.stringContaining("'status'") } });
    expect(await call(v3, 'PATCH', `logged-models/${id}`, { model_id: id, status: 'LOGGED_MODEL_PENDING' })).toMatchObject({ status: 400 });
    expect(await call(v3, 'PATCH', `logged-models/${id}`, { model_id: id, status: 'LOGGED_MODEL_READY' })).toMatchObject({ status: 200, json: { model: { info: { status: 'LOGGED_MODEL_READY' } } } });
    expect(await call(v3, 'POST', 'runs/outputs', { models: [] })).toMatchObject({ status: 400, json: { message: expect.stringContaining("'run_id'") } });
    expect(await call(v3, 'POST', 'runs/outputs', { run_id: 'nope', models: [] })).toMatchObject({ status: 404 });
    const run = (await call(v3, 'POST', 'runs/create', { experiment_id: exp, start_time: 1 })).json.run as { info: { run_id: string } };
    expect(await call(v3, 'POST', 'runs/outputs', { run_id: run.info.run_id, models: [{ model_id: `m-${'2'.repeat(32)}`, step: 0 }] })).toMatchObject({ status: 404 });
    expect(await call(v3, 'POST', 'runs/outputs', { run_id: run.info.run_id, models: [{ model_id: id }] })).toMatchObject({ status: 400, json: { message: expect.stringContaining("'step'") } });
    expect(await call(v3, 'POST', 'runs/log-batch', { run_id: run.info.run_id, metrics: [{ key: 'a', value: 1, timestamp: 1, step: 0, model_id: `m-${'3'.repeat(32)}` }] })).toMatchObject({ status: 404 });
    await call(v3, 'POST', 'registered-models/create', { name: 'lm-contract' });
    expect(await call(v3, 'POST', 'model-versions/create', { name: 'lm-contract', source: `models:/m-${'4'.repeat(32)}`, run_id: run.info.run_id })).toMatchObject({ status: 404, json: { error_code: 'RESOURCE_DOES_NOT_EXIST' } });
    expect(await call(v2, 'POST', 'logged-models', { experiment_id: '0' })).toMatchObject({ status: 404, json: { error_code: 'ENDPOINT_NOT_FOUND' } });
    expect(await call(v3, 'POST', 'logged-models/search', {})).toMatchObject({ status: 400, json: { message: expect.stringContaining("'experiment_ids'") } });
    expect(await call(v3, 'POST', 'logged-models/search', { experiment_ids: [exp], filter: `model_id = '${id}'` })).toMatchObject({ status: 200, json: { models: [{ info: { model_id: id } }] } });
    expect(await (await fetch(`${v3.url}/version`)).text()).toBe('3.11.2.dev0');
  });
});
