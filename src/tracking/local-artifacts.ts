/**
 * A run's artifacts in a local folder, as MLflow's local artifact repository keeps them: the
 * SQLite store records the folder (`artifact_uri`, a plain absolute path or a `file:` URI) and
 * this class copies files in and out of it. Every file is copied to a temporary name outside the
 * artifact folder (in the run's folder above it, which MLflow never lists) and renamed into place,
 * so a crash or Ctrl-C never leaves a half-copied artifact; the temporary names are those of
 * io/atomic.ts, whose one registry the CLI's signal handler cleans.
 */
import type fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { externalError, inputError, usageError } from '../errors.js';
import { copyFileAtomic } from '../io/atomic.js';
import { maskUri } from '../util/mask.js';
import type { ArtifactEntry } from './store.js';

/**
 * The local folder of an artifact URI: an absolute path, a path relative to `cwd` (as MLflow's
 * local repository reads it) or a `file:` URI.
 * @throws LpclustError E_ARTIFACT_STORE_UNSUPPORTED for remote stores (s3:, mlflow-artifacts:, ...)
 */
export function localArtifactDir(uri: string, runId: string, cwd: string): string {
  if (/^file:/i.test(uri)) {
    try {
      return path.resolve(fileURLToPath(uri.startsWith('file://') ? uri : `file://${uri.slice('file:'.length)}`));
    } catch (e) {
      throw inputError('E_ARTIFACT_URI', `run ${runId} has an artifact location lpclust cannot read: ${maskUri(uri)} (${(e as Error).message})`);
    }
  }
  const scheme = /^([a-z][a-z0-9+.-]+):/i.exec(uri)?.[1];
  // A one-letter "scheme" is a Windows drive (C:\...).
  if (scheme !== undefined) {
    throw externalError(
      'E_ARTIFACT_STORE_UNSUPPORTED',
      `run ${runId} keeps its artifacts at ${maskUri(uri)} (${scheme}:), which lpclust cannot write or read directly`,
      {
        hint: scheme === 'mlflow-artifacts'
          ? 'this experiment was made through a tracking server: log to that server (--tracking-uri http://...) instead of its database'
          : 'log to a tracking server that serves these artifacts (--tracking-uri http://...), or use an experiment with a local artifact location',
      },
    );
  }
  return path.resolve(cwd, uri);
}

/** Check an artifact path (relative, `/`-separated, inside the root) and return it normalised ('' for the root). */
export function cleanArtifactPath(p: string | undefined): string {
  if (p === undefined || p === '' || p === '.') return '';
  const norm = path.posix.normalize(p.replace(/\\/g, '/')).replace(/\/+$/, '');
  if (norm.startsWith('/') || norm === '..' || norm.startsWith('../')) {
    throw usageError('E_ARTIFACT_PATH', `invalid artifact path ${JSON.stringify(p)}: expected a relative path inside the run's artifacts`);
  }
  return norm === '.' ? '' : norm;
}

/** The artifact folder of one run. */
export class LocalArtifactDir {
  /**
   * @param root absolute folder of the run's artifacts (`<experiment location>/<run id>/artifacts`)
   * @param runId for messages
   */
  constructor(readonly root: string, readonly runId: string) {}

  private abs(rel: string): string {
    return rel === '' ? this.root : path.join(this.root, ...rel.split('/'));
  }

  /** Copy one file to `dest` through a temporary file in the folder above the artifact root. */
  private async copyIn(src: string, dest: string): Promise<void> {
    await fsp.mkdir(path.dirname(this.root), { recursive: true });
    await copyFileAtomic(src, dest, {
      tmpDir: path.dirname(this.root),
      durable: false,
      error: (_t, e) => {
        const err = e as NodeJS.ErrnoException;
        return externalError('E_TRACKING_IO', `cannot copy artifact to ${dest}: ${err.code === 'ENOSPC' ? 'the disk is full' : err.message}`, {
          hint: 'check free space and permissions of the artifact folder',
          cause: e,
          where: { file: dest },
        });
      },
    });
  }

  /** MLflow's `log_artifact` (a file into `artifactPath/`) and `log_artifacts` (a folder's contents into `artifactPath/`). */
  async log(localPath: string, artifactPath?: string): Promise<void> {
    const dest = this.abs(cleanArtifactPath(artifactPath));
    let st: fs.Stats;
    try {
      st = await fsp.stat(localPath);
    } catch (e) {
      throw inputError('E_ARTIFACT_SOURCE', `cannot log artifact ${localPath}: ${(e as Error).message}`, { where: { file: localPath } });
    }
    if (st.isDirectory()) await copyTree(localPath, dest, (a, b) => this.copyIn(a, b));
    else await this.copyIn(localPath, path.join(dest, path.basename(localPath)));
  }

  /** Entries directly under `artifactPath`, sorted by name; nothing when the folder does not exist. */
  async list(artifactPath?: string): Promise<ArtifactEntry[]> {
    const rel = cleanArtifactPath(artifactPath);
    let entries: fs.Dirent[];
    try {
      entries = await fsp.readdir(this.abs(rel), { withFileTypes: true });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return [];
      throw externalError('E_TRACKING_IO', `cannot list ${this.abs(rel)}: ${(e as Error).message}`, { cause: e });
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const out: ArtifactEntry[] = [];
    for (const d of entries) {
      const p = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) out.push({ path: p, isDir: true });
      else out.push({ path: p, isDir: false, size: (await fsp.stat(path.join(this.abs(rel), d.name))).size });
    }
    return out;
  }

  /** Copy an artifact file or folder (the whole root for '') into `destDir`; returns the local path. */
  async download(artifactPath: string, destDir: string): Promise<string> {
    const rel = cleanArtifactPath(artifactPath);
    const src = this.abs(rel);
    let st: fs.Stats;
    try {
      st = await fsp.stat(src);
    } catch {
      throw inputError('E_ARTIFACT_NOT_FOUND', `run ${this.runId} has no artifact ${JSON.stringify(artifactPath)}`, {
        hint: `list them with \`lpclust runs show ${this.runId}\``,
      });
    }
    const dest = rel ? path.join(destDir, path.basename(src)) : destDir;
    await fsp.mkdir(destDir, { recursive: true });
    if (st.isDirectory()) await copyTree(src, dest, copyOut);
    else await copyOut(src, dest);
    return dest;
  }
}

/** Copy out of the store: to a temporary name beside the target, then rename. */
async function copyOut(src: string, dest: string): Promise<void> {
  await copyFileAtomic(src, dest, {
    durable: false,
    error: (_t, e) => externalError('E_WRITE', `cannot copy artifact ${src} to ${dest}: ${(e as Error).message}`, { cause: e, where: { file: dest } }),
  });
}

/** Copy the files below `srcDir` into `destDir` (same relative paths), each with `copy`. */
async function copyTree(srcDir: string, destDir: string, copy: (src: string, dest: string) => Promise<void>): Promise<void> {
  await fsp.mkdir(destDir, { recursive: true });
  for (const d of await fsp.readdir(srcDir, { withFileTypes: true })) {
    const s = path.join(srcDir, d.name);
    if (d.isDirectory()) await copyTree(s, path.join(destDir, d.name), copy);
    else if (d.isFile() || d.isSymbolicLink()) await copy(s, path.join(destDir, d.name));
  }
}
