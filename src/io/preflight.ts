/**
 * Checks made before a run is created: that the inputs a command names exist and can be read, and
 * that its output location can be written. A mistyped path is a usage mistake, not work that
 * started, so it must not leave a FAILED run (nor an empty output folder) behind; and the message
 * names the option or config key, the absolute path and the cause.
 */
import { accessSync, constants, mkdtempSync, rmdirSync, statSync, type Stats } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { externalError, inputError, type LpclustError } from '../errors.js';

/** What the path should be. */
export type PathKind = 'file' | 'dir' | 'any';

/** The plain-language cause of a file-system error code. */
export function fsCause(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'read-only file system';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'ENOTDIR':
      return 'a part of the path is a file, not a folder';
    case 'EISDIR':
      return 'it is a folder';
    case 'EDQUOT':
      return 'disk quota exceeded';
    default:
      return (e as Error)?.message ?? String(e);
  }
}

/**
 * Check that an input path exists, is a file (or folder) and can be read.
 * @param p the path as given (relative to the current directory)
 * @param what how the user named it: an option (`--in`), a config key (`pipeline.sources.sql.input`)...
 * @returns the absolute path
 * @throws LpclustError E_INPUT_MISSING (exit 3) naming `what`, the absolute path and the cause
 */
export function checkInputPath(p: string, what: string, kind: PathKind = 'file'): string {
  const abs = path.resolve(p);
  const fail = (why: string, hint: string, cause?: unknown): LpclustError =>
    inputError('E_INPUT_MISSING', `${what}: cannot read ${abs}: ${why}`, { hint, where: { file: abs }, ...(cause ? { cause } : {}) });
  let st: Stats;
  try {
    st = statSync(abs);
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw fail(missing ? (kind === 'dir' ? 'no such directory' : kind === 'file' ? 'no such file' : 'no such file or directory') : fsCause(e), `check the path given for ${what}${path.isAbsolute(p) ? '' : ` (a relative path starts from the current folder, ${process.cwd()})`}`, e);
  }
  if (kind === 'file' && st.isDirectory()) throw fail('it is a directory, expected a file', `give the file itself for ${what}`);
  if (kind === 'dir' && !st.isDirectory()) throw fail('it is a file, expected a directory', `give the directory holding the files for ${what}`);
  try {
    accessSync(abs, constants.R_OK | (st.isDirectory() ? constants.X_OK : 0));
  } catch (e) {
    throw fail(fsCause(e), `make it readable (chmod), or copy it somewhere readable`, e);
  }
  return abs;
}

/**
 * Check that a folder can be created (or, when it exists, written to) without creating it: the
 * nearest existing ancestor must be a folder in which a new entry can be made. A probe folder is
 * made and removed at once, because permission bits alone do not tell (root ignores them, a
 * read-only or virtual file system refuses anyway).
 * @param dir the output folder (relative to the current directory)
 * @param what how the user named it (`--out-dir`, `pipeline.outDir`...)
 * @returns the absolute path
 * @throws LpclustError E_OUTPUT_NOT_WRITABLE (exit 4) naming `what`, the folder and the cause
 */
export function checkOutputDir(dir: string, what: string): string {
  const abs = path.resolve(dir);
  let probeIn = abs;
  for (;;) {
    let st: Stats;
    try {
      st = statSync(probeIn);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw notWritable(abs, what, e);
      const up = path.dirname(probeIn);
      if (up === probeIn) throw notWritable(abs, what, e);
      probeIn = up;
      continue;
    }
    if (!st.isDirectory()) throw notWritable(abs, what, Object.assign(new Error('not a folder'), { code: 'ENOTDIR' }), probeIn);
    break;
  }
  try {
    rmdirSync(mkdtempSync(path.join(probeIn, '.lpclust-probe-')));
  } catch (e) {
    throw notWritable(abs, what, e, probeIn);
  }
  return abs;
}

/** Check that a file can be created at `file` (its folder can be made or written). */
export function checkOutputFile(file: string, what: string): string {
  const abs = path.resolve(file);
  try {
    if (statSync(abs).isDirectory()) {
      throw externalError('E_OUTPUT_NOT_WRITABLE', `${what}: cannot write ${abs}: it is a folder`, { hint: `give a file name for ${what}`, where: { file: abs } });
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  checkOutputDir(path.dirname(abs), what);
  return abs;
}

/** The error for an output folder that cannot be made, naming the folder, the blocking ancestor and the cause. */
export function notWritable(dir: string, what: string, e: unknown, at?: string): LpclustError {
  const code = (e as NodeJS.ErrnoException)?.code;
  let why = fsCause(e);
  if (code === 'ENOENT' && at !== undefined) why = `the file system of ${at} does not allow creating folders (${code})`;
  else if (at !== undefined && at !== dir) why = code === 'ENOTDIR' ? `${at} is a file, not a folder` : `nothing can be created in ${at}: ${why}${code ? ` (${code})` : ''}`;
  else if (code && code !== 'ENOTDIR') why = `${why} (${code})`;
  else if (code === 'ENOTDIR') why = 'it is a file, not a folder';
  return externalError('E_OUTPUT_NOT_WRITABLE', `${what}: cannot create the output folder ${dir}: ${why}`, {
    hint: `choose a writable location for ${what}`,
    where: { file: dir },
    cause: e,
  });
}

/**
 * Create an output folder (and its parents) like `mkdir -p`, turning a refusal of the file system
 * into an error naming the folder and the cause instead of a bare errno.
 * @returns true when the folder did not exist before (so the caller may remove it on failure)
 */
export async function mkdirOutput(dir: string, what: string): Promise<boolean> {
  try {
    return (await fsp.mkdir(dir, { recursive: true })) !== undefined;
  } catch (e) {
    throw notWritable(path.resolve(dir), what, e);
  }
}
