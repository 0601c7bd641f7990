/**
 * The tracked DTW stage (run name `dtw`): read a profiles CSV, normalise its rows, write the full
 * DTW matrix (.npy) and its sidecar with the tiled worker-thread engine of src/dtw/.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { usageError } from '../errors.js';
import { checkInputPath, checkOutputDir, checkOutputFile } from '../io/preflight.js';
import { readProfiles } from '../io/profiles.js';
import { normalizeRows, type Normalization } from '../profiles/normalize.js';
import { checkRadius, computeDtwMatrix, dtwSettings, radiusFromJson, radiusJson, radiusParam, selectKernel, type DtwMatrixResult, type KernelChoice, type MatrixLayout } from '../dtw/index.js';
import { withRun } from '../tracking/run.js';
import { datasetName, logProfilesInput } from './datasets.js';
import { throwIfInterrupted } from '../util/interrupt.js';
import type { NpyDtype } from '../io/npy.js';
import { newQueueStats, queueTileSource, TileKernels } from '../queue/dtw.js';
import type { QueueUrl } from '../queue/connection.js';
import { checkShardSet, computeDtwShard, mergeDtwShards, type DtwShardResult, type ShardSpec } from '../dtw/shard.js';
import type { StageResult, StageTracking } from './types.js';

/** Options of {@link runDtwStage}. */
export interface DtwStageOptions {
  /** Input profiles CSV (clean or harmonized: `id,date,<slot>...`, every row complete). */
  in: string;
  /** Output .npy (the sidecar is `<out>.json`). */
  out: string;
  /** Sakoe–Chiba radius in slots (default 1); `Infinity` for full DTW. */
  radius?: number;
  /** Row normalisation before DTW (default l2, as the old pipeline). */
  normalize?: Normalization;
  /** Matrix element type and kernel precision (default float32). */
  dtype?: NpyDtype;
  /** Worker threads (default: available cores). */
  workers?: number;
  /** Kernel (default auto). */
  kernel?: KernelChoice;
  /** Tile edge in rows (default 1024; does not change the result). */
  tileSize?: number;
  /** Matrix layout: full n × n (default) or condensed (upper triangle, squareform order). */
  layout?: MatrixLayout;
  /** Finish `<out>.partial` (default false). */
  resume?: boolean;
  /** Overwrite an existing output or partial (default false). */
  force?: boolean;
  /** Also copy the matrix into the run's artifacts (default false: only its path and digest are tags). */
  logMatrix?: boolean;
  /** Compute the tiles on a BullMQ queue (workers: `lpclust worker`) instead of this machine's threads. */
  queue?: QueueUrl;
  /** With `queue`: a directory the submitter and every worker see (series in, tiles out). */
  sharedDir?: string;
}

/** Outputs of {@link runDtwStage}. */
export interface DtwStageOutputs {
  matrix: DtwMatrixResult;
  /** Shard files merged (lpclust dtw merge only). */
  shards?: number;
  /** The queue the tiles were computed on (masked URL) and the tiles retried after a worker stopped. */
  queue?: { url: string; retried: number };
}

/**
 * Run the tracked DTW stage.
 *
 * Params: `in`, `out`, `radius` (`none` for full DTW), `normalize`, `dtype`, `workers`, `kernel`
 * (as asked), `tile_size`, `resume`. Metrics: `rows`, `pairs`, `cells` (band cells), `seconds`
 * (matrix computation in this run), `cells_per_s`. Tags: `dtw.matrix.path`, `dtw.matrix.sha256`,
 * `dtw.input.digest`, `dtw.kernel`, `dtw.isa`, and `dtw.tiles.resumed` (`<resumed> of <tiles>`) when an
 * interrupted job was finished. Artifacts: `dtw/<out>.json` (the sidecar) and,
 * with `logMatrix`, `dtw/<out>`.
 */
