import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { splitBatch } from '../../src/tracking/rest-batch.js';
import type { Metric, Param, Tag } from '../../src/tracking/store.js';
import type { ContractServer } from '../support/contract-server.js';
import { restStore, runRequest, startServer } from './helpers.js';

const params = (n: number, prefix = 'p'): Param[] => Array.from({ length: n }, (_, i) => ({ key: `${prefix}${i}`, value: String(i) }));
const tags = (n: number): Tag[] => Array.from({ length: n }, (_, i) => ({ key: `t${i}`, value: `v${i}` }));
const metrics = (n: number, keys = n): Metric[] =>
  Array.from({ length: n }, (_, i) => ({ key: `m${i % keys}`, value: i / 7, timestamp: 1_700_000_000_000 + i, step: Math.floor(i / keys) }));

describe('splitBatch at the limits', () => {
  it('keeps 100 params in one request and splits 101', () => {
    expect(splitBatch({ params: params(100) }).map((c) => c.params.length)).toEqual([100]);
    expect(splitBatch({ params: params(101) }).map((c) => c.params.length)).toEqual([100, 1]);
  });
  it('keeps 100 tags in one request and splits 101', () => {
    expect(splitBatch({ tags: tags(100) }).map((c) => c.tags.length)).toEqual([100]);
    expect(splitBatch({ tags: tags(101) }).map((c) => c.tags.length)).toEqual([100, 1]);
  });
  it('keeps 1000 metrics in one request and splits 1001', () => {
    expect(splitBatch({ metrics: metrics(1000) }).map((c) => c.metrics.length)).toEqual([1000]);
    expect(splitBatch({ metrics: metrics(1001) }).map((c) => c.metrics.length)).toEqual([1000, 1]);
  });
  it('keeps at most 1000 entities in all', () => {
    const chunks = splitBatch({ params: params(100), tags: tags(100), metrics: metrics(800) });
    expect(chunks.map((c) => c.params.length + c.tags.length + c.metrics.length)).toEqual([1000]);
    const over = splitBatch({ params: params(100), tags: tags(100), metrics: metrics(801) });
    expect(over.map((c) => c.params.length + c.tags.length + c.metrics.length)).toEqual([1000, 1]);
  });
  it('never puts a key twice in one request and keeps each history in order', () => {
    // 3 keys × 5 steps: five requests, step i of every key in request i.
    const chunks = splitBatch({ metrics: metrics(15, 3) });
    expect(chunks).toHaveLength(5);
    for (const c of chunks) expect(new Set(c.metrics.map((m) => m.key)).size).toBe(c.metrics.length);
    const order = chunks.flatMap((c) => c.metrics.filter((m) => m.key === 'm1').map((m) => m.step));
    expect(order).toEqual([0, 1, 2, 3, 4]);
    const dupTags = splitBatch({ tags: [{ key: 'a', value: '1' }, { key: 'a', value: '2' }] });
    expect(dupTags.map((c) => c.tags)).toEqual([[{ key: 'a', value: '1' }], [{ key: 'a', value: '2' }]]);
  });
  it('sends a param repeated with the same value once', () => {
    const chunks = splitBatch({ params: [{ key: 'k', value: '1' }, { key: 'k', value: '1' }] });
    expect(chunks).toEqual([{ params: [{ key: 'k', value: '1' }], tags: [], metrics: [] }]);
  });
  it('sends nothing for an empty batch', () => {
    expect(splitBatch({})).toEqual([]);
  });
});

describe('log-batch against the contract server (which enforces the limits)', () => {
  let server: ContractServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('rejects an over-limit batch sent in one request, so the chunking is what makes these pass', async () => {
    const store = restStore(server);
    const exp = await store.getOrCreateExperiment('limits');
    const run = await store.createRun(runRequest(exp.experimentId));
    // Bypass the chunking: the server must refuse 101 params in one request.
    await expect(
      store.client.request({ method: 'POST', path: '/api/2.0/mlflow/runs/log-batch', json: { run_id: run.runId, params: params(101) } }),
    ).rejects.toMatchObject({ status: 400, errorCode: 'INVALID_PARAMETER_VALUE' });
    await expect(
      store.client.request({ method: 'POST', path: '/api/2.0/mlflow/runs/log-batch', json: { run_id: run.runId, metrics: [metrics(1)[0], metrics(1)[0]] } }),
    ).rejects.toMatchObject({ status: 400 });
    // The rest of the contract the store is written to: timestamps required, run names consistent.
    await expect(
      store.client.request({ method: 'POST', path: '/api/2.0/mlflow/runs/log-batch', json: { run_id: run.runId, metrics: [{ key: 'm', value: 1, step: 0 }] } }),
    ).rejects.toMatchObject({ status: 400, errorCode: 'INVALID_PARAMETER_VALUE' });
    await expect(
      store.client.request({
        method: 'POST',
        path: '/api/2.0/mlflow/runs/create',
        json: { experiment_id: exp.experimentId, run_name: 'a', tags: [{ key: 'mlflow.runName', value: 'b' }] },
      }),
    ).rejects.toMatchObject({ status: 400, errorCode: 'INVALID_PARAMETER_VALUE' });
    await expect(
      store.client.request({ method: 'POST', path: '/api/2.0/mlflow/runs/search', json: { experiment_ids: [exp.experimentId], filter: 'params.k = 12' } }),
    ).rejects.toMatchObject({ status: 400 });
    store.close();
  });

  it('logs 101 params, 101 tags and 2001 metric values (with a key at many steps) in the right number of requests', async () => {
    const store = restStore(server);
    const exp = await store.getOrCreateExperiment('limits');
    const run = await store.createRun(runRequest(exp.experimentId));
    const before = server.count('runs/log-batch');
    const ms = metrics(2001, 1000); // keys m0..m999 at steps 0, 1 and m0 at step 2
    await store.logBatch(run.runId, { params: params(101), tags: tags(101), metrics: ms });
    const sent = server.count('runs/log-batch') - before;
    // 2202 entities: at least 3 requests; params 101 and metrics 2001 (m0 three times) fit in 4.
    expect(sent).toBeGreaterThanOrEqual(3);
    expect(sent).toBeLessThanOrEqual(4);
    for (const r of server.requests.slice(-sent)) {
      const j = r.json as { params: Param[]; tags: Tag[]; metrics: Metric[] };
      expect(j.params.length).toBeLessThanOrEqual(100);
      expect(j.tags.length).toBeLessThanOrEqual(100);
      expect(j.metrics.length).toBeLessThanOrEqual(1000);
      expect(j.params.length + j.tags.length + j.metrics.length).toBeLessThanOrEqual(1000);
    }
    const got = await store.getRun(run.runId);
    expect(Object.keys(got.data.params)).toHaveLength(101);
    expect(Object.keys(got.data.tags).filter((k) => /^t\d+$/.test(k))).toHaveLength(101);
    const hist = await store.getMetricHistory(run.runId, 'm0');
    expect(hist.map((m) => m.step)).toEqual([0, 1, 2]);
    expect(hist.map((m) => m.timestamp)).toEqual([ms[0].timestamp, ms[1000].timestamp, ms[2000].timestamp]);
    store.close();
  });
});
