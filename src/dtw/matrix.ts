/**
 * The DTW distance matrix as a NumPy .npy file, computed tile by tile by worker threads.
 *
 * Tiles of the upper triangle (T × T, T = `tileSize`) are handed out in row-major order; workers
 * send each tile's rows and mirrored columns back, and the main thread writes whole bands of T rows
 * into `<out>.partial` in large contiguous writes (matrix-writer.ts). Tiles whose values are on disk
 * are appended to the checkpoint `<out>.partial.ckpt`, so an interrupted job (Ctrl-C, `kill -9`, a
 * full disk) is finished by running it again with the same data and settings. Every value is DTW(row i, row j) with i < j computed by the same lane arithmetic, so
 * the file is bit-identical whatever the worker count and tile size. Only a complete matrix is
 * renamed to `<out>` and gets its sidecar `<out>.json`.
 *
 * Layouts: `full`, the n × n symmetric matrix (both triangles, zero diagonal); `condensed`, the
 * upper triangle as a 1-D array of n(n−1)/2 values in SciPy's `squareform` order (row-major i < j;
 * what dtaidistance's `distance_matrix(..., compact=True)` returns): half the bytes.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, statfsSync, writeSync, ftruncateSync, renameSync, rmSync, statSync, createReadStream } from 'node:fs';
import { constants as fsConstants, promises as fsp } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { workerEntry, type WorkerEntry } from '../util/worker-entry.js';
import { availableParallelism, freemem } from 'node:os';
import { LpclustError, InterruptedError, externalError, inputError, usageError } from '../errors.js';
import { writeFileAtomic, writeFileAtomicSync } from '../io/atomic.js';
import { encodeNpyHeader, readNpyHeader, dtypeBytes, type NpyDtype } from '../io/npy.js';
import { matrixDigest, normalizeRows, type Normalization } from '../profiles/normalize.js';
import { interruptSignal } from '../util/interrupt.js';
import { Progress } from '../util/progress.js';
import { log } from '../util/log.js';
import { selectKernel, type KernelChoice } from './kernel.js';
import { checkRadius, DEFAULT_DTW_SETTINGS, DEFAULT_RADIUS, effectiveRadius, radiusFromJson, radiusJson, radiusParam, MATRIX_LAYOUTS } from './settings.js';
import { PACKAGE_ROOT, loadNative } from './native.js';
import { BandWriter, type MatrixLayout } from './matrix-writer.js';
import type { MatrixWorkerData, TileRequest, TileTask, WorkerReply } from './matrix-worker.js';

export type { MatrixLayout } from './matrix-writer.js';

// The layouts live with the other DTW settings (an import-free module the CLI's option table reads).
export { MATRIX_LAYOUTS };

/** What the sidecar `<out>.json` of a DTW matrix says (format version 1). */
export interface DtwSidecar {
  format: 'lpclust-dtw-matrix';
  formatVersion: 1;
  /** Number of rows (= columns) n of the matrix. */
  rows: number;
  /**
   * `full`: the .npy is n × n; `condensed`: 1-D, the n(n−1)/2 values above the diagonal in
   * SciPy's squareform order. Absent in sidecars written before lpclust had layouts: full.
   */
  layout?: MatrixLayout;
  /** Series length L (slots per profile). */
  length: number;
  /** Row ids as [id, date], in matrix order (omitted when not known). */
  ids?: Array<[string, string]>;
  /** SHA-256 of the lines `id,date\n` of all rows (null when ids are not known). */
  idsDigest: string | null;
  /** SHA-256 of the normalised n × L input (matrixDigest of profiles/normalize.ts). */
  inputDigest: string;
  normalization: Normalization;
  /** Sakoe–Chiba radius; null for full DTW. */
  radius: number | null;
  dtype: NpyDtype;
  /** Accumulation precision of the kernel (= dtype). */
  accumulation: NpyDtype;
  kernel: 'native' | 'js';
  isa: string;
  /** SHA-256 of the .npy file (null when not computed). */
  matrixSha256: string | null;
  lpclustVersion: string;
  createdAt: string;
}

