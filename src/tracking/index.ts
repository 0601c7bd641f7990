/**
 * Tracking: MLflow stores behind the {@link TrackingStore} interface, the run context, and the
 * views of `lpclust runs`. {@link openStore} picks the store for a tracking URI.
 */
import { usageError } from '../errors.js';
import { maskUri } from '../util/mask.js';
import { FileStore } from './file-store.js';
import { openRemoteStore } from './rest-open.js';
import type { TrackingStore } from './store.js';

export * from './store.js';
export * from './run.js';
export * from './file-store.js';
export * from './runs-view.js';
export * from './rest-client.js';
export * from './rest-batch.js';
export * from './rest-store.js';
export * from './rest-open.js';
export * from './spool.js';
export * from './sync.js';

/** Options of {@link openStore}. */
export interface OpenStoreOptions {
  /** Directory relative `file:` URIs are resolved against (default: process.cwd()). */
  cwd?: string;
  /** Where a tracking server's runs are spooled while it is unreachable (default `LPCLUST_SPOOL_DIR`, else ./mlruns). */
  spoolDir?: string;
}

/**
 * Open the tracking store of a URI: `file:./mlruns`, `file:///abs/mlruns` or a plain directory
 * path → the local {@link FileStore}; `http(s)://` → the MLflow REST store.
 * @throws LpclustError E_TRACKING_URI for a scheme lpclust cannot write to.
 */
export async function openStore(uri: string, options: OpenStoreOptions = {}): Promise<TrackingStore> {
  return storeFor(uri.trim(), options);
}

/** The one dispatch from URI scheme to store implementation. */
function storeFor(uri: string, options: OpenStoreOptions): TrackingStore {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(uri)?.[1]?.toLowerCase();
  // A Windows drive letter (C:\...) is a path, not a scheme.
  if (scheme === undefined || scheme === 'file' || /^[a-zA-Z]:[\\/]/.test(uri)) return new FileStore(uri, options);
  if (scheme === 'http' || scheme === 'https') {
    return openRemoteStore(uri, options);
  }
  throw usageError('E_TRACKING_URI', `Expected a tracking URI file:<path>, http:// or https:// but received ${JSON.stringify(maskUri(uri))}`, {
    hint: 'e.g. --tracking-uri file:./mlruns or --tracking-uri http://localhost:5000',
  });
}
