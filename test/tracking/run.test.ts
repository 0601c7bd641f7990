import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InterruptedError, inputError } from '../../src/errors.js';
import { FileStore } from '../../src/tracking/file-store.js';
import { endActiveRunsSync, startRun, withRun } from '../../src/tracking/run.js';
import { LIMITS } from '../../src/tracking/store.js';
import { registerSecret } from '../../src/util/mask.js';
import { leftovers, tempDir } from './helpers.js';

function newStore(): FileStore {
  return new FileStore(path.join(tempDir(), 'mlruns'));
}

describe('withRun', () => {
  it('ends FINISHED with the standard tags, nested runs carry mlflow.parentRunId', async () => {
    const store = newStore();
    let parentId = '';
    let childId = '';
    const result = await withRun({ store, experimentName: 'e', runName: 'pipeline', sourceName: 'lpclust pipeline -k 3' }, async (run) => {
      parentId = run.runId;
      await run.logParams({ k: 3, normalize: 'l2', skipped: undefined });
      await run.logMetrics({ 'DB Index': 0.5, 'Silhouette Score': 0.25 });
      await run.logMetric('inertia', 10, 1);
      await run.setTags({ stage: 'all' });
      await withRun({ store, experimentName: 'e', runName: 'cluster', parentRunId: run.runId }, async (child) => {
        childId = child.runId;
        await child.logJson({ a: 1 }, 'reports/r.json');
      });
      return 42;
    });
    expect(result).toBe(42);
    const parent = await store.getRun(parentId);
    expect(parent.info.status).toBe('FINISHED');
    expect(parent.info.endTime).toBeGreaterThanOrEqual(parent.info.startTime);
    expect(parent.data.params).toEqual({ k: '3', normalize: 'l2' });
    expect(parent.data.metrics).toEqual({ 'DB Index': 0.5, 'Silhouette Score': 0.25, inertia: 10 });
    expect(parent.data.tags).toMatchObject({
      'mlflow.runName': 'pipeline',
      'mlflow.source.name': 'lpclust pipeline -k 3',
      'mlflow.source.type': 'LOCAL',
      stage: 'all',
    });
    expect(parent.data.tags['mlflow.user']).toBe(parent.info.userId);
    // In a git checkout (this repository) the commit is recorded; outside one there is no tag.
    let head: string | undefined;
    try {
      head = execFileSync('git', ['rev-parse', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    } catch {
      head = undefined;
    }
    if (head) expect(parent.data.tags['mlflow.source.git.commit']).toMatch(/^[0-9a-f]{40}$/);
    else expect(parent.data.tags['mlflow.source.git.commit']).toBeUndefined();
    const child = await store.getRun(childId);
    expect(child.data.tags['mlflow.parentRunId']).toBe(parentId);
    expect(child.info.status).toBe('FINISHED');
    expect(JSON.parse(fs.readFileSync(path.join(await store.artifactRoot(childId), 'reports', 'r.json'), 'utf8'))).toEqual({ a: 1 });
    const found = await store.searchRuns({ experimentIds: [child.info.experimentId], tags: { 'mlflow.parentRunId': parentId } });
    expect(found.map((r) => r.info.runId)).toEqual([childId]);
  });

  it('ends FAILED on an error, with the error (masked) as tags, and re-throws', async () => {
    const store = newStore();
    let id = '';
    await expect(
      withRun({ store, experimentName: 'e', runName: 'bad' }, async (run) => {
        id = run.runId;
        throw inputError('E_INPUT_ROW', 'bad row 7 reading postgres://admin:s3cr3tpw@db/x');
      }),
    ).rejects.toMatchObject({ code: 'E_INPUT_ROW' });
    const run = await store.getRun(id);
    expect(run.info.status).toBe('FAILED');
    expect(run.info.endTime).not.toBeNull();
    expect(run.data.tags['lpclust.error.code']).toBe('E_INPUT_ROW');
    expect(run.data.tags['lpclust.error']).toBe('bad row 7 reading postgres://admin:***@db/x');
    // A plain bug is FAILED too.
    await expect(withRun({ store, experimentName: 'e', runName: 'bug' }, async () => JSON.parse('{'))).rejects.toThrow();
    const [bug] = await store.searchRuns({ experimentIds: [run.info.experimentId], tags: { 'mlflow.runName': 'bug' } });
    expect(bug.info.status).toBe('FAILED');
    expect(bug.data.tags['lpclust.error.code']).toBe('E_INTERNAL');
  });

  it('ends KILLED on an interruption', async () => {
    const store = newStore();
    let id = '';
    await expect(
      withRun({ store, experimentName: 'e', runName: 'stopped' }, async (run) => {
        id = run.runId;
        throw new InterruptedError('SIGINT');
      }),
    ).rejects.toBeInstanceOf(InterruptedError);
    expect((await store.getRun(id)).info.status).toBe('KILLED');
  });

  it('endActiveRunsSync ends open runs KILLED (children first); a later end() does not change it', async () => {
    const store = newStore();
    const parent = await startRun({ store, experimentName: 'e', runName: 'p' });
    const child = await startRun({ store, experimentName: 'e', runName: 'c', parentRunId: parent.runId });
    expect(endActiveRunsSync('KILLED')).toEqual([]);
    await child.end('FINISHED');
    await parent.end('FINISHED');
    expect((await store.getRun(parent.runId)).info.status).toBe('KILLED');
    expect((await store.getRun(child.runId)).info.status).toBe('KILLED');
  });
});

describe('params longer than MLflow accepts', () => {
  it('keeps the full value as an artifact and logs a truncated value plus its hash', async () => {
    const store = newStore();
    const full = JSON.stringify({ meters: Array.from({ length: 2000 }, (_, i) => `meter-${i}`) });
    expect(full.length).toBeGreaterThan(LIMITS.paramValue);
    let id = '';
    await withRun({ store, experimentName: 'e', runName: 'long' }, async (run) => {
      id = run.runId;
      await run.logParams({ config: full, short: 'x' });
      await run.logParams({ config: full }); // same value again: fine
      // Another value is refused and leaves the artifact of the first one alone.
      await expect(run.logParams({ config: full + ' changed' })).rejects.toMatchObject({ code: 'E_PARAM_CHANGED' });
    });
    const run = await store.getRun(id);
    const stored = run.data.params.config;
    const hash = createHash('sha256').update(full).digest('hex');
    expect(stored.length).toBeLessThanOrEqual(LIMITS.paramValue);
    expect(stored.endsWith(`sha256:${hash}`)).toBe(true);
    expect(full.startsWith(stored.slice(0, 5000))).toBe(true);
    expect(fs.readFileSync(path.join(await store.artifactRoot(id), 'params', 'config.txt'), 'utf8')).toBe(full);
    expect(run.data.params.short).toBe('x');
  });
});

describe('secret masking', () => {
  it('masks passwords in URIs, tokens and registered secrets in params, tags, run names and artifacts', async () => {
    const store = newStore();
    registerSecret('tok-9f8e7d6c5b4a');
    let id = '';
    await withRun(
      { store, experimentName: 'e', runName: 'load mongodb://reader:pw12345@h', sourceName: 'lpclust etl --uri postgres://u:hunter2@db/x', tags: { auth: 'Bearer abc.def.ghi' } },
      async (run) => {
        id = run.runId;
        await run.logParams({ uri: 'mongodb://reader:pw12345@mongo:27017/db', dsn: 'host=db password=letmein user=x', header: 'tok-9f8e7d6c5b4a' });
        await run.setTags({ note: 'api_key=AKIA1234567890 token=abcd', env: 'uses tok-9f8e7d6c5b4a' });
        await run.logText('connect postgres://u:hunter2@db/x', 'log.txt');
      },
    );
    const run = await store.getRun(id);
    const everything = JSON.stringify(run) + fs.readFileSync(path.join(await store.artifactRoot(id), 'log.txt'), 'utf8');
    for (const secret of ['pw12345', 'letmein', 'tok-9f8e7d6c5b4a', 'AKIA1234567890', 'hunter2', 'abc.def.ghi', 'token=abcd']) expect(everything).not.toContain(secret);
    expect(run.data.params.uri).toBe('mongodb://reader:***@mongo:27017/db');
    expect(run.info.runName).toBe('load mongodb://reader:***@h');
    // meta.yaml too.
    const meta = fs.readFileSync(path.join(store.root, run.info.experimentId, id, 'meta.yaml'), 'utf8');
    expect(meta).not.toContain('pw12345');
    expect(leftovers(store.root)).toEqual([]);
  });
});