/** Options of {@link computeDtwMatrix}. */
export interface DtwMatrixOptions {
  /** Normalised series, n × L row-major (float64; converted to `dtype` for the kernel). */
  values: Float64Array;
  /** Series length L. */
  length: number;
  /** Output .npy path. */
  out: string;
  /** Sakoe–Chiba radius (default 1); `Infinity` for full DTW. */
  radius?: number;
  /** Element type of the matrix and the kernel precision (default float32). */
  dtype?: NpyDtype;
  /** Worker threads (default: available cores). */
  workers?: number;
  /** Kernel choice (default auto). */
  kernel?: KernelChoice;
  /** Tile edge T in rows (default 1024). Does not change the result. */
  tileSize?: number;
  /** `full` (n × n, default) or `condensed` (upper triangle, 1-D, squareform order). */
  layout?: MatrixLayout;
  /**
   * Bytes of computed blocks held in memory waiting for their band to be complete before they
   * are written in pieces (default: a quarter of the free memory, between 64 MiB and 1 GiB).
   * Never changes the result.
   */
  memoryBudget?: number;
  /**
   * Write whole bands with direct I/O where it can (default true; see matrix-writer.ts): Linux,
   * the native addon loaded, a fresh job. `chunkBytes` (a multiple of 4096; default 8 MiB) is
   * for tests, which need chunk boundaries inside small matrices; so is `syncEvery` (bytes
   * between datasyncs, default 256 MiB). Never changes the result.
   */
  directIo?: boolean | { chunkBytes: number; syncEvery?: number };
  /**
   * Accepted for scripts: an interrupted job whose checkpoint matches the same data and settings is
   * always finished from `<out>.partial` (unless `force`); one of other data or settings is refused.
   */
  resume?: boolean;
  /** Overwrite an existing output / discard an existing partial and start over (default false). */
  force?: boolean;
  /** Normalisation already applied to `values`, recorded in the sidecar. */
  normalization: Normalization;
  /** Row ids (id, date) for the sidecar. */
  ids?: readonly string[];
  dates?: readonly string[];
  /** Compute the SHA-256 of the finished file for the sidecar (default true). */
  hashMatrix?: boolean;
  /** Polled between tiles; true stops the job (default: a received SIGINT/SIGTERM). */
  shouldStop?: () => boolean;
  /** Progress bar (default true; still silent when quiet or not a terminal). */
  progress?: boolean;
  /**
   * Where the tiles come from (default: computed here by `workers` threads). A merge of shards
   * reads them from tile files, a queue submitter from the shared directory; the matrix writer,
   * checkpoint, sidecar and result are the same whatever the source.
   */
  tileSource?: TileSource;
  /**
   * With a `tileSource` that needs no series (a merge): the row count and input digest of the
   * series the tiles were computed from; `values` may then be empty.
   */
  known?: { n: number; inputDigest: string };
  /**
   * The kernel recorded in the sidecar when the tiles come from elsewhere (default: this
   * machine's); a function is asked once every tile is in (a queue learns it from the tiles).
   */
  kernelInfo?: { name: 'native' | 'js'; isa: string } | (() => { name: 'native' | 'js'; isa: string } | undefined);
}

/**
 * A source of computed tiles for {@link computeDtwMatrix}: calls `onDone` once per tile of `todo`
 * (any order) with its rows (h × w) and, for the full layout off the diagonal, its columns as rows
 * (w × h); resolves when all are delivered, rejects on an error or when `shouldStop()` turns true.
 */
export type TileSource = (
  todo: TileTask[],
  onDone: (t: TileTask, rows: Float32Array | Float64Array, cols: Float32Array | Float64Array | null) => void,
  shouldStop: () => boolean,
  /** The matrix as the workers need it (values on a SharedArrayBuffer in `dtype`). */
  wd: MatrixWorkerData,
) => Promise<void>;

/** What {@link computeDtwMatrix} returns. */
export interface DtwMatrixResult {
  out: string;
  sidecarPath: string;
  sidecar: DtwSidecar;
  rows: number;
  /** Distinct pairs i < j. */
  pairs: number;
  /** Band cells over all pairs (the work). */
  cells: number;
  /** Wall seconds of this call (tiles computed in this call only). */
  seconds: number;
  /** Tiles done in this call / taken from the checkpoint. */
  tilesComputed: number;
  tilesResumed: number;
  workers: number;
  tileSize: number;
  /** Writes of this call that went out with direct I/O (0: all buffered). */
  directWrites: number;
  /** datasync calls made while the tiles were written (one per 256 MiB by default). */
  syncs: number;
}

/** Band cells of one pair of length-L series with radius r (clamped). */
export function bandCells(L: number, radius: number): number {
  const r = effectiveRadius(radius, L);
  let c = 0;
  for (let i = 0; i < L; i++) c += Math.min(L - 1, i + r) - Math.max(0, i - r) + 1;
  return c;
}

