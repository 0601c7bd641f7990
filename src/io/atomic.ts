/**
 * Atomic file output: write to a temporary file, then rename (or link) it to its name. A crash,
 * `kill -9`, Ctrl-C or a full disk leaves either the old file or the new one, never a half-written
 * file under the final name. One registry of unfinished temporary files serves every writer (the
 * outputs and the tracking store), so the CLI's signal handler removes them all; their names encode
 * the writer's pid and host, so a later process removes those whose writer is gone.
 */
import { createWriteStream, promises as fsp, readdirSync, renameSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { externalError } from '../errors.js';
import { hostTag, tempOrphaned } from './owner.js';

/** Temporary files still open, removed if the process is interrupted. */
const pendingTemps = new Set<string>();

/**
 * Temporary path for `target`: `.<name>.tmp-<pid>-<host tag>-<random>` in `dir` (default: beside
 * the target; it must be on the same file system, so the rename is atomic).
 */
export function tempPathFor(target: string, dir: string = path.dirname(target)): string {
  return path.join(dir, `${tempPrefixFor(target)}${process.pid}-${hostTag()}-${randomBytes(4).toString('hex')}`);
}

/** The start of every temporary file name {@link tempPathFor} gives `target`: `.<name>.tmp-`. */
export function tempPrefixFor(target: string): string {
  return `.${path.basename(target)}.tmp-`;
}

/**
 * Whether a file name looks like a temporary file of an atomic write (of this or an older lpclust
 * version), i.e. a write in progress that readers must not list as content.
 */
export function isTempName(name: string): boolean {
  return name.startsWith('.') && name.includes('.tmp-');
}

/**
 * A registered temporary path for `target` in `dir`, for a caller that fills it itself (a download
 * that may be retried) and renames it into place; release it with {@link discardTempFile} in every
 * case (after the rename it only forgets it). The CLI's signal handler removes it meanwhile.
 */
export function reserveTempFile(target: string, dir: string = path.dirname(path.resolve(target))): string {
  const tmp = tempPathFor(target, dir);
  pendingTemps.add(tmp);
  return tmp;
}

/** Temporary files and folders not yet renamed; the CLI removes them on SIGINT/SIGTERM. */
export function pendingTempFiles(): string[] {
  return [...pendingTemps];
}

/** Options of the atomic writers. */
export interface AtomicOptions {
  /** Folder of the temporary file (default: the target's); same file system as the target. */
  tmpDir?: string;
  /** fsync before the rename, so the content survives a power cut too (default true). */
  durable?: boolean;
  /** Turn a file-system error into the caller's typed error (default: E_WRITE naming the target). */
  error?: (target: string, e: unknown) => Error;
}

/** Folders already swept of orphaned temporary files by this process. */
const swept = new Set<string>();

/**
 * Remove the lpclust temporary files in `dir` whose writer is provably gone (this host, pid no
 * longer running): what a `kill -9` or a power cut left behind. Returns the paths removed.
 */
export function removeOrphanedTemps(dir: string): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    if (!tempOrphaned(name)) continue;
    const file = path.join(dir, name);
    try {
      // A staged folder (FileStore dataset inputs) goes as a whole.
      rmSync(file, { force: true, recursive: true });
      removed.push(file);
    } catch {
      // Another process removed it, or it is not ours to remove.
    }
  }
  return removed;
}

/** {@link removeOrphanedTemps} once per folder and process (the output folders of a command). */
function sweepOnce(dir: string): void {
  const abs = path.resolve(dir);
  if (swept.has(abs)) return;
  swept.add(abs);
  removeOrphanedTemps(abs);
}

/**
 * Write `data` to `target` atomically; creates the parent directory.
 * @throws LpclustError E_WRITE (or `options.error`'s) when the file system refuses (full disk, permissions).
 */
export async function writeFileAtomic(target: string, data: string | Uint8Array, options: AtomicOptions = {}): Promise<void> {
  const tmpDir = options.tmpDir ?? path.dirname(path.resolve(target));
  const fail = options.error ?? writeError;
  try {
    await fsp.mkdir(path.dirname(path.resolve(target)), { recursive: true });
  } catch (e) {
    throw fail(target, e);
  }
  if (!options.tmpDir) sweepOnce(tmpDir);
  const tmp = tempPathFor(target, tmpDir);
  pendingTemps.add(tmp);
  try {
    const fh = await fsp.open(tmp, 'w');
    try {
      await fh.writeFile(data);
      if (options.durable !== false) await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, target);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw fail(target, e);
  } finally {
    pendingTemps.delete(tmp);
  }
}

