/**
 * `lpclust sync` copies the model registry after the runs, against the contract server: from a
 * FileStore to an MLflow 2 server (versions point at the synced run's model/ artifact), from an
 * MLflow 3 database to an MLflow 3 server (versions point at models:/<model_id> of a logged model
 * made on the server for the synced run), aliases included, and a second sync changes nothing.
 * And registration is spooled: `--register-model` while the server is down is kept in the spool's
 * registry with the run, and `lpclust sync` registers it on the server.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContractServer, CsRun } from '../support/contract-server.js';
import { runCli, startServer } from './helpers.js';

let v2: ContractServer;
let v3: ContractServer;

beforeAll(async () => {
  v2 = await startServer();
  v3 = await startServer({ mlflowVersion: 3 });
});

afterAll(async () => {
  await v2?.stop();
  await v3?.stop();
});

type Json = Record<string, unknown>;

function cli(cwd: string, env: Record<string, string> = {}) {
  return async (args: string[]): Promise<Json> => {
    const r = await runCli(cwd, ['--json', ...args], env);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Json;
  };
}

/** The server run synced from local run `localId`. */
function syncedRun(server: ContractServer, localId: string): CsRun {
  const run = [...server.runs.values()].find((r) => r.tags.get('lpclust.syncSourceRunId') === localId);
  expect(run, `no server run synced from ${localId}`).toBeDefined();
  return run!;
}

/** Predict `harmonized` with `model` through the tracking URI `uri`; the CSV written. */
async function predict(run: (args: string[]) => Promise<Json>, cwd: string, uri: string, model: string, harmonized: string, out: string): Promise<string> {
  await run(['--tracking-uri', uri, 'predict', '--model', model, '--in', harmonized, '--out', out]);
  return fs.readFileSync(path.join(cwd, out), 'utf8');
}

describe('lpclust sync copies the registry', () => {
  it('FileStore → MLflow 2 server: versions at the synced runs, aliases; idempotent', async () => {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'lpclust-syncreg-'));
    const run = cli(cwd);
    const local = 'file:./mlruns';
    const p = await run(['--tracking-uri', local, 'pipeline', '-k', '4', '--no-plots', '--register-model', 'uc7']);
    const reg = p.registered as { runId: string };
    await run(['--tracking-uri', local, 'models', 'alias', 'uc7', '1', 'production']);
    const s1 = await run(['sync', '--from', './mlruns', '--to', v2.url]);
    expect(s1.registry).toMatchObject({ models: 1, versionsCreated: 1, versionsPresent: 0, aliasesSet: 1, skipped: [] });
    const remote = syncedRun(v2, reg.runId);
    const model = v2.registry.models.get('uc7')!;
    expect([...model.versions.values()].map((v) => [v.version, v.run_id, v.source])).toEqual([[1, remote.info.run_id, `${remote.info.artifact_uri}/model`]]);
    expect(Object.fromEntries(model.aliases)).toEqual({ production: 1 });
    // Again: nothing created, nothing moved.
    const creates = v2.count('model-versions/create');
    const aliasPosts = v2.count('registered-models/alias', 'POST');
    const s2 = await run(['sync', '--from', './mlruns', '--to', v2.url]);
    expect(s2.registry).toMatchObject({ models: 1, versionsCreated: 0, versionsPresent: 1, aliasesSet: 0 });
    expect([v2.count('model-versions/create'), v2.count('registered-models/alias', 'POST')]).toEqual([creates, aliasPosts]);
    expect(model.versions.size).toBe(1);
    // The server's production model predicts what the local one does.
    const harmonized = path.join(p.outDir as string, 'harmonized.csv');
    expect(await predict(run, cwd, v2.url, 'models:/uc7@production', harmonized, 'remote.csv')).toBe(await predict(run, cwd, local, 'models:/uc7@production', harmonized, 'local.csv'));
  }, 180_000);

  it('MLflow 3 database → MLflow 3 server: models:/<model_id> rewritten to a logged model on the server; idempotent', async () => {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'lpclust-syncreg3-'));
    const run = cli(cwd, { LPCLUST_SQLITE_SCHEMA: 'mlflow3' });
    const local = 'sqlite:///mlflow.db';
    const p = await run(['--tracking-uri', local, 'pipeline', '-k', '4', '--no-plots', '--register-model', 'uc7']);
    const reg = p.registered as { runId: string; source: string };
    expect(reg.source).toMatch(/^models:\/m-[0-9a-f]{32}$/);
    await run(['--tracking-uri', local, 'models', 'alias', 'uc7', '1', 'production']);
    const s1 = await run(['sync', '--from', local, '--to', v3.url]);
    expect(s1.registry).toMatchObject({ models: 1, versionsCreated: 1, aliasesSet: 1, skipped: [] });
    const remote = syncedRun(v3, reg.runId);
    const logged = [...v3.loggedModels.models.values()].filter((m) => m.info.source_run_id === remote.info.run_id);
    expect(logged).toHaveLength(1);
    const id = logged[0].info.model_id;
    expect(`models:/${id}`).not.toBe(reg.source);
    expect(logged[0].info.status).toBe('LOGGED_MODEL_READY');
    expect(logged[0].tags.get('mlflow.modelVersions')).toBe('[{"name": "uc7", "version": 1}]');
    // Its MLmodel names the server's model, the other fields as the local model's.
    const mlmodel = YAML.parse(logged[0].artifacts.get('MLmodel')!.toString('utf8')) as Record<string, unknown>;
    const localMlmodel = YAML.parse(fs.readFileSync(path.join(p.outDir as string, 'cluster', 'model', 'MLmodel'), 'utf8')) as Record<string, unknown>;
    expect(mlmodel).toEqual({ ...localMlmodel, model_id: id, model_uuid: id, artifact_path: logged[0].info.artifact_uri });
    expect(Object.keys(mlmodel)).toEqual(Object.keys(mlmodel).sort());
    expect(v3.registry.models.get('uc7')!.versions.get(1)).toMatchObject({ source: `models:/${id}`, model_id: id, run_id: remote.info.run_id });
    expect(v3.loggedModels.outputs.get(remote.info.run_id)).toEqual([{ model_id: id, step: 0 }]);
    const before = [v3.count('/logged-models', 'POST'), v3.count('model-versions/create')];
    const s2 = await run(['sync', '--from', local, '--to', v3.url]);
    expect(s2.registry).toMatchObject({ versionsCreated: 0, versionsPresent: 1, aliasesSet: 0 });
    expect([v3.count('/logged-models', 'POST'), v3.count('model-versions/create')]).toEqual(before);
    const harmonized = path.join(p.outDir as string, 'harmonized.csv');
    const here = await predict(run, cwd, local, 'models:/uc7@production', harmonized, 'local.csv');
    expect(await predict(run, cwd, v3.url, 'models:/uc7@production', harmonized, 'remote.csv')).toBe(here);
    expect(await predict(run, cwd, v3.url, `models:/${id}`, harmonized, 'by-id.csv')).toBe(here);
  }, 180_000);
});

