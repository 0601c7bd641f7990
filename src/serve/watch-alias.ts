/**
 * `serve --watch-alias`: poll the alias of a `models:/NAME@ALIAS` model and serve the version it
 * names once it moves, so that `lpclust models alias NAME 4 production` rolls a running server
 * forward (or back) without a restart. A failed poll or load keeps the model being served and is
 * said once per distinct cause.
 */
import { resolveModel, type LoadedModel } from '../model/resolve.js';
import { registryOf } from '../tracking/registry.js';
import type { TrackingStore } from '../tracking/store.js';
import { log } from '../util/log.js';

/** Options of {@link watchAlias}. */
export interface WatchAliasOptions {
  store: TrackingStore;
  name: string;
  alias: string;
  /** The version being served when watching starts. */
  version: number;
  /** Seconds between polls. */
  intervalSeconds: number;
  /** Called with the newly loaded model (and its version) when the alias has moved. */
  onMove(loaded: LoadedModel, version: number, previous: number): void;
}

/** Start polling; returns a function that stops it. */
export function watchAlias(o: WatchAliasOptions): () => void {
  let version = o.version;
  let lastProblem = '';
  let busy = false;
  let stopped = false;
  const problem = (what: string): void => {
    if (what === lastProblem) return;
    lastProblem = what;
    log.warn(`--watch-alias: ${what}; still serving version ${version} of "${o.name}"`);
  };
  const poll = async (): Promise<void> => {
    if (busy || stopped) return;
    busy = true;
    try {
      const v = await registryOf(o.store).getModelVersionByAlias(o.name, o.alias);
      if (v.version === version) {
        lastProblem = '';
        return;
      }
      const loaded = await resolveModel(`models:/${o.name}/${v.version}`, async () => o.store);
      if (stopped) return;
      const previous = version;
      version = v.version;
      lastProblem = '';
      o.onMove(loaded, v.version, previous);
    } catch (e) {
      problem((e as Error).message);
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void poll(), Math.max(50, o.intervalSeconds * 1000));
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
