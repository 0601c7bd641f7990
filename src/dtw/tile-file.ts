/**
 * Tile files: computed tiles of a DTW matrix outside the matrix file, for matrices computed on more
 * than one machine. A shard (`lpclust dtw --shard i/n`) is one tile file holding a share of the
 * tiles; a queue worker (`lpclust worker`) writes one tile file per tile into the shared directory.
 * `lpclust dtw merge` and the queue submitter read them back into the tiled matrix writer, so the
 * assembled `.npy` is the one a single machine writes, byte for byte.
 *
 * Layout (little-endian):
 *   8 bytes  magic `LPDTWT01`
 *   4 bytes  uint32, byte length H of the JSON head
 *   H bytes  the head ({@link TileFileHead}, UTF-8 JSON)
 *   records, one per tile: uint32 tile index, uint32 h, uint32 w, then h × w values of `dtype`,
 *   row-major: the tile's rows r0 … r1 − 1 at columns c0 … c1 − 1 (on a diagonal tile both halves).
 *
 * Only the rows are stored; the mirrored columns of the full layout are their transpose.
 */
import { appendFileSync, closeSync, existsSync, ftruncateSync, openSync, readFileSync, readSync, fstatSync, writeSync, fsyncSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { inputError, externalError } from '../errors.js';
import type { NpyDtype } from '../io/npy.js';
import type { Normalization } from '../profiles/normalize.js';
import type { TileTask } from './matrix-worker.js';

const MAGIC = Buffer.from('LPDTWT01', 'latin1');

/** What a tile file says about the matrix its tiles belong to. */
export interface TileFileHead {
  format: 'lpclust-dtw-tiles';
  formatVersion: 1;
  /** SHA-256 of the normalised n × L input (the sidecar's inputDigest). */
  inputDigest: string;
  /** Rows n of the matrix. */
  n: number;
  /** Series length L. */
  L: number;
  /** Sakoe–Chiba radius as asked; null for full DTW. */
  radius: number | null;
  dtype: NpyDtype;
  /** Tile edge T in rows. */
  tileSize: number;
  normalization: Normalization;
  /** Which share of the tiles: shard `index` of `count` (0-based); absent for a queue tile. */
  shard?: { index: number; count: number };
  /** The tiles the file must hold (tilesOf indices). */
  tiles: number[];
  kernel: 'native' | 'js';
  isa: string;
  lpclustVersion: string;
  /** Row ids as [id, date], in matrix order (shards only, so that a merge can write the sidecar). */
  ids?: Array<[string, string]>;
}

/** The head fields that must agree between tile files of the same matrix. */
export const MATRIX_KEYS = ['inputDigest', 'n', 'L', 'radius', 'dtype', 'tileSize', 'normalization'] as const;

/** Where a tile's values are in a tile file. */
export interface TileRecord {
  tile: number;
  h: number;
  w: number;
  /** Byte offset of the values. */
  offset: number;
}

/** Where an interrupted tile file resumes: its checkpointed records end at `pos`. */
export interface TileFileResume {
  /** Byte length of the head and the records known to be on disk. */
  pos: number;
  /** Those records' tiles. */
  done: number[];
}

/** Options of {@link TileFileWriter}. */
export interface TileFileWriterOptions {
  /** The name written to until {@link TileFileWriter.commit} (default `<file>.partial`). */
  partial?: string;
  /**
   * Keep a checkpoint `<partial>.ckpt`: after each record the file is flushed to disk and a line
   * `<tile> <end byte>` appended, so a killed writer can be resumed from its last line
   * ({@link readTileCheckpoint}).
   */
  checkpoint?: boolean;
  /** Continue `<partial>` from this checkpointed position (the head there is this writer's). */
  resume?: TileFileResume;
}

/**
 * Writes a tile file as `<file>.partial`, record by record, and renames it to `file` only once every
 * tile of the head is in: a killed shard never leaves a file that looks complete.
 */
export class TileFileWriter {
  private readonly fd: number;
  private readonly partial: string;
  private readonly ckpt: string | null;
  private readonly missing: Set<number>;
  private pos: number;

  constructor(
    readonly file: string,
    head: TileFileHead,
    options: TileFileWriterOptions = {},
  ) {
    this.partial = options.partial ?? `${file}.partial`;
    this.ckpt = options.checkpoint || options.resume ? `${this.partial}.ckpt` : null;
    this.missing = new Set(head.tiles);
    try {
      if (options.resume) {
        // Records past the last checkpoint line may be cut or not on disk: they go and are computed again.
        this.fd = openSync(this.partial, 'r+');
        ftruncateSync(this.fd, options.resume.pos);
        this.pos = options.resume.pos;
        for (const t of options.resume.done) this.missing.delete(t);
      } else {
        const json = Buffer.from(JSON.stringify(head), 'utf8');
        const pre = Buffer.alloc(12);
        MAGIC.copy(pre, 0);
        pre.writeUInt32LE(json.length, 8);
        this.fd = openSync(this.partial, 'w');
        writeAll(this.fd, pre, 0);
        writeAll(this.fd, json, 12);
        this.pos = 12 + json.length;
        if (this.ckpt) writeFileSync(this.ckpt, '');
      }
    } catch (e) {
      throw writeError(e, this.partial);
    }
  }

  /** Append one tile's rows (h × w, row-major). */
  add(t: TileTask, rows: Float32Array | Float64Array): void {
    const h = t.r1 - t.r0;
    const w = t.c1 - t.c0;
    const rec = Buffer.alloc(12);
    rec.writeUInt32LE(t.tile, 0);
    rec.writeUInt32LE(h, 4);
    rec.writeUInt32LE(w, 8);
    try {
      writeAll(this.fd, rec, this.pos);
      writeAll(this.fd, new Uint8Array(rows.buffer, rows.byteOffset, h * w * rows.BYTES_PER_ELEMENT), this.pos + 12);
    } catch (e) {
      throw writeError(e, this.partial);
    }
    this.pos += 12 + h * w * rows.BYTES_PER_ELEMENT;
    this.missing.delete(t.tile);
    if (this.ckpt) {
      // The record reaches the disk before the checkpoint names it.
      try {
        fsyncSync(this.fd);
        appendFileSync(this.ckpt, `${t.tile} ${this.pos}\n`);
      } catch (e) {
        throw writeError(e, this.ckpt);
      }
    }
  }

  /** Flush and give the file its name (every tile must be in). */
  commit(): void {
    if (this.missing.size > 0) throw new Error(`tile file ${this.file}: ${this.missing.size} tile(s) not written`);
    try {
      fsyncSync(this.fd);
      closeSync(this.fd);
      renameSync(this.partial, this.file);
      if (this.ckpt) rmSync(this.ckpt, { force: true });
    } catch (e) {
      throw writeError(e, this.file);
    }
  }

  /**
   * Stop: close, and remove the partial file — unless it is checkpointed, when it stays for the
   * same command to resume.
   */
  abort(): void {
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
    if (!this.ckpt) rmSync(this.partial, { force: true });
  }
}

/**
 * Where an interrupted checkpointed tile file (`partial`, see {@link TileFileWriterOptions}) can be
 * continued: its head, and the records its checkpoint names that are whole in the file (a line cut
 * by the kill, or naming bytes the file does not hold, ends the list).
 * @returns null when there is no checkpoint or no readable head (nothing to resume)
 */
export function readTileCheckpoint(partial: string): { head: TileFileHead; resume: TileFileResume } | null {
  const ckpt = `${partial}.ckpt`;
  if (!existsSync(partial) || !existsSync(ckpt)) return null;
  let head: TileFileHead;
  let headEnd: number;
  let size: number;
  const fd = openSync(partial, 'r');
  try {
    size = fstatSync(fd).size;
    const pre = Buffer.alloc(12);
    if (readSync(fd, pre, 0, 12, 0) !== 12 || !pre.subarray(0, 8).equals(MAGIC)) return null;
    const hlen = pre.readUInt32LE(8);
    if (12 + hlen > size) return null;
    const json = Buffer.alloc(hlen);
    readSync(fd, json, 0, hlen, 12);
    try {
      head = JSON.parse(json.toString('utf8')) as TileFileHead;
    } catch {
      return null;
    }
    headEnd = 12 + hlen;
    const bytes = head.dtype === 'float64' ? 8 : 4;
    const done: number[] = [];
    let pos = headEnd;
    const rec = Buffer.alloc(12);
    const text = readFileSync(ckpt, 'utf8');
    for (const line of text.slice(0, text.lastIndexOf('\n') + 1).split('\n')) {
      const m = /^(\d+) (\d+)$/.exec(line);
      if (!m) break;
      const tile = Number(m[1]);
      const end = Number(m[2]);
      // The record the line names must start where the previous one ended and end where the line says.
      if (end > size || readSync(fd, rec, 0, 12, pos) !== 12 || rec.readUInt32LE(0) !== tile || pos + 12 + rec.readUInt32LE(4) * rec.readUInt32LE(8) * bytes !== end) break;
      done.push(tile);
      pos = end;
    }
    return { head, resume: { pos, done } };
  } finally {
    closeSync(fd);
  }
}

/** Write a tile file with a single tile atomically (a queue worker's output). */
export function writeTileFile(file: string, head: TileFileHead, t: TileTask, rows: Float32Array | Float64Array): void {
  // A unique partial name: two workers holding the same tile (a lock that expired while the first
  // was still alive) each write their own and the last rename wins, with the same bytes.
  const w = new TileFileWriter(file, head, { partial: `${file}.${process.pid}.${Math.random().toString(36).slice(2, 8)}.partial` });
  try {
    w.add(t, rows);
    w.commit();
  } catch (e) {
    w.abort();
    throw e;
  }
}

/** An open tile file: its head and where each tile is. */
export interface TileFileIndex {
  file: string;
  head: TileFileHead;
  records: Map<number, TileRecord>;
}

/**
 * Read a tile file's head and index its records (values are not read).
 * @throws LpclustError E_DTW_TILES_UNREADABLE when it is not a complete lpclust tile file
 */
export function indexTileFile(file: string): TileFileIndex {
  const bad = (why: string): Error =>
    inputError('E_DTW_TILES_UNREADABLE', `${file} is not a complete lpclust DTW tile file: ${why}`, { hint: 'compute it again (lpclust dtw --shard i/n …)', where: { file } });
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    throw inputError('E_DTW_TILES_UNREADABLE', `cannot read ${file}: ${(e as Error).message}`, { where: { file } });
  }
  try {
    const size = fstatSync(fd).size;
    const pre = Buffer.alloc(12);
    if (readSync(fd, pre, 0, 12, 0) !== 12 || !pre.subarray(0, 8).equals(MAGIC)) throw bad('it does not start with the tile-file signature');
    const hlen = pre.readUInt32LE(8);
    if (12 + hlen > size) throw bad('its head is cut');
    const json = Buffer.alloc(hlen);
    readSync(fd, json, 0, hlen, 12);
    let head: TileFileHead;
    try {
      head = JSON.parse(json.toString('utf8')) as TileFileHead;
    } catch {
      throw bad('its head is not JSON');
    }
    if (head.format !== 'lpclust-dtw-tiles' || head.formatVersion !== 1) throw bad(`unknown format ${JSON.stringify(head.format)} version ${JSON.stringify(head.formatVersion)}`);
    const bytes = head.dtype === 'float64' ? 8 : 4;
    const records = new Map<number, TileRecord>();
    let pos = 12 + hlen;
    const rec = Buffer.alloc(12);
    while (pos < size) {
      if (pos + 12 > size || readSync(fd, rec, 0, 12, pos) !== 12) throw bad(`a record is cut at byte ${pos}`);
      const r: TileRecord = { tile: rec.readUInt32LE(0), h: rec.readUInt32LE(4), w: rec.readUInt32LE(8), offset: pos + 12 };
      pos = r.offset + r.h * r.w * bytes;
      if (pos > size) throw bad(`tile ${r.tile} is cut`);
      records.set(r.tile, r);
    }
    const missing = head.tiles.filter((t) => !records.has(t));
    if (missing.length > 0) throw bad(`${missing.length} of its ${head.tiles.length} tiles are missing (first: ${missing[0]})`);
    return { file, head, records };
  } finally {
    closeSync(fd);
  }
}

