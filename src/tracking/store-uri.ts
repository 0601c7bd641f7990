/**
 * Tracking URIs of local stores: `sqlite:` URIs read as MLflow (SQLAlchemy) reads them, and the
 * default store MLflow 3 picks when no URI is given. No database driver is imported here, so that
 * commands that never touch a SQLite store do not load one.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { usageError } from '../errors.js';

/** The default store of a working folder without MLflow FileStore data (MLflow ≥ 3.7's default). */
export const DEFAULT_SQLITE_URI = 'sqlite:///mlflow.db';

/** The FileStore MLflow (and lpclust before the SQLite store) used by default. */
export const DEFAULT_FILE_URI = 'file:./mlruns';

/** True for a `sqlite:` URI. */
export function isSqliteUri(uri: string): boolean {
  return /^sqlite:/i.test(uri.trim());
}

/**
 * The database file of a `sqlite:` URI, absolute, read as SQLAlchemy reads it: `sqlite:///x.db`
 * is `x.db` relative to `cwd` (three slashes), `sqlite:////abs/x.db` the absolute `/abs/x.db`
 * (four). An in-memory database (`sqlite://`, `sqlite:///:memory:`), a host part or query
 * options are refused: lpclust keeps runs in a file.
 * @throws LpclustError E_TRACKING_URI
 */
export function sqliteUriToPath(uri: string, cwd: string = process.cwd()): string {
  const text = uri.trim();
  const hint = 'use sqlite:///mlflow.db (a file relative to the working folder) or sqlite:////absolute/path/mlflow.db';
  const m = /^sqlite:\/\/([^/]*)(?:\/(.*))?$/i.exec(text);
  if (!m) {
    throw usageError('E_TRACKING_URI', `Expected a SQLite tracking URI sqlite:///<file> but received ${JSON.stringify(text)}`, { hint });
  }
  const [, host, database] = m;
  if (host !== '') {
    throw usageError('E_TRACKING_URI', `Expected no host in the SQLite tracking URI ${JSON.stringify(text)} but found ${JSON.stringify(host)}`, {
      hint: `${hint}; a relative file needs three slashes after "sqlite:", an absolute one four`,
    });
  }
  if (database === undefined || database === '' || database === ':memory:') {
    throw usageError('E_TRACKING_URI', `The SQLite tracking URI ${JSON.stringify(text)} names an in-memory database, which keeps no run after lpclust exits`, { hint });
  }
  if (database.includes('?')) {
    throw usageError('E_TRACKING_URI', `Expected no query options in the SQLite tracking URI ${JSON.stringify(text)}`, {
      hint: `${hint}; lpclust sets the SQLite options it needs itself`,
    });
  }
  return path.resolve(cwd, database);
}

/** The `sqlite:` URI of a database file, in MLflow's absolute form (`sqlite:////abs/mlflow.db`). */
export function sqliteUriOf(file: string): string {
  return `sqlite:///${path.resolve(file).replace(/\\/g, '/')}`;
}

/**
 * True when `dir` holds MLflow FileStore runs: a folder named by digits (an experiment id) with a
 * `meta.yaml`. This is MLflow 3's own test for keeping `./mlruns` as the default store; an
 * `mlruns` folder that holds only artifacts of a SQLite store does not count.
 */
export function hasFileStoreData(dir: string): boolean {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return false;
  }
  return entries.some((d) => d.isDirectory() && /^\d+$/.test(d.name) && fs.existsSync(path.join(dir, d.name, 'meta.yaml')));
}

/**
 * The tracking URI used when none is given, as MLflow 3 chooses it: `./mlruns` when it already
 * holds runs (so existing stores keep working), else `sqlite:///mlflow.db`.
 */
export function defaultTrackingUri(cwd: string = process.cwd()): string {
  return hasFileStoreData(path.join(cwd, 'mlruns')) ? DEFAULT_FILE_URI : DEFAULT_SQLITE_URI;
}

/** A URI or path as a plain absolute path when it is local (`file:` or an absolute path), else null. */
export function localPathOf(uri: string): string | null {
  if (/^file:/i.test(uri)) {
    try {
      return path.resolve(fileURLToPath(uri));
    } catch {
      return null;
    }
  }
  return path.isAbsolute(uri) ? path.resolve(uri) : null;
}
