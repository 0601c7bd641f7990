/**
 * What a later lpclust does with what a killed one left in the FileStore: runs of gone owners
 * marked FAILED (and only those), temporary files and empty folders of gone writers removed, and
 * a lock left by a dead process or a full disk taken over without the 30 s wait.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FileStore, OWNER_TAG } from '../../src/tracking/file-store.js';
import { currentOwner, formatOwner, hostTag } from '../../src/io/owner.js';
import { ensureBuilt, leftovers, liveOwner, orphan, tempDir } from './helpers.js';

/** A pid no process has: one of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

function runDir(root: string, runId: string): string {
  for (const e of fs.readdirSync(root)) if (fs.existsSync(path.join(root, e, runId, 'meta.yaml'))) return path.join(root, e, runId);
  throw new Error(`no run ${runId}`);
}

const tmpName = (target: string, pid: number): string => `.${target}.tmp-${pid}-${hostTag()}-0123abcd`;

describe('FileStore recovery after kill -9', () => {
  beforeAll(() => ensureBuilt());

  it('marks runs of dead processes FAILED with why, leaves live and foreign ones, removes orphaned temp files and folders', async () => {
    const root = path.join(tempDir(), 'mlruns');
    // A run of a live process, one of another host, and one of an older lpclust (no owner tag)…
    const live = await liveOwner(root, 'live');
    const foreign = orphan(root, 'foreign');
    fs.writeFileSync(path.join(runDir(root, foreign), 'tags', OWNER_TAG), `${deadPid()}@some-other-host boot=x start=1`);
    const old = orphan(root, 'old');
    fs.rmSync(path.join(runDir(root, old), 'tags', OWNER_TAG));
    // …and one of a process killed with SIGKILL (last: each process above recovers the store when it starts a run).
    const dead = orphan(root, 'killed');
    const deadDir = runDir(root, dead);
    const expDir = path.dirname(deadDir);
    const owner = fs.readFileSync(path.join(deadDir, 'tags', OWNER_TAG), 'utf8');
    expect(owner).toMatch(/^\d+@\S+ boot=\S+ start=\d+$/);
    const pid = Number(owner.split('@')[0]);

    // Leftovers of killed writers: temp files (dead pid), a run folder killed between mkdir and
    // meta.yaml (marker of a dead pid), one being created right now (marker of this live process),
    // an empty metric file and a cut last line (as older versions left them).
    fs.writeFileSync(path.join(deadDir, tmpName('meta.yaml', pid)), 'half');
    fs.writeFileSync(path.join(expDir, tmpName('x', pid)), 'half');
    const liveTemp = path.join(deadDir, tmpName('tags', process.pid));
    fs.writeFileSync(liveTemp, 'mine');
    fs.mkdirSync(path.join(expDir, 'a'.repeat(32)));
    fs.writeFileSync(path.join(expDir, tmpName(`${'a'.repeat(32)}.meta.yaml`, pid)), 'meta');
    fs.mkdirSync(path.join(expDir, 'b'.repeat(32)));
    fs.writeFileSync(path.join(expDir, tmpName(`${'b'.repeat(32)}.meta.yaml`, process.pid)), 'meta');
    fs.writeFileSync(path.join(deadDir, 'metrics', 'empty'), '');
    fs.appendFileSync(path.join(deadDir, 'metrics', 'loss'), '1700000000000 0.1');

    const report = await new FileStore(root).recover();
    expect(report.failedRuns).toEqual([dead]);
    const after = new FileStore(root);
    const run = await after.getRun(dead);
    expect(run.info.status).toBe('FAILED');
    expect(run.info.endTime).toBeGreaterThanOrEqual(run.info.startTime);
    expect(run.info.endTime).toBeLessThanOrEqual(Date.now());
    expect(run.data.tags['lpclust.error.code']).toBe('E_RUN_OWNER_GONE');
    expect(run.data.tags['lpclust.error']).toContain(`the lpclust process ${pid} on ${currentOwner().host} that wrote this run stopped without ending it`);
    expect(run.data.params).toEqual({ k: '3' });
    expect(fs.readFileSync(path.join(deadDir, 'metrics', 'loss'), 'utf8')).toMatch(/^\d+ 0\.5 0\n\d+ 0\.25 1\n$/);
    expect(fs.existsSync(path.join(deadDir, 'metrics', 'empty'))).toBe(false);
    expect((await after.getRun(live.runId)).info.status).toBe('RUNNING');
    live.child.stdin!.end();
    await new Promise((r) => live.child.once('exit', r));
    expect((await after.getRun(foreign)).info.status).toBe('RUNNING');
    expect((await after.getRun(old)).info.status).toBe('RUNNING');
    expect(fs.existsSync(path.join(expDir, 'a'.repeat(32)))).toBe(false);
    expect(fs.existsSync(path.join(expDir, 'b'.repeat(32)))).toBe(true);
    expect(fs.existsSync(liveTemp)).toBe(true);
    expect(leftovers(root).sort()).toEqual([path.relative(root, liveTemp), path.relative(root, path.join(expDir, tmpName(`${'b'.repeat(32)}.meta.yaml`, process.pid)))].sort());
  });

  it('fails a run whose creator died before writing its owner (its creation marker names a dead pid)', async () => {
    const root = path.join(tempDir(), 'mlruns');
    const id = orphan(root, 'x');
    const dir = runDir(root, id);
    fs.rmSync(path.join(dir, 'tags'), { recursive: true });
    const pid = deadPid();
    fs.writeFileSync(path.join(path.dirname(dir), tmpName(`${id}.meta.yaml`, pid)), 'meta');
    const report = await new FileStore(root).recover();
    expect(report.failedRuns).toEqual([id]);
    const run = await new FileStore(root).getRun(id);
    expect(run.info.status).toBe('FAILED');
    expect(run.data.tags['lpclust.error']).toContain('stopped while creating it');
    expect(leftovers(root)).toEqual([]);
  });

  it('runs once per store and process, at the first run created', async () => {
    const root = path.join(tempDir(), 'mlruns');
    const id = orphan(root, 'x');
    const store = new FileStore(root);
    const exp = await store.getOrCreateExperiment('orphans');
    expect((await store.getRun(id)).info.status).toBe('RUNNING'); // reading does not recover
    await store.createRun({ experimentId: exp.experimentId, runName: 'next', userId: 'u', startTime: Date.now(), tags: [] });
    expect((await store.getRun(id)).info.status).toBe('FAILED');
    expect((await new FileStore(root).recover()).failedRuns).toEqual([]);
  });
});

describe('FileStore lock', () => {
  const lockOf = (root: string): string => path.join(root, '.lpclust.lock');

  async function timeToCreate(root: string, name: string): Promise<number> {
    const t0 = Date.now();
    await new FileStore(root).getOrCreateExperiment(name);
    return Date.now() - t0;
  }

  it('holds its owner while held, and is removed after', async () => {
    const root = path.join(tempDir(), 'mlruns');
    await new FileStore(root).getOrCreateExperiment('a');
    expect(fs.existsSync(lockOf(root))).toBe(false);
    expect(leftovers(root)).toEqual([]);
    expect(formatOwner(currentOwner())).toMatch(new RegExp(`^${process.pid}@`));
  });

  it('takes over at once a lock of a dead process on this host, and quickly an empty one (full disk)', async () => {
    const root = path.join(tempDir(), 'mlruns');
    await new FileStore(root).getOrCreateExperiment('setup');
    fs.writeFileSync(lockOf(root), `${deadPid()}@${currentOwner().host} boot=${currentOwner().boot}\nnonce=x\n`);
    expect(await timeToCreate(root, 'b')).toBeLessThan(1500);
    // An empty lock, as a full disk left it with older versions: stale once 2 s old, not 30 s.
    fs.writeFileSync(lockOf(root), '');
    const past = new Date(Date.now() - 5000);
    fs.utimesSync(lockOf(root), past, past);
    expect(await timeToCreate(root, 'c')).toBeLessThan(1500);
    fs.writeFileSync(lockOf(root), '');
    const waited = await timeToCreate(root, 'd');
    expect(waited).toBeGreaterThanOrEqual(1500);
    expect(waited).toBeLessThan(6000);
    expect(leftovers(root)).toEqual([]);
  });

  it('waits for a live holder', async () => {
    const root = path.join(tempDir(), 'mlruns');
    await new FileStore(root).getOrCreateExperiment('setup');
    fs.writeFileSync(lockOf(root), `${formatOwner(currentOwner())}\nnonce=held\n`);
    const pending = timeToCreate(root, 'e');
    await new Promise((r) => setTimeout(r, 700));
    expect(fs.readFileSync(lockOf(root), 'utf8')).toContain('nonce=held');
    fs.rmSync(lockOf(root));
    expect(await pending).toBeGreaterThanOrEqual(700);
  });
});