/** Read one tile's rows (h × w) from an indexed tile file. */
export function readTile(index: TileFileIndex, t: TileTask, into?: ArrayBuffer): Float32Array | Float64Array {
  const r = index.records.get(t.tile);
  const h = t.r1 - t.r0;
  const w = t.c1 - t.c0;
  if (!r || r.h !== h || r.w !== w) {
    throw inputError('E_DTW_TILES_UNREADABLE', `${index.file} does not hold tile ${t.tile} as ${h} × ${w} values`, { where: { file: index.file } });
  }
  const Ctor = index.head.dtype === 'float64' ? Float64Array : Float32Array;
  const buf = into && into.byteLength >= h * w * Ctor.BYTES_PER_ELEMENT ? into : new ArrayBuffer(h * w * Ctor.BYTES_PER_ELEMENT);
  const out = new Ctor(buf, 0, h * w);
  const fd = openSync(index.file, 'r');
  try {
    const view = new Uint8Array(out.buffer, 0, out.byteLength);
    let off = 0;
    while (off < view.length) {
      const got = readSync(fd, view, off, view.length - off, r.offset + off);
      if (got === 0) throw inputError('E_DTW_TILES_UNREADABLE', `${index.file} ends inside tile ${t.tile}`, { where: { file: index.file } });
      off += got;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

/** The columns of an off-diagonal tile as rows (w × h): the mirror the full layout writes below the diagonal. */
export function transposeTile(rows: Float32Array | Float64Array, h: number, w: number): Float32Array | Float64Array {
  const out = rows instanceof Float64Array ? new Float64Array(w * h) : new Float32Array(w * h);
  const B = 64;
  for (let ib = 0; ib < h; ib += B) {
    for (let jb = 0; jb < w; jb += B) {
      const ie = Math.min(h, ib + B);
      const je = Math.min(w, jb + B);
      for (let j = jb; j < je; j++) for (let i = ib; i < ie; i++) out[j * h + i] = rows[i * w + j];
    }
  }
  return out;
}

function writeAll(fd: number, data: Uint8Array, pos: number): void {
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off, data.length - off, pos + off);
}

function writeError(e: unknown, file: string): Error {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ENOSPC') return externalError('E_DISK_FULL', `the disk is full while writing ${file}`, { cause: e });
  return externalError('E_WRITE', `cannot write ${file}: ${err.message}`, { cause: e });
}
