/**
 * Opening a tracking server URI: the {@link RestStore} wrapped in the offline spool
 * ({@link ResilientStore}), as `openStore` returns it for `http://` and `https://` URIs.
 */
import path from 'node:path';
import { envValue } from '../config.js';
import { maskUri } from '../util/mask.js';
import { restClientOptionsFromEnv } from './rest-client.js';
import { RestStore } from './rest-store.js';
import { ResilientStore } from './spool.js';
import type { TrackingStore } from './store.js';

/** Options of {@link openRemoteStore}. */
export interface OpenRemoteStoreOptions {
  /** Directory relative paths are resolved against (default: process.cwd()). */
  cwd?: string;
  /** Spool directory (default: `LPCLUST_SPOOL_DIR`, else `./mlruns`). */
  spoolDir?: string;
  /** Spool at all (default true); the CLI resolves it from `--no-spool` / `LPCLUST_SPOOL` / the config file. */
  spool?: boolean;
  /** Environment (default: process.env, with `.env` of `cwd` as fallback). */
  env?: Record<string, string | undefined>;
}

/**
 * The store for an `http(s)://` tracking URI: REST calls to the server, and the local spool when
 * the server stays unreachable after the retries. `spool: false` turns the spool off (the run then
 * fails with E_TRACKING_UNAVAILABLE instead).
 */
export function openRemoteStore(uri: string, options: OpenRemoteStoreOptions = {}): TrackingStore {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const rest = new RestStore(uri, { client: restClientOptionsFromEnv(uri, env, cwd) });
  if (options.spool === false) return rest;
  const spoolDir = options.spoolDir ?? envValue('LPCLUST_SPOOL_DIR', env, cwd) ?? './mlruns';
  return new ResilientStore(rest, { spoolDir: path.resolve(cwd, spoolDir), remoteUri: maskUri(uri) });
}
