/**
 * Shards of a DTW matrix (`lpclust dtw --shard i/n` + `lpclust dtw merge`): the merged .npy and
 * sidecar are a one-machine run's bytes for several shard counts, tile sizes and both layouts; a
 * missing, repeated or foreign shard is named; the Kubernetes Indexed Job manifest, rendered for
 * each completion index and run through a shell, produces shards that merge into the same bytes.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { Random } from '../../src/util/random.js';
import { normalizeRows } from '../../src/profiles/normalize.js';
import { computeDtwMatrix, tilesOf, pairsOf } from '../../src/dtw/matrix.js';
import { computeDtwShard, mergeDtwShards, parseShard, shardTiles } from '../../src/dtw/shard.js';

const rng = new Random(11);
const n = 61;
const L = 24;
const raw = new Float64Array(n * L);
for (let i = 0; i < raw.length; i++) raw[i] = 100 + 50 * Math.sin(i / 3) + 30 * rng.next();
const values = normalizeRows(raw, L, 'l2');
const ids = Array.from({ length: n }, (_, i) => `m${i % 7}`);
const dates = Array.from({ length: n }, (_, i) => new Date(Date.UTC(2021, 0, 1) + i * 86400000).toISOString().slice(0, 10));
let dir = '';

/** The sidecar without its creation time (the only field that differs between two runs). */
function sidecarOf(file: string): unknown {
  const s = JSON.parse(readFileSync(`${file}.json`, 'utf8')) as Record<string, unknown>;
  delete s.createdAt;
  return s;
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'lpclust-shard-'));
});

describe('shardTiles', () => {
  it('splits the tiles into n contiguous runs of about equal pairs, each tile once', () => {
    for (const [N, T, count] of [[61, 7, 3], [1000, 64, 8], [5, 16, 4], [300, 10, 7]] as const) {
      const all = tilesOf(N, T);
      const parts = Array.from({ length: count }, (_, i) => shardTiles(N, T, { index: i, count }));
      expect(parts.flat().map((t) => t.tile)).toEqual(all.map((t) => t.tile));
      if (all.length >= 4 * count) {
        const pairs = parts.map((p) => p.reduce((s, t) => s + pairsOf(t), 0));
        const biggest = Math.max(...all.map(pairsOf));
        // Balanced to within one tile of the ideal share.
        for (const p of pairs) expect(Math.abs(p - (N * (N - 1)) / 2 / count)).toBeLessThanOrEqual(biggest);
      }
    }
  });

  it('parses --shard i/n and refuses anything else', () => {
    expect(parseShard('2/5')).toEqual({ index: 2, count: 5 });
    for (const bad of ['5/5', '1', '-1/3', '0/0', 'a/b', '1/2/3']) expect(() => parseShard(bad)).toThrow(/Expected `--shard i\/n` with 0 ≤ i < n/);
  });
});

