/**
 * `lpclust sync`: upload the runs of a local store (the offline spool, or any ./mlruns) to an
 * MLflow tracking server, idempotently.
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { externalError, inputError, usageError } from '../../errors.js';
import { isSqliteUri, sqliteUriToPath } from '../../tracking/store-uri.js';
import type { TrackingStore } from '../../tracking/store.js';
import { SYNC_STATE_FILE } from '../../tracking/sync-state-name.js';
import type { SyncedRun } from '../../tracking/sync.js';
import { log } from '../../util/log.js';
import { maskUri } from '../../util/mask.js';
import { Progress } from '../../util/progress.js';
import { contextFor } from '../context.js';
import { addOptions } from '../options.js';

/** The store of `--from`: a FileStore folder (`file:` URI or path) or a SQLite database, which must exist. */
async function localSource(from: string): Promise<TrackingStore> {
  const [{ FileStore }, { openStore }] = await Promise.all([import('../../tracking/file-store.js'), import('../../tracking/index.js')]);
  if (isSqliteUri(from)) {
    const file = sqliteUriToPath(from);
    if (!existsSync(file)) {
      throw inputError('E_SYNC_SOURCE', `there is no tracking database ${file} (from --from ${from})`, {
        hint: 'a relative database needs three slashes (sqlite:///mlflow.db), an absolute one four (sqlite:////data/mlflow.db)',
      });
    }
    return openStore(from);
  }
  if (/^(file:|[^:]*$)/i.test(from) === false) {
    throw usageError('E_USAGE_VALUE', `Expected a local directory, file: URI or sqlite: URI for \`--from\` but received \`${maskUri(from)}\``);
  }
  const store = new FileStore(from);
  if (!existsSync(store.root)) {
    throw inputError('E_SYNC_SOURCE', `there is no local tracking store at ${store.root} (from --from ${from})`, {
      hint: 'point --from at the mlruns directory (or the spool directory the warning named), or at sqlite:///mlflow.db',
    });
  }
  return store;
}