/** Synchronous {@link writeFileAtomic} (signal handlers); the parent folder must exist. */
export function writeFileAtomicSync(target: string, data: string | Uint8Array, options: AtomicOptions = {}): void {
  const tmp = tempPathFor(target, options.tmpDir ?? path.dirname(path.resolve(target)));
  pendingTemps.add(tmp);
  try {
    writeFileSync(tmp, data, { flush: options.durable !== false });
    renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw (options.error ?? writeError)(target, e);
  } finally {
    pendingTemps.delete(tmp);
  }
}

/**
 * Write `data` to a registered temporary file for `target` in `dir` and return its path, for a
 * caller that links or renames it into place itself; release it with {@link discardTempFile}.
 */
export async function writeTempFile(target: string, data: string | Uint8Array, dir: string, options: AtomicOptions = {}): Promise<string> {
  const tmp = tempPathFor(target, dir);
  pendingTemps.add(tmp);
  try {
    await fsp.writeFile(tmp, data);
    return tmp;
  } catch (e) {
    await discardTempFile(tmp);
    throw (options.error ?? writeError)(target, e);
  }
}

/** Remove a temporary file of {@link writeTempFile} (if it is still there) and forget it. */
export async function discardTempFile(tmp: string): Promise<void> {
  await fsp.rm(tmp, { force: true });
  pendingTemps.delete(tmp);
}

/**
 * Create `target` complete with `data` unless it exists: the content is written to a temporary
 * file and `link`ed to its name, which fails when the name is taken — create-if-absent, atomic
 * across processes, and never an empty or partial file under the name. The parent folder must exist.
 * @returns true when created, false when `target` already existed (it is left as it was).
 */
export async function createFileAtomic(target: string, data: string | Uint8Array, options: AtomicOptions = {}): Promise<boolean> {
  const tmp = tempPathFor(target, options.tmpDir ?? path.dirname(path.resolve(target)));
  pendingTemps.add(tmp);
  try {
    await fsp.writeFile(tmp, data);
    try {
      await fsp.link(tmp, target);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    }
  } catch (e) {
    throw (options.error ?? writeError)(target, e);
  } finally {
    await fsp.rm(tmp, { force: true });
    pendingTemps.delete(tmp);
  }
}

/**
 * Create the folder `target` complete or not at all: it is made and filled under a registered
 * temporary name in `stageIn` (the same file system; a folder a reader does not list as content),
 * then renamed into place in one step. The parent of `target` must exist.
 * @param fill writes the folder's content into the staging folder it is given
 * @returns true when created, false when `target` already existed (it is left as it was)
 * @throws the file-system error (callers name what they were doing)
 */
export async function createDirAtomic(target: string, stageIn: string, fill: (dir: string) => Promise<void>): Promise<boolean> {
  const stage = tempPathFor(target, stageIn);
  pendingTemps.add(stage);
  try {
    await fsp.mkdir(stage);
    await fill(stage);
    try {
      await fsp.rename(stage, target);
      return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' || code === 'ENOTEMPTY') return false;
      throw e;
    }
  } finally {
    await fsp.rm(stage, { recursive: true, force: true });
    pendingTemps.delete(stage);
  }
}

/**
 * Run `use` with a fresh scratch folder under the system temporary directory, removed afterwards
 * in every case; while it exists it is in the registry of temporary paths, so Ctrl-C removes it
 * too (a plain `mkdtemp` + `finally` would leave it behind when the process is killed by a signal).
 * @param prefix start of the folder's name, e.g. `lpclust-sync-`
 */
export async function withScratchDir<T>(prefix: string, use: (dir: string) => Promise<T>): Promise<T> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), prefix));
  pendingTemps.add(dir);
  try {
    return await use(dir);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
    pendingTemps.delete(dir);
  }
}

/**
 * Append whole lines to an existing file with one `write` (O_APPEND, so lines of concurrent
 * writers never interleave). When the disk fills half way through, the bytes that did get written
 * are cut off again: a reader never sees a partial line.
 * @throws the file-system error (ENOENT when the file does not exist: create it with {@link createFileAtomic}).
 */