/** The lpclust version (package.json). */
export function lpclustVersion(): string {
  try {
    return (JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** SHA-256 of the row ids as `id,date\n` lines. */
export function idsDigest(ids: readonly string[], dates: readonly string[]): string {
  const h = createHash('sha256');
  for (let i = 0; i < ids.length; i++) h.update(`${ids[i]},${dates[i]}\n`);
  return h.digest('hex');
}

/** Sidecar path of a matrix: `dtw.npy` → `dtw.npy.json`. */
export function sidecarPathFor(out: string): string {
  return `${out}.json`;
}

interface CheckpointHead {
  format: 'lpclust-dtw-checkpoint';
  n: number;
  L: number;
  radius: number | null;
  dtype: NpyDtype;
  tileSize: number;
  inputDigest: string;
  /** Absent in checkpoints written before lpclust had layouts: full. */
  layout?: MatrixLayout;
}

/** The tiles of the upper triangle of an n-row matrix in row-major order, T × T (smaller at the edges). */
export function tilesOf(n: number, T: number): TileTask[] {
  const nb = Math.ceil(n / T);
  const tasks: TileTask[] = [];
  for (let bi = 0; bi < nb; bi++) {
    for (let bj = bi; bj < nb; bj++) {
      tasks.push({ tile: tasks.length, r0: bi * T, r1: Math.min(n, (bi + 1) * T), c0: bj * T, c1: Math.min(n, (bj + 1) * T) });
    }
  }
  return tasks;
}

/** Pairs i < j of a tile. */
export function pairsOf(t: TileTask): number {
  const h = t.r1 - t.r0;
  return t.r0 === t.c0 ? (h * (h - 1)) / 2 : h * (t.c1 - t.c0);
}

function checkPositiveInt(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 1) throw usageError('E_USAGE_OPTION', `Expected a positive integer for \`${what}\` but received \`${v}\``);
}

/**
 * Check the series before any work: N ≥ 2, all values finite.
 * @throws LpclustError E_DTW_TOO_FEW_ROWS, E_DTW_NOT_FINITE
 */
export function checkSeries(values: Float64Array, L: number, label?: (i: number) => string): number {
  checkPositiveInt(L, 'length');
  if (values.length % L !== 0) throw inputError('E_DTW_SHAPE', `Expected rows of ${L} values but the data holds ${values.length} values, not a multiple of ${L}`);
  const n = values.length / L;
  if (n < 2) throw inputError('E_DTW_TOO_FEW_ROWS', `Expected at least 2 profiles for a DTW matrix but found ${n}`);
  for (let k = 0; k < values.length; k++) {
    if (!Number.isFinite(values[k])) {
      const i = Math.floor(k / L);
      throw inputError('E_DTW_NOT_FINITE', `Expected finite values but ${label ? label(i) : `row ${i + 1}`} has ${values[k]} in slot ${(k % L) + 1}`, {
        hint: 'fix or drop the profile (lpclust harmonize removes incomplete days)',
      });
    }
  }
  return n;
}

/**
 * Compute the DTW matrix of the n × L series into `options.out` (.npy, n × n) plus its sidecar.
 * @throws LpclustError E_OUTPUT_EXISTS, E_DTW_PARTIAL_EXISTS, E_DTW_PARTIAL_FOREIGN, E_DISK_FULL, E_WRITE, E_INTERRUPTED
 */
export async function computeDtwMatrix(options: DtwMatrixOptions): Promise<DtwMatrixResult> {
  const L = options.length;
  // A merge of tile files has no series, only what their heads say about them.
  const known = options.known && options.tileSource ? options.known : undefined;
  const n = known ? known.n : checkSeries(options.values, L, options.ids && options.dates ? (i) => `meter ${options.ids![i]} on ${options.dates![i]}` : undefined);
  const radius = checkRadius(options.radius ?? DEFAULT_RADIUS);
  const r = effectiveRadius(radius, L);
  const dtype = options.dtype ?? DEFAULT_DTW_SETTINGS.dtype;
  const workers = options.workers ?? availableParallelism();
  checkPositiveInt(workers, 'workers');
  const out = path.resolve(options.out);
  const partial = `${out}.partial`;
  const ckptPath = `${partial}.ckpt`;
  const sidecarPath = sidecarPathFor(out);
  const inputDigest = known ? known.inputDigest : matrixDigest(options.values, L);
  const shouldStop = options.shouldStop ?? (() => interruptSignal() !== null);

  if (existsSync(out) && !options.force && !finishingInterrupted(out, sidecarPath, ckptPath, partial, { n, L, radius, dtype, inputDigest })) {
    throw usageError('E_OUTPUT_EXISTS', `${options.out} already exists`, { hint: 'pass --force to overwrite it, or choose another --out' });
  }
  const kernel = selectKernel(options.kernel ?? 'auto');
  const bytes = dtypeBytes(dtype);
  const layout = options.layout ?? 'full';
  if (!MATRIX_LAYOUTS.includes(layout)) throw usageError('E_USAGE_VALUE', `Expected ${MATRIX_LAYOUTS.join('|')} for \`layout\` but received \`${layout}\``);
  const shape = matrixShape(n, layout);
  const header = encodeNpyHeader(dtype, shape);
  const fileBytes = header.length + shape.reduce((a, b) => a * b, 1) * bytes;

  // Decide between resuming and starting afresh.
  let tileSize = options.tileSize ?? 1024;
  checkPositiveInt(tileSize, 'tileSize');
  const finished = new Set<number>();
  const head: Omit<CheckpointHead, 'tileSize'> = { format: 'lpclust-dtw-checkpoint', n, L, radius: radiusJson(radius), dtype, inputDigest, layout };
  let resuming = false;
  // An unfinished job of the same data and settings is resumed, whether or not --resume was given:
  // rerunning the command that was interrupted is what a user does.
  if (existsSync(partial) && !options.force && !checkpointStarted(ckptPath)) {
    // Killed before its checkpoint was written: no tile is known to be done, nothing to resume.
    log.info(`${partial} has no checkpoint (the job was stopped as it started); starting from the beginning`);
  } else if (existsSync(partial)) {
    if (!options.force) {
      const prior = readCheckpoint(ckptPath, partial);
      prior.head.layout ??= 'full';
      const mismatch = (Object.keys(head) as Array<keyof typeof head>).find((k) => prior.head[k] !== head[k]);
      if (mismatch) {
        throw inputError('E_DTW_PARTIAL_FOREIGN', `${partial} was started with other data or settings (${mismatch}: ${JSON.stringify(prior.head[mismatch])}, now ${JSON.stringify(head[mismatch])}); it cannot be resumed`, {
          hint: 'rerun with the same input and options, or with --force to discard it and start over',
        });
      }
      const hdr = await readNpyHeader(partial).catch((e: unknown) => {
        throw inputError('E_DTW_PARTIAL_FOREIGN', `${partial} is not a partial DTW matrix lpclust can resume: ${(e as Error).message}`, { hint: 'delete it or rerun with --force', cause: e });
      });
      if (hdr.dtype !== dtype || hdr.shape.join(',') !== shape.join(',') || statSync(partial).size !== fileBytes) {
        throw inputError('E_DTW_PARTIAL_FOREIGN', `${partial} does not have the shape (${shape.join(', ')}${shape.length === 1 ? ',' : ''}) ${dtype} and size ${fileBytes} bytes expected`, { hint: 'delete it or rerun with --force' });
      }
      tileSize = prior.head.tileSize;
      for (const t of prior.tiles) finished.add(t);
      resuming = true;
      log.info(`resuming ${partial}: ${finished.size} tile(s) already done`);
    }
  } else if (options.resume) {
    log.info(`nothing to resume at ${partial}; starting from the beginning`);
  }

  const tasks = tilesOf(n, tileSize);
  const todo = tasks.filter((t) => !finished.has(t.tile));
  const cellsPerPair = bandCells(L, r);
  const pairsTotal = (n * (n - 1)) / 2;
  const cellsTotal = pairsTotal * cellsPerPair;

  let ckptFd: number;
  try {
    if (!resuming) {
      // Free space first: a sparse file would otherwise fail half way with ENOSPC.
      checkFreeSpace(path.dirname(out), fileBytes, options.out, dtype);
      const fd = openSync(partial, 'w');
      try {
        writeSync(fd, header, 0, header.length, 0);
        ftruncateSync(fd, fileBytes);
      } finally {
        closeSync(fd);
      }
      // The head line complete or not at all (a full disk or a kill must not leave a cut head).
      writeFileAtomicSync(ckptPath, JSON.stringify({ ...head, tileSize } satisfies CheckpointHead) + '\n');
      ckptFd = openSync(ckptPath, 'a');
    } else {
      ckptFd = openSync(ckptPath, 'a');
    }
  } catch (e) {
    if (e instanceof LpclustError) throw e;
    throw ioError(e, partial);
  }

  const started = performance.now();
  const progress = options.progress === false ? undefined : new Progress({ label: 'dtw matrix', total: cellsTotal, unit: 'cells' });
  let cellsDone = tasks.filter((t) => finished.has(t.tile)).reduce((s, t) => s + pairsOf(t) * cellsPerPair, 0);
  progress?.update(cellsDone);

  const nWorkers = Math.max(1, Math.min(workers, todo.length));
  const sab = new SharedArrayBuffer(options.values.length * bytes);
  (dtype === 'float32' ? new Float32Array(sab) : new Float64Array(sab)).set(options.values);
  const wd: MatrixWorkerData = { values: sab, dtype, n, L, radius: r, kernel: kernel.name, tileSize, layout };
  const entry = workerEntry(import.meta.url, 'matrix-worker');

  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(partial, 'r+');
  } catch (e) {
    closeSync(ckptFd);
    throw ioError(e, partial);
  }
  const direct = options.directIo !== false && !resuming ? await openDirect(partial) : undefined;
  if (direct && typeof options.directIo === 'object') direct.chunkBytes = options.directIo.chunkBytes;
  const writer = new BandWriter({
    fh,
    layout,
    n,
    tileSize,
    bytes,
    header,
    tasks,
    finished,
    budget: options.memoryBudget ?? defaultMemoryBudget(),
    onDurable: (t) => writeSync(ckptFd, `${t.tile}\n`),
    direct,
    syncEvery: typeof options.directIo === 'object' ? options.directIo.syncEvery : undefined,
  });
  let streamedSha: string | null = null;
  try {
    if (todo.length > 0) {
      const onDone = (t: TileTask, rows: Float32Array | Float64Array, cols: Float32Array | Float64Array | null): void => {
        writer.add(t, rows, cols);
        cellsDone += pairsOf(t) * cellsPerPair;
        progress?.update(cellsDone);
      };
      if (options.tileSource) await options.tileSource(todo, onDone, shouldStop, wd);
      else await runWorkers(nWorkers, entry, wd, todo, shouldStop, onDone, () => writer.free.splice(0, layout === 'full' ? 2 : 1));
    }
    streamedSha = (await writer.finish()).sha256;
  } catch (e) {
    // What is written stays valid for --resume: wait for the writes in flight before closing.
    await writer.drain();
    await direct?.fh.close().catch(() => undefined);
    await fh.close().catch(() => undefined);
    closeSync(ckptFd);
    progress?.done();
    if (e instanceof LpclustError || (e as NodeJS.ErrnoException).code === undefined) throw e;
    throw ioError(e, partial);
  }
  closeSync(ckptFd);
  progress?.done();
  const seconds = (performance.now() - started) / 1000;
  log.debug(`dtw matrix: tiles done and written in ${seconds.toFixed(3)} s (${writer.calls} writes, ${writer.directWrites} of them direct)`);

  // Finish: flush, hash, name, sidecar.
  let matrixSha256: string | null = null;
  try {
    try {
      await direct?.fh.close();
      await fh.sync();
    } finally {
      await fh.close();
    }
    log.debug(`dtw matrix: fsync done at ${((performance.now() - started) / 1000).toFixed(3)} s`);
    if (options.hashMatrix !== false) matrixSha256 = streamedSha ?? (await sha256File(partial));
    rmSync(sidecarPath, { force: true });
    renameSync(partial, out);
  } catch (e) {
    throw ioError(e, out);
  }
  const kernelInfo = typeof options.kernelInfo === 'function' ? options.kernelInfo() : options.kernelInfo;
  const sidecar: DtwSidecar = {
    format: 'lpclust-dtw-matrix',
    formatVersion: 1,
    rows: n,
    layout,
    length: L,
    ...(options.ids && options.dates ? { ids: options.ids.map((id, i) => [id, options.dates![i]] as [string, string]) } : {}),
    idsDigest: options.ids && options.dates ? idsDigest(options.ids, options.dates) : null,
    inputDigest,
    normalization: options.normalization,
    radius: head.radius,
    dtype,
    accumulation: dtype,
    kernel: kernelInfo?.name ?? kernel.name,
    isa: kernelInfo?.isa ?? kernel.isa,
    matrixSha256,
    lpclustVersion: lpclustVersion(),
    createdAt: new Date().toISOString(),
  };
  await writeFileAtomic(sidecarPath, JSON.stringify(sidecar) + '\n');
  rmSync(ckptPath, { force: true });
  return {
    out,
    sidecarPath,
    sidecar,
    rows: n,
    pairs: pairsTotal,
    cells: cellsTotal,
    seconds,
    tilesComputed: todo.length,
    tilesResumed: tasks.length - todo.length,
    workers: nWorkers,
    tileSize,
    directWrites: writer.directWrites,
    syncs: writer.syncs,
  };
}

/** The .npy shape of an n-row matrix in a layout: (n, n) or (n(n−1)/2,). */
export function matrixShape(n: number, layout: MatrixLayout): number[] {
  return layout === 'condensed' ? [(n * (n - 1)) / 2] : [n, n];
}

/** Block size direct writes are aligned to (offsets, lengths, memory): the common page and ext4/XFS block size. */
const DIRECT_BLOCK = 4096;

/**
 * The partial file opened a second time with O_DIRECT, for the matrix writer; undefined where direct
 * I/O is not available (not Linux, no native addon to allocate aligned memory, a file system
 * refusing O_DIRECT at open): bands are then written buffered.
 */
async function openDirect(partial: string): Promise<{ fh: fsp.FileHandle; block: number; alloc: (bytes: number) => ArrayBuffer; chunkBytes?: number } | undefined> {
  const addon = loadNative();
  const O_DIRECT = fsConstants.O_DIRECT;
  if (process.platform !== 'linux' || !addon?.alignedBuffer || !O_DIRECT) return undefined;
  try {
    const fh = await fsp.open(partial, fsConstants.O_RDWR | O_DIRECT);
    return { fh, block: DIRECT_BLOCK, alloc: (bytes) => addon.alignedBuffer!(bytes, DIRECT_BLOCK) };
  } catch (e) {
    log.debug(`dtw matrix: no direct I/O on ${partial} (${(e as Error).message}); writing buffered`);
    return undefined;
  }
}

/** Default {@link DtwMatrixOptions.memoryBudget}: a quarter of the free memory, 64 MiB … 1 GiB. */
function defaultMemoryBudget(): number {
  return Math.min(2 ** 30, Math.max(64 * 2 ** 20, Math.floor(freemem() / 4)));
}

function checkFreeSpace(dir: string, need: number, out: string, dtype: NpyDtype): void {
  let free: number;
  try {
    const s = statfsSync(dir);
    free = s.bavail * s.bsize;
  } catch {
    return; // Unknown: the writes themselves will report ENOSPC.
  }
  if (free < need) {
    throw externalError('E_DISK_FULL', `not enough free space for ${out}: the matrix needs ${formatBytes(need)} but ${dir} has ${formatBytes(free)} free`, {
      hint: `free some space or write elsewhere with --out${dtype === 'float64' ? ', or use --dtype float32 (half the size of float64)' : ''}`,
    });
  }
}

function formatBytes(b: number): string {
  return b >= 1e9 ? `${(b / 1e9).toFixed(2)} GB` : `${(b / 1e6).toFixed(1)} MB`;
}

function ioError(e: unknown, file: string): LpclustError {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ENOSPC') {
    return externalError('E_DISK_FULL', `the disk is full while writing ${file}`, { hint: 'free some space and run the same command again: it resumes from the checkpoint', cause: e });
  }
  return externalError('E_WRITE', `cannot write ${file}: ${err.message}`, { cause: e });
}

