import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/tracking/file-store.js';
import { ensureBuilt, leftovers, REPO, tempDir } from '../tracking/helpers.js';

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  ids: string[];
  outDir: string;
  stderr: string;
}

/** Start the fixture, wait for READY, send `signal`, wait for the exit. */
function holdAndSignal(root: string, mode: 'poll' | 'block', signal: NodeJS.Signals): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(REPO, 'test', 'cli', 'fixtures', 'hold-run.mjs'), root, mode], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let ready: string[] | null = null;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`fixture did not finish; stderr: ${stderr}`));
    }, 40_000);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = /READY (\S+) (\S+) (\S+)/.exec(stdout);
      if (m && !ready) {
        ready = [m[1], m[2], m[3]];
        // Let the work run a little (the poll loop logs metrics meanwhile).
        setTimeout(() => child.kill(signal), 300);
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      if (!ready) return reject(new Error(`fixture never got ready (code ${code}); stderr: ${stderr}`));
      resolve({ code, signal: sig, ids: ready.slice(0, 2), outDir: ready[2], stderr });
    });
  });
}

async function expectKilled(root: string, o: Outcome): Promise<void> {
  const store = new FileStore(root);
  for (const id of o.ids) {
    const run = await store.getRun(id);
    expect(run.info.status).toBe('KILLED');
    const meta = fs.readFileSync(path.join(root, run.info.experimentId, id, 'meta.yaml'), 'utf8');
    expect(meta).toMatch(/^status: 5$/m);
    expect(meta).toMatch(/^end_time: \d{13}$/m);
  }
  expect(leftovers(root)).toEqual([]);
  // The unfinished output (and, blocked, the folder being staged) was neither committed nor left
  // behind as a temporary file or folder: one registry of temporaries, io/atomic.ts.
  expect(fs.readdirSync(o.outDir)).toEqual([]);
}

describe('runs end KILLED on a signal, never RUNNING', () => {
  beforeAll(() => ensureBuilt());

  it('SIGINT while the work polls for interruption: exit 130', async () => {
    const root = path.join(tempDir(), 'mlruns');
    const o = await holdAndSignal(root, 'poll', 'SIGINT');
    expect(o.stderr).toBe('');
    expect(o.code).toBe(130);
    await expectKilled(root, o);
    // Metrics logged before the signal are intact.
    const ticks = await new FileStore(root).getMetricHistory(o.ids[1], 'tick');
    expect(ticks.length).toBeGreaterThan(0);
  });

  it('SIGINT while the work is blocked: handler ends the runs and exits 130 within ~2 s', async () => {
    const root = path.join(tempDir(), 'mlruns');
    const t = Date.now();
    const o = await holdAndSignal(root, 'block', 'SIGINT');
    expect(Date.now() - t).toBeLessThan(20_000);
    expect(o.code).toBe(130);
    expect(o.stderr).toContain('interrupted by SIGINT');
    await expectKilled(root, o);
  });

  it('SIGTERM: exit 143, runs KILLED', async () => {
    const root = path.join(tempDir(), 'mlruns');
    const o = await holdAndSignal(root, 'block', 'SIGTERM');
    expect(o.code).toBe(143);
    await expectKilled(root, o);
  });
});
