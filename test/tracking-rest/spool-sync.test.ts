import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FileStore } from '../../src/tracking/file-store.js';
import { withRun } from '../../src/tracking/run.js';
import { REMOTE_RUN_ID_TAG, ResilientStore } from '../../src/tracking/spool.js';
import { syncRuns } from '../../src/tracking/sync.js';
import type { Run } from '../../src/tracking/store.js';
import type { ContractServer } from '../support/contract-server.js';
import { restStore, startServer } from './helpers.js';

let server: ContractServer;
let tmp: string;
let stderr: string[];
beforeEach(async () => {
  server = await startServer();
  tmp = mkdtempSync(path.join(os.tmpdir(), 'lpclust-spool-'));
  stderr = [];
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr.push(String(chunk));
    return true;
  });
});
afterEach(async () => {
  vi.restoreAllMocks();
  await server.stop();
  rmSync(tmp, { recursive: true, force: true });
});

function resilient(spoolDir: string): ResilientStore {
  return new ResilientStore(restStore(server, { maxRetries: 1, timeoutSeconds: 1 }), { spoolDir });
}

async function allRuns(store: FileStore): Promise<Run[]> {
  const out: Run[] = [];
  for (const e of await store.listExperiments()) out.push(...(await store.searchRuns({ experimentIds: [e.experimentId] })));
  return out;
}

/** Requests that write (anything but lookups). */
function writes(s: ContractServer): number {
  return s.requests.filter((r) => r.method === 'PUT' || /runs\/(create|log-batch|update)|experiments\/create/.test(r.path)).length;
}