/** False when the checkpoint is missing or empty: the job was stopped before it wrote its head line. */
function checkpointStarted(ckptPath: string): boolean {
  try {
    return statSync(ckptPath).size > 0;
  } catch {
    return false;
  }
}

/**
 * True when `out` is the complete matrix of this very job whose finishing was interrupted after
 * the rename and before the sidecar (no sidecar, the checkpoint of the same data and settings
 * still there): `out` is then moved back to `<out>.partial` so that the job finishes as a resume
 * with every tile done.
 */
function finishingInterrupted(out: string, sidecarPath: string, ckptPath: string, partial: string, head: Omit<CheckpointHead, 'tileSize' | 'format' | 'radius'> & { radius: number }): boolean {
  if (existsSync(sidecarPath) || existsSync(partial) || !checkpointStarted(ckptPath)) return false;
  try {
    const prior = readCheckpoint(ckptPath, partial).head;
    if (prior.n !== head.n || prior.L !== head.L || prior.radius !== radiusJson(head.radius) || prior.dtype !== head.dtype || prior.inputDigest !== head.inputDigest) return false;
    renameSync(out, partial);
    log.info(`${out} was renamed but has no sidecar yet: finishing it`);
    return true;
  } catch {
    return false;
  }
}

function readCheckpoint(ckptPath: string, partial: string): { head: CheckpointHead; tiles: number[] } {
  let text: string;
  try {
    text = readFileSync(ckptPath, 'utf8');
  } catch (e) {
    throw inputError('E_DTW_PARTIAL_FOREIGN', `${partial} has no readable checkpoint ${ckptPath} (${(e as Error).message}); it cannot be resumed`, {
      hint: 'rerun with --force to discard it and start over',
    });
  }
  const lines = text.split('\n');
  let head: CheckpointHead;
  try {
    head = JSON.parse(lines[0]) as CheckpointHead;
  } catch {
    head = { format: 'unreadable' } as unknown as CheckpointHead;
  }
  if (head.format !== 'lpclust-dtw-checkpoint' || !Number.isInteger(head.tileSize) || head.tileSize < 1) {
    throw inputError('E_DTW_PARTIAL_FOREIGN', `${ckptPath} is not an lpclust DTW checkpoint`, { hint: 'rerun with --force to discard the partial matrix and start over' });
  }
  const tiles: number[] = [];
  // A line cut by a crash is ignored: that tile is simply computed again.
  for (const line of lines.slice(1)) if (/^\d+$/.test(line)) tiles.push(Number(line));
  return { head, tiles };
}

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 22 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Run the tiles on `count` workers; resolves when all are done, rejects on error or stop. */
export function runWorkers(
  count: number,
  entry: WorkerEntry,
  wd: MatrixWorkerData,
  todo: TileTask[],
  shouldStop: () => boolean,
  onDone: (t: TileTask, rows: Float32Array | Float64Array, cols: Float32Array | Float64Array | null) => void,
  buffers: () => ArrayBuffer[],
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const pool: Worker[] = [];
    let next = 0;
    let remaining = todo.length;
    let settled = false;
    // Two tiles per worker: the next one is waiting when a tile is done, so a worker does not idle
    // while the main thread writes or hashes (a worker replies in the order it was sent tiles).
    const inflight = new Map<Worker, TileTask[]>();
    const finish = (err?: unknown): void => {
      if (settled) return;
      settled = true;
      clearInterval(poll);
      if (err) {
        // Stop at once: tiles in flight are not checkpointed and will be recomputed on resume.
        void Promise.allSettled(pool.map((w) => w.terminate())).then(() => reject(err));
      } else {
        for (const w of pool) w.postMessage({ close: true });
        void Promise.allSettled(pool.map((w) => new Promise((r) => w.once('exit', r)))).then(() => resolve());
      }
    };
    const poll = setInterval(() => {
      if (shouldStop()) finish(new InterruptedError(interruptSignal() ?? 'SIGINT'));
    }, 50);
    const feed = (w: Worker): void => {
      if (settled) return;
      if (shouldStop()) {
        finish(new InterruptedError(interruptSignal() ?? 'SIGINT'));
        return;
      }
      if (next < todo.length) {
        const t = todo[next++];
        inflight.get(w)!.push(t);
        const reuse = buffers();
        w.postMessage({ ...t, buffers: reuse } satisfies TileRequest, reuse);
      }
    };
    for (let k = 0; k < count; k++) {
      const w = new Worker(entry.script, { workerData: wd, eval: entry.eval });
      pool.push(w);
      inflight.set(w, []);
      w.on('message', (m: WorkerReply) => {
        if (settled) return;
        if ('ready' in m) {
          feed(w);
          return feed(w);
        }
        if ('error' in m) {
          const e = Object.assign(new Error(m.error.message), { code: m.error.code });
          return finish(e);
        }
        const t = inflight.get(w)!.shift()!;
        try {
          onDone(t, m.rows, m.cols);
        } catch (e) {
          return finish(e);
        }
        remaining--;
        if (remaining === 0) return finish();
        feed(w);
      });
      w.on('error', (e) => finish(e));
      w.on('exit', (code) => {
        if (!settled && code !== 0) finish(new Error(`DTW worker exited with code ${code}`));
      });
    }
  });
}

