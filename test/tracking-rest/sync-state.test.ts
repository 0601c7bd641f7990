/**
 * `lpclust sync` with its sync state, against the contract server on loopback: run pointers
 * (lpclust.child.*, lpclust.reused_from) hold the server's ids, the per-run tag counts are the
 * tags really sent, a second sync of unchanged runs makes no request at all, a changed run is the
 * only one checked, and --full checks them all without creating anything.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/tracking/file-store.js';
import { withRun } from '../../src/tracking/run.js';
import { SYNC_STATE_FILE, syncRuns } from '../../src/tracking/sync.js';
import type { ContractServer } from '../support/contract-server.js';
import { restStore, startServer } from './helpers.js';

let server: ContractServer;
let tmp: string;
beforeEach(async () => {
  server = await startServer({ maxPageSize: 7 });
  tmp = mkdtempSync(path.join(os.tmpdir(), 'lpclust-sync-state-'));
});
afterEach(async () => {
  await server.stop();
  rmSync(tmp, { recursive: true, force: true });
});

/** A pipeline (parent, harmonization and clustering children), a run reusing the harmonization, and plain runs. */
async function localRuns(store: FileStore): Promise<{ parent: string; harmonization: string; clustering: string; reuser: string; plain: string[] }> {
  const base = { store, experimentName: 'e' };
  const ids = { parent: '', harmonization: '', clustering: '', reuser: '', plain: [] as string[] };
  ids.parent = await withRun({ ...base, runName: 'pipeline', tags: { 'lpclust.pipeline': 'pipeline' } }, async (p) => {
    ids.harmonization = await withRun({ ...base, runName: 'harmonization', parentRunId: p.runId }, async (r) => {
      await r.logParams({ sources: 'sql' });
      await r.logMetrics({ rows: 10 });
      return r.runId;
    });
    ids.clustering = await withRun({ ...base, runName: 'kmeans euclidean k=3', parentRunId: p.runId }, async (r) => {
      await r.logParams({ model: 'kmeans', k: 3 });
      for (let step = 0; step < 3; step++) await r.logMetric('Inertia', 10 - step, step);
      await r.logText('labels', 'out/labels.csv');
      return r.runId;
    });
    await p.setTags({ 'lpclust.child.harmonization': ids.harmonization, 'lpclust.child.clustering': ids.clustering });
    return p.runId;
  });
  ids.reuser = await withRun({ ...base, runName: 'harmonization', tags: { 'lpclust.reused_from': ids.harmonization } }, async (r) => r.runId);
  for (let i = 0; i < 8; i++) ids.plain.push(await withRun({ ...base, runName: `plain ${i}` }, async (r) => {
    await r.logParams({ i });
    await r.logMetrics({ score: i });
    return r.runId;
  }));
  return ids;
}

