/**
 * DTW matrices on several machines without a queue: `lpclust dtw --shard i/n` computes shard i of
 * n — a fixed share of the upper-triangle tiles — into a tile file (tile-file.ts), and
 * `lpclust dtw merge` assembles the n shard files into the `.npy` and sidecar a single machine
 * writes, through the same matrix writer (matrix.ts), so the bytes are the same.
 *
 * The share is decided from N, the tile size and the shard count only: the tiles, in row-major
 * order, are cut into n contiguous runs of about equal band cells (tiles near the diagonal hold
 * half the pairs of the others), so every machine computes about the same work and any machine
 * can tell which tiles shard i must hold.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { availableParallelism } from 'node:os';
import { InterruptedError, inputError, usageError } from '../errors.js';
import { matrixDigest, type Normalization } from '../profiles/normalize.js';
import type { NpyDtype } from '../io/npy.js';
import { interruptSignal } from '../util/interrupt.js';
import { Progress } from '../util/progress.js';
import { log } from '../util/log.js';
import { workerEntry } from '../util/worker-entry.js';
import { selectKernel, type KernelChoice } from './kernel.js';
import { checkRadius, DEFAULT_DTW_SETTINGS, DEFAULT_RADIUS, effectiveRadius, radiusFromJson, radiusJson } from './settings.js';
import { bandCells, checkSeries, computeDtwMatrix, lpclustVersion, pairsOf, runWorkers, tilesOf, type DtwMatrixResult, type MatrixLayout } from './matrix.js';
import type { MatrixWorkerData, TileTask } from './matrix-worker.js';
import { MATRIX_KEYS, TileFileWriter, indexTileFile, readTile, readTileCheckpoint, transposeTile, type TileFileHead, type TileFileIndex, type TileFileResume } from './tile-file.js';

/** Shard `index` (0-based) of `count`. */
export interface ShardSpec {
  index: number;
  count: number;
}

/**
 * Parse `--shard i/n` (0 ≤ i < n).
 * @throws LpclustError E_USAGE_VALUE
 */
export function parseShard(raw: string): ShardSpec {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(raw);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || !Number.isSafeInteger(count) || count < 1 || index >= count) {
    throw usageError('E_USAGE_VALUE', `Expected \`--shard i/n\` with 0 ≤ i < n (e.g. 0/4 … 3/4) but received \`${raw}\``, {
      hint: 'shards are numbered from 0, as a Kubernetes Indexed Job numbers its pods',
    });
  }
  return { index, count };
}

/**
 * The tiles of shard `index` of `count` for an n-row matrix with tile edge T: a contiguous run of
 * the row-major tiles, cut where the running pair count crosses k/count of the total (a tile
 * belongs to the shard its middle pair falls in).
 */
export function shardTiles(n: number, T: number, shard: ShardSpec): TileTask[] {
  const tasks = tilesOf(n, T);
  const total = (n * (n - 1)) / 2;
  const mine: TileTask[] = [];
  let before = 0;
  for (const t of tasks) {
    const p = pairsOf(t);
    const owner = Math.min(shard.count - 1, Math.floor((shard.count * (before + p / 2)) / total));
    if (owner === shard.index) mine.push(t);
    before += p;
  }
  return mine;
}

/** Options of {@link computeDtwShard}. */
export interface DtwShardOptions {
  /** Normalised series, n × L row-major. */
  values: Float64Array;
  length: number;
  /** The shard file to write. */
  out: string;
  shard: ShardSpec;
  radius?: number;
  dtype?: NpyDtype;
  workers?: number;
  kernel?: KernelChoice;
  tileSize?: number;
  normalization: Normalization;
  ids?: readonly string[];
  dates?: readonly string[];
  /** Discard an interrupted `<out>.partial` and start over (default false: it is continued). */
  force?: boolean;
  shouldStop?: () => boolean;
  progress?: boolean;
}