describe('offline spool and sync', () => {
  it('a server that dies mid-run: the run continues in the spool, sync completes the same server run, twice is a no-op', async () => {
    const spoolDir = path.join(tmp, 'mlruns');
    const store = resilient(spoolDir);
    let parentId = '';
    let child1 = '';
    let child2 = '';
    await withRun({ store, experimentName: 'uc7', runName: 'pipeline' }, async (run) => {
      parentId = run.runId;
      await run.logParams({ k: 12, method: 'kmeans' });
      await run.logMetrics({ inertia: 5.5 }, 0);
      child1 = await withRun({ store, experimentName: 'uc7', runName: 'etl', parentRunId: run.runId }, async (c) => {
        await c.logMetrics({ rows: 100 });
        return c.runId;
      });
      await server.stop(); // the server dies
      await run.logMetrics({ inertia: 4.25 }, 1);
      await run.logText('report', 'reports/summary.txt');
      child2 = await withRun({ store, experimentName: 'uc7', runName: 'cluster', parentRunId: run.runId }, async (c) => {
        await c.logParams({ k: 12 });
        await c.logMetrics({ silhouette: 0.31 }, 12);
        return c.runId;
      });
    });
    expect(store.offline).toBe(true);
    const err = stderr.join('');
    expect(err.split(`lpclust continues and writes the runs to the local store ${spoolDir}`)).toHaveLength(2); // once
    expect(err).toMatch(/^warn: tracking server http:\/\/127\.0\.0\.1:\d+ unavailable/m);
    expect(stderr.join('')).toContain('lpclust sync --from');

    // The spool holds the parent (continuing the server run) and the second child.
    const local = new FileStore(spoolDir);
    const spooled = await allRuns(local);
    expect(spooled).toHaveLength(2);
    const p = spooled.find((r) => r.data.tags[REMOTE_RUN_ID_TAG] === parentId)!;
    expect(p.info.status).toBe('FINISHED');
    expect(p.data.params).toEqual({ k: '12', method: 'kmeans' });
    expect((await local.getMetricHistory(p.info.runId, 'inertia')).map((m) => m.value)).toEqual([5.5, 4.25]);
    const c2 = spooled.find((r) => r.info.runName === 'cluster')!;
    expect(c2.info.runId).toBe(child2);
    expect(c2.data.tags['mlflow.parentRunId']).toBe(parentId);
    // The server still shows the parent RUNNING with what it got before dying.
    expect(server.runs.get(parentId)!.info.status).toBe('RUNNING');
    expect(server.runs.get(child1)!.info.status).toBe('FINISHED');

    await server.start(); // it comes back
    const target = restStore(server);
    const report = await syncRuns(local, target);
    expect(report).toMatchObject({ created: 1, updated: 1, unchanged: 0, failed: 0 });
    const sp = server.runs.get(parentId)!;
    expect(sp.info.status).toBe('FINISHED');
    expect(sp.info.end_time).toBe(p.info.endTime);
    expect(sp.metrics.filter((m) => m.key === 'inertia').map((m) => [m.step, m.value])).toEqual([[0, 5.5], [1, 4.25]]);
    expect(sp.artifacts.get('reports/summary.txt')!.toString()).toBe('report');
    const clusters = server.runsNamed('cluster');
    expect(clusters).toHaveLength(1);
    expect(clusters[0].tags.get('mlflow.parentRunId')).toBe(parentId);
    expect(clusters[0].params.get('k')).toBe('12');
    expect(clusters[0].metrics).toEqual([expect.objectContaining({ key: 'silhouette', value: 0.31, step: 12 })]);
    expect(clusters[0].info.status).toBe('FINISHED');
    expect(server.runs.size).toBe(3);

    const before = writes(server);
    const again = await syncRuns(local, target);
    expect(again).toMatchObject({ created: 0, updated: 0, unchanged: 2, failed: 0 });
    expect(writes(server)).toBe(before);
    expect(server.runs.size).toBe(3);
    target.close();
  });

  it('a server down from the start: runs (nested, one FAILED) go to the spool; sync uploads everything with ids remapped', async () => {
    await server.stop();
    const spoolDir = path.join(tmp, 'spool');
    const store = resilient(spoolDir);
    let localParent = '';
    const failure = withRun({ store, experimentName: 'offline', runName: 'pipeline' }, async (run) => {
      localParent = run.runId;
      await run.logParams({ seed: 7 });
      for (let k = 2; k <= 4; k++) await run.logMetrics({ inertia: 10 / k }, k);
      await withRun({ store, experimentName: 'offline', runName: 'child', parentRunId: run.runId }, async (c) => {
        await c.logJson({ k: 3 }, 'model/model.json');
      });
      throw new Error('boom');
    });
    await expect(failure).rejects.toThrow('boom');
    const local = new FileStore(spoolDir);
    const spooled = await allRuns(local);
    expect(spooled.map((r) => r.info.status).sort()).toEqual(['FAILED', 'FINISHED']);
    expect(spooled.find((r) => r.info.runId === localParent)!.data.tags['lpclust.error']).toBe('boom');
    const history = await local.getMetricHistory(localParent, 'inertia');

    await server.start();
    const target = restStore(server);
    const report = await syncRuns(local, target, { experiment: 'offline' });
    expect(report).toMatchObject({ created: 2, failed: 0 });
    const remoteParent = server.runsNamed('pipeline')[0];
    const remoteChild = server.runsNamed('child')[0];
    expect(remoteParent.info.status).toBe('FAILED');
    const lp = spooled.find((r) => r.info.runId === localParent)!;
    expect(remoteParent.info.start_time).toBe(lp.info.startTime);
    expect(remoteParent.info.end_time).toBe(lp.info.endTime);
    expect(remoteParent.metrics).toEqual(history);
    expect(remoteParent.params.get('seed')).toBe('7');
    expect(remoteParent.tags.get('lpclust.syncSourceRunId')).toBe(localParent);
    expect(remoteChild.tags.get('mlflow.parentRunId')).toBe(remoteParent.info.run_id);
    expect(JSON.parse(remoteChild.artifacts.get('model/model.json')!.toString())).toEqual({ k: 3 });
    expect([...server.experiments.values()].map((e) => e.name)).toContain('offline');

    const before = writes(server);
    expect(await syncRuns(local, target)).toMatchObject({ created: 0, updated: 0, unchanged: 2 });
    expect(writes(server)).toBe(before);
    target.close();
  });

  it('concurrent writes to a run when the server dies move it to the spool once', async () => {
    const spoolDir = path.join(tmp, 'concurrent');
    const store = resilient(spoolDir);
    await withRun({ store, experimentName: 'par', runName: 'p' }, async (run) => {
      await run.logParams({ a: 1 });
      await server.stop();
      await Promise.all([run.logMetrics({ x: 1 }, 1), run.logMetrics({ y: 2 }, 1), run.setTags({ t: 'v' })]);
    });
    const runs = await allRuns(new FileStore(spoolDir));
    expect(runs).toHaveLength(1);
    expect(runs[0].data).toMatchObject({ params: { a: '1' }, metrics: { x: 1, y: 2 } });
    expect(runs[0].data.tags.t).toBe('v');
    await server.start();
  });

  it('a run ended on the server and written to after the server died keeps its status (and inputs) in the spool and after sync', async () => {
    const spoolDir = path.join(tmp, 'after-end');
    const store = resilient(spoolDir);
    const exp = await store.getOrCreateExperiment('late');
    const info = await store.createRun({ experimentId: exp.experimentId, runName: 'stage', userId: 'u', startTime: Date.now(), tags: [] });
    const input = { dataset: { name: 'harmonized', digest: 'abcd1234', sourceType: 'local', source: '{"uri": "/d/h.csv"}' }, tags: [{ key: 'mlflow.data.context', value: 'training' }] };
    await store.logInputs(info.runId, [input]);
    await store.updateRun(info.runId, 'FINISHED', 1_700_000_000_123);
    await server.stop();
    // The pipeline records a stage's outputs on its run after the run ended.
    await store.logBatch(info.runId, { tags: [{ key: 'lpclust.outputs', value: '{}' }] });
    const [spooled] = await allRuns(new FileStore(spoolDir));
    expect(spooled.info.status).toBe('FINISHED');
    expect(spooled.info.endTime).toBe(1_700_000_000_123);
    expect(await new FileStore(spoolDir).getRunInputs(spooled.info.runId)).toEqual([input]);
    await server.start();
    await syncRuns(new FileStore(spoolDir), restStore(server));
    const run = server.runs.get(info.runId)!;
    expect(run.info.status).toBe('FINISHED');
    expect(run.tags.get('lpclust.outputs')).toBe('{}');
    expect(run.datasetInputs).toEqual([{ tags: input.tags, dataset: { name: 'harmonized', digest: 'abcd1234', source_type: 'local', source: '{"uri": "/d/h.csv"}' } }]);
  });

  it('a run failing with the server reachable ends FAILED on the server', async () => {
    const store = resilient(path.join(tmp, 'unused'));
    await expect(withRun({ store, experimentName: 'x', runName: 'bad' }, async () => {
      throw new Error('input broken');
    })).rejects.toThrow('input broken');
    const [run] = server.runsNamed('bad');
    expect(run.info.status).toBe('FAILED');
    expect(run.tags.get('lpclust.error')).toBe('input broken');
    expect(store.offline).toBe(false);
  });

  it('sync resumes a half-done upload without duplicating (server dies during sync)', async () => {
    const local = new FileStore(path.join(tmp, 'src'));
    await withRun({ store: local, experimentName: 'resume', runName: 'r' }, async (run) => {
      await run.logParams({ a: 1 });
      for (let s = 0; s < 5; s++) await run.logMetrics({ loss: 1 / (s + 1) }, s);
      await run.logText('x', 'a.txt');
      await run.logText('y', 'b.txt');
    });
    const target = restStore(server, { maxRetries: 0 });
    server.inject({ kind: 'drop', match: /^PUT .*b\.txt$/, times: 1 });
    await expect(syncRuns(local, target)).rejects.toMatchObject({ code: 'E_TRACKING_UNAVAILABLE' });
    expect(server.runsNamed('r')[0].info.status).toBe('RUNNING');
    const report = await syncRuns(local, restStore(server));
    expect(report.runs[0]).toMatchObject({ created: false, artifacts: 1, metrics: 0, params: 0, ended: true });
    expect(server.runsNamed('r')).toHaveLength(1);
    expect(server.runsNamed('r')[0].metrics).toHaveLength(5);
    expect(server.runsNamed('r')[0].info.status).toBe('FINISHED');
    target.close();
  });
});
