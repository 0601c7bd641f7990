/**
 * Tracking: MLflow stores behind the {@link TrackingStore} interface, the run context, and the
 * views of `lpclust runs`. {@link openStore} picks the store for a tracking URI.
 *
 * The SQLite store (`./sqlite-store.js`) is not re-exported here: it loads better-sqlite3, which
 * only `sqlite:` URIs need, so {@link openStore} imports it on use.
 */
import { externalError, usageError } from '../errors.js';
import { maskUri } from '../util/mask.js';
import { FileStore } from './file-store.js';
import { openRemoteStore } from './rest-open.js';
import type { SqliteSchemaChoice } from '../config.js';
import type { TrackingStore } from './store.js';
import { isSqliteUri } from './store-uri.js';

export * from './store.js';
export * from './run.js';
export * from './file-store.js';
export * from './file-format.js';
export * from './runs-view.js';
export * from './rest-client.js';
export * from './rest-batch.js';
export * from './rest-store.js';
export * from './rest-open.js';
export * from './spool.js';
export * from './sync.js';
export * from './store-uri.js';
export * from './batch-check.js';
export * from './local-artifacts.js';
export * from './registry.js';
export * from './file-registry.js';
export * from './rest-registry.js';

/** Options of {@link openStore}. */
export interface OpenStoreOptions {
  /** Directory relative `file:` URIs are resolved against (default: process.cwd()). */
  cwd?: string;
  /** Where a tracking server's runs are spooled while it is unreachable (default `LPCLUST_SPOOL_DIR`, else ./mlruns). */
  spoolDir?: string;
  /** Spool a tracking server's runs while it is unreachable (default true; false: fail with E_TRACKING_UNAVAILABLE). */
  spool?: boolean;
  /**
   * Schema of a SQLite database lpclust creates (default mlflow2; the CLI passes the `sqliteSchema`
   * setting, which reads `LPCLUST_SQLITE_SCHEMA`). An existing database keeps its own.
   */
  sqliteSchema?: SqliteSchemaChoice;
  /** Environment (default: process.env, with `.env` of `cwd` as fallback). */
  env?: Record<string, string | undefined>;
}

/**
 * Open the tracking store of a URI: `file:./mlruns`, `file:///abs/mlruns` or a plain directory
 * path → the local {@link FileStore}; `sqlite:///mlflow.db` (relative) or
 * `sqlite:////abs/mlflow.db` → MLflow's database ({@link SqliteStore}); `http(s)://` → the MLflow
 * REST store.
 * @throws LpclustError E_TRACKING_URI for a scheme lpclust cannot write to.
 */
export async function openStore(uri: string, options: OpenStoreOptions = {}): Promise<TrackingStore> {
  const u = uri.trim();
  if (isSqliteUri(u)) return openSqliteStore(u, options);
  return storeFor(u, options);
}

/** The SQLite store, its module (and better-sqlite3) loaded now. */
async function openSqliteStore(uri: string, options: OpenStoreOptions): Promise<TrackingStore> {
  const cwd = options.cwd ?? process.cwd();
  let mod: typeof import('./sqlite-store.js');
  try {
    mod = await import('./sqlite-store.js');
  } catch (e) {
    throw externalError('E_TRACKING_SQLITE', `cannot load the SQLite driver (better-sqlite3) for ${uri}: ${(e as Error).message}`, {
      hint: 'reinstall lpclust (npm ci) so that its native SQLite module is built for this Node.js',
      cause: e,
    });
  }
  return new mod.SqliteStore(uri, { cwd, schema: options.sqliteSchema ?? 'mlflow2' });
}

/** The one dispatch from URI scheme to store implementation. */
function storeFor(uri: string, options: OpenStoreOptions): TrackingStore {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(uri)?.[1]?.toLowerCase();
  // A Windows drive letter (C:\...) is a path, not a scheme.
  if (scheme === undefined || scheme === 'file' || /^[a-zA-Z]:[\\/]/.test(uri)) return new FileStore(uri, options);
  if (scheme === 'http' || scheme === 'https') {
    return openRemoteStore(uri, options);
  }
  throw usageError('E_TRACKING_URI', `Expected a tracking URI file:<path>, sqlite:///<file>, http:// or https:// but received ${JSON.stringify(maskUri(uri))}`, {
    hint: 'e.g. --tracking-uri sqlite:///mlflow.db, --tracking-uri file:./mlruns or --tracking-uri http://localhost:5000',
  });
}