/** What {@link computeDtwShard} returns. */
export interface DtwShardResult {
  out: string;
  head: TileFileHead;
  /** Tiles in this shard / in the whole matrix. */
  tiles: number;
  tilesTotal: number;
  /** Band cells of the shard (those taken from an interrupted run's checkpoint included). */
  cells: number;
  /** Tiles taken from an interrupted run's `<out>.partial` instead of computed, and the band cells computed in this call. */
  tilesResumed: number;
  cellsComputed: number;
  seconds: number;
  workers: number;
}

/**
 * Compute one shard of a DTW matrix into a tile file (written as `<out>.partial` with a checkpoint
 * `<out>.partial.ckpt`, renamed when complete). An interrupted shard (Ctrl-C, `kill -9`, a full
 * disk) is continued by the same command from its last checkpointed tile, as `lpclust dtw`
 * continues a matrix; `force` starts over. With one worker thread the file is the bytes an
 * uninterrupted run writes; with more, the tiles' order in the file may differ, never their values
 * (the merged matrix is the same bytes either way).
 * @throws LpclustError E_OUTPUT_EXISTS, E_DTW_PARTIAL_FOREIGN (a partial of other data or settings), E_DISK_FULL, E_WRITE, E_INTERRUPTED
 */
export async function computeDtwShard(o: DtwShardOptions): Promise<DtwShardResult> {
  const L = o.length;
  const n = checkSeries(o.values, L, o.ids && o.dates ? (i) => `meter ${o.ids![i]} on ${o.dates![i]}` : undefined);
  const radius = checkRadius(o.radius ?? DEFAULT_RADIUS);
  const r = effectiveRadius(radius, L);
  const dtype = o.dtype ?? DEFAULT_DTW_SETTINGS.dtype;
  const tileSize = o.tileSize ?? 1024;
  if (!Number.isInteger(tileSize) || tileSize < 1) throw usageError('E_USAGE_VALUE', `Expected a positive integer for \`tileSize\` but received \`${tileSize}\``);
  const out = path.resolve(o.out);
  if (existsSync(out) && !o.force) throw usageError('E_OUTPUT_EXISTS', `${o.out} already exists`, { hint: 'pass --force to overwrite it, or choose another --out' });
  const kernel = selectKernel(o.kernel ?? 'auto');
  const mine = shardTiles(n, tileSize, o.shard);
  const head: TileFileHead = {
    format: 'lpclust-dtw-tiles',
    formatVersion: 1,
    inputDigest: matrixDigest(o.values, L),
    n,
    L,
    radius: radiusJson(radius),
    dtype,
    tileSize,
    normalization: o.normalization,
    shard: { ...o.shard },
    tiles: mine.map((t) => t.tile),
    kernel: kernel.name,
    isa: kernel.isa,
    lpclustVersion: lpclustVersion(),
    ...(o.ids && o.dates ? { ids: o.ids.map((id, i) => [id, o.dates![i]] as [string, string]) } : {}),
  };
  const cellsPerPair = bandCells(L, r);
  const cells = mine.reduce((s, t) => s + pairsOf(t), 0) * cellsPerPair;
  const resume = o.force ? undefined : resumableShard(`${out}.partial`, head);
  const finished = new Set(resume?.done ?? []);
  const todo = mine.filter((t) => !finished.has(t.tile));
  const workers = Math.max(1, Math.min(o.workers ?? availableParallelism(), Math.max(1, todo.length)));
  const writer = new TileFileWriter(out, resume ? { ...head, kernel: resume.head.kernel, isa: resume.head.isa } : head, { checkpoint: true, ...(resume ? { resume } : {}) });
  const started = performance.now();
  const progress = o.progress === false ? undefined : new Progress({ label: `dtw shard ${o.shard.index}/${o.shard.count}`, total: cells, unit: 'cells' });
  const cellsResumed = mine.filter((t) => finished.has(t.tile)).reduce((s, t) => s + pairsOf(t), 0) * cellsPerPair;
  let done = cellsResumed;
  try {
    if (todo.length > 0) {
      const bytes = dtype === 'float32' ? 4 : 8;
      const sab = new SharedArrayBuffer(o.values.length * bytes);
      (dtype === 'float32' ? new Float32Array(sab) : new Float64Array(sab)).set(o.values);
      // Full layout without mirrors: diagonal tiles come with both halves, as a merge needs them.
      const wd: MatrixWorkerData = { values: sab, dtype, n, L, radius: r, kernel: kernel.name, tileSize, layout: 'full', mirror: false };
      const stop = o.shouldStop ?? (() => interruptSignal() !== null);
      await runWorkers(workers, workerEntry(import.meta.url, 'matrix-worker'), wd, todo, stop, (t, rows) => {
        writer.add(t, rows);
        done += pairsOf(t) * cellsPerPair;
        progress?.update(done);
      }, () => []);
    }
    writer.commit();
  } catch (e) {
    writer.abort();
    progress?.done();
    throw e;
  }
  progress?.done();
  return { out, head, tiles: mine.length, tilesTotal: tilesOf(n, tileSize).length, cells, tilesResumed: finished.size, cellsComputed: cells - cellsResumed, seconds: (performance.now() - started) / 1000, workers };
}