/** Options of {@link assertMatrixMatches}. */
export interface MatrixCheckOptions {
  /** The input file the consumer read, named in the rebuild hint. */
  inputFile?: string;
  /** Required radius (undefined: any). */
  radius?: number;
  /** Row ids to check against the sidecar's idsDigest. */
  ids?: readonly string[];
  dates?: readonly string[];
}

/**
 * Refuse a DTW matrix that was not computed from exactly these profiles: reads `<path>.json`,
 * normalises `values` as the sidecar says, and compares the digest, the row count, the .npy shape
 * and size (and the radius and row ids when given). Returns the sidecar when everything matches.
 * @param values n × L profiles as read (before normalisation), row-major
 * @throws LpclustError E_DTW_MATRIX_STALE with a hint giving the `lpclust dtw` command that rebuilds it
 */
export async function assertMatrixMatches(values: Float64Array, L: number, matrixPath: string, options: MatrixCheckOptions = {}): Promise<DtwSidecar> {
  const n = values.length / L;
  const rebuild = (s?: Partial<DtwSidecar>): string =>
    `rebuild it: lpclust dtw --in ${options.inputFile ?? '<profiles.csv>'} --out ${matrixPath} --radius ${radiusParam(s?.radius === undefined ? (options.radius ?? DEFAULT_RADIUS) : radiusFromJson(s.radius))} --normalize ${s?.normalization ?? DEFAULT_DTW_SETTINGS.normalization} --force`;
  const stale = (why: string, s?: Partial<DtwSidecar>): LpclustError =>
    inputError('E_DTW_MATRIX_STALE', `the DTW matrix ${matrixPath} does not belong to these profiles: ${why}`, { hint: rebuild(s), where: { file: matrixPath } });
  let sidecar: DtwSidecar;
  try {
    sidecar = JSON.parse(await fsp.readFile(sidecarPathFor(matrixPath), 'utf8')) as DtwSidecar;
  } catch (e) {
    throw stale(`its sidecar ${sidecarPathFor(matrixPath)} is missing or unreadable (${(e as Error).message})`);
  }
  if (sidecar.format !== 'lpclust-dtw-matrix') throw stale(`${sidecarPathFor(matrixPath)} is not an lpclust DTW sidecar`);
  if (sidecar.rows !== n || sidecar.length !== L) throw stale(`it has ${sidecar.rows} rows of length ${sidecar.length}, the profiles are ${n} rows of length ${L}`, sidecar);
  if (options.radius !== undefined && radiusFromJson(sidecar.radius) !== options.radius) {
    throw stale(`it was computed with radius ${sidecar.radius ?? 'none (full DTW)'}, radius ${radiusParam(options.radius)} was asked for`, { ...sidecar, radius: radiusJson(options.radius) });
  }
  if (options.ids && options.dates && sidecar.idsDigest && sidecar.idsDigest !== idsDigest(options.ids, options.dates)) {
    throw stale('its rows are other meters/days or in another order', sidecar);
  }
  const digest = matrixDigest(normalizeRows(values, L, sidecar.normalization), L);
  if (digest !== sidecar.inputDigest) throw stale('the profile values differ from those it was computed from', sidecar);
  let hdr: Awaited<ReturnType<typeof readNpyHeader>>;
  try {
    hdr = await readNpyHeader(matrixPath);
  } catch (e) {
    throw stale(`the matrix file is missing or unreadable (${(e as Error).message})`, sidecar);
  }
  // The layout the sidecar records (none before layouts existed: full) decides the shape expected.
  const shape = matrixShape(n, sidecar.layout ?? 'full');
  const expectBytes = hdr.dataOffset + shape.reduce((a, b) => a * b, 1) * dtypeBytes(hdr.dtype);
  if (hdr.shape.join(',') !== shape.join(',') || statSync(matrixPath).size !== expectBytes) {
    const fmt = (s: number[]): string => `(${s.join(', ')}${s.length === 1 ? ',' : ''})`;
    throw stale(`the file has shape ${fmt(hdr.shape)} and ${statSync(matrixPath).size} bytes, expected ${fmt(shape)} (${sidecar.layout ?? 'full'} layout) and ${expectBytes}`, sidecar);
  }
  return sidecar;
}

