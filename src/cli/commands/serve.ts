/**
 * `lpclust serve`: an HTTP scoring server with MLflow's protocol for a saved model.
 */
import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import type { ScoringServer } from '../../serve/server.js';
import type { TrackingStore } from '../../tracking/store.js';
import { log } from '../../util/log.js';
import { contextFor } from '../context.js';
import { addOptions } from '../options.js';

interface ServeFlags {
  model: string;
  host: string;
  port: number;
  maxBodyMb: number;
  watchAlias?: boolean;
  watchInterval: number;
}

/** Register `lpclust serve`. */
export function register(program: Command): void {
  const cmd = program
    .command('serve')
    .description('serve a saved model over HTTP with MLflow\'s scoring protocol (/ping, /health, /invocations)');
  addOptions(cmd, 'serve')
    .addHelpText(
      'after',
      `
POST /invocations (Content-Type: application/json) with one of
  {"dataframe_split": {"columns": ["id","date","00:00",...], "data": [["m1","2013-01-02",0.1,...]]}}
  {"dataframe_records": [{"00:00": 0.1, "01:00": 0.2, ...}]}
  {"inputs": [[0.1, 0.2, ...]]}
answers {"predictions": [{"cluster": 3, "distance": 0.21, "margin": 0.05}, ...]} (id/date echoed
when given). Values are raw Wh per slot; the server normalises them as the model did.
Bad payloads get 400 {"error_code": "BAD_REQUEST", "message": ...}; bodies above --max-body-mb get 413.
Ctrl-C stops the server after the requests in flight. With --watch-alias the server follows the
alias: when it names another version, that version is loaded and served from then on (said on
stderr); requests in flight finish with the model they started with.

Examples:
  lpclust serve --model lpclust-out/cluster/<run-id>/model
  lpclust serve --model runs:/0a1b2c.../model --port 5002
  lpclust serve --model models:/uc7-clusters@production
  lpclust serve --model models:/uc7-clusters@production --watch-alias --watch-interval 10
  curl -s localhost:5001/invocations -H 'Content-Type: application/json' -d '{"inputs": [[...24 values...]]}'`,
    )
    .action(async (flags: ServeFlags, cmd: Command) => {
      const { port, maxBodyMb } = flags;
      const interval = flags.watchInterval;
      if (flags.watchAlias && !/^models:\/[^/@]+@[^/@]+$/i.test(flags.model)) {
        throw usageError('E_USAGE_OPTION', `Expected \`--model models:/<name>@<alias>\` with \`--watch-alias\` but received \`${flags.model}\``, {
          hint: 'e.g. lpclust serve --model models:/uc7-clusters@production --watch-alias',
        });
      }
      const ctx = contextFor(cmd);
      const [{ resolveModel }, { startScoringServer }] = await Promise.all([import('../../model/resolve.js'), import('../../serve/server.js')]);
      let store: TrackingStore | undefined;
      const openStore = async (): Promise<TrackingStore> => (store ??= await ctx.openStore({ launch: false }));
      const loaded = await resolveModel(flags.model, openStore);
      let srv: ScoringServer;
      try {
        srv = await startScoringServer({ model: loaded.model, predictor: loaded.predictor, host: flags.host, port, maxBodyMb });
      } catch (e) {
        throw usageError('E_SERVE_LISTEN', `cannot listen on ${flags.host}:${port}: ${(e as Error).message}`, { hint: 'choose another --port, or stop the process using it' });
      }
      const m = loaded.model;
      if (!['127.0.0.1', '::1', 'localhost'].includes(flags.host)) log.warn(`listening on ${flags.host}: the server has no authentication; anyone who can reach it can score`);
      ctx.print(
        { url: srv.url, host: srv.host, port: srv.port, model: { model: m.model, metric: m.metric, k: m.k, runId: m.run_id } },
        `serving ${m.model} ${m.metric} k=${m.k} (${m.run_id ? `run ${m.run_id}` : loaded.source}) at ${srv.url}/invocations — Ctrl-C to stop`,
      );
      let stopWatching = (): void => undefined;
      if (flags.watchAlias && loaded.registered?.alias) {
        const { watchAlias } = await import('../../serve/watch-alias.js');
        const { name, alias, version } = loaded.registered;
        log.info(`watching alias ${alias} of "${name}" every ${interval} s (serving version ${version})`);
        stopWatching = watchAlias({
          store: await openStore(),
          name,
          alias,
          version,
          intervalSeconds: interval,
          onMove: (next, v, previous) => {
            srv.swap(next.model, next.predictor);
            const n = next.model;
            log.info(`alias ${alias} of "${name}" moved from version ${previous} to ${v}: now serving ${n.model} ${n.metric} k=${n.k}${n.run_id ? ` (run ${n.run_id})` : ''}`);
          },
        });
      }
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          stopWatching();
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          log.info('stopping the scoring server');
          void srv.close().then(resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}