describe('merge of shards', () => {
  it('gives the one-machine .npy and sidecar byte for byte, for several shard counts, tile sizes and both layouts', async () => {
    // (dtype, tile size, layout, shard counts): every tile size against a one-machine run of its own.
    const cases = [
      ['float32', 5, 'full', [2, 5]],
      ['float32', 16, 'full', [1, 3, 4]],
      ['float32', 64, 'full', [2]],
      ['float64', 9, 'condensed', [3]],
    ] as const;
    for (const [dtype, tileSize, layout, counts] of cases) {
      const one = await computeDtwMatrix({ values, length: L, out: path.join(dir, `one-${dtype}-${tileSize}-${layout}.npy`), radius: 2, dtype, workers: 2, tileSize, layout, normalization: 'l2', ids, dates, progress: false });
      for (const count of counts) {
        const files: string[] = [];
        for (let i = count - 1; i >= 0; i--) {
          const out = path.join(dir, `s-${dtype}-${tileSize}-${layout}-${count}-${i}.tiles`);
          await computeDtwShard({ values, length: L, out, shard: { index: i, count }, radius: 2, dtype, workers: 1, tileSize, normalization: 'l2', ids, dates, progress: false });
          files.push(out);
        }
        const merged = await mergeDtwShards({ shards: files, out: path.join(dir, `m-${dtype}-${tileSize}-${layout}-${count}.npy`), layout, progress: false });
        expect(readFileSync(merged.out).equals(readFileSync(one.out)), `${dtype} T=${tileSize} ${layout} n=${count}`).toBe(true);
        expect(sidecarOf(merged.out)).toEqual(sidecarOf(one.out));
      }
    }
  }, 240_000);

  it('names a missing, repeated or foreign shard and writes nothing', async () => {
    const shard = async (name: string, index: number, count: number, extra: { radius?: number; tileSize?: number; values?: Float64Array } = {}): Promise<string> => {
      const out = path.join(dir, name);
      await computeDtwShard({ values: extra.values ?? values, length: L, out, shard: { index, count }, radius: extra.radius ?? 1, workers: 1, tileSize: extra.tileSize ?? 16, normalization: 'l2', ids, dates, progress: false });
      return out;
    };
    const a = [await shard('e0', 0, 3), await shard('e1', 1, 3), await shard('e2', 2, 3)];
    const out = path.join(dir, 'e.npy');
    await expect(mergeDtwShards({ shards: [a[0], a[2]], out })).rejects.toMatchObject({ code: 'E_DTW_SHARD_MISSING', message: 'shard 1/3 is missing: 2 of 3 shard files were given' });
    await expect(mergeDtwShards({ shards: [a[0]], out })).rejects.toThrow('shards 1/3, 2/3 are missing');
    await expect(mergeDtwShards({ shards: [a[0], a[1], a[2], a[1]], out })).rejects.toMatchObject({ code: 'E_DTW_SHARD_DUPLICATE', message: `${a[1]} and ${a[1]} are both shard 1/3` });
    const r2 = await shard('r2', 1, 3, { radius: 2 });
    await expect(mergeDtwShards({ shards: [a[0], r2, a[2]], out })).rejects.toMatchObject({ code: 'E_DTW_SHARD_FOREIGN', message: `${r2} belongs to another matrix than ${a[0]}: radius is 2 there and 1 here` });
    const other = normalizeRows(raw.map((v) => v * 1.5 + 1), L, 'l2');
    const d1 = await shard('d1', 1, 3, { values: other });
    await expect(mergeDtwShards({ shards: [a[0], d1, a[2]], out })).rejects.toThrow(`${d1} belongs to another matrix than ${a[0]}: inputDigest is`);
    const t1 = await shard('t1', 1, 3, { tileSize: 8 });
    await expect(mergeDtwShards({ shards: [a[0], t1, a[2]], out })).rejects.toThrow('tileSize is 8 there and 16 here');
    const c1 = await shard('c1', 1, 4);
    await expect(mergeDtwShards({ shards: [a[0], c1, a[2]], out })).rejects.toThrow(`${c1} is shard 1/4 but ${a[0]} is one of 3 shards`);
    // A cut file (a copy stopped half way) is not taken for a shard.
    writeFileSync(path.join(dir, 'cut'), readFileSync(a[1]).subarray(0, 2000));
    await expect(mergeDtwShards({ shards: [a[0], path.join(dir, 'cut'), a[2]], out })).rejects.toMatchObject({ code: 'E_DTW_TILES_UNREADABLE' });
    expect(existsSync(out)).toBe(false);
    expect(existsSync(`${out}.partial`)).toBe(false);
  }, 120_000);

  it('an interrupted shard leaves no file under its name, only <out>.partial and its checkpoint (for the same command to continue)', async () => {
    const out = path.join(dir, 'stopped.tiles');
    let calls = 0;
    await expect(
      computeDtwShard({ values, length: L, out, shard: { index: 0, count: 1 }, workers: 1, tileSize: 4, normalization: 'l2', progress: false, shouldStop: () => ++calls > 5 }),
    ).rejects.toMatchObject({ code: 'E_INTERRUPTED' });
    expect(existsSync(out)).toBe(false);
    expect(existsSync(`${out}.partial`)).toBe(true);
    expect(existsSync(`${out}.partial.ckpt`)).toBe(true);
  });
});