/** The number of rows n of a condensed matrix of m values (m = n(n−1)/2), or null when m is not such a number. */
export function condensedRows(m: number): number | null {
  const n = Math.round((1 + Math.sqrt(1 + 8 * m)) / 2);
  return n >= 2 && (n * (n - 1)) / 2 === m ? n : null;
}

/**
 * Load a DTW matrix, or the row block [r0, r1) of it, into memory, as n × n rows whatever the
 * file's layout: a full .npy (n, n) is read as is; a condensed one (n(n−1)/2,) — detected from its
 * header — is expanded (zero diagonal, both triangles), so every consumer gets the same matrix.
 * @param options.shared allocate it on a SharedArrayBuffer (worker threads then read it without a copy)
 * @returns `data` (r1 − r0) × n row-major, in the file's dtype, and n
 */
export async function loadDtwMatrix(matrixPath: string, rows?: { r0: number; r1: number }, options: { shared?: boolean } = {}): Promise<{ n: number; dtype: NpyDtype; data: Float32Array | Float64Array; r0: number; r1: number }> {
  const hdr = await readNpyHeader(matrixPath);
  const condensed = hdr.shape.length === 1;
  const n = condensed ? condensedRows(hdr.shape[0]) : hdr.shape[0];
  if (n === null || (!condensed && (hdr.shape.length !== 2 || hdr.shape[0] !== hdr.shape[1]))) {
    throw inputError('E_NPY', `${matrixPath} is neither a square matrix nor a condensed one (n(n−1)/2 values): shape (${hdr.shape.join(', ')})`, { where: { file: matrixPath } });
  }
  const r0 = rows?.r0 ?? 0;
  const r1 = rows?.r1 ?? n;
  if (!(Number.isInteger(r0) && Number.isInteger(r1) && r0 >= 0 && r0 <= r1 && r1 <= n)) throw new RangeError(`Expected rows within [0, ${n}] but received [${r0}, ${r1})`);
  const bytes = dtypeBytes(hdr.dtype);
  const count = (r1 - r0) * n;
  const buffer = options.shared ? new SharedArrayBuffer(count * bytes) : new ArrayBuffer(count * bytes);
  const data = hdr.dtype === 'float32' ? new Float32Array(buffer) : new Float64Array(buffer);
  const fileValues = condensed ? (n * (n - 1)) / 2 : n * n;
  const fh = await fsp.open(matrixPath, 'r');
  try {
    const { size } = await fh.stat();
    if (size !== hdr.dataOffset + fileValues * bytes) throw inputError('E_NPY', `${matrixPath} is truncated: expected ${hdr.dataOffset + fileValues * bytes} bytes, found ${size}`, { where: { file: matrixPath } });
    if (condensed) await expandCondensed(fh, hdr.dataOffset, n, r0, r1, data);
    else await readFully(fh, buffer, hdr.dataOffset + r0 * n * bytes);
  } finally {
    await fh.close();
  }
  return { n, dtype: hdr.dtype, data, r0, r1 };
}