/**
 * The checkpoint of an interrupted shard to continue, or undefined to start over (no partial, or
 * one stopped before its checkpoint named a tile).
 * @throws LpclustError E_DTW_PARTIAL_FOREIGN when the partial is of other data or settings
 */
function resumableShard(partial: string, head: TileFileHead): (TileFileResume & { head: TileFileHead }) | undefined {
  if (!existsSync(partial)) return undefined;
  const prior = readTileCheckpoint(partial);
  if (!prior) {
    log.info(`${partial} has no checkpoint (the shard was stopped as it started); starting from the beginning`);
    return undefined;
  }
  // Everything but the kernel that computed the first tiles must agree (the head stays the first run's).
  for (const k of [...MATRIX_KEYS, 'shard', 'tiles', 'ids'] as const) {
    if (JSON.stringify(prior.head[k]) !== JSON.stringify(head[k])) {
      throw inputError('E_DTW_PARTIAL_FOREIGN', `${partial} was started with other data or settings (${k} differs); it cannot be resumed`, {
        hint: 'rerun with --force to discard it and start over, or give the same --in, --radius, --normalize, --dtype, --tile-size and --shard',
        where: { file: partial },
      });
    }
  }
  log.info(`resuming ${partial}: ${prior.resume.done.length} of ${head.tiles.length} tile(s) already done`);
  return { ...prior.resume, head: prior.head };
}

/** Options of {@link mergeDtwShards}. */
export interface DtwMergeOptions {
  /** The shard files, in any order. */
  shards: readonly string[];
  /** The .npy to write (sidecar `<out>.json`). */
  out: string;
  layout?: MatrixLayout;
  force?: boolean;
  progress?: boolean;
  shouldStop?: () => boolean;
}

/**
 * Check that the files are exactly the shards 0 … n−1 of one matrix: same input digest, N, L,
 * band, dtype, tile size, normalisation and shard count; each index once.
 * @throws LpclustError E_DTW_SHARD_FOREIGN, E_DTW_SHARD_DUPLICATE, E_DTW_SHARD_MISSING, E_DTW_TILES_UNREADABLE
 */