export async function runDtwStage(o: DtwStageOptions, tracking: StageTracking): Promise<StageResult<DtwStageOutputs>> {
  const { radius, normalize, dtype, kernel, inFile, outFile, table, values } = await prepareDtwInput(o);
  if (o.queue && o.sharedDir) checkOutputDir(o.sharedDir, '--shared-dir');
  const queueStats = newQueueStats();
  // On a queue the sidecar records the kernel and instruction sets of the workers that computed the tiles.
  const tileKernels = new TileKernels();
  return withRun(
    { store: tracking.store, experimentName: tracking.experimentName, runName: 'dtw', parentRunId: tracking.parentRunId, tags: tracking.tags },
    async (run) => {
      await run.logParams({
        in: inFile,
        out: outFile,
        radius: radiusParam(radius),
        normalize,
        dtype,
        workers: o.workers ?? 'auto',
        kernel: o.kernel ?? 'auto',
        tile_size: o.tileSize ?? 1024,
        layout: o.layout ?? 'full',
        resume: o.resume ?? false,
        ...(o.queue ? { queue: o.queue.masked, shared_dir: path.resolve(o.sharedDir ?? '.') } : {}),
      });
      await logProfilesInput(run, datasetName(inFile), inFile, table, 'training');
      throwIfInterrupted();
      const matrix = await computeDtwMatrix({
        values,
        length: table.length,
        out: o.out,
        radius,
        dtype,
        workers: o.workers,
        kernel: kernel.name,
        tileSize: o.tileSize,
        layout: o.layout,
        resume: o.resume,
        force: o.force,
        normalization: normalize,
        ids: table.ids,
        dates: table.dates,
        ...(o.queue
          ? {
              tileSource: queueTileSource({
                queue: o.queue,
                sharedDir: o.sharedDir ?? '.',
                values,
                length: table.length,
                radius: radiusJson(radius),
                dtype,
                tileSize: o.tileSize ?? 1024,
                normalization: normalize,
                kernel: o.kernel ?? 'auto',
                layout: o.layout ?? 'full',
                stats: queueStats,
                kernels: tileKernels,
              }),
              kernelInfo: () => tileKernels.get(),
            }
          : {}),
      });
      const metrics = {
        rows: matrix.rows,
        pairs: matrix.pairs,
        cells: matrix.cells,
        seconds: matrix.seconds,
        cells_per_s: matrix.seconds > 0 ? matrix.cells / matrix.seconds : 0,
      };
      await run.logMetrics(metrics);
      await run.setTags({
        'dtw.matrix.path': matrix.out,
        'dtw.matrix.sha256': matrix.sidecar.matrixSha256,
        'dtw.input.digest': matrix.sidecar.inputDigest,
        'dtw.kernel': matrix.sidecar.kernel,
        'dtw.isa': matrix.sidecar.isa,
        // The param `resume` is the flag as given; this says what happened (an interrupted job is resumed anyway).
        'dtw.tiles.resumed': matrix.tilesResumed > 0 ? `${matrix.tilesResumed} of ${matrix.tilesResumed + matrix.tilesComputed}` : undefined,
        // On a queue: how many tiles were taken again after a worker stopped (at-least-once delivery).
        'dtw.queue.retried': o.queue ? String(queueStats.retried) : undefined,
      });
      await run.logArtifact(matrix.sidecarPath, 'dtw');
      if (o.logMatrix) await run.logArtifact(matrix.out, 'dtw');
      return { runId: run.runId, metrics, outputs: { matrix, ...(o.queue ? { queue: { url: o.queue.masked, retried: queueStats.retried } } : {}) } };
    },
  );
}