/**
 * Fill `buffer` from the file at `position`, 256 MiB at a time. Each read gets its own byte view:
 * one Uint8Array over the whole buffer cannot exist beyond 2³² bytes (a 40,000 × 40,000 float32
 * matrix is 6.4 GB), while the Float32Array over it can.
 */
async function readFully(fh: fsp.FileHandle, target: Uint8Array | ArrayBuffer | SharedArrayBuffer, position: number): Promise<void> {
  const buffer = ArrayBuffer.isView(target) ? target.buffer : target;
  const base = ArrayBuffer.isView(target) ? target.byteOffset : 0;
  const total = target.byteLength;
  let off = 0;
  while (off < total) {
    const len = Math.min(total - off, 1 << 28);
    const { bytesRead } = await fh.read(new Uint8Array(buffer, base + off, len), 0, len, position + off);
    if (bytesRead === 0) break;
    off += bytesRead;
  }
}

/**
 * Rows [r0, r1) of the n × n matrix from a condensed file (squareform order: row i holds columns
 * i+1 … n−1 from element i·n − i(i+1)/2). Condensed rows are read in chunks of a few MB; each is
 * copied into its own output row and, transposed by blocks of 64 columns (cache-friendly), into
 * the columns of the later rows. Only rows i < r1 are needed.
 */
