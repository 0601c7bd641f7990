/**
 * The model registry over REST, against the contract server (MLflow's registry endpoints with
 * its validation and error codes): registering, aliases, reading back, errors that name what
 * exists, bad names and aliases refused before any request; the server's own answers to bad
 * calls; and from the CLI, `pipeline --register-model` then `predict models:/NAME@prod` giving
 * what `predict runs:/…` gives. (Registering while the server is down: ./sync-registry.test.ts.)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryOf } from '../../src/tracking/registry.js';
import type { RestStore } from '../../src/tracking/rest-store.js';
import type { ContractServer } from '../support/contract-server.js';
import { restStore, runCli, runRequest, startServer } from './helpers.js';

let server: ContractServer;
let store: RestStore;

beforeAll(async () => {
  server = await startServer();
  store = restStore(server);
});

afterAll(async () => {
  store?.close();
  await server?.stop();
});

/** A finished run with a `model/` artifact; returns its id and the model's artifact URI. */
async function runWithModel(): Promise<{ runId: string; source: string }> {
  const exp = await store.getOrCreateExperiment('registry');
  const run = await store.createRun(runRequest(exp.experimentId, 'clustering'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lpclust-reg-'));
  fs.writeFileSync(path.join(dir, 'MLmodel'), 'flavors: {}\n');
  await store.logArtifact(run.runId, dir, 'model');
  await store.updateRun(run.runId, 'FINISHED', Date.now());
  return { runId: run.runId, source: `${run.artifactUri}/model` };
}

async function call(method: string, endpoint: string, body?: unknown, query?: Record<string, string>): Promise<{ status: number; json: Record<string, unknown> }> {
  const url = new URL(`${server.url}/api/2.0/mlflow/${endpoint}`);
  for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, v);
  const res = await fetch(url, { method, ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } } : {}) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('the REST registry', () => {
  it('registers versions, moves aliases and reads them back', async () => {
    const { runId, source } = await runWithModel();
    const reg = registryOf(store);
    await reg.getOrCreateRegisteredModel('uc7-clusters');
    await reg.getOrCreateRegisteredModel('uc7-clusters'); // exists: no second model, no error
    const v1 = await reg.createModelVersion({ name: 'uc7-clusters', source, runId });
    const v2 = await reg.createModelVersion({ name: 'uc7-clusters', source, runId });
    expect([v1.version, v2.version]).toEqual([1, 2]);
    expect(v1).toMatchObject({ source, runId, status: 'READY' });
    await reg.setAlias('uc7-clusters', 'production', 1);
    await reg.setAlias('uc7-clusters', 'production', 2);
    expect(await reg.getModelVersionByAlias('uc7-clusters', 'production')).toMatchObject({ version: 2, aliases: ['production'] });
    expect(await reg.getRegisteredModel('uc7-clusters')).toMatchObject({ aliases: { production: 2 }, latestVersion: 2 });
    expect((await reg.listModelVersions('uc7-clusters')).map((v) => [v.version, v.aliases])).toEqual([[1, []], [2, ['production']]]);
    expect((await reg.listRegisteredModels()).map((m) => m.name)).toEqual(['uc7-clusters']);
    await reg.deleteAlias('uc7-clusters', 'production');
    expect((await reg.getRegisteredModel('uc7-clusters')).aliases).toEqual({});
    // The alias endpoints were used with their methods.
    expect(server.count('registered-models/alias', 'POST')).toBe(2);
    expect(server.count('registered-models/alias', 'DELETE')).toBe(1);
  });

  it('names what exists for a missing name, version or alias; refuses bad names and aliases before any request', async () => {
    const reg = registryOf(store);
    await reg.getOrCreateRegisteredModel('uc7-clusters');
    await reg.setAlias('uc7-clusters', 'production', 1);
    await expect(reg.getModelVersionByAlias('nope', 'production')).rejects.toMatchObject({ code: 'E_REGISTERED_MODEL_NOT_FOUND', message: expect.stringContaining('registered models: uc7-clusters') });
    await expect(reg.getModelVersion('uc7-clusters', 9)).rejects.toMatchObject({ code: 'E_MODEL_VERSION_NOT_FOUND', message: expect.stringMatching(/its versions: 1, 2/) });
    await expect(reg.getModelVersionByAlias('uc7-clusters', 'prod')).rejects.toMatchObject({ code: 'E_MODEL_ALIAS_NOT_FOUND', message: expect.stringContaining('production → 1') });
    await expect(reg.setAlias('uc7-clusters', 'staging', 9)).rejects.toMatchObject({ code: 'E_MODEL_VERSION_NOT_FOUND' });
    const before = server.requests.length;
    await expect(reg.setAlias('uc7-clusters', 'latest', 1)).rejects.toMatchObject({ code: 'E_REGISTRY_ALIAS' });
    await expect(reg.getOrCreateRegisteredModel('a/b')).rejects.toMatchObject({ code: 'E_REGISTRY_NAME' });
    expect(server.requests.length).toBe(before);
  });

  it('the contract server answers bad registry calls as MLflow does', async () => {
    expect(await call('POST', 'registered-models/create', { name: 'uc7-clusters' })).toMatchObject({ status: 400, json: { error_code: 'RESOURCE_ALREADY_EXISTS', message: 'Registered Model (name=uc7-clusters) already exists.' } });
    expect(await call('POST', 'registered-models/create', {})).toMatchObject({ status: 400, json: { error_code: 'INVALID_PARAMETER_VALUE' } });
    expect(await call('GET', 'registered-models/get', undefined, { name: 'none' })).toMatchObject({ status: 404, json: { error_code: 'RESOURCE_DOES_NOT_EXIST' } });
    expect(await call('GET', 'model-versions/get', undefined, { name: 'uc7-clusters', version: 'x' })).toMatchObject({ status: 400, json: { error_code: 'INVALID_PARAMETER_VALUE', message: "Parameter 'version' must be an integer, got 'x'." } });
    expect(await call('GET', 'model-versions/get', undefined, { name: 'uc7-clusters', version: '99' })).toMatchObject({ status: 404, json: { message: 'Model Version (name=uc7-clusters, version=99) not found' } });
    for (const [alias, message] of [['latest', "'latest' alias name (case insensitive) is reserved."], ['V3', "Version alias name 'V3' is reserved."], ['a b', "Invalid alias name: 'a b'. Names may only contain alphanumerics, underscores (_), and dashes (-)."]]) {
      expect(await call('POST', 'registered-models/alias', { name: 'uc7-clusters', alias, version: '1' })).toMatchObject({ status: 400, json: { error_code: 'INVALID_PARAMETER_VALUE', message } });
    }
    expect(await call('GET', 'registered-models/alias', undefined, { name: 'uc7-clusters', alias: 'gone' })).toMatchObject({ status: 400, json: { error_code: 'INVALID_PARAMETER_VALUE', message: 'Registered model alias gone not found.' } });
    expect(await call('POST', 'model-versions/create', { name: 'uc7-clusters', source: '/elsewhere/model' })).toMatchObject({ status: 400, json: { error_code: 'INVALID_PARAMETER_VALUE' } });
    expect(await call('POST', 'model-versions/create', { name: 'uc7-clusters', source: 'mlflow-artifacts:/x', run_id: 'nope' })).toMatchObject({ status: 404, json: { error_code: 'RESOURCE_DOES_NOT_EXIST' } });
    expect(await call('GET', 'registered-models/search', undefined, { max_results: '1001' })).toMatchObject({ status: 400, json: { error_code: 'INVALID_PARAMETER_VALUE' } });
  });
});

describe('the registry from the CLI on a tracking server', () => {
  it('pipeline --register-model, then predict models:/NAME@prod agrees with predict runs:/…', async () => {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'lpclust-reg-cli-'));
    const cli = async (args: string[]): Promise<Record<string, unknown>> => {
      const r = await runCli(cwd, ['--tracking-uri', server.url, '--json', ...args]);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as Record<string, unknown>;
    };
    const p = await cli(['pipeline', '-k', '4', '--no-plots', '--register-model', 'served']);
    const reg = p.registered as { version: number; runId: string; source: string };
    expect(reg.version).toBe(1);
    expect(reg.source).toBe(`${server.runs.get(reg.runId)!.info.artifact_uri}/model`);
    await cli(['models', 'alias', 'served', '1', 'prod']);
    const harmonized = path.join(p.outDir as string, 'harmonized.csv');
    await cli(['predict', '--model', 'models:/served@prod', '--in', harmonized, '--out', 'a.csv']);
    await cli(['predict', '--model', `runs:/${reg.runId}/model`, '--in', harmonized, '--out', 'b.csv']);
    expect(fs.readFileSync(path.join(cwd, 'a.csv'), 'utf8')).toBe(fs.readFileSync(path.join(cwd, 'b.csv'), 'utf8'));
    const miss = await runCli(cwd, ['--tracking-uri', server.url, 'predict', '--model', 'models:/served@staging', '--in', harmonized, '--out', 'c.csv']);
    expect(miss.code).toBe(3);
    expect(miss.stderr).toContain('its aliases: prod → 1');
    expect(fs.existsSync(path.join(cwd, 'c.csv'))).toBe(false);
  }, 120_000);
});
