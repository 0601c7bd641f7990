/**
 * Writes the tiles of a DTW matrix into the `.partial` .npy file in large contiguous writes.
 *
 * Why: a tile's rows are only T elements long (4 KB for T = 1024, float32) and its mirrored columns
 * land in T other rows, so writing each tile where it belongs took 400,001 `pwrite` calls at
 * N = 20,000 and more system time than the DTW itself (issue 16). Here the blocks of a tile are
 * kept in memory until the *band* of T matrix rows they belong to is complete, and a complete
 * band — contiguous in the file, T × n elements (T × (n − i − 1) summed over its rows when condensed)
 * — goes out in one gathered write (`writev` over the blocks' rows, no copy).
 *
 * Tiles come in row-major order, so band k is complete once tile row k is: bands complete in file
 * order, and the SHA-256 of the file is computed from memory on the way (no re-read). The mirrored
 * blocks of later bands wait meanwhile; at most about a quarter of the matrix in the worst case, so
 * above `budget` bytes the band holding the most blocks writes what it has, row by row (each row's
 * run of present blocks is still contiguous); the hash then comes from reading the file back.
 *
 * A tile enters the checkpoint only once all of its blocks are on disk; everything else is
 * recomputed on resume, to the same bytes.
 *
 * Direct I/O (`direct`): bands written whole and in order are copied, in file order, into a few
 * block-aligned chunks of 8 MiB that go out with O_DIRECT, from those buffers straight to the
 * device. Why: a buffered write copies every byte into freshly allocated page-cache pages, which
 * at N = 20,000 (1.6 GB) was most of the command's system time; direct writes cost almost none,
 * and the reused chunks stay in the cache. A chunk may end inside a band: its last bytes go out
 * with the next chunk, so the band's tiles are checkpointed once the file is written up to the
 * band's end. The last bytes of the file (less than a block) are written buffered; a file system
 * that refuses O_DIRECT (EINVAL) gets the same chunks buffered.
 */
