import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseRetryAfter, RestClient } from '../../src/tracking/rest-client.js';
import type { ContractServer } from '../support/contract-server.js';
import { fastOptions, restStore, runRequest, startServer } from './helpers.js';

let server: ContractServer;
beforeEach(async () => {
  server = await startServer();
});
afterEach(async () => {
  await server.stop();
});

describe('retries', () => {
  it.each([408, 429, 500, 502, 503, 504])('retries status %i and then succeeds', async (status) => {
    const store = restStore(server);
    server.inject({ kind: 'status', status, times: 2, match: /experiments\/get-by-name/ });
    const exp = await store.getOrCreateExperiment(`retry-${status}`);
    expect(exp.name).toBe(`retry-${status}`);
    // 2 failures + 1 answer for the lookup, then create and the lookup again.
    expect(server.count('experiments/get-by-name')).toBe(4);
    store.close();
  });

  it('does not retry other errors (400, 404)', async () => {
    const store = restStore(server);
    server.inject({ kind: 'status', status: 400, match: /runs\/get/ });
    await expect(store.getRun('a'.repeat(32))).rejects.toMatchObject({ status: 400 });
    expect(server.count('runs/get')).toBe(1);
    await expect(store.getRun('a'.repeat(32))).rejects.toMatchObject({ code: 'E_RUN_NOT_FOUND' });
    expect(server.count('runs/get')).toBe(2);
    store.close();
  });

  it('honours Retry-After on 429 (seconds and HTTP date)', async () => {
    const store = restStore(server);
    server.inject({ kind: 'status', status: 429, retryAfter: '1', match: /experiments/ });
    const t0 = Date.now();
    await store.getOrCreateExperiment('polite');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    expect(parseRetryAfter('2')).toBe(2000);
    const date = new Date(Date.now() + 3000).toUTCString();
    expect(parseRetryAfter(date)).toBeGreaterThan(1000);
    expect(parseRetryAfter(undefined)).toBeUndefined();
    store.close();
  });

  it('backs off exponentially with bounded jitter', () => {
    const c = new RestClient(fastOptions('http://127.0.0.1:1', { backoffFactor: 1, backoffJitter: 0.5, maxBackoffSeconds: 100 }));
    for (let i = 0; i < 4; i++) {
      const w = c.backoffMs(i);
      expect(w).toBeGreaterThanOrEqual(1000 * 2 ** i);
      expect(w).toBeLessThanOrEqual(1000 * 2 ** i + 500);
    }
    expect(c.backoffMs(20)).toBe(100_000);
    expect(c.backoffMs(0, 7000)).toBe(7000);
  });

  it('retries dropped connections and timeouts', async () => {
    const store = restStore(server, { timeoutSeconds: 0.3 });
    server.inject({ kind: 'drop', match: /experiments\/get-by-name/ });
    server.inject({ kind: 'delay', ms: 800, match: /experiments\/create/ });
    const exp = await store.getOrCreateExperiment('flaky');
    expect(exp.name).toBe('flaky');
    // The delayed create took effect on the server; its retry got RESOURCE_ALREADY_EXISTS, handled.
    expect([...server.experiments.values()].filter((e) => e.name === 'flaky')).toHaveLength(1);
    store.close();
  });

  it('gives up after MLFLOW_HTTP_REQUEST_MAX_RETRIES with E_TRACKING_UNAVAILABLE', async () => {
    const store = restStore(server, { maxRetries: 2 });
    server.inject({ kind: 'status', status: 503, times: 10 });
    const err = await store.getOrCreateExperiment('down').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_TRACKING_UNAVAILABLE' });
    expect(server.requests).toHaveLength(3);
    store.close();
  });

  it('leaves no ghost run when runs/create succeeded but its answer was lost', async () => {
    const store = restStore(server);
    const exp = await store.getOrCreateExperiment('ghost');
    server.inject({ kind: 'dropAfter', match: /runs\/create/ });
    const info = await store.createRun(runRequest(exp.experimentId, 'only-once'));
    expect(server.runsNamed('only-once')).toHaveLength(1);
    expect(server.runsNamed('only-once')[0].info.run_id).toBe(info.runId);
    expect(server.count('runs/create')).toBe(1); // found by lpclust.clientRunId, not created again
    expect(server.count('runs/search')).toBe(1);
    store.close();
  });

  it('creates the run when the lost attempt never reached the server', async () => {
    const store = restStore(server);
    const exp = await store.getOrCreateExperiment('ghost2');
    server.inject({ kind: 'drop', match: /runs\/create/ });
    await store.createRun(runRequest(exp.experimentId, 'retried'));
    expect(server.runsNamed('retried')).toHaveLength(1);
    expect(server.count('runs/create')).toBe(2);
    store.close();
  });

  it('re-sends a log-batch whose answer was lost without duplicating params or metrics', async () => {
    const store = restStore(server);
    const exp = await store.getOrCreateExperiment('batch');
    const info = await store.createRun(runRequest(exp.experimentId));
    server.inject({ kind: 'dropAfter', match: /log-batch/ });
    await store.logBatch(info.runId, { params: [{ key: 'k', value: '12' }], metrics: [{ key: 'm', value: 1, timestamp: 10, step: 0 }] });
    expect(server.count('runs/log-batch')).toBe(2);
    const run = server.runs.get(info.runId)!;
    expect([...run.params]).toEqual([['k', '12']]);
    expect(await store.getMetricHistory(info.runId, 'm')).toHaveLength(1);
    store.close();
  });

  it('retries an artifact upload with a fresh stream', async () => {
    const { promises: fsp, mkdtempSync } = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lpclust-up-'));
    await fsp.writeFile(path.join(dir, 'f.txt'), 'payload');
    const store = restStore(server);
    const exp = await store.getOrCreateExperiment('upload');
    const info = await store.createRun(runRequest(exp.experimentId));
    server.inject({ kind: 'status', status: 502, match: /^PUT / });
    await store.logArtifact(info.runId, path.join(dir, 'f.txt'));
    expect(server.count('mlflow-artifacts', 'PUT')).toBe(2);
    expect(server.runs.get(info.runId)!.artifacts.get('f.txt')!.toString()).toBe('payload');
    await fsp.rm(dir, { recursive: true });
    store.close();
  });
});