describe('lpclust sync copies the registry into a database', () => {
  it('FileStore → MLflow 3 database: a logged model of the synced run, models:/<model_id>, the alias; idempotent', async () => {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'lpclust-syncreg-db-'));
    const run = cli(cwd, { LPCLUST_SQLITE_SCHEMA: 'mlflow3' });
    const p = await run(['--tracking-uri', 'file:./mlruns', 'pipeline', '-k', '4', '--no-plots', '--register-model', 'uc7']);
    await run(['--tracking-uri', 'file:./mlruns', 'models', 'alias', 'uc7', '1', 'production']);
    const s1 = await run(['sync', '--from', './mlruns', '--to', 'sqlite:///mlflow.db']);
    expect(s1.registry).toMatchObject({ models: 1, versionsCreated: 1, aliasesSet: 1 });
    const shown = await run(['--tracking-uri', 'sqlite:///mlflow.db', 'models', 'show', 'uc7']) as { versions: Array<{ source: string; runId: string; aliases: string[] }> };
    expect(shown.versions).toHaveLength(1);
    expect(shown.versions[0].source).toMatch(/^models:\/m-[0-9a-f]{32}$/);
    expect(shown.versions[0].aliases).toEqual(['production']);
    expect(shown.versions[0].runId).not.toBe((p.registered as { runId: string }).runId);
    const s2 = await run(['sync', '--from', './mlruns', '--to', 'sqlite:///mlflow.db']);
    expect(s2.registry).toMatchObject({ versionsCreated: 0, versionsPresent: 1, aliasesSet: 0 });
    const harmonized = path.join(p.outDir as string, 'harmonized.csv');
    expect(await predict(run, cwd, 'sqlite:///mlflow.db', 'models:/uc7@production', harmonized, 'db.csv')).toBe(await predict(run, cwd, 'file:./mlruns', 'models:/uc7@production', harmonized, 'fs.csv'));
    expect(await predict(run, cwd, 'sqlite:///mlflow.db', shown.versions[0].source, harmonized, 'by-id.csv')).toBe(fs.readFileSync(path.join(cwd, 'fs.csv'), 'utf8'));
  }, 180_000);
});

describe('registering while the tracking server is down', () => {
  it('the run and its registration are spooled; lpclust sync registers it on the server, once', async () => {
    const server = await startServer();
    await server.stop(); // down; it comes back on the same port
    try {
      const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'lpclust-reg-down-'));
      const r = await runCli(cwd, ['--tracking-uri', server.url, '--json', 'pipeline', '-k', '4', '--no-plots', '--register-model', 'offline'], { LPCLUST_HTTP_RETRY_BUDGET: '1' });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain('is kept in the spool');
      expect(r.stderr).toContain(`lpclust sync --from ${path.join(fs.realpathSync(cwd), 'mlruns')} --to ${server.url}`);
      const p = JSON.parse(r.stdout) as { registered: { runId: string; spooled: string } };
      expect(p.registered.spooled).toBe(path.join(fs.realpathSync(cwd), 'mlruns'));
      // Kept in the spool's registry, pointing at the spooled clustering run.
      expect(fs.existsSync(path.join(cwd, 'mlruns', 'models', 'offline', 'version-1', 'meta.yaml'))).toBe(true);
      await server.start();
      const run = cli(cwd);
      const s1 = await run(['sync', '--from', './mlruns', '--to', server.url]);
      expect(s1.registry).toMatchObject({ models: 1, versionsCreated: 1 });
      const remote = syncedRun(server, p.registered.runId);
      expect(server.registry.models.get('offline')!.versions.get(1)).toMatchObject({ run_id: remote.info.run_id, source: `${remote.info.artifact_uri}/model` });
      const s2 = await run(['sync', '--from', './mlruns', '--to', server.url]);
      expect(s2.registry).toMatchObject({ versionsCreated: 0, versionsPresent: 1 });
      expect(server.registry.models.get('offline')!.versions.size).toBe(1);
    } finally {
      await server.stop();
    }
  }, 180_000);
});
