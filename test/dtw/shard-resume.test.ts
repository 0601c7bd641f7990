/**
 * Resumable shards: `lpclust dtw --shard i/n` stopped midway (Ctrl-C in the library, `kill -9` of
 * the CLI with a torn last record and checkpoint line) and run again with the same arguments
 * continues from its checkpoint: the shard file is the bytes of an uninterrupted run (one worker
 * thread), and the merged matrix the one-machine bytes. A partial of other settings is refused;
 * `--force` starts over.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Random } from '../../src/util/random.js';
import { normalizeRows } from '../../src/profiles/normalize.js';
import { computeDtwShard } from '../../src/dtw/shard.js';

const BIN = path.resolve('bin/lpclust.js');
let dir = '';

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'lpclust-shard-resume-'));
});

function cli(args: string[]): { kill: () => void; done: Promise<{ status: number | null; stderr: string }> } {
  const proc = spawn(process.execPath, [BIN, '--tracking-uri', `file:${path.join(dir, 'mlruns')}`, ...args], { cwd: dir, env: { ...process.env, LPCLUST_TRACKING_URI: '', LPCLUST_LOG_LEVEL: 'info' } });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return { kill: () => proc.kill('SIGKILL'), done: new Promise((resolve) => proc.on('exit', (status) => resolve({ status, stderr }))) };
}

function lines(file: string): number {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').length - 1 : 0;
}

describe('dtw --shard resumes', () => {
  it('the library: interrupted after 3 tiles or more, the same call continues to the uninterrupted bytes; other settings are refused; force starts over', async () => {
    const rng = new Random(2);
    const n = 90;
    const L = 24;
    const raw = new Float64Array(n * L);
    for (let i = 0; i < raw.length; i++) raw[i] = 100 + 50 * Math.sin(i / 5) + 20 * rng.next();
    const values = normalizeRows(raw, L, 'l2');
    const base = { values, length: L, shard: { index: 1, count: 2 }, radius: 2, workers: 1, tileSize: 10, normalization: 'l2' as const, progress: false };
    const ref = path.join(dir, 'ref.tiles');
    await computeDtwShard({ ...base, out: ref });
    const out = path.join(dir, 'lib.tiles');
    // Stopped once three tiles are checkpointed (the stop is polled between tiles).
    await expect(computeDtwShard({ ...base, out, shouldStop: () => lines(`${out}.partial.ckpt`) >= 3 })).rejects.toMatchObject({ code: 'E_INTERRUPTED' });
    expect(existsSync(out)).toBe(false);
    expect(lines(`${out}.partial.ckpt`)).toBeGreaterThanOrEqual(1);
    await expect(computeDtwShard({ ...base, out, radius: 3 })).rejects.toMatchObject({ code: 'E_DTW_PARTIAL_FOREIGN', message: expect.stringContaining('radius differs') });
    const r = await computeDtwShard({ ...base, out });
    expect(r.tilesResumed).toBeGreaterThanOrEqual(1);
    expect(r.tilesResumed).toBeLessThan(r.tiles);
    expect(readFileSync(out).equals(readFileSync(ref))).toBe(true);
    expect(existsSync(`${out}.partial`) || existsSync(`${out}.partial.ckpt`)).toBe(false);
    // --force discards a partial (even a foreign one) and starts over.
    const forced = path.join(dir, 'forced.tiles');
    await expect(computeDtwShard({ ...base, out: forced, radius: 3, shouldStop: () => lines(`${forced}.partial.ckpt`) >= 2 })).rejects.toMatchObject({ code: 'E_INTERRUPTED' });
    const f = await computeDtwShard({ ...base, out: forced, force: true });
    expect(f.tilesResumed).toBe(0);
    expect(readFileSync(forced).equals(readFileSync(ref))).toBe(true);
  }, 60_000);

  it('the CLI killed with SIGKILL midway (torn last record and checkpoint line): the same command continues, the shard and the merged matrix are the same bytes', async () => {
    const rng = new Random(9);
    const slots = Array.from({ length: 48 }, (_, k) => `${String(Math.floor(k / 2)).padStart(2, '0')}:${k % 2 ? '30' : '00'}`);
    let text = `id,date,${slots.join(',')}\n`;
    for (let i = 0; i < 600; i++) {
      const date = new Date(Date.UTC(2019, 0, 1) + i * 86400000).toISOString().slice(0, 10);
      text += `m${i % 9},${date},${slots.map((_, k) => (200 + 150 * Math.sin((k + i) / 6) + 80 * rng.next()).toFixed(2)).join(',')}\n`;
    }
    writeFileSync(path.join(dir, 'p.csv'), text);
    const common = ['dtw', '--in', 'p.csv', '--radius', 'none', '--kernel', 'js', '--tile-size', '40', '--workers', '1'];
    const one = await cli([...common, '--out', 'one.npy']).done;
    expect(one.status, one.stderr).toBe(0);
    const ref0 = await cli([...common, '--shard', '0/2', '--out', 'ref0.tiles']).done;
    expect(ref0.status, ref0.stderr).toBe(0);
    const s1 = await cli([...common, '--shard', '1/2', '--out', 's1.tiles']).done;
    expect(s1.status, s1.stderr).toBe(0);

    const first = cli([...common, '--shard', '0/2', '--out', 's0.tiles']);
    const ckpt = path.join(dir, 's0.tiles.partial.ckpt');
    const until = Date.now() + 120_000;
    while (lines(ckpt) < 4) {
      if (Date.now() > until) throw new Error('no checkpoint within 120 s');
      await new Promise((r) => setTimeout(r, 10));
    }
    first.kill();
    await first.done;
    expect(existsSync(path.join(dir, 's0.tiles'))).toBe(false);
    // What a kill can leave past the checkpoint: part of a record, part of a line.
    appendFileSync(path.join(dir, 's0.tiles.partial'), Buffer.alloc(1000, 7));
    appendFileSync(ckpt, '99 12');
    const again = await cli([...common, '--shard', '0/2', '--out', 's0.tiles', '--resume']).done;
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/resuming .*s0\.tiles\.partial: \d+ of \d+ tile\(s\) already done/);
    expect(readFileSync(path.join(dir, 's0.tiles')).equals(readFileSync(path.join(dir, 'ref0.tiles')))).toBe(true);
    const merged = await cli(['dtw', 'merge', 's0.tiles', 's1.tiles', '--out', 'merged.npy']).done;
    expect(merged.status, merged.stderr).toBe(0);
    expect(readFileSync(path.join(dir, 'merged.npy')).equals(readFileSync(path.join(dir, 'one.npy')))).toBe(true);
  }, 240_000);
});