describe('deploy/queue/dtw-indexed-job.yaml', () => {
  it('is an Indexed Job whose pods, rendered for each completion index, compute shards that merge into the one-machine matrix', () => {
    const job = parseYaml(readFileSync('deploy/queue/dtw-indexed-job.yaml', 'utf8')) as {
      kind: string;
      spec: { completionMode: string; completions: number; parallelism: number; template: { spec: { restartPolicy: string; containers: Array<{ command: string[]; args: string[]; env: Array<{ name: string; value: string }> }> } } };
    };
    expect(job.kind).toBe('Job');
    expect(job.spec.completionMode).toBe('Indexed');
    expect(job.spec.template.spec.restartPolicy).toBe('Never');
    const c = job.spec.template.spec.containers[0];
    const env = Object.fromEntries(c.env.map((e) => [e.name, e.value]));
    expect(Number(env.SHARDS)).toBe(job.spec.completions);
    expect(c.args[0]).toContain('--shard "$JOB_COMPLETION_INDEX/$SHARDS"');
    const merge = parseYaml(readFileSync('deploy/queue/dtw-merge-job.yaml', 'utf8')) as typeof job;
    const mc = merge.spec.template.spec.containers[0];

    // Render: a data directory, `lpclust` on PATH as this checkout, then each pod's command as
    // Kubernetes would run it (the tile size made small so that N = 61 has many tiles).
    const data = mkdtempSync(path.join(tmpdir(), 'lpclust-k8s-'));
    mkdirSync(path.join(data, 'shards'));
    mkdirSync(path.join(data, 'bin'));
    const shim = path.join(data, 'bin', 'lpclust');
    writeFileSync(shim, `#!/bin/sh\nexec "${process.execPath}" "${path.resolve('bin/lpclust.js')}" "$@"\n`);
    chmodSync(shim, 0o755);
    const slots = Array.from({ length: L }, (_, h) => `${String(h).padStart(2, '0')}:00`);
    writeFileSync(path.join(data, 'harmonized.csv'), `id,date,${slots.join(',')}\n` + ids.map((id, i) => `${id},${dates[i]},${Array.from(raw.subarray(i * L, (i + 1) * L), (v) => v.toFixed(6)).join(',')}\n`).join(''));
    const podEnv = (extra: Record<string, string>, containerEnv: Record<string, string>): NodeJS.ProcessEnv => ({
      ...process.env,
      ...containerEnv,
      DATA_DIR: data,
      MLFLOW_TRACKING_URI: `file:${path.join(data, 'mlruns')}`,
      PATH: `${path.join(data, 'bin')}:${process.env.PATH}`,
      ...extra,
    });
    for (let i = 0; i < job.spec.completions; i++) {
      const r = spawnSync(c.command[0], [...c.command.slice(1), c.args[0].replace('--tile-size 1024', '--tile-size 8')], { env: podEnv({ JOB_COMPLETION_INDEX: String(i) }, env), encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
    }
    expect(readdirSync(path.join(data, 'shards')).sort()).toEqual(Array.from({ length: job.spec.completions }, (_, i) => `dtw.shard-${i}.tiles`));
    const menv = Object.fromEntries(mc.env.map((e) => [e.name, e.value]));
    const r = spawnSync(mc.command[0], [...mc.command.slice(1), mc.args[0]], { env: podEnv({}, menv), encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    // The one-machine run of the same command.
    execFileSync(process.execPath, [path.resolve('bin/lpclust.js'), '--tracking-uri', `file:${path.join(data, 'mlruns')}`, '-q', 'dtw', '--in', path.join(data, 'harmonized.csv'), '--out', path.join(data, 'one.npy'), '--tile-size', '8']);
    expect(readFileSync(path.join(data, 'dtw.npy')).equals(readFileSync(path.join(data, 'one.npy')))).toBe(true);
    expect(sidecarOf(path.join(data, 'dtw.npy'))).toEqual(sidecarOf(path.join(data, 'one.npy')));
    copyFileSync(path.join(data, 'dtw.npy.json'), path.join(dir, 'k8s-sidecar.json'));
  }, 60_000);
});