export function checkShardSet(files: readonly string[]): TileFileIndex[] {
  if (files.length === 0) throw usageError('E_USAGE_OPTION', 'Expected at least one shard file to merge');
  const indexes = files.map((f) => indexTileFile(f));
  const first = indexes[0];
  const describe = (h: TileFileHead, k: (typeof MATRIX_KEYS)[number]): string => JSON.stringify(h[k]);
  for (const ix of indexes) {
    if (!ix.head.shard) throw inputError('E_DTW_SHARD_FOREIGN', `${ix.file} is a tile file of a queued job, not a shard (lpclust dtw --shard i/n)`, { where: { file: ix.file } });
    for (const k of MATRIX_KEYS) {
      if (ix.head[k] !== first.head[k]) {
        throw inputError(
          'E_DTW_SHARD_FOREIGN',
          `${ix.file} belongs to another matrix than ${first.file}: ${k} is ${describe(ix.head, k)} there and ${describe(first.head, k)} here`,
          { hint: 'merge only the shards of one `lpclust dtw --shard i/n` command (same input, radius, normalisation, dtype and tile size)', where: { file: ix.file } },
        );
      }
    }
    if (ix.head.shard.count !== first.head.shard!.count) {
      throw inputError('E_DTW_SHARD_FOREIGN', `${ix.file} is shard ${ix.head.shard.index}/${ix.head.shard.count} but ${first.file} is one of ${first.head.shard!.count} shards`, {
        hint: 'all shards of a matrix must be computed with the same n in --shard i/n',
        where: { file: ix.file },
      });
    }
    // The tiles a shard holds must be those its index stands for (a file from another lpclust split would not fit).
    const want = shardTiles(ix.head.n, ix.head.tileSize, ix.head.shard).map((t) => t.tile);
    if (want.join(',') !== ix.head.tiles.join(',')) {
      throw inputError('E_DTW_SHARD_FOREIGN', `${ix.file} does not hold the tiles of shard ${ix.head.shard.index}/${ix.head.shard.count} as this lpclust splits them`, { where: { file: ix.file } });
    }
  }
  const count = first.head.shard!.count;
  const byIndex = new Map<number, string>();
  for (const ix of indexes) {
    const prior = byIndex.get(ix.head.shard!.index);
    if (prior !== undefined) {
      throw inputError('E_DTW_SHARD_DUPLICATE', `${prior} and ${ix.file} are both shard ${ix.head.shard!.index}/${count}`, { hint: 'give each shard file once', where: { file: ix.file } });
    }
    byIndex.set(ix.head.shard!.index, ix.file);
  }
  const missing: number[] = [];
  for (let i = 0; i < count; i++) if (!byIndex.has(i)) missing.push(i);
  if (missing.length > 0) {
    throw inputError('E_DTW_SHARD_MISSING', `shard${missing.length > 1 ? 's' : ''} ${missing.map((i) => `${i}/${count}`).join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing: ${files.length} of ${count} shard files were given`, {
      hint: `compute ${missing.length > 1 ? 'them' : 'it'} with lpclust dtw --shard ${missing[0]}/${count} … and merge all ${count}`,
    });
  }
  return indexes;
}

/**
 * Assemble shard files into the matrix (and sidecar) one machine would have written.
 * @throws LpclustError as {@link checkShardSet} and computeDtwMatrix
 */
export async function mergeDtwShards(o: DtwMergeOptions): Promise<DtwMatrixResult & { shards: number }> {
  const indexes = checkShardSet(o.shards);
  const head = indexes[0].head;
  const where = new Map<number, TileFileIndex>();
  for (const ix of indexes) for (const t of ix.head.tiles) where.set(t, ix);
  const kernels = new Set(indexes.map((ix) => `${ix.head.kernel} (${ix.head.isa})`));
  if (kernels.size > 1) log.warn(`the shards were computed with different kernels: ${[...kernels].join(', ')}; the sidecar records the first`);
  const layout = o.layout ?? 'full';
  const ids = head.ids;
  const result = await computeDtwMatrix({
    values: new Float64Array(0),
    length: head.L,
    known: { n: head.n, inputDigest: head.inputDigest },
    out: o.out,
    radius: radiusFromJson(head.radius),
    dtype: head.dtype,
    tileSize: head.tileSize,
    layout,
    force: o.force,
    normalization: head.normalization,
    ids: ids?.map((x) => x[0]),
    dates: ids?.map((x) => x[1]),
    progress: o.progress,
    shouldStop: o.shouldStop,
    kernelInfo: { name: head.kernel, isa: head.isa },
    tileSource: async (todo, onDone, shouldStop) => {
      for (const t of todo) {
        if (shouldStop()) throw new InterruptedError(interruptSignal() ?? 'SIGINT');
        const rows = readTile(where.get(t.tile)!, t);
        const h = t.r1 - t.r0;
        const w = t.c1 - t.c0;
        onDone(t, rows, layout === 'full' && t.r0 !== t.c0 ? transposeTile(rows, h, w) : null);
      }
    },
  });
  return { ...result, shards: indexes.length };
}
