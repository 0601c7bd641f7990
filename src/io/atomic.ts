/**
 * Atomic file output: write to a temporary file beside the target, fsync, then rename. A crash or
 * Ctrl-C leaves either the old file or the new one, never a half-written file under the final name.
 */
import { createWriteStream, promises as fsp, type WriteStream } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { externalError } from '../errors.js';

/** Temporary files still open, removed if the process is interrupted. */
const pendingTemps = new Set<string>();

/** Temporary path beside `target` (same directory, so the rename stays on one file system). */
export function tempPathFor(target: string): string {
  const dir = path.dirname(target);
  return path.join(dir, `.${path.basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** Temporary files not yet renamed; the CLI removes them on SIGINT/SIGTERM. */
export function pendingTempFiles(): string[] {
  return [...pendingTemps];
}

/**
 * Write `data` to `target` atomically; creates the parent directory.
 * @throws LpclustError E_WRITE when the file system refuses (full disk, permissions).
 */
export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  await fsp.mkdir(path.dirname(path.resolve(target)), { recursive: true });
  const tmp = tempPathFor(target);
  pendingTemps.add(tmp);
  try {
    const fh = await fsp.open(tmp, 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, target);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw writeError(target, e);
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
