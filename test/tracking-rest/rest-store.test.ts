import { mkdtempSync, promises as fsp, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MlflowApiError, restClientOptionsFromEnv } from '../../src/tracking/rest-client.js';
import { buildFilter, RestStore } from '../../src/tracking/rest-store.js';
import { withRun } from '../../src/tracking/run.js';
import { maskSecrets } from '../../src/util/mask.js';
import type { ContractServer } from '../support/contract-server.js';
import { fastOptions, restStore, runRequest, startServer } from './helpers.js';

let server: ContractServer;
let tmp: string;
beforeAll(async () => {
  server = await startServer({ maxPageSize: 2 });
  tmp = mkdtempSync(path.join(os.tmpdir(), 'lpclust-rest-'));
});
afterAll(async () => {
  await server.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('experiments', () => {
  it('gets by name, creates when missing, and is race-safe', async () => {
    const a = restStore(server);
    const b = restStore(server);
    expect(await a.getExperimentByName('race')).toBeNull();
    const [x, y, z] = await Promise.all([a.getOrCreateExperiment('race'), b.getOrCreateExperiment('race'), a.getOrCreateExperiment('race')]);
    expect(x.experimentId).toBe(y.experimentId);
    expect(z.experimentId).toBe(x.experimentId);
    expect([...server.experiments.values()].filter((e) => e.name === 'race')).toHaveLength(1);
    expect((await a.listExperiments()).map((e) => e.name)).toContain('race');
    a.close();
    b.close();
  });
});

describe('runs', () => {
  it('creates with start time, run name (= mlflow.runName) and tags, logs, ends, reads back', async () => {
    const store = restStore(server);
    const exp = await store.getOrCreateExperiment('runs');
    const info = await store.createRun(runRequest(exp.experimentId, 'kmeans k=3', [{ key: 'mlflow.runName', value: 'stale' }, { key: 'x', value: '1' }]));
    expect(info.status).toBe('RUNNING');
    expect(info.artifactUri).toMatch(/^mlflow-artifacts:\//);
    const body = server.requests.find((r) => r.path.endsWith('runs/create'))!.json as { run_name: string; start_time: number; tags: Array<{ key: string; value: string }> };
    expect(body.start_time).toBe(1_700_000_000_000);
    expect(body.tags.find((t) => t.key === 'mlflow.runName')?.value).toBe(body.run_name);
    await store.logBatch(info.runId, { params: [{ key: 'k', value: '3' }], metrics: [{ key: 'inertia', value: NaN, timestamp: 5, step: 0 }, { key: 'sil', value: 0.5, timestamp: 6, step: 0 }] });
    await store.updateRun(info.runId, 'FINISHED', 1_700_000_009_000);
    const run = await store.getRun(info.runId);
    expect(run.info).toMatchObject({ runName: 'kmeans k=3', status: 'FINISHED', endTime: 1_700_000_009_000, startTime: 1_700_000_000_000 });
    expect(run.data.params).toEqual({ k: '3' });
    expect(run.data.tags.x).toBe('1');
    expect(run.data.metrics.sil).toBe(0.5);
    expect(run.data.metrics.inertia).toBeNaN();
    store.close();
  });

  it('surfaces MLflow errors: changed param (400) and unknown run (404 → E_RUN_NOT_FOUND)', async () => {
    const store = restStore(server);
    const exp = await store.getOrCreateExperiment('runs');
    const info = await store.createRun(runRequest(exp.experimentId));
    await store.logBatch(info.runId, { params: [{ key: 'k', value: '3' }] });
    await store.logBatch(info.runId, { params: [{ key: 'k', value: '3' }] }); // same value: accepted
    const err = await store.logBatch(info.runId, { params: [{ key: 'k', value: '4' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MlflowApiError);
    expect(err).toMatchObject({ status: 400, errorCode: 'INVALID_PARAMETER_VALUE' });
    expect(server.count('runs/log-batch')).toBeGreaterThan(0);
    await expect(store.getRun('0'.repeat(32))).rejects.toMatchObject({ code: 'E_RUN_NOT_FOUND' });
    await expect(store.logBatch('f'.repeat(32), { tags: [{ key: 'a', value: 'b' }] })).rejects.toMatchObject({ status: 404, errorCode: 'RESOURCE_DOES_NOT_EXIST' });
    store.close();
  });

  it('searches with quoted values across pages, and reads metric history', async () => {
    const store = restStore(server);
    const exp = await store.getOrCreateExperiment('search');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const info = await store.createRun({ ...runRequest(exp.experimentId, `r${i}`), startTime: 1_700_000_000_000 + i });
      await store.logBatch(info.runId, { params: [{ key: 'k', value: String(i % 2) }, { key: 'method name', value: "it's" }], tags: [{ key: 'mlflow.parentRunId', value: 'P' }] });
      ids.push(info.runId);
    }
    expect(buildFilter({ params: { k: '1' }, tags: { 'mlflow.parentRunId': 'P' } })).toBe("params.k = '1' and tags.mlflow.parentRunId = 'P'");
    const before = server.count('runs/search');
    const all = await store.searchRuns({ experimentIds: [exp.experimentId], tags: { 'mlflow.parentRunId': 'P' } });
    expect(server.count('runs/search') - before).toBe(3); // pages of 2 (server cap) followed by page_token
    expect(all.map((r) => r.info.runName)).toEqual(['r4', 'r3', 'r2', 'r1', 'r0']);
    const odd = await store.searchRuns({ experimentIds: [exp.experimentId], params: { k: '1', 'method name': "it's" } });
    expect(odd.map((r) => r.info.runId).sort()).toEqual([ids[1], ids[3]].sort());
    expect(await store.searchRuns({ experimentIds: [exp.experimentId], params: { k: '1' }, maxResults: 1 })).toHaveLength(1);
    expect(await store.searchRuns({ experimentIds: [exp.experimentId], statuses: ['FINISHED'] })).toHaveLength(0);
    await store.logBatch(ids[0], { metrics: [0, 1, 2].map((s) => ({ key: 'loss', value: 1 / (s + 1), timestamp: 100 + s, step: s })) });
    expect(await store.getMetricHistory(ids[0], 'loss')).toEqual([
      { key: 'loss', value: 1, timestamp: 100, step: 0 },
      { key: 'loss', value: 0.5, timestamp: 101, step: 1 },
      { key: 'loss', value: 1 / 3, timestamp: 102, step: 2 },
    ]);
    store.close();
  });
});

describe('artifacts through the mlflow-artifacts proxy', () => {
  it('uploads files and directories (PUT), lists and downloads them (GET), streaming a large file', async () => {
    const store = restStore(server);
    const exp = await store.getOrCreateExperiment('artifacts');
    const info = await store.createRun(runRequest(exp.experimentId));
    const src = path.join(tmp, 'src');
    await fsp.mkdir(path.join(src, 'model', 'sub'), { recursive: true });
    await fsp.writeFile(path.join(src, 'model', 'centroids.json'), '{"k":3}');
    await fsp.writeFile(path.join(src, 'model', 'sub', 'x.txt'), 'x');
    const big = Buffer.alloc(24 * 1024 * 1024, 7); // 24 MiB
    big.write('head', 0);
    await fsp.writeFile(path.join(src, 'big.bin'), big);
    await store.logArtifact(info.runId, path.join(src, 'model'), 'model');
    await store.logArtifact(info.runId, path.join(src, 'big.bin'), 'data');
    const puts = server.requests.filter((r) => r.method === 'PUT').map((r) => r.path);
    expect(puts).toContain(`/api/2.0/mlflow-artifacts/artifacts/${exp.experimentId}/${info.runId}/artifacts/model/centroids.json`);
    expect(puts).toContain(`/api/2.0/mlflow-artifacts/artifacts/${exp.experimentId}/${info.runId}/artifacts/model/sub/x.txt`);
    expect(await store.listArtifacts(info.runId)).toEqual([
      { path: 'data', isDir: true },
      { path: 'model', isDir: true },
    ]);
    expect(await store.listArtifacts(info.runId, 'model')).toEqual([
      { path: 'model/centroids.json', isDir: false, size: 7 },
      { path: 'model/sub', isDir: true },
    ]);
    const dest = path.join(tmp, 'dl');
    const modelDir = await store.downloadArtifacts(info.runId, 'model', dest);
    expect(readFileSync(path.join(modelDir, 'centroids.json'), 'utf8')).toBe('{"k":3}');
    expect(readFileSync(path.join(modelDir, 'sub', 'x.txt'), 'utf8')).toBe('x');
    const bigCopy = await store.downloadArtifacts(info.runId, 'data/big.bin', dest);
    expect(readFileSync(bigCopy).equals(big)).toBe(true);
    await expect(store.downloadArtifacts(info.runId, 'nope.txt', dest)).rejects.toMatchObject({ code: 'E_ARTIFACT_NOT_FOUND' });
    store.close();
  });

  it('refuses clearly an artifact store it cannot reach (s3:// without proxy)', async () => {
    const s3 = await startServer({ artifactScheme: 's3' });
    const store = restStore(s3);
    const exp = await store.getOrCreateExperiment('s3');
    const info = await store.createRun(runRequest(exp.experimentId));
    await fsp.writeFile(path.join(tmp, 'a.txt'), 'a');
    const err = await store.logArtifact(info.runId, path.join(tmp, 'a.txt')).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_ARTIFACT_STORE_UNSUPPORTED' });
    expect((err as Error).message).toContain('s3://bucket/');
    expect((err as { hint: string }).hint).toContain('--serve-artifacts');
    store.close();
    await s3.stop();
  });
});

describe('auth and secrets', () => {
  it('sends the bearer token from MLFLOW_TRACKING_TOKEN and never shows it', async () => {
    const token = 'tok-SECRET-123456';
    const s = await startServer({ token });
    const opts = restClientOptionsFromEnv(s.url, { MLFLOW_TRACKING_TOKEN: token, MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0' }, tmp);
    expect(opts.maxRetries).toBe(0);
    const store = new RestStore(s.url, { client: opts });
    await store.getOrCreateExperiment('auth');
    expect(s.requests.every((r) => r.headers.authorization === `Bearer ${token}`)).toBe(true);
    expect(maskSecrets(`value ${token} here`)).not.toContain(token);
    store.close();
    // A wrong token: a 401 with a hint, and the error text does not carry the token.
    const bad = new RestStore(s.url, { client: fastOptions(s.url, { token: 'wrong-token-value-999' }) });
    const err = await bad.getOrCreateExperiment('auth').catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 401, code: 'E_TRACKING_API' });
    expect((err as { hint: string }).hint).toContain('MLFLOW_TRACKING_TOKEN');
    expect(String((err as Error).message)).not.toContain('wrong-token-value-999');
    bad.close();
    await s.stop();
  });

  it('sends Basic auth from MLFLOW_TRACKING_USERNAME/PASSWORD (also from .env) and masks the password', async () => {
    const s = await startServer({ basic: { username: 'ana', password: 'pa55-w0rd-xyz' } });
    await fsp.writeFile(path.join(tmp, '.env'), 'MLFLOW_TRACKING_USERNAME=ana\nMLFLOW_TRACKING_PASSWORD="pa55-w0rd-xyz"\nMLFLOW_HTTP_REQUEST_TIMEOUT=3\n');
    const opts = restClientOptionsFromEnv(s.url, {}, tmp);
    expect(opts.timeoutSeconds).toBe(3);
    const store = new RestStore(s.url, { client: opts });
    const exp = await store.getOrCreateExperiment('basic');
    // Params and tags logged through a run are masked too.
    await withRun({ store, experimentName: 'basic', runName: 'r', sourceName: 'lpclust x --password pa55-w0rd-xyz' }, async (run) => {
      await run.logParams({ dsn: 'postgres://ana:pa55-w0rd-xyz@db/x' });
    });
    const run = [...s.runs.values()].find((r) => r.info.experiment_id === exp.experimentId)!;
    expect(JSON.stringify([...run.params, ...run.tags])).not.toContain('pa55-w0rd-xyz');
    expect(s.requests.every((r) => r.headers.authorization === 'Basic ' + Buffer.from('ana:pa55-w0rd-xyz').toString('base64'))).toBe(true);
    expect(maskSecrets(`Authorization: Basic ${Buffer.from('ana:pa55-w0rd-xyz').toString('base64')}`)).not.toContain(Buffer.from('ana:pa55-w0rd-xyz').toString('base64'));
    store.close();
    await fsp.rm(path.join(tmp, '.env'));
    await s.stop();
  });

  it('reads every transport knob, with MLflow\'s defaults otherwise', () => {
    const env = {
      MLFLOW_HTTP_REQUEST_TIMEOUT: '7',
      MLFLOW_HTTP_REQUEST_MAX_RETRIES: '2',
      MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: '0.5',
      MLFLOW_HTTP_REQUEST_BACKOFF_JITTER: '0',
      MLFLOW_TRACKING_INSECURE_TLS: 'true',
    };
    expect(restClientOptionsFromEnv('https://h', env, tmp)).toMatchObject({ timeoutSeconds: 7, maxRetries: 2, backoffFactor: 0.5, backoffJitter: 0, insecureTls: true });
    expect(restClientOptionsFromEnv('http://h', {}, tmp)).toMatchObject({ timeoutSeconds: 120, maxRetries: 7, backoffFactor: 2, insecureTls: false });
    // Credentials in the URI are used for Basic auth and never displayed.
    const o = restClientOptionsFromEnv('http://bob:uri-pass-777@h:5000', {}, tmp);
    expect(o).toMatchObject({ username: 'bob', password: 'uri-pass-777' });
    const store = new RestStore('http://bob:uri-pass-777@h:5000', { client: o });
    expect(store.displayUri).not.toContain('uri-pass-777');
    expect(store.client.authHeaders().Authorization).toBe('Basic ' + Buffer.from('bob:uri-pass-777').toString('base64'));
  });

  it('rejects a non-numeric transport setting with a usage error', () => {
    expect(() => restClientOptionsFromEnv('http://x', { MLFLOW_HTTP_REQUEST_MAX_RETRIES: 'many' }, tmp)).toThrow(/MLFLOW_HTTP_REQUEST_MAX_RETRIES/);
  });
});

describe('TLS', () => {
  it('refuses a self-signed certificate with a clear, non-retried error, and accepts it with MLFLOW_TRACKING_INSECURE_TLS', async () => {
    const { execFileSync } = await import('node:child_process');
    const key = path.join(tmp, 'key.pem');
    const cert = path.join(tmp, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-days', '1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    const s = await startServer({ tls: { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') } });
    expect(s.url).toMatch(/^https:/);
    const strict = restStore(s);
    const err = await strict.getOrCreateExperiment('tls').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_TRACKING_TLS' });
    expect((err as { hint: string }).hint).toContain('MLFLOW_TRACKING_INSECURE_TLS');
    expect(s.requests).toHaveLength(0);
    strict.close();
    const opts = restClientOptionsFromEnv(s.url, { MLFLOW_TRACKING_INSECURE_TLS: 'true' }, tmp);
    expect(opts.insecureTls).toBe(true);
    const insecure = new RestStore(s.url, { client: opts });
    expect((await insecure.getOrCreateExperiment('tls')).name).toBe('tls');
    insecure.close();
    await s.stop();
  });
});
