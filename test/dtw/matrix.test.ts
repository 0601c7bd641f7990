import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { Random } from '../../src/util/random.js';
import { dtwNaive } from '../../src/dtw/reference.js';
import { normalizeRows } from '../../src/profiles/normalize.js';
import { assertMatrixMatches, computeDtwMatrix, loadDtwMatrix, type DtwMatrixOptions } from '../../src/dtw/index.js';
import { tilesOf } from '../../src/dtw/matrix.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'lpclust-dtw-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const rng = new Random(7);
const n = 157;
const L = 24;
const raw = new Float64Array(n * L);
for (let i = 0; i < raw.length; i++) raw[i] = 100 + 50 * rng.normal();
const values = normalizeRows(raw, L, 'l2');

/**
 * Stop at the k-th poll (the job polls before handing out each tile). Not on the checkpoint's
 * growth: with tiles of microseconds the workers' replies can keep the event loop busy until the
 * last tile, and the checkpointing writes complete only then.
 */
function stopAfter(k: number): () => boolean {
  let polls = 0;
  return () => ++polls > k;
}

function opts(out: string, extra: Partial<DtwMatrixOptions> = {}): DtwMatrixOptions {
  return { values, length: L, out: path.join(dir, out), normalization: 'l2', progress: false, ...extra };
}

