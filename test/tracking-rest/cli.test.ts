/**
 * Whole tracked commands against the contract server through the CLI: the same runs, params,
 * metrics, tags and artifacts as with the local store; the spool when the server is down; sync.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeProfiles } from '../../src/io/profiles.js';
import { FileStore } from '../../src/tracking/file-store.js';
import { Random } from '../../src/util/random.js';
import type { ContractServer } from '../support/contract-server.js';
import { runCli, startServer, type CliResult } from './helpers.js';

const TOKEN = 'cli-token-ABCDEF-0123';

let server: ContractServer;
let tmp: string;
let profiles: string;

function lpclust(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runCli(tmp, args, { MLFLOW_TRACKING_TOKEN: TOKEN, LPCLUST_LOG_LEVEL: 'warn', ...env });
}

beforeAll(async () => {
  server = await startServer({ token: TOKEN });
  tmp = mkdtempSync(path.join(os.tmpdir(), 'lpclust-cli-rest-'));
  const rnd = new Random(3);
  const n = 24;
  const L = 24;
  const values = new Float64Array(n * L);
  for (let i = 0; i < n; i++) for (let j = 0; j < L; j++) values[i * L + j] = 100 + 50 * Math.sin((j + (i % 3) * 8) / 4) + rnd.normal();
  profiles = path.join(tmp, 'profiles.csv');
  await writeProfiles(profiles, {
    ids: Array.from({ length: n }, (_, i) => `m${i}`),
    dates: Array.from({ length: n }, () => '2024-01-01'),
    slots: Array.from({ length: L }, (_, j) => `${String(j).padStart(2, '0')}:00`),
    values,
    n,
    length: L,
  });
});
afterAll(async () => {
  await server.stop();
  rmSync(tmp, { recursive: true, force: true });
});

function artifactPaths(run: { artifacts: Map<string, Buffer> }): string[] {
  return [...run.artifacts.keys()].sort();
}

async function localArtifacts(store: FileStore, runId: string, dir = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await store.listArtifacts(runId, dir)) {
    if (e.isDir) out.push(...(await localArtifacts(store, runId, e.path)));
    else out.push(e.path);
  }
  return out.sort();
}

describe('tracked commands against a tracking server', () => {
  it('cluster logs to the server what it logs locally; runs lists it; sync is idempotent; a dead server spools', async () => {
    const remote = await lpclust(['--tracking-uri', server.url, '--experiment-name', 'cli', '--json', 'cluster', '--in', profiles, '-k', '3', '--out-dir', path.join(tmp, 'o1')]);
    expect(remote.stderr).not.toContain(TOKEN);
    expect(remote.code, remote.stderr).toBe(0);
    const { runId } = JSON.parse(remote.stdout) as { runId: string };
    const srun = server.runs.get(runId)!;
    expect(srun.info.status).toBe('FINISHED');
    expect(server.requests.every((r) => r.headers.authorization === `Bearer ${TOKEN}`)).toBe(true);

    const local = await lpclust(['--tracking-uri', 'file:./mlruns', '--experiment-name', 'cli', '--json', 'cluster', '--in', profiles, '-k', '3', '--out-dir', path.join(tmp, 'o2')]);
    expect(local.code, local.stderr).toBe(0);
    const localId = (JSON.parse(local.stdout) as { runId: string }).runId;
    const fs = new FileStore(path.join(tmp, 'mlruns'));
    const lrun = await fs.getRun(localId);
    expect([...srun.params.keys()].sort()).toEqual(Object.keys(lrun.data.params).sort());
    for (const k of Object.keys(lrun.data.params)) if (k !== 'out_dir') expect(srun.params.get(k)).toBe(lrun.data.params[k]);
    expect([...new Set(srun.metrics.map((m) => m.key))].sort()).toEqual(Object.keys(lrun.data.metrics).sort());
    const ignore = new Set(['lpclust.clientRunId', 'lpclust.owner']); // owner: the local FileStore's writer, not sent to a server
    expect([...srun.tags.keys()].filter((k) => !ignore.has(k)).sort()).toEqual(Object.keys(lrun.data.tags).filter((k) => !ignore.has(k)).sort());
    expect(artifactPaths(srun)).toEqual(await localArtifacts(fs, localId));
    expect(artifactPaths(srun).length).toBeGreaterThan(0);

    const listed = await lpclust(['--tracking-uri', server.url, '--json', 'runs', '--experiment', 'cli']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain(runId);

    const sync1 = await lpclust(['--json', 'sync', '--from', './mlruns', '--to', server.url]);
    expect(sync1.code, sync1.stderr).toBe(0);
    expect(JSON.parse(sync1.stdout)).toMatchObject({ created: 1, failed: 0 });
    const sync2 = await lpclust(['--json', 'sync', '--from', './mlruns', '--experiment', 'cli', '--to', server.url]);
    expect(JSON.parse(sync2.stdout)).toMatchObject({ created: 0, updated: 0, unchanged: 1 });
    expect(server.runs.size).toBe(2);

    // The server is down: the run completes in the spool with one warning, then sync uploads it.
    await server.stop();
    const spooled = await lpclust(['--tracking-uri', server.url, '--experiment-name', 'cli', '--json', 'cluster', '--in', profiles, '-k', '3', '--out-dir', path.join(tmp, 'o3')], { LPCLUST_SPOOL_DIR: 'spool' });
    expect(spooled.code, spooled.stderr).toBe(0);
    expect(spooled.stderr).toContain(`lpclust sync --from ${path.join(tmp, 'spool')}`);
    expect(spooled.stderr).not.toContain(TOKEN);
    await server.start();
    const sync3 = await lpclust(['--json', 'sync', '--from', 'spool'], { MLFLOW_TRACKING_URI: server.url });
    expect(JSON.parse(sync3.stdout)).toMatchObject({ created: 1, failed: 0 });
    expect(server.runs.size).toBe(3);

    const noTarget = await lpclust(['sync', '--from', 'spool']);
    expect(noTarget.code).toBe(2);
    expect(noTarget.stderr).toContain('--to');
  });
});