describe('sync state', () => {
  it('rewrites run pointers to server ids, counts the tags sent, and skips unchanged runs without a request', async () => {
    const from = new FileStore(path.join(tmp, 'mlruns'));
    const ids = await localRuns(from);
    const to = restStore(server);
    const statePath = path.join(from.root, SYNC_STATE_FILE);
    try {
      const first = await syncRuns(from, to, { statePath });
      expect(first).toMatchObject({ created: 12, failed: 0, skipped: 0, pointerTags: 2 });
      const remoteOf = new Map(first.runs.map((r) => [r.localRunId, r.remoteRunId]));
      const serverRun = (local: string) => server.runs.get(remoteOf.get(local)!)!;
      expect(serverRun(ids.parent).tags.get('lpclust.child.harmonization')).toBe(remoteOf.get(ids.harmonization));
      expect(serverRun(ids.parent).tags.get('lpclust.child.clustering')).toBe(remoteOf.get(ids.clustering));
      expect(serverRun(ids.reuser).tags.get('lpclust.reused_from')).toBe(remoteOf.get(ids.harmonization));
      expect(serverRun(ids.clustering).tags.get('mlflow.parentRunId')).toBe(remoteOf.get(ids.parent));
      // The count is what was sent: every tag of a created run (a pointer set later is counted apart).
      for (const r of first.runs) {
        const local = await from.getRun(r.localRunId);
        const pointers = Object.keys(local.data.tags).filter((k) => k.startsWith('lpclust.child.')).length;
        // lpclust.owner (the local writer's process) stays local; lpclust.syncSourceRunId is added.
        const owner = 'lpclust.owner' in local.data.tags ? 1 : 0;
        expect(r.tags, r.runName).toBe(Object.keys(local.data.tags).length + 1 - pointers - owner);
      }
      // The server's runs were read per experiment, not searched for run by run.
      expect(server.count('runs/search')).toBeLessThanOrEqual(3);
      expect(existsSync(statePath)).toBe(true);

      const before = server.requests.length;
      const second = await syncRuns(from, to, { statePath });
      expect(second).toMatchObject({ created: 0, updated: 0, unchanged: 12, skipped: 12, failed: 0 });
      expect(server.requests.length - before).toBe(0);

      // One run changes: only it is looked at.
      await from.logBatch(ids.plain[3], { metrics: [{ key: 'score', value: 99, timestamp: Date.now(), step: 1 }] });
      const third = await syncRuns(from, to, { statePath });
      expect(third).toMatchObject({ created: 0, updated: 1, skipped: 11, failed: 0 });
      const changed = third.runs.find((r) => r.localRunId === ids.plain[3])!;
      expect(changed.metrics).toBe(1);
      expect(changed.skipped).toBeUndefined();
      expect(server.runs.get(remoteOf.get(ids.plain[3])!)!.metrics.filter((m) => m.key === 'score')).toHaveLength(2);

      // --full compares everything with the server again: nothing to send, nothing created.
      const full = await syncRuns(from, to, { statePath, full: true });
      expect(full).toMatchObject({ created: 0, updated: 0, unchanged: 12, skipped: 0, failed: 0, pointerTags: 0 });
      expect(server.runs.size).toBe(12);
    } finally {
      to.close();
    }
  });

  it('a server run whose child pointers hold local ids (an older sync) is corrected; an unreadable state only costs time', async () => {
    const from = new FileStore(path.join(tmp, 'mlruns'));
    const ids = await localRuns(from);
    const to = restStore(server);
    try {
      await syncRuns(from, to);
      const statePath = path.join(from.root, SYNC_STATE_FILE);
      writeFileSync(statePath, '{ not json');
      const parentRemote = [...server.runs.values()].find((r) => r.tags.get('lpclust.syncSourceRunId') === ids.parent)!;
      parentRemote.tags.set('lpclust.child.clustering', ids.clustering);
      const again = await syncRuns(from, to, { statePath });
      expect(again).toMatchObject({ created: 0, failed: 0, pointerTags: 1 });
      expect(parentRemote.tags.get('lpclust.child.clustering')).not.toBe(ids.clustering);
      expect(JSON.parse(readFileSync(statePath, 'utf8')).format).toBe('lpclust-sync-state');
    } finally {
      to.close();
    }
  });

  it('lpclust sync prints a counted line per run that sent something and a summary; the second sync is quiet', async () => {
    const from = new FileStore(path.join(tmp, 'mlruns'));
    await localRuns(from);
    const bin = path.resolve('bin/lpclust.js');
    // Spawned asynchronously: the contract server answers from this process.
    const run = () =>
      new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
        execFile(process.execPath, [bin, 'sync', '--from', path.join(tmp, 'mlruns'), '--to', server.url], { cwd: tmp, encoding: 'utf8' }, (err, stdout, stderr) =>
          resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
    const a = await run();
    expect(a.status, a.stderr).toBe(0);
    expect(a.stderr).toMatch(/^\[1\/12\] created e\/pipeline [0-9a-f]{32} → [0-9a-f]{32} \(0 params, 0 metric values, [1-9]\d* tags, 0 artifacts, status set\)$/m);
    expect(a.stderr).toMatch(/^\[12\/12\] created /m);
    expect(a.stdout).toMatch(/12 created, 0 completed, 0 already up to date, 0 failed; 2 tag\(s\) pointing at runs set to the server's ids/);
    const b = await run();
    expect(b.status, b.stderr).toBe(0);
    expect(b.stderr).toBe('');
    expect(b.stdout).toMatch(/0 created, 0 completed, 12 already up to date \(12 unchanged since the last sync, not checked again\), 0 failed/);
  });
});