/** A short human summary of a DTW stage result. */
export function dtwSummary(r: StageResult<DtwStageOutputs>): string {
  const m = r.outputs.matrix;
  const rate = r.metrics.cells_per_s;
  const resumed = m.tilesResumed > 0 ? ` (${m.tilesResumed} tiles resumed)` : '';
  const q = r.outputs.queue;
  const where = q ? `by the workers of ${q.url}${q.retried > 0 ? ` (${q.retried} tile(s) retried)` : ''}` : `on ${m.workers} worker(s)`;
  // A merge computed nothing: it says where the tiles came from instead of a rate.
  const how =
    rate === undefined
      ? `  ${m.pairs} pairs, ${m.cells.toExponential(3)} band cells merged from ${r.outputs.shards ?? '?'} shard files in ${m.seconds.toFixed(2)} s, kernel ${m.sidecar.kernel} (${m.sidecar.isa})`
      : `  ${m.pairs} pairs, ${m.cells.toExponential(3)} band cells in ${m.seconds.toFixed(2)} s (${(rate / 1e9).toFixed(2)}·10⁹ cells/s) ${where}, kernel ${m.sidecar.kernel} (${m.sidecar.isa})${resumed}`;
  return [
    `DTW matrix ${m.rows}×${m.rows}${m.sidecar.layout === 'condensed' ? ` (condensed: ${m.pairs} values)` : ''} ${m.sidecar.dtype}, radius ${radiusParam(radiusFromJson(m.sidecar.radius))}, ${m.sidecar.normalization} → ${m.out}`,
    how,
    `  sidecar ${path.basename(m.sidecarPath)}; run ${r.runId}`,
  ].join('\n');
}

/** Options of {@link runDtwShardStage}: those of the DTW stage plus the shard; `out` is the shard file. */
export interface DtwShardStageOptions extends Omit<DtwStageOptions, 'layout' | 'resume' | 'logMatrix'> {
  /** Accepted for scripts: an interrupted shard of the same data and settings is always continued (unless `force`). */
  resume?: boolean;
  shard: ShardSpec;
}

/**
 * Run the tracked DTW stage for one shard (run name `dtw`, tag `dtw.shard` = `i/n`): the shard's
 * tiles go into a tile file that `lpclust dtw merge` assembles with the others.
 *
 * Params as the DTW stage, plus `shard`. Metrics: `rows`, `tiles` (in this shard), `cells` (of the
 * shard), `seconds` and `cells_per_s` (of the cells computed in this run). Tags: `dtw.shard`,
 * `dtw.input.digest`, `dtw.kernel`, `dtw.isa`, and `dtw.tiles.resumed` (`<resumed> of <tiles>`)
 * when an interrupted shard was continued.
 */
export async function runDtwShardStage(o: DtwShardStageOptions, tracking: StageTracking): Promise<StageResult<{ shard: DtwShardResult }>> {
  const { radius, normalize, dtype, kernel, inFile, outFile, table, values } = await prepareDtwInput(o);
  const shardName = `${o.shard.index}/${o.shard.count}`;
  return withRun(
    { store: tracking.store, experimentName: tracking.experimentName, runName: 'dtw', parentRunId: tracking.parentRunId, tags: { ...tracking.tags, 'dtw.shard': shardName } },
    async (run) => {
      await run.logParams({
        in: inFile,
        out: outFile,
        shard: shardName,
        radius: radiusParam(radius),
        normalize,
        dtype,
        workers: o.workers ?? 'auto',
        kernel: o.kernel ?? 'auto',
        tile_size: o.tileSize ?? 1024,
      });
      throwIfInterrupted();
      const shard = await computeDtwShard({
        values,
        length: table.length,
        out: o.out,
        shard: o.shard,
        radius,
        dtype,
        workers: o.workers,
        kernel: kernel.name,
        tileSize: o.tileSize,
        normalization: normalize,
        ids: table.ids,
        dates: table.dates,
        force: o.force,
      });
      const metrics = { rows: shard.head.n, tiles: shard.tiles, cells: shard.cells, seconds: shard.seconds, cells_per_s: shard.seconds > 0 ? shard.cellsComputed / shard.seconds : 0 };
      await run.logMetrics(metrics);
      await run.setTags({
        'dtw.input.digest': shard.head.inputDigest,
        'dtw.kernel': shard.head.kernel,
        'dtw.isa': shard.head.isa,
        ...(shard.tilesResumed > 0 ? { 'dtw.tiles.resumed': `${shard.tilesResumed} of ${shard.tiles}` } : {}),
      });
      return { runId: run.runId, metrics, outputs: { shard } };
    },
  );
}