import { createHash, type Hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import type { TileTask } from './matrix-worker.js';

import type { MatrixLayout } from './settings.js';

export type { MatrixLayout };

/** Typed array of a matrix's dtype. */
type Block = Float32Array | Float64Array;

/** One block of a band: the T × w values of block column `c` for the band's rows. */
interface Slot {
  /** Row-major, `rows` × `cols`. */
  data: Block | null;
  /** Written (now or before a resume), or not part of the layout (condensed, below the diagonal). */
  onDisk: boolean;
  /** A write of it is in flight. */
  writing: boolean;
}

/** Options of {@link BandWriter}. */
export interface BandWriterOptions {
  fh: FileHandle;
  layout: MatrixLayout;
  n: number;
  tileSize: number;
  /** Bytes per element (4 or 8). */
  bytes: number;
  /** The .npy header (hashed first). */
  header: Uint8Array;
  /** Every tile of the upper triangle (tilesOf order). */
  tasks: readonly TileTask[];
  /** Tiles already on disk (from the checkpoint). */
  finished: ReadonlySet<number>;
  /** Bytes of blocks held in memory above which partial bands are written. */
  budget: number;
  /** Called once per tile when all of its blocks are on disk. */
  onDurable: (t: TileTask) => void;
  /** Start a datasync after this many bytes written, buffered or direct (default 256 MiB): see maybeSync. */
  syncEvery?: number;
  /**
   * Direct I/O for bands written whole and in order: the file opened a second time with
   * O_DIRECT, its block size (offsets, lengths and memory aligned to it) and an allocator of
   * block-aligned memory.
   */
  direct?: { fh: FileHandle; block: number; alloc: (bytes: number) => ArrayBuffer; chunkBytes?: number };
}

/** Bytes of one direct-I/O chunk by default (a multiple of any block size). */
const CHUNK = 8 * 2 ** 20;

/** Direct-I/O chunks being written at once (libuv runs four file operations in parallel). */
const CHUNKS_IN_FLIGHT = 3;

/** Largest number of buffers one `writev` call gets (IOV_MAX on Linux). */
const IOV_MAX = 1024;

/** Tile buffers kept for reuse. */
const FREE_BUFFERS = 16;

/** See the module comment. */
export class BandWriter {
  private readonly o: BandWriterOptions;
  private readonly nb: number;
  private readonly slots: Slot[][];
  /** Blocks of each tile not yet on disk. */
  private readonly pendingBlocks: Int32Array;
  private readonly tileAt: Int32Array;
  private held = 0;
  /** Of `held`, the bytes being written. */
  private writingBytes = 0;
  private hash: Hash | null;
  private nextHashed = 0;
  private readonly writes = new Set<Promise<void>>();
  private error: unknown = null;
  private unsynced = 0;
  private syncing: Promise<void> | null = null;
  /** Buffers whose blocks are on disk, for the workers to reuse. */
  readonly free: ArrayBuffer[] = [];
  /** pwrite/pwritev calls issued. */
  calls = 0;
  /** Of which direct (O_DIRECT) writes that succeeded. */
  directWrites = 0;
  /** datasync calls started while writing (see maybeSync). */
  syncs = 0;
  /** Direct I/O: complete bands waiting to be copied into chunks, in file order. */
  private readonly directQueue: number[] = [];
  private directRunning: Promise<void> | null = null;
  /** The chunk being filled: it starts at file byte `chunkPos` (block-aligned) and holds `chunkLen` bytes. */
  private chunk: Uint8Array | null = null;
  private chunkPos = 0;
  private chunkLen = 0;
  private readonly spareChunks: Uint8Array[] = [];
  /** Chunks being written, oldest first, with the file byte each ends at. */
  private readonly inFlight: Array<{ done: Promise<void>; start: number; buf: Uint8Array }> = [];
  /** Bands copied into chunks whose tiles wait for the file to be written up to the band's end. */
  private readonly awaitingDurable: Array<{ k: number; cols: number[]; end: number }> = [];
  /** Bytes [0, durableEnd) of the file are written by the direct path. */
  private durableEnd = 0;
  /** The file system refused O_DIRECT: the chunks go out buffered. */
  private directRefused = false;

  constructor(o: BandWriterOptions) {
    this.o = o;
    const nb = Math.ceil(o.n / o.tileSize);
    this.nb = nb;
    this.tileAt = new Int32Array(nb * nb).fill(-1);
    this.pendingBlocks = new Int32Array(o.tasks.length);
    for (const t of o.tasks) {
      const bi = t.r0 / o.tileSize;
      const bj = t.c0 / o.tileSize;
      this.tileAt[bi * nb + bj] = t.tile;
      this.pendingBlocks[t.tile] = o.finished.has(t.tile) ? 0 : bi === bj || o.layout === 'condensed' ? 1 : 2;
    }
    this.slots = [];
    for (let k = 0; k < nb; k++) {
      const row: Slot[] = [];
      for (let c = 0; c < nb; c++) {
        const t = c >= k ? this.tileAt[k * nb + c] : this.tileAt[c * nb + k];
        const absent = o.layout === 'condensed' && c < k;
        row.push({ data: null, onDisk: absent || o.finished.has(t), writing: false });
      }
      this.slots.push(row);
    }
    // The hash can follow the writes only when every band is written whole and in order.
    this.hash = o.finished.size === 0 ? createHash('sha256').update(o.header) : null;
  }

  /** Bytes of blocks held in memory. */
  get heldBytes(): number {
    return this.held;
  }

  /**
   * A computed tile: `direct` holds its rows (h × w), `mirror` (full layout, off the diagonal) its
   * columns as rows (w × h).
   */
  add(t: TileTask, direct: Block, mirror: Block | null): void {
    this.throwIfFailed();
    const T = this.o.tileSize;
    const bi = t.r0 / T;
    const bj = t.c0 / T;
    this.put(bi, bj, direct);
    if (mirror && bi !== bj && this.o.layout === 'full') this.put(bj, bi, mirror);
    this.pump([bi, bj]);
    while (this.held - this.writingBytes > this.o.budget && this.spill()) {
      // spill() wrote the fullest band's blocks; repeat until under budget or nothing is left.
    }
  }

  /** Write what is left (every band must be complete) and wait for all writes. */
  async finish(): Promise<{ sha256: string | null }> {
    this.pump(Array.from({ length: this.nb }, (_, k) => k));
    await this.drain();
    // The chunk that holds the end of the file (or of the last band copied before bands went
    // out of order) is flushed once nothing more can follow it.
    if (this.chunk && this.chunkLen > 0) {
      const tracked = this.track(this.flushChunk(true));
      await tracked;
      await this.drain();
    }
    this.throwIfFailed();
    for (let k = 0; k < this.nb; k++) {
      for (const s of this.slots[k]) if (!s.onDisk) throw new Error(`DTW matrix band ${k} is incomplete`);
    }
    const sha256 = this.hash && this.nextHashed === this.nb ? this.hash.digest('hex') : null;
    return { sha256 };
  }

  /** Wait for the writes in flight (after a stop or an error: what is written stays valid). */
  async drain(): Promise<void> {
    while (this.writes.size > 0 || this.syncing || this.directRunning) {
      await Promise.allSettled([...this.writes, ...(this.syncing ? [this.syncing] : []), ...(this.directRunning ? [this.directRunning] : [])]);
    }
  }

  private throwIfFailed(): void {
    if (this.error) throw this.error;
  }

  private put(k: number, c: number, data: Block): void {
    const s = this.slots[k][c];
    if (s.onDisk || s.data) throw new Error(`DTW matrix block (${k}, ${c}) computed twice`);
    s.data = data;
    this.held += data.byteLength;
  }

  private complete(k: number): boolean {
    return this.slots[k].every((s) => s.onDisk || (s.data !== null && !s.writing));
  }

  /** Write the complete bands among `touched` (in file order while hashing). */
  private pump(touched: number[]): void {
    if (this.hash) {
      while (this.nextHashed < this.nb && this.complete(this.nextHashed)) {
        if (this.o.direct) this.queueDirect(this.nextHashed);
        else this.writeBand(this.nextHashed, true);
        this.nextHashed++;
      }
      return;
    }
    for (const k of touched) if (this.complete(k) && this.slots[k].some((s) => s.data && !s.writing)) this.writeBand(k, false);
  }

  /** Over budget: write the blocks of the band holding most; false when nothing can be written. */
  private spill(): boolean {
    let best = -1;
    let most = 0;
    for (let k = 0; k < this.nb; k++) {
      let bytes = 0;
      for (const s of this.slots[k]) if (s.data && !s.writing) bytes += s.data.byteLength;
      if (bytes > most) {
        most = bytes;
        best = k;
      }
    }
    if (best < 0) return false;
    if (this.hash) {
      // Bands now go out in pieces: the digest will be computed from the file.
      this.hash = null;
      this.writeBand(best, false);
      this.pump(Array.from({ length: this.nb }, (_, k) => k));
    } else {
      this.writeBand(best, false);
    }
    return true;
  }

  /** Byte position of element (r, column c0 of block c) of band row r, and the run's length. */
  private piece(r: number, i: number, c: number, data: Block): { pos: number; view: Uint8Array } {
    const { n, tileSize: T, bytes, header, layout } = this.o;
    const cols = data.length / this.rowsOf(r - i);
    if (layout === 'full') {
      const pos = header.length + (r * n + c * T) * bytes;
      return { pos, view: new Uint8Array(data.buffer, data.byteOffset + i * cols * bytes, cols * bytes) };
    }
    // Condensed (SciPy's squareform order): row r holds columns r+1 … n−1, starting at element
    // r·n − r(r+1)/2. On the diagonal block only the columns right of the diagonal are kept.
    const rowStart = r * n - (r * (r + 1)) / 2;
    const j0 = c * T;
    if (j0 <= r) {
      const skip = r - j0 + 1;
      return { pos: header.length + rowStart * bytes, view: new Uint8Array(data.buffer, data.byteOffset + (i * cols + skip) * bytes, (cols - skip) * bytes) };
    }
    return { pos: header.length + (rowStart + (j0 - r - 1)) * bytes, view: new Uint8Array(data.buffer, data.byteOffset + i * cols * bytes, cols * bytes) };
  }

  private rowsOf(r0: number): number {
    return Math.min(this.o.n, r0 + this.o.tileSize) - r0;
  }

  /** Write the band's blocks held in memory as contiguous runs; `hash` feeds them to the digest first. */
  private writeBand(k: number, hash: boolean): void {
    const T = this.o.tileSize;
    const r0 = k * T;
    const h = this.rowsOf(r0);
    const row = this.slots[k];
    const taken: number[] = [];
    for (let c = 0; c < this.nb; c++) {
      const s = row[c];
      if (s.data && !s.writing) {
        s.writing = true;
        this.writingBytes += s.data.byteLength;
        taken.push(c);
      }
    }
    if (taken.length === 0) return;
    const runs: Array<{ pos: number; views: Uint8Array[]; end: number }> = [];
    let cur: { pos: number; views: Uint8Array[]; end: number } | null = null;
    for (let i = 0; i < h; i++) {
      for (const c of taken) {
        const { pos, view } = this.piece(r0 + i, i, c, row[c].data!);
        if (view.length === 0) continue;
        if (hash) this.hash!.update(view);
        if (cur && cur.end === pos) {
          cur.views.push(view);
          cur.end += view.length;
        } else {
          cur = { pos, views: [view], end: pos + view.length };
          runs.push(cur);
        }
      }
    }
    const done = Promise.all(runs.map((run) => this.writeRun(run.pos, run.views))).then(
      () => this.written(k, taken),
      (e: unknown) => {
        this.error ??= e;
      },
    );
    this.writes.add(done);
    void done.finally(() => this.writes.delete(done));
  }

  /** Direct I/O: band k is complete; it is copied into chunks after the bands queued before it. */
  private queueDirect(k: number): void {
    for (const s of this.slots[k]) {
      if (s.data && !s.writing) {
        s.writing = true;
        this.writingBytes += s.data.byteLength;
      }
    }
    this.directQueue.push(k);
    if (!this.directRunning) {
      this.directRunning = this.runDirect().then(
        () => {
          this.directRunning = null;
        },
        (e: unknown) => {
          this.directRunning = null;
          this.error ??= e;
        },
      );
    }
  }

  private async runDirect(): Promise<void> {
    while (this.directQueue.length > 0 && !this.error) await this.copyBand(this.directQueue.shift()!);
  }

  /** Copy band k's runs, in file order, into chunks; a full chunk is written at once. */
  private async copyBand(k: number): Promise<void> {
    const T = this.o.tileSize;
    const r0 = k * T;
    const row = this.slots[k];
    const taken: number[] = [];
    for (let c = 0; c < this.nb; c++) if (row[c].data && row[c].writing) taken.push(c);
    if (k === 0) await this.append(this.o.header);
    for (let i = 0; i < this.rowsOf(r0); i++) {
      for (const c of taken) {
        const { view } = this.piece(r0 + i, i, c, row[c].data!);
        if (view.length === 0) continue;
        // Most pieces fit in the current chunk: copy them without a promise per piece (at
        // N = 20,000 there are 400,000 pieces, and one await each cost the main thread ~0.5 s).
        if (this.chunk && this.chunk.length - this.chunkLen > view.length) {
          this.chunk.set(view, this.chunkLen);
          this.chunkLen += view.length;
        } else {
          await this.append(view);
        }
      }
    }
    // Everything is copied: the blocks are free, their tiles durable once the file is written up to here.
    const end = this.chunkPos + this.chunkLen;
    for (const c of taken) {
      const s = row[c];
      this.held -= s.data!.byteLength;
      this.writingBytes -= s.data!.byteLength;
      if (this.free.length < FREE_BUFFERS) this.free.push(s.data!.buffer as ArrayBuffer);
      s.data = null;
    }
    this.awaitingDurable.push({ k, cols: taken, end });
    this.settleDurable();
    // Bands no longer go out in order (a spill): nothing will follow this chunk, flush it.
    if (!this.hash && this.directQueue.length === 0 && this.chunkLen > 0) await this.track(this.flushChunk(true));
  }

  /** Append bytes to the current chunk, writing (and waiting for a free chunk) as chunks fill. */
  private async append(bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) {
      if (!this.chunk) this.chunk = await this.takeChunk();
      const n = Math.min(bytes.length - off, this.chunk.length - this.chunkLen);
      this.chunk.set(bytes.subarray(off, off + n), this.chunkLen);
      this.chunkLen += n;
      off += n;
      if (this.chunkLen === this.chunk.length) this.track(this.flushChunk(false));
    }
  }

  private async takeChunk(): Promise<Uint8Array> {
    while (this.inFlight.length >= CHUNKS_IN_FLIGHT) await this.inFlight[0].done.catch(() => undefined);
    this.throwIfFailed();
    const d = this.o.direct!;
    return this.spareChunks.pop() ?? new Uint8Array(d.alloc(d.chunkBytes ?? CHUNK));
  }

  /**
   * Write the current chunk: all of it when full; at the end (`last`) its whole blocks directly and
   * the rest buffered. A new chunk starts where this one ends.
   */
  private flushChunk(last: boolean): Promise<void> {
    const { fh, block } = this.o.direct!;
    const buf = this.chunk!;
    const pos = this.chunkPos;
    const len = this.chunkLen;
    const whole = last ? Math.floor(len / block) * block : len;
    // Chunks go out in file order: the digest takes each whole (one call per 8 MiB, not per row
    // piece); the header, hashed first by the constructor, is skipped.
    const skip = Math.max(0, Math.min(len, this.o.header.length - pos));
    this.hash?.update(buf.subarray(skip, len));
    this.chunk = null;
    this.chunkPos = pos + len;
    this.chunkLen = 0;
    const done = (async () => {
      if (whole > 0) {
        if (!this.directRefused) {
          try {
            this.calls++;
            const { bytesWritten } = await fh.write(buf, 0, whole, pos);
            if (bytesWritten !== whole) throw Object.assign(new Error(`short write: ${bytesWritten} of ${whole} bytes`), { code: 'EIO' });
            this.directWrites++;
            this.unsynced += whole;
            this.maybeSync();
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
            this.directRefused = true;
          }
        }
        if (this.directRefused) await this.writeRun(pos, [buf.subarray(0, whole)]);
      }
      if (len > whole) await this.writeRun(pos + whole, [buf.subarray(whole, len)]);
    })();
    const entry = { done, start: pos, buf };
    this.inFlight.push(entry);
    return done.finally(() => {
      this.inFlight.splice(this.inFlight.indexOf(entry), 1);
      if (this.spareChunks.length < CHUNKS_IN_FLIGHT) this.spareChunks.push(buf);
      // The file is written up to the end of the oldest chunk still in flight (or of this one).
      // Chunks are issued in file order: the file is written up to the start of the oldest one
      // still in flight, or to the end of this one when none is.
      const upTo = this.inFlight.length > 0 ? Math.min(...this.inFlight.map((f) => f.start)) : pos + len;
      this.durableEnd = Math.max(this.durableEnd, upTo);
      this.settleDurable();
    });
  }

  /** Record a write in flight (its failure is kept for the next call). */
  private track(p: Promise<void>): Promise<void> {
    const t = p.catch((e: unknown) => {
      this.error ??= e;
    });
    this.writes.add(t);
    void t.finally(() => this.writes.delete(t));
    return t;
  }

  /** Checkpoint the bands whose bytes are all written. */
  private settleDurable(): void {
    while (this.awaitingDurable.length > 0 && this.awaitingDurable[0].end <= this.durableEnd && !this.error) {
      const { k, cols } = this.awaitingDurable.shift()!;
      for (const c of cols) {
        const s = this.slots[k][c];
        s.writing = false;
        s.onDisk = true;
        const tile = c >= k ? this.tileAt[k * this.nb + c] : this.tileAt[c * this.nb + k];
        if (--this.pendingBlocks[tile] === 0) this.o.onDurable(this.o.tasks[tile]);
      }
    }
  }

  private async writeRun(pos: number, views: Uint8Array[]): Promise<void> {
    for (let a = 0; a < views.length; a += IOV_MAX) {
      const part = views.slice(a, a + IOV_MAX);
      let want = 0;
      for (const v of part) want += v.length;
      this.calls++;
      const { bytesWritten } = await this.o.fh.writev(part, pos);
      // libuv completes partial writes itself; anything short here is a real failure.
      if (bytesWritten !== want) throw Object.assign(new Error(`short write: ${bytesWritten} of ${want} bytes`), { code: 'EIO' });
      pos += want;
      this.unsynced += want;
    }
  }

  /** Blocks of band k are on disk: free them, checkpoint the tiles now complete, start write-back. */
  private written(k: number, cols: number[]): void {
    const nb = this.nb;
    for (const c of cols) {
      const s = this.slots[k][c];
      this.held -= s.data!.byteLength;
      this.writingBytes -= s.data!.byteLength;
      // A few are enough to keep the workers from allocating; the rest go back to the system.
      if (this.free.length < FREE_BUFFERS) this.free.push(s.data!.buffer as ArrayBuffer);
      s.data = null;
      s.writing = false;
      s.onDisk = true;
      const tile = c >= k ? this.tileAt[k * nb + c] : this.tileAt[c * nb + k];
      if (--this.pendingBlocks[tile] === 0) this.o.onDurable(this.o.tasks[tile]);
    }
    this.maybeSync();
  }

  /**
   * Start a datasync once `syncEvery` bytes were written since the last one. Why: buffered writes
   * leave dirty pages, and direct writes data the device may still hold in its volatile cache;
   * either way the final fsync would otherwise flush all of it after the computation (1.8 s for
   * the 1.6 GB of N = 20,000 on this machine's disk). Syncing as we go overlaps that disk time with
   * the tiles still being computed.
   */
  private maybeSync(): void {
    if (this.unsynced >= (this.o.syncEvery ?? 256 * 2 ** 20) && !this.syncing && !this.error) {
      this.unsynced = 0;
      this.syncs++;
      this.syncing = this.o.fh.datasync().then(
        () => {
          this.syncing = null;
        },
        (e: unknown) => {
          this.syncing = null;
          this.error ??= e;
        },
      );
    }
  }
}
