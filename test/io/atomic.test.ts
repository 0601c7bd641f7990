import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDirAtomic, discardTempFile, withScratchDir, isTempName, pendingTempFiles, removeOrphanedTemps, reserveTempFile, tempPathFor, tempPrefixFor } from '../../src/io/atomic.js';
import { tempOwner } from '../../src/io/owner.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'lpclust-atomic-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('temporary names', () => {
  it('every temporary path starts with the prefix of its target and is recognised as one', () => {
    const t = tempPathFor('/x/run/meta.yaml', '/x');
    expect(path.dirname(t)).toBe('/x');
    expect(path.basename(t).startsWith(tempPrefixFor('/x/run/meta.yaml'))).toBe(true);
    expect(tempPrefixFor('/x/run/meta.yaml')).toBe('.meta.yaml.tmp-');
    expect(isTempName(path.basename(t))).toBe(true);
    expect(tempOwner(path.basename(t))?.pid).toBe(process.pid);
    for (const name of ['meta.yaml', '.hidden', 'a.tmp-1', 'model.pkl']) expect(isTempName(name)).toBe(false);
  });

  it('reserveTempFile registers the path until it is discarded (renamed or not)', async () => {
    const dir = tempDir();
    const target = path.join(dir, 'download.bin');
    const tmp = reserveTempFile(target);
    expect(path.dirname(tmp)).toBe(dir);
    expect(pendingTempFiles()).toContain(tmp);
    fs.writeFileSync(tmp, 'data');
    fs.renameSync(tmp, target);
    await discardTempFile(tmp);
    expect(pendingTempFiles()).not.toContain(tmp);
    expect(fs.readFileSync(target, 'utf8')).toBe('data');
    expect(fs.readdirSync(dir)).toEqual(['download.bin']);
  });
});

describe('createDirAtomic', () => {
  it('creates the folder complete, its staging folder registered only while it is filled', async () => {
    const dir = tempDir();
    const target = path.join(dir, 'inputs', 'abc');
    fs.mkdirSync(path.dirname(target));
    let seen: string[] = [];
    const created = await createDirAtomic(target, dir, async (stage) => {
      expect(path.dirname(stage)).toBe(dir);
      expect(isTempName(path.basename(stage))).toBe(true);
      seen = pendingTempFiles().filter((f) => f === stage);
      // Not visible under its name while it is filled.
      expect(fs.existsSync(target)).toBe(false);
      fs.writeFileSync(path.join(stage, 'meta.yaml'), 'name: x\n');
    });
    expect(created).toBe(true);
    expect(seen).toHaveLength(1);
    expect(pendingTempFiles()).not.toContain(seen[0]);
    expect(fs.readFileSync(path.join(target, 'meta.yaml'), 'utf8')).toBe('name: x\n');
    expect(fs.readdirSync(dir).sort()).toEqual(['inputs']);
  });

  it('leaves an existing folder as it was and returns false', async () => {
    const dir = tempDir();
    const target = path.join(dir, 'abc');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'meta.yaml'), 'first');
    const created = await createDirAtomic(target, dir, async (stage) => fs.writeFileSync(path.join(stage, 'meta.yaml'), 'second'));
    expect(created).toBe(false);
    expect(fs.readFileSync(path.join(target, 'meta.yaml'), 'utf8')).toBe('first');
    expect(fs.readdirSync(dir)).toEqual(['abc']);
  });

  it('a failing fill leaves nothing: no folder, no staging folder, nothing registered', async () => {
    const dir = tempDir();
    const before = pendingTempFiles().length;
    await expect(
      createDirAtomic(path.join(dir, 'abc'), dir, async (stage) => {
        fs.writeFileSync(path.join(stage, 'half'), 'x');
        throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
      }),
    ).rejects.toThrow('no space left on device');
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(pendingTempFiles().length).toBe(before);
  });

  it('a staging folder left by a writer that is gone is swept as an orphan', () => {
    const dir = tempDir();
    // pid 2^22 + 1 is above Linux's pid_max default: no such process.
    const stage = path.join(dir, `${tempPrefixFor('abc')}${2 ** 22 + 1}-${path.basename(tempPathFor('x')).split('-').at(-2)}-0123abcd`);
    fs.mkdirSync(stage);
    fs.writeFileSync(path.join(stage, 'meta.yaml'), 'x');
    expect(removeOrphanedTemps(dir)).toEqual([stage]);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe('withScratchDir', () => {
  it('registers the scratch folder while it is used (so Ctrl-C removes it) and removes it after', async () => {
    let seen = '';
    const out = await withScratchDir('lpclust-scratch-test-', async (dir) => {
      seen = dir;
      fs.writeFileSync(path.join(dir, 'a.txt'), 'x');
      expect(pendingTempFiles()).toContain(dir);
      return 42;
    });
    expect(out).toBe(42);
    expect(path.basename(seen).startsWith('lpclust-scratch-test-')).toBe(true);
    expect(fs.existsSync(seen)).toBe(false);
    expect(pendingTempFiles()).not.toContain(seen);
  });

  it('removes and forgets the folder when the work throws', async () => {
    let seen = '';
    await expect(
      withScratchDir('lpclust-scratch-test-', async (dir) => {
        seen = dir;
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(fs.existsSync(seen)).toBe(false);
    expect(pendingTempFiles()).not.toContain(seen);
  });
});