export async function appendWhole(file: string, text: string): Promise<void> {
  const data = Buffer.from(text, 'utf8');
  const fh = await fsp.open(file, 'a');
  try {
    // One write(2): it either fails having written nothing, or reports how much it wrote.
    const written = (await fh.write(data, 0, data.length)).bytesWritten;
    if (written < data.length) {
      // Short write: the file system is full. Cut our bytes off (they are the file's last ones).
      const size = (await fh.stat()).size;
      await fh.truncate(Math.max(0, size - written));
      throw Object.assign(new Error(`no space left on device (wrote ${written} of ${data.length} bytes)`), { code: 'ENOSPC' });
    }
  } finally {
    await fh.close();
  }
}

/** Copy a file atomically (temporary copy, then rename). */
export async function copyFileAtomic(src: string, dest: string, options: AtomicOptions = {}): Promise<void> {
  const tmp = tempPathFor(dest, options.tmpDir ?? path.dirname(path.resolve(dest)));
  pendingTemps.add(tmp);
  try {
    await fsp.mkdir(path.dirname(path.resolve(dest)), { recursive: true });
    await fsp.copyFile(src, tmp);
    if (options.durable !== false) {
      const fh = await fsp.open(tmp, 'r+');
      await fh.sync().finally(() => fh.close());
    }
    await fsp.rename(tmp, dest);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw (options.error ?? writeError)(dest, e);
  } finally {
    pendingTemps.delete(tmp);
  }
}

/** A stream that becomes `target` only when {@link AtomicWriter.commit} is called. */
export interface AtomicWriter {
  /** The stream to write to (a temporary file). */
  readonly stream: WriteStream;
  /** Write a chunk, waiting for drain when the buffer is full. */
  write(chunk: string | Uint8Array): Promise<void>;
  /** Flush, fsync and rename to the target. */
  commit(): Promise<void>;
  /** Close and delete the temporary file; the target is untouched. */
  abort(): Promise<void>;
}

/** Open an atomic streaming writer for `target` (parent directory created). */
export async function openAtomicWriter(target: string): Promise<AtomicWriter> {
  await fsp.mkdir(path.dirname(path.resolve(target)), { recursive: true });
  sweepOnce(path.dirname(path.resolve(target)));
  const tmp = tempPathFor(target);
  pendingTemps.add(tmp);
  const stream = createWriteStream(tmp);
  let failure: unknown;
  stream.on('error', (e) => {
    failure = e;
  });
  const closed = (): Promise<void> =>
    new Promise((resolve) => {
      if (stream.closed) resolve();
      else stream.end(() => resolve());
    });
  return {
    stream,
    async write(chunk) {
      if (failure) throw writeError(target, failure);
      if (!stream.write(chunk)) {
        await new Promise<void>((resolve, reject) => {
          const onErr = (e: unknown): void => reject(writeError(target, e));
          stream.once('drain', () => {
            stream.off('error', onErr);
            resolve();
          });
          stream.once('error', onErr);
        });
      }
    },
    async commit() {
      await closed();
      try {
        if (failure) throw failure;
        const fh = await fsp.open(tmp, 'r+');
        await fh.sync();
        await fh.close();
        await fsp.rename(tmp, target);
      } catch (e) {
        await fsp.rm(tmp, { force: true });
        throw writeError(target, e);
      } finally {
        pendingTemps.delete(tmp);
      }
    },
    async abort() {
      await closed();
      await fsp.rm(tmp, { force: true });
      pendingTemps.delete(tmp);
    },
  };
}

function writeError(target: string, e: unknown): Error {
  const err = e as NodeJS.ErrnoException;
  const why = err?.code === 'ENOSPC' ? 'the disk is full' : (err?.message ?? String(e));
  return externalError('E_WRITE', `cannot write ${target}: ${why}`, {
    hint: 'check free space and permissions of the output directory; nothing was written',
    cause: e,
    where: { file: target },
  });
}

/**
 * Write a text file of one header line and `n` generated lines atomically, buffered in 64 KiB
 * chunks so memory does not grow with `n`.
 * @param header first line, without its newline
 * @param line text of line `i` (0-based), without its newline
 */
export async function writeLinesAtomic(file: string, header: string, n: number, line: (i: number) => string): Promise<void> {
  const w = await openAtomicWriter(file);
  try {
    let buf = header + '\n';
    for (let i = 0; i < n; i++) {
      buf += line(i) + '\n';
      if (buf.length > 1 << 16) {
        await w.write(buf);
        buf = '';
      }
    }
    await w.write(buf);
    await w.commit();
  } catch (e) {
    await w.abort();
    throw e;
  }
}
