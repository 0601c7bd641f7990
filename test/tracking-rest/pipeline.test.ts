/**
 * `lpclust pipeline` against the contract server, through the CLI: the server shows the same
 * runs, nesting, params, metrics, tags and artifacts as a local run; `--reuse` works from the
 * server's runs (artifacts downloaded); a server that dies mid-run loses nothing after `sync`.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/tracking/file-store.js';
import { ContractServer } from '../support/contract-server.js';
import { shape } from '../support/run-shape.js';
import { restStore, runCli } from './helpers.js';

const PIPELINE = ['pipeline', '--model', 'kmeans', '-k', '3', '--no-plots', '--json', '--quiet'];

const lpclust = runCli;


let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'lpclust-rest-pipeline-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe('lpclust pipeline with a tracking server', () => {
  it('logs the same runs as locally, reuses from the server, and survives a server killed mid-run', async () => {
    const dirs = ['local', 'remote', 'killed'].map((d) => {
      mkdirSync(path.join(tmp, d));
      return path.join(tmp, d);
    });
    const server = await new ContractServer().start();
    const killed = await new ContractServer().start();
    try {
      const [local, remote] = await Promise.all([
        lpclust(dirs[0], ['--tracking-uri', 'file:./mlruns', ...PIPELINE]),
        lpclust(dirs[1], ['--tracking-uri', server.url, ...PIPELINE]),
      ]);
      expect(local.code, local.stderr).toBe(0);
      expect(remote.code, remote.stderr).toBe(0);
      const localOut = JSON.parse(local.stdout) as { runId: string; metrics: Record<string, number> };
      const remoteOut = JSON.parse(remote.stdout) as { runId: string; metrics: Record<string, number>; stages: Array<{ runId: string }> };
      const localShape = await shape(new FileStore(path.join(dirs[0], 'mlruns')));
      const target = restStore(server);
      const remoteShape = await shape(target);
      expect(remoteShape).toHaveLength(6); // parent + 5 stages
      expect(remoteShape).toEqual(localShape);
      expect(remoteOut.metrics['Silhouette Score']).toBe(localOut.metrics['Silhouette Score']);
      for (const s of remoteOut.stages) expect(server.runs.get(s.runId)!.tags.get('mlflow.parentRunId')).toBe(remoteOut.runId);

      // --reuse finds the FINISHED stage runs on the server; with the local outputs gone, it downloads them.
      rmSync(path.join(dirs[1], 'outputs'), { recursive: true, force: true });
      const reused = await lpclust(dirs[1], ['--tracking-uri', server.url, ...PIPELINE, '--reuse']);
      expect(reused.code, reused.stderr).toBe(0);
      const reusedOut = JSON.parse(reused.stdout) as { metrics: Record<string, number>; stages: Array<{ stage: string; reusedFrom?: string }> };
      expect(reusedOut.stages.filter((s) => s.reusedFrom).length).toBeGreaterThan(0);
      expect(reusedOut.metrics['Silhouette Score']).toBe(remoteOut.metrics['Silhouette Score']);
      expect(server.count('/api/2.0/mlflow-artifacts/artifacts/', 'GET')).toBeGreaterThan(0);

      // A server that dies half-way through the run (every request after the first 40 is dropped).
      killed.inject({ kind: 'drop', skip: 40, times: 1_000_000 });
      const loud = PIPELINE.filter((a) => a !== '--quiet'); // the warning is a warn line: shown unless --quiet
      const dying = await lpclust(dirs[2], ['--tracking-uri', killed.url, ...loud], { LPCLUST_SPOOL_DIR: 'spool' });
      expect(dying.code, dying.stderr).toBe(0);
      expect(dying.stderr).toContain(`lpclust sync --from ${path.join(dirs[2], 'spool')}`);
      killed.faults.length = 0; // it comes back
      const before = await shape(restStore(killed));
      expect(before.length).toBeGreaterThan(0);
      expect(before).not.toEqual(localShape);
      const synced = await lpclust(dirs[2], ['--json', 'sync', '--from', 'spool', '--to', killed.url]);
      expect(synced.code, synced.stderr).toBe(0);
      expect(await shape(restStore(killed))).toEqual(localShape);
      const again = await lpclust(dirs[2], ['--json', 'sync', '--from', 'spool', '--to', killed.url]);
      expect(JSON.parse(again.stdout)).toMatchObject({ created: 0, updated: 0, failed: 0 });
      expect(killed.runs.size).toBe(6);
      target.close();
    } finally {
      await server.stop();
      await killed.stop();
    }
  });

  it('a sweep on two worker threads logs concurrent runs to a server as locally, and through a server dying mid-sweep', async () => {
    const SWEEP = ['sweep', '--models', 'kmeans,som,agglomerative', '--metrics', 'euclidean', '-k', '3..5', '--workers', '2', '--json', '--quiet'];
    const dirs = ['sweep-local', 'sweep-remote', 'sweep-killed'].map((d) => {
      mkdirSync(path.join(tmp, d));
      return path.join(tmp, d);
    });
    const server = await new ContractServer().start();
    const killed = await new ContractServer().start();
    try {
      const [local, remote] = await Promise.all([lpclust(dirs[0], ['--tracking-uri', 'file:./mlruns', ...SWEEP]), lpclust(dirs[1], ['--tracking-uri', server.url, ...SWEEP])]);
      expect(local.code, local.stderr).toBe(0);
      expect(remote.code, remote.stderr).toBe(0);
      const localShape = await shape(new FileStore(path.join(dirs[0], 'mlruns')));
      // parent + 3 ETLs + harmonization + 3 models × 3 k (no DTW stage: Euclidean only)
      expect(localShape).toHaveLength(14);
      expect(await shape(restStore(server))).toEqual(localShape);
      // The same best configuration and score (its run id is each store's own).
      const bestOf = (out: string): unknown => {
        const { runId: _id, ...best } = (JSON.parse(out) as { best: { runId: string } }).best;
        return best;
      };
      expect(bestOf(remote.stdout)).toEqual(bestOf(local.stdout));

      // The server stops answering while configurations are being logged side by side.
      killed.inject({ kind: 'drop', skip: 60, times: 1_000_000 });
      const dying = await lpclust(dirs[2], ['--tracking-uri', killed.url, ...SWEEP.filter((a) => a !== '--quiet')], { LPCLUST_SPOOL_DIR: 'spool' });
      expect(dying.code, dying.stderr).toBe(0);
      expect(dying.stderr).toContain(`lpclust sync --from ${path.join(dirs[2], 'spool')}`);
      killed.faults.length = 0; // it comes back
      expect(await shape(restStore(killed))).not.toEqual(localShape);
      const synced = await lpclust(dirs[2], ['--json', 'sync', '--from', 'spool', '--to', killed.url]);
      expect(synced.code, synced.stderr).toBe(0);
      expect(await shape(restStore(killed))).toEqual(localShape);
    } finally {
      await server.stop();
      await killed.stop();
    }
  });
});