/** Register `lpclust sync`. */
export function register(program: Command): void {
  const cmd = program
    .command('sync')
    .description('upload local runs (e.g. the offline spool) to an MLflow tracking server; running it again creates nothing new');
  addOptions(cmd, 'sync')
    .addHelpText(
      'after',
      `
Uploads params, full metric histories (timestamps and steps kept), tags, artifacts, nesting (parent
ids remapped), status, start and end times. Runs already on the server are completed, not duplicated.
Tags that point at runs (mlflow.parentRunId, lpclust.child.*, lpclust.reused*) get the server's ids.
Then the model registry of --from (registered models, versions, aliases; registrations made with
--register-model while the server was unreachable wait in the spool's registry): each version points
at the synced run's model on the target (models:/<model_id> of its logged model on an MLflow 3
server or database); versions and aliases already copied are left as they are.
The sync state ${SYNC_STATE_FILE} in the --from store remembers, per server, each run's server id
and a digest of what was uploaded: on the next sync an unchanged run costs no request (--full
checks them all with the server again).
Auth and transport as for every server URI: MLFLOW_TRACKING_TOKEN, MLFLOW_TRACKING_USERNAME/PASSWORD,
MLFLOW_TRACKING_INSECURE_TLS, MLFLOW_HTTP_REQUEST_TIMEOUT, MLFLOW_HTTP_REQUEST_MAX_RETRIES,
MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR (environment or ./.env).

Examples:
  lpclust sync --from ./mlruns --to http://mlflow.example.org:5000
  lpclust sync --from ./mlruns --experiment uc7 --to https://mlflow.example.org
  lpclust sync --from sqlite:///mlflow.db --to http://mlflow.example.org:5000
  lpclust sync --from ./mlruns --to sqlite:///mlflow.db        (copies the runs, artifacts included, into a database)
  MLFLOW_TRACKING_URI=http://localhost:5000 lpclust sync --json`,
    )
    .action(async (opts: { from: string; to?: string; experiment?: string; full?: boolean }, cmd: Command) => {
      const [{ openStore }, { RestStore }, { syncRuns }, { syncRegistry }] = await Promise.all([
        import('../../tracking/index.js'),
        import('../../tracking/rest-store.js'),
        import('../../tracking/sync.js'),
        import('../../tracking/sync-registry.js'),
      ]);
      const ctx = contextFor(cmd);
      const to = opts.to ?? (/^https?:\/\//i.test(ctx.globals.trackingUri) ? ctx.globals.trackingUri : undefined);
      if (!to) {
        throw usageError('E_USAGE_OPTION', 'Expected `--to <uri>` (the tracking server) but received none', {
          hint: 'e.g. lpclust sync --from ./mlruns --to http://localhost:5000, or set MLFLOW_TRACKING_URI',
        });
      }
      const from = await localSource(opts.from);
      // The target must not spool: a sync that cannot reach the server fails, keeping the local runs.
      const target: TrackingStore = /^https?:\/\//i.test(to) ? new RestStore(to) : await openStore(to, { sqliteSchema: ctx.globals.sqliteSchema });
      if (from.displayUri === target.displayUri) throw usageError('E_USAGE_VALUE', '`--from` and `--to` name the same store');
      let progress: Progress | undefined;
      let total = 0;
      let seen = 0;
      const line = (r: SyncedRun): string =>
        `[${seen}/${total}] ${r.created ? 'created' : 'updated'} ${r.experiment}/${r.runName} ${r.localRunId} → ${r.remoteRunId}` +
        ` (${r.params} params, ${r.metrics} metric values, ${r.tags} tags, ${r.artifacts} artifacts${r.ended ? ', status set' : ''})`;
      try {
        const report = await syncRuns(from, target, {
          experiment: opts.experiment,
          // The sync state lives in the source store: the FileStore's root, or beside a database file.
          statePath: 'root' in from ? path.join(String(from.root), SYNC_STATE_FILE) : 'file' in from ? `${String(from.file)}${SYNC_STATE_FILE}` : undefined,
          full: opts.full,
          onStart: (n) => {
            total = n;
            progress = new Progress({ label: 'sync', total: n, unit: 'runs' });
          },
          onRun: (r) => {
            seen++;
            // Runs with nothing to send are counted in the summary, not listed one by one.
            if (r.error) log.warn(`[${seen}/${total}] run ${r.localRunId} (${r.runName}) not synced: ${r.error}`);
            else if (r.created || r.params || r.metrics || r.tags || r.artifacts || r.ended) log.info(line(r));
            progress?.update(seen);
          },
        });
        progress?.done();
        // Then the registry (registrations spooled while the server was down among them), pointing at the synced runs.
        const runIds = new Map(report.runs.filter((r) => !r.error && r.remoteRunId).map((r) => [r.localRunId, r.remoteRunId] as [string, string]));
        const registry = await syncRegistry(from, target, runIds);
        for (const why of registry.skipped) log.warn(`registry: not copied: ${why}`);
        const human = `synced ${report.runs.length} run(s) from ${from.displayUri} to ${target.displayUri}: ` +
          `${report.created} created, ${report.updated} completed, ${report.unchanged} already up to date` +
          `${report.skipped > 0 ? ` (${report.skipped} unchanged since the last sync, not checked again)` : ''}, ${report.failed} failed` +
          `${report.pointerTags > 0 ? `; ${report.pointerTags} tag(s) pointing at runs set to the server's ids` : ''}` +
          (registry.models > 0
            ? `\nregistry: ${registry.models} registered model(s), ${registry.versionsCreated} version(s) created, ${registry.versionsPresent} already there, ${registry.aliasesSet} alias(es) set`
            : '');
        ctx.print({ from: from.displayUri, to: target.displayUri, ...report, registry }, human);
        if (report.failed > 0) {
          throw externalError('E_SYNC_INCOMPLETE', `${report.failed} run(s) could not be synced (see the warnings above); the others were`, {
            hint: 'fix the cause and run the same lpclust sync again: it only sends what the server lacks',
          });
        }
      } finally {
        progress?.done();
        if (target instanceof RestStore) target.close();
      }
    });
}