/** Options of {@link runDtwMergeStage}. */
export interface DtwMergeStageOptions {
  shards: string[];
  out: string;
  layout?: MatrixLayout;
  force?: boolean;
  logMatrix?: boolean;
}

/**
 * Run the tracked merge of DTW shards (run name `dtw`, tag `dtw.merged.shards`): the matrix, its
 * sidecar, metrics and tags are those of a one-machine DTW stage (`seconds` is the merge time).
 */
export async function runDtwMergeStage(o: DtwMergeStageOptions, tracking: StageTracking): Promise<StageResult<DtwStageOutputs>> {
  const shardFiles = o.shards.map((s) => checkInputPath(s, 'shard'));
  const outFile = checkOutputFile(o.out, '--out');
  if (existsSync(outFile) && !o.force) throw usageError('E_OUTPUT_EXISTS', `${o.out} already exists`, { hint: 'pass --force to overwrite it, or choose another --out' });
  // The shard set is checked before the run exists: a missing shard is a usage mistake, not a failed run.
  checkShardSet(shardFiles);
  return withRun(
    { store: tracking.store, experimentName: tracking.experimentName, runName: 'dtw', parentRunId: tracking.parentRunId, tags: { ...tracking.tags, 'dtw.merged.shards': String(shardFiles.length) } },
    async (run) => {
      await run.logParams({ shards: shardFiles.map((f) => path.basename(f)).join(','), out: outFile, layout: o.layout ?? 'full' });
      throwIfInterrupted();
      const matrix = await mergeDtwShards({ shards: shardFiles, out: o.out, layout: o.layout, force: o.force });
      const metrics = { rows: matrix.rows, pairs: matrix.pairs, cells: matrix.cells, seconds: matrix.seconds };
      await run.logMetrics(metrics);
      await run.setTags({
        'dtw.matrix.path': matrix.out,
        'dtw.matrix.sha256': matrix.sidecar.matrixSha256,
        'dtw.input.digest': matrix.sidecar.inputDigest,
        'dtw.kernel': matrix.sidecar.kernel,
        'dtw.isa': matrix.sidecar.isa,
      });
      await run.logArtifact(matrix.sidecarPath, 'dtw');
      if (o.logMatrix) await run.logArtifact(matrix.out, 'dtw');
      return { runId: run.runId, metrics, outputs: { matrix, shards: shardFiles.length } };
    },
  );
}

/**
 * What every DTW stage does before its run exists — so that a usage mistake leaves no FAILED run:
 * resolve the defaults and the kernel (`--kernel native` without the addon fails fast), check the
 * input, the output location and an existing output, read the profiles and normalise them.
 */
async function prepareDtwInput(o: DtwStageOptions | DtwShardStageOptions) {
  const { radius, dtype, normalization: normalize } = dtwSettings({ radius: o.radius, dtype: o.dtype, normalization: o.normalize });
  checkRadius(radius);
  const kernel = selectKernel(o.kernel ?? 'auto');
  const inFile = checkInputPath(o.in, '--in');
  const outFile = checkOutputFile(o.out, '--out');
  if (existsSync(outFile) && !o.force) throw usageError('E_OUTPUT_EXISTS', `${o.out} already exists`, { hint: 'pass --force to overwrite it, or choose another --out' });
  const table = await readProfiles(o.in);
  const label = (i: number): string => `meter ${table.ids[i]} on ${table.dates[i]}`;
  const values = normalizeRows(table.values, table.length, normalize, label);
  return { radius, normalize, dtype, kernel, inFile, outFile, table, values };
}
