/**
 * `metrics/get-history` paging against servers that page as MLflow 3.x does: `max_results` on
 * every request, `next_page_token` followed, an empty page or a repeated token ends it. Without
 * `max_results` a 3.x server answers an empty page with a token it then refuses, which broke
 * `lpclust runs show` and a second `lpclust sync` (exit 4).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/tracking/file-store.js';
import { RestStore } from '../../src/tracking/rest-store.js';
import type { ContractServer } from '../support/contract-server.js';
import { tempDir } from '../tracking/helpers.js';
import { fastOptions, restStore, runCli, runRequest, startServer } from './helpers.js';

/** Five values of one metric at steps 0..4: three pages of at most two. */
const HISTORY_PAGE = 25000;
const HISTORY = [0, 1, 2, 3, 4].map((step) => ({ key: 'Inertia', value: 100 - step * 7.5, timestamp: 1_700_000_000_000 + step, step }));

let server: ContractServer;
beforeAll(async () => {
  server = await startServer({ mlflowVersion: 3, maxHistoryPageSize: 2 });
});
afterAll(async () => {
  await server.stop();
});

function historyRequests(from: number): Array<Record<string, string>> {
  return server.requests.slice(from).filter((r) => r.path.endsWith('/metrics/get-history')).map((r) => r.query ?? {});
}

describe('the contract server in MLflow 3 mode', () => {
  it('answers a request without max_results with an empty page and a token it then refuses', async () => {
    const store = restStore(server);
    const exp = await store.getOrCreateExperiment('bare');
    const info = await store.createRun(runRequest(exp.experimentId));
    await store.logBatch(info.runId, { metrics: HISTORY });
    const q = `run_id=${info.runId}&metric_key=Inertia`;
    const first = await fetch(`${server.url}/api/2.0/mlflow/metrics/get-history?${q}`);
    const body = (await first.json()) as { metrics?: unknown[]; next_page_token?: string };
    expect(first.status).toBe(200);
    expect(body.metrics ?? []).toEqual([]);
    expect(body.next_page_token).toBeTruthy();
    const second = await fetch(`${server.url}/api/2.0/mlflow/metrics/get-history?${q}&page_token=${encodeURIComponent(body.next_page_token!)}`);
    expect(second.status).toBe(400);
    expect(await second.json()).toEqual({ error_code: 'INVALID_PARAMETER_VALUE', message: 'Invalid page token' });
    store.client.close();
  });
});

describe('RestStore.getMetricHistory', () => {
  it('sends max_results on every request and follows the pages in order', async () => {
    const store = restStore(server);
    const exp = await store.getOrCreateExperiment('paged');
    const info = await store.createRun(runRequest(exp.experimentId));
    await store.logBatch(info.runId, { metrics: HISTORY });
    const before = server.requests.length;
    expect(await store.getMetricHistory(info.runId, 'Inertia')).toEqual(HISTORY);
    const sent = historyRequests(before);
    expect(sent).toHaveLength(3);
    expect(sent.every((q) => q.max_results === String(HISTORY_PAGE))).toBe(true);
    expect(sent[0].page_token).toBeUndefined();
    expect(sent[1].page_token).toBeTruthy();
    store.client.close();
  });

  it('stops on an empty page and on a token it has seen before', async () => {
    // A misbehaving server: values with a token that repeats, or an empty page with a token.
    let calls = 0;
    let mode: 'repeat' | 'empty' = 'repeat';
    const raw = http.createServer((req, res) => {
      calls++;
      const token = new URL(req.url ?? '/', 'http://x').searchParams.get('page_token');
      const metric = (step: number) => ({ key: 'm', value: step, timestamp: 1, step });
      const body = mode === 'empty'
        ? { metrics: [], next_page_token: 'again' }
        : token === null
          ? { metrics: [metric(0), metric(1)], next_page_token: 'T1' }
          : { metrics: [metric(2)], next_page_token: 'T1' };
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(raw.address() as AddressInfo).port}`;
    const store = new RestStore(url, { client: fastOptions(url) });
    try {
      expect((await store.getMetricHistory('r', 'm')).map((m) => m.step)).toEqual([0, 1, 2]);
      expect(calls).toBe(2);
      mode = 'empty';
      calls = 0;
      expect(await store.getMetricHistory('r', 'm')).toEqual([]);
      expect(calls).toBe(1);
    } finally {
      store.client.close();
      await new Promise<void>((r) => raw.close(() => r()));
    }
  }, 15_000);
});

describe('the CLI against a 3.x-style server', () => {
  it('runs show and a second sync read the whole metric history', async () => {
    const tmp = tempDir('lpclust-history-');
    const local = new FileStore(path.join(tmp, 'mlruns'));
    const exp = await local.getOrCreateExperiment('hist');
    const info = await local.createRun(runRequest(exp.experimentId, 'with history'));
    await local.logBatch(info.runId, { params: [{ key: 'k', value: '3' }], metrics: HISTORY });
    await local.updateRun(info.runId, 'FINISHED', 1_700_000_100_000);

    const sync1 = await runCli(tmp, ['--json', 'sync', '--from', './mlruns', '--to', server.url]);
    expect(sync1.code, sync1.stderr).toBe(0);
    expect(JSON.parse(sync1.stdout)).toMatchObject({ created: 1, failed: 0 });
    const remoteId = (JSON.parse(sync1.stdout) as { runs: Array<{ remoteRunId: string }> }).runs[0].remoteRunId;

    // A second, full sync (--full: past the sync state, which would skip the unchanged run without
    // a request) reads the server's history to send only what it lacks: nothing.
    const before = server.requests.length;
    const sync2 = await runCli(tmp, ['--json', 'sync', '--full', '--from', './mlruns', '--to', server.url]);
    expect(sync2.code, sync2.stderr).toBe(0);
    expect(JSON.parse(sync2.stdout)).toMatchObject({ created: 0, updated: 0, unchanged: 1, failed: 0 });
    expect(historyRequests(before).length).toBeGreaterThanOrEqual(3);
    expect(server.runs.get(remoteId)!.metrics).toHaveLength(HISTORY.length);

    const show = await runCli(tmp, ['--tracking-uri', server.url, '--json', 'runs', 'show', remoteId], { LPCLUST_SPOOL: 'off' });
    expect(show.code, show.stderr).toBe(0);
    const detail = JSON.parse(show.stdout) as { metrics: Record<string, { value: number; step: number; historyLength: number }> };
    expect(detail.metrics.Inertia).toMatchObject({ historyLength: 5, step: 4, value: 70 });
  });
});
