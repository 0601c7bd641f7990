/**
 * `lpclust runs`: the runs of the tracking store in the terminal (a tree of nested runs per
 * experiment), and `lpclust runs show <run-id>` for one run. Users without Python or the MLflow
 * UI can still see their results.
 */
import type { Command } from 'commander';
import type { RunStatus } from '../../tracking/store.js';
import { contextFor, unknownSubcommandError } from '../context.js';
import { addOptions } from '../options.js';

/** Width of the listing: the terminal's, else COLUMNS, else 100 (a pipe or a log file). */
function defaultWidth(): number {
  if (process.stdout.isTTY && process.stdout.columns) return process.stdout.columns;
  const env = Number(process.env.COLUMNS);
  return Number.isInteger(env) && env > 0 ? env : 100;
}

function useColor(): boolean {
  return Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
}

/** Register `lpclust runs` and `lpclust runs show`. */
export function register(program: Command): void {
  const runs = program.command('runs');
  addOptions(runs, 'runs')
    .description('list the experiments and runs of the tracking store (nested runs as a tree)')
    // Extra words are checked in the action, to suggest the sub-command meant (`runs shwo`).
    .allowExcessArguments(true)
    .addHelpText(
      'after',
      `
Each line shows the run's key params (model, metric, k, seed, ... without what its name already
says) and key metrics (Silhouette Score, Silhouette DTW, DB Index, ...) as far as the width allows;
lpclust runs show <id> and --json give all of them.

Examples:
  lpclust runs                                   every experiment of ./mlruns
  lpclust runs --experiment uc7 --limit 5        5 lines of runs of "uc7", newest first, with their stages
  lpclust runs --children 0 --limit 0            every run, every configuration of every sweep
  lpclust runs --status FAILED,KILLED            runs that did not finish
  lpclust runs --json                            the same as JSON (all params and metrics)
  lpclust runs show 3f2a9c1e                     one run (by id or unique id prefix)
  lpclust --tracking-uri file:///data/mlruns runs`,
    )
    .action(async (opts: { experiment?: string; limit: number; children: number; width?: number; status?: RunStatus[]; utc?: boolean }, cmd: Command) => {
      if (cmd.args.length > 0) throw unknownSubcommandError(cmd, cmd.args[0]);
      const ctx = contextFor(cmd);
      const { limit, children, statuses } = { ...opts, statuses: opts.status };
      const width = opts.width ?? defaultWidth();
      const store = await ctx.openStore({ launch: false });
      const { collectRunsView, formatRunsView } = await import('../../tracking/runs-view.js');
      const view = await collectRunsView(store, { experimentName: opts.experiment, limit, children, statuses });
      ctx.print(view, formatRunsView(view, { color: useColor(), utc: opts.utc, width }));
    });

  const show = runs.command('show');
  addOptions(show, 'runs show')
    .description('print one run: info, params, metrics (latest value, history length), tags, artifacts, nested runs')
    .argument('<run-id>', 'the run id, or a unique prefix of at least 6 characters')
    .addHelpText(
      'after',
      `
Examples:
  lpclust runs show 3f2a9c1e7b4d4e0f9a8b7c6d5e4f3a2b
  lpclust runs show 3f2a9c1e --json`,
    )
    .action(async (runId: string, opts: { utc?: boolean }, cmd: Command) => {
      const ctx = contextFor(cmd);
      const store = await ctx.openStore({ launch: false });
      const { collectRunDetail, formatRunDetail } = await import('../../tracking/runs-view.js');
      const detail = await collectRunDetail(store, runId);
      ctx.print(detail, formatRunDetail(detail, { color: useColor(), utc: opts.utc }));
    });
}