async function expandCondensed(fh: fsp.FileHandle, dataOffset: number, n: number, r0: number, r1: number, out: Float32Array | Float64Array): Promise<void> {
  const Ctor = out instanceof Float32Array ? Float32Array : Float64Array;
  const bytes = Ctor.BYTES_PER_ELEMENT;
  const start = (i: number): number => i * n - (i * (i + 1)) / 2;
  const last = Math.min(r1, n - 1); // condensed rows 0 … last − 1
  const chunkRows = Math.max(1, Math.min(256, Math.floor((8 << 20) / (n * bytes))));
  let buf = new Ctor(0);
  for (let ia = 0; ia < last; ia += chunkRows) {
    const ib = Math.min(last, ia + chunkRows);
    const len = start(ib) - start(ia);
    if (buf.length < len) buf = new Ctor(len);
    await readFully(fh, new Uint8Array(buf.buffer, 0, len * bytes), dataOffset + start(ia) * bytes);
    const base = start(ia);
    // Upper part: row i's values, contiguous.
    for (let i = Math.max(ia, r0); i < Math.min(ib, r1); i++) {
      const from = start(i) - base;
      out.set(buf.subarray(from, from + (n - i - 1)), (i - r0) * n + i + 1);
    }
    // Lower part: out[j][i] = D(i, j) for j > i, j in [r0, r1).
    const B = 64;
    for (let jb = Math.max(ia + 1, r0); jb < r1; jb += B) {
      const je = Math.min(r1, jb + B);
      for (let i = ia; i < ib; i++) {
        const rowBase = start(i) - base - i - 1;
        for (let j = Math.max(jb, i + 1); j < je; j++) out[(j - r0) * n + i] = buf[rowBase + j];
      }
    }
  }
}