describe('tiled DTW matrix', () => {
  it('writes the full symmetric matrix equal to dtwNaive (float64) with a sidecar', async () => {
    const res = await computeDtwMatrix(opts('a.npy', { dtype: 'float64', workers: 2, tileSize: 40, radius: 2 }));
    const m = await loadDtwMatrix(res.out);
    expect(m.n).toBe(n);
    for (let i = 0; i < n; i += 7) {
      for (let j = 0; j < n; j++) {
        const want = i === j ? 0 : dtwNaive(values.subarray(i * L, (i + 1) * L), values.subarray(j * L, (j + 1) * L), 2);
        expect(m.data[i * n + j]).toBe(want);
      }
    }
    const side = JSON.parse(readFileSync(res.out + '.json', 'utf8'));
    expect(side).toMatchObject({ rows: n, length: L, radius: 2, dtype: 'float64', normalization: 'l2', format: 'lpclust-dtw-matrix' });
    expect(side.matrixSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(existsSync(res.out + '.partial')).toBe(false);
    expect(existsSync(res.out + '.partial.ckpt')).toBe(false);
    expect(res.pairs).toBe((n * (n - 1)) / 2);
    expect(res.cells).toBe(res.pairs * (L * 5 - 6));
    // Row blocks read back the same values.
    const rows = await loadDtwMatrix(res.out, { r0: 10, r1: 13 });
    expect(Array.from(rows.data)).toEqual(Array.from(m.data.subarray(10 * n, 13 * n)));
  });

  it('is bit-identical whatever the worker count, tile size and kernel', async () => {
    const a = await computeDtwMatrix(opts('b1.npy', { workers: 1, tileSize: 157 * 2, kernel: 'native' }));
    const b = await computeDtwMatrix(opts('b2.npy', { workers: 3, tileSize: 17, kernel: 'native' }));
    const c = await computeDtwMatrix(opts('b3.npy', { workers: 2, tileSize: 50, kernel: 'js' }));
    const fa = readFileSync(a.out);
    expect(readFileSync(b.out).equals(fa)).toBe(true);
    expect(readFileSync(c.out).equals(fa)).toBe(true);
    expect(a.sidecar.matrixSha256).toBe(c.sidecar.matrixSha256);
    expect(c.sidecar.kernel).toBe('js');
    // np.load-compatible header: float32, shape (n, n).
    expect(fa.subarray(0, 80).toString('latin1')).toContain(`'descr': '<f4', 'fortran_order': False, 'shape': (${n}, ${n})`);
  });

  it('stops cleanly between tiles and --resume finishes to the same bytes', async () => {
    const ref = readFileSync(path.join(dir, 'b1.npy'));
    // A budget of one byte writes every block at once, so the checkpoint grows tile by tile (with
    // whole bands it grows in bursts, and the job could finish before the stop is seen).
    const o = opts('r.npy', { workers: 1, tileSize: 8, memoryBudget: 1, shouldStop: stopAfter(30) });
    await expect(computeDtwMatrix(o)).rejects.toMatchObject({ code: 'E_INTERRUPTED' });
    expect(existsSync(o.out)).toBe(false);
    expect(existsSync(o.out + '.json')).toBe(false);
    expect(existsSync(o.out + '.partial')).toBe(true);
    const done = readFileSync(o.out + '.partial.ckpt', 'utf8').trim().split('\n').length - 1;
    expect(done).toBeGreaterThan(0);
    // Another radius is another job: refused, the partial kept.
    await expect(computeDtwMatrix(opts('r.npy', { radius: 2 }))).rejects.toThrow(/started with other data or settings \(radius: 1, now 2\)/);
    expect(existsSync(o.out + '.partial')).toBe(true);
    // The same job again, without --resume: resumed. Another tile size: the checkpoint's wins, the result is the same.
    const res = await computeDtwMatrix(opts('r.npy', { workers: 2, tileSize: 64 }));
    expect(res.tilesResumed).toBe(done);
    expect(res.tilesComputed).toBeGreaterThan(0);
    expect(readFileSync(res.out).equals(ref)).toBe(true);
  });

  it('starts over when killed before its checkpoint, and finishes a job killed between rename and sidecar', async () => {
    const ref = readFileSync(path.join(dir, 'b1.npy'));
    // Killed right after creating the partial: no checkpoint (or an empty one) → nothing to resume, start over.
    for (const ckpt of [null, '']) {
      const out = path.join(dir, `k${ckpt === null ? 'none' : 'empty'}.npy`);
      writeFileSync(out + '.partial', 'cut');
      if (ckpt !== null) writeFileSync(out + '.partial.ckpt', ckpt);
      const res = await computeDtwMatrix(opts(path.basename(out), { workers: 1 }));
      expect(res.tilesResumed).toBe(0);
      expect(readFileSync(out).equals(ref)).toBe(true);
      expect(existsSync(out + '.partial.ckpt')).toBe(false);
    }
    // Killed after the matrix got its name, before its sidecar: the same command finishes it.
    const o = opts('fin.npy', { workers: 1, tileSize: 40 });
    await computeDtwMatrix(o);
    const side = JSON.parse(readFileSync(o.out + '.json', 'utf8')) as { matrixSha256: string };
    rmSync(o.out + '.json');
    writeFileSync(o.out + '.partial.ckpt', JSON.stringify({ format: 'lpclust-dtw-checkpoint', n, L, radius: 1, dtype: 'float32', inputDigest: (await computeDtwMatrix(opts('fin2.npy', { workers: 1 }))).sidecar.inputDigest, tileSize: 40 }) + '\n' + Array.from({ length: 10 }, (_, i) => `${i}\n`).join(''));
    const fin = await computeDtwMatrix(opts('fin.npy', { workers: 1 }));
    expect(fin.tilesComputed).toBe(0);
    expect(fin.sidecar.matrixSha256).toBe(side.matrixSha256);
    expect(readFileSync(o.out).equals(ref)).toBe(true);
    // A complete matrix with its sidecar is still refused without --force.
    await expect(computeDtwMatrix(opts('fin.npy'))).rejects.toMatchObject({ code: 'E_OUTPUT_EXISTS' });
  });

  it('refuses a foreign or unreadable partial, an existing output, bad rows', async () => {
    const out = path.join(dir, 'f.npy');
    writeFileSync(out + '.partial', 'not a matrix');
    writeFileSync(out + '.partial.ckpt', 'garbage\n');
    await expect(computeDtwMatrix(opts('f.npy', { resume: true }))).rejects.toMatchObject({ code: 'E_DTW_PARTIAL_FOREIGN' });
    // A partial of other data.
    const other = normalizeRows(raw.map((v) => v + 1), L, 'l2');
    await expect(computeDtwMatrix({ ...opts('g.npy', { workers: 1, tileSize: 20, memoryBudget: 1, shouldStop: stopAfter(10) }), values: other })).rejects.toMatchObject({ code: 'E_INTERRUPTED' });
    await expect(computeDtwMatrix(opts('g.npy', { resume: true }))).rejects.toThrow(/started with other data or settings \(inputDigest/);
    // --force starts over.
    const g = await computeDtwMatrix(opts('g.npy', { force: true, workers: 1 }));
    expect(statSync(g.out).size).toBeGreaterThan(n * n * 4);
    await expect(computeDtwMatrix(opts('g.npy'))).rejects.toMatchObject({ code: 'E_OUTPUT_EXISTS' });
    const bad = new Float64Array(values);
    bad[5 * L + 3] = NaN;
    await expect(computeDtwMatrix({ ...opts('h.npy'), values: bad, ids: Array(n).fill('m1'), dates: Array(n).fill('2024-01-01') })).rejects.toThrow(
      'Expected finite values but meter m1 on 2024-01-01 has NaN in slot 4',
    );
    await expect(computeDtwMatrix({ ...opts('h.npy'), values: values.subarray(0, L) })).rejects.toMatchObject({ code: 'E_DTW_TOO_FEW_ROWS' });
    await expect(computeDtwMatrix({ ...opts('h.npy'), values: values.subarray(0, L * 3 + 1) })).rejects.toMatchObject({ code: 'E_DTW_SHAPE' });
    expect(existsSync(path.join(dir, 'h.npy'))).toBe(false);
  });

  it('a full disk is a clear E_DISK_FULL error and leaves no output', async () => {
    // The partial file is a link to /dev/full, where every write fails with ENOSPC.
    if (!existsSync('/dev/full')) return;
    const out = path.join(dir, 'full.npy');
    symlinkSync('/dev/full', out + '.partial');
    await expect(computeDtwMatrix(opts('full.npy', { force: true }))).rejects.toMatchObject({ code: 'E_DISK_FULL', kind: 'external' });
    expect(existsSync(out)).toBe(false);
    expect(existsSync(out + '.json')).toBe(false);
  });

  it('writes in whole bands, and in pieces under a small memory budget, to the same bytes', async () => {
    const ref = readFileSync(path.join(dir, 'b1.npy'));
    const whole = await computeDtwMatrix(opts('w1.npy', { workers: 2, tileSize: 16 }));
    expect(readFileSync(whole.out).equals(ref)).toBe(true);
    // One byte of budget: every block is written as soon as it arrives (row runs of each band).
    const tiny = await computeDtwMatrix(opts('w2.npy', { workers: 3, tileSize: 16, memoryBudget: 1 }));
    expect(readFileSync(tiny.out).equals(ref)).toBe(true);
    // The digest computed on the way and the one read back from the file agree with the bytes.
    const sha = createHash('sha256').update(ref).digest('hex');
    expect(whole.sidecar.matrixSha256).toBe(sha);
    expect(tiny.sidecar.matrixSha256).toBe(sha);
    expect(whole.sidecar.layout).toBe('full');
  });

  it('resumes a job stopped while blocks waited in memory, to the same bytes, under any budget', async () => {
    const ref = readFileSync(path.join(dir, 'b1.npy'));
    for (const [name, budget] of [['s1.npy', undefined], ['s2.npy', 1]] as const) {
      // Stop after about 30 of the 55 tiles were handed out: earlier bands are on disk, the
      // mirrored blocks of later ones only in memory (lost, and recomputed on resume).
      let polls = 0;
      const o = opts(name, { workers: 2, tileSize: 16, memoryBudget: budget, shouldStop: () => ++polls > 30 });
      await expect(computeDtwMatrix(o)).rejects.toMatchObject({ code: 'E_INTERRUPTED' });
      const done = readFileSync(o.out + '.partial.ckpt', 'utf8').trim().split('\n').length - 1;
      const res = await computeDtwMatrix(opts(name, { workers: 1, resume: true, memoryBudget: budget }));
      expect(res.tilesResumed).toBe(done);
      expect(readFileSync(res.out).equals(ref)).toBe(true);
      expect(res.sidecar.matrixSha256).toBe(createHash('sha256').update(ref).digest('hex'));
    }
  });

  it('direct I/O: chunk ends inside bands give the bytes of buffered writes; a stop checkpoints only tiles whose bytes are written', async () => {
    const ref = readFileSync(path.join(dir, 'b1.npy'));
    // Chunks of one block: every chunk ends inside a band (a band of 16 rows is 10,048 bytes).
    // A datasync every 8 KiB: direct writes are synced as they go too (the device may hold them in
    // its cache; one fsync at the end flushed all 1.6 GB of N = 20,000 after the computation).
    const chunked = await computeDtwMatrix(opts('d1.npy', { workers: 2, tileSize: 16, directIo: { chunkBytes: 4096, syncEvery: 8192 } }));
    expect(chunked.directWrites).toBeGreaterThan(20);
    expect(chunked.syncs).toBeGreaterThan(2);
    expect(readFileSync(chunked.out).equals(ref)).toBe(true);
    expect(chunked.sidecar.matrixSha256).toBe(createHash('sha256').update(ref).digest('hex'));
    const buffered = await computeDtwMatrix(opts('d2.npy', { workers: 2, tileSize: 16, directIo: false }));
    expect(buffered.directWrites).toBe(0);
    expect(readFileSync(buffered.out).equals(ref)).toBe(true);
    const condensed = await computeDtwMatrix(opts('d3.npy', { layout: 'condensed', workers: 2, tileSize: 16, directIo: { chunkBytes: 4096 } }));
    expect(condensed.directWrites).toBeGreaterThan(5);
    expect(readFileSync(condensed.out).equals(readFileSync((await computeDtwMatrix(opts('d4.npy', { layout: 'condensed', workers: 1, directIo: false }))).out))).toBe(true);
    // Stopped half way: the bytes of a band's end wait in a chunk not yet written, so its tiles
    // must not be in the checkpoint; every tile that is must be in the file already.
    const full = new Float32Array(ref.buffer.slice(ref.byteOffset + 128, ref.byteOffset + ref.length));
    const o = opts('d5.npy', { workers: 2, tileSize: 8, directIo: { chunkBytes: 8192 }, shouldStop: stopAfter(150) });
    await expect(computeDtwMatrix(o)).rejects.toMatchObject({ code: 'E_INTERRUPTED' });
    const part = readFileSync(o.out + '.partial');
    const got = new Float32Array(part.buffer.slice(part.byteOffset + 128, part.byteOffset + part.length));
    const done = readFileSync(o.out + '.partial.ckpt', 'utf8').trim().split('\n').slice(1).map(Number);
    expect(done.length).toBeGreaterThan(0);
    expect(done.length).toBeLessThan(210);
    const tiles = tilesOf(n, 8);
    for (const k of done) {
      const t = tiles[k];
      for (let i = t.r0; i < t.r1; i++) {
        for (let j = t.c0; j < t.c1; j++) {
          expect(got[i * n + j]).toBe(full[i * n + j]);
          expect(got[j * n + i]).toBe(full[j * n + i]);
        }
      }
    }
    const res = await computeDtwMatrix(opts('d5.npy', { workers: 1 }));
    expect(res.tilesResumed).toBe(done.length);
    expect(readFileSync(res.out).equals(ref)).toBe(true);
  });

  it('condensed layout: the upper triangle in squareform order, loaded back as the full matrix', async () => {
    const full = await loadDtwMatrix(path.join(dir, 'b1.npy'));
    const c1 = await computeDtwMatrix(opts('c1.npy', { layout: 'condensed', workers: 1, tileSize: 1000 }));
    const c2 = await computeDtwMatrix(opts('c2.npy', { layout: 'condensed', workers: 3, tileSize: 17, memoryBudget: 1 }));
    const bytes = readFileSync(c1.out);
    expect(readFileSync(c2.out).equals(bytes)).toBe(true);
    expect(bytes.subarray(0, 80).toString('latin1')).toContain(`'descr': '<f4', 'fortran_order': False, 'shape': (${(n * (n - 1)) / 2},)`);
    expect(c1.sidecar).toMatchObject({ layout: 'condensed', rows: n });
    expect(c1.sidecar.matrixSha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    // Element k of the file is D(i, j) for the k-th pair i < j in row-major order (SciPy's squareform).
    const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset + 128, bytes.byteOffset + bytes.length));
    expect(data.length).toBe((n * (n - 1)) / 2);
    let k = 0;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) expect(data[k++]).toBe(full.data[i * n + j]);
    // Consumers get the full matrix back, whole or by row blocks.
    const back = await loadDtwMatrix(c1.out);
    expect(back.n).toBe(n);
    expect(Buffer.from(back.data.buffer).equals(Buffer.from(full.data.buffer))).toBe(true);
    const block = await loadDtwMatrix(c1.out, { r0: 30, r1: 101 });
    expect(Array.from(block.data)).toEqual(Array.from(full.data.subarray(30 * n, 101 * n)));
    await expect(assertMatrixMatches(raw, L, c1.out)).resolves.toMatchObject({ layout: 'condensed' });
    // A stopped condensed job resumes to the same bytes.
    const o = opts('c3.npy', { layout: 'condensed', workers: 2, tileSize: 8, memoryBudget: 1, shouldStop: stopAfter(30) });
    await expect(computeDtwMatrix(o)).rejects.toMatchObject({ code: 'E_INTERRUPTED' });
    await expect(computeDtwMatrix(opts('c3.npy', { resume: true }))).rejects.toThrow(/started with other data or settings \(layout/);
    const res = await computeDtwMatrix(opts('c3.npy', { layout: 'condensed', resume: true }));
    expect(res.tilesResumed).toBeGreaterThan(0);
    expect(readFileSync(res.out).equals(bytes)).toBe(true);
  });

  it('assertMatrixMatches accepts the right data and refuses stale or wrong-size matrices', async () => {
    const file = path.join(dir, 'b1.npy');
    const side = await assertMatrixMatches(raw, L, file, { inputFile: 'h.csv' });
    expect(side.rows).toBe(n);
    const changed = new Float64Array(raw);
    changed[0] += 1;
    await expect(assertMatrixMatches(changed, L, file, { inputFile: 'h.csv' })).rejects.toThrow(/profile values differ/);
    await expect(assertMatrixMatches(changed, L, file, { inputFile: 'h.csv' })).rejects.toMatchObject({
      code: 'E_DTW_MATRIX_STALE',
      hint: `rebuild it: lpclust dtw --in h.csv --out ${file} --radius 1 --normalize l2 --force`,
    });
    await expect(assertMatrixMatches(raw.subarray(0, 10 * L), L, file)).rejects.toThrow(/157 rows of length 24, the profiles are 10 rows/);
    await expect(assertMatrixMatches(raw, L, file, { radius: 3 })).rejects.toThrow(/radius 1, radius 3 was asked for/);
    await expect(assertMatrixMatches(raw, L, path.join(dir, 'none.npy'))).rejects.toThrow(/sidecar .* is missing/);
    // A truncated matrix file.
    const trunc = path.join(dir, 't.npy');
    writeFileSync(trunc, readFileSync(file).subarray(0, 1000));
    writeFileSync(trunc + '.json', readFileSync(file + '.json'));
    await expect(assertMatrixMatches(raw, L, trunc)).rejects.toThrow(/expected \(157, 157\)/);
  });
});
