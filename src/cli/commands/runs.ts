/**
 * `lpclust runs`: the runs of the tracking store in the terminal (a tree of nested runs per
 * experiment), and `lpclust runs show <run-id>` for one run. Users without Python or the MLflow
 * UI can still see their results.
 */
import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import type { RunStatus } from '../../tracking/store.js';
import { contextFor, unknownSubcommandError } from '../context.js';

const STATUSES: readonly RunStatus[] = ['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED'];

/** Parse a non-negative integer option (0 = no limit). */
function parseCount(raw: string, flag: string): number {
  const v = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(v)) {
    throw usageError('E_USAGE_VALUE', `Expected a non-negative integer for \`${flag}\` but received \`${raw}\``, { hint: `use ${flag} 0 for no limit` });
  }
  return v;
}

/** Width of the listing: the terminal's, else COLUMNS, else 100 (a pipe or a log file). */
function defaultWidth(): number {
  if (process.stdout.isTTY && process.stdout.columns) return process.stdout.columns;
  const env = Number(process.env.COLUMNS);
  return Number.isInteger(env) && env > 0 ? env : 100;
}

/** Parse `--status`: comma-separated run statuses, any case. */
function parseStatuses(raw: string): RunStatus[] {
  const out: RunStatus[] = [];
  for (const part of raw.split(',')) {
    const s = part.trim().toUpperCase();
    if (!(STATUSES as readonly string[]).includes(s)) {
      throw usageError('E_USAGE_VALUE', `Expected ${STATUSES.join('|')} (comma-separated) for \`--status\` but received \`${part.trim()}\``);
    }
    out.push(s as RunStatus);
  }
  return out;
}

function useColor(): boolean {
  return Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
}

/** Register `lpclust runs` and `lpclust runs show`. */
export function register(program: Command): void {
  const runs = program
    .command('runs')
    .description('list the experiments and runs of the tracking store (nested runs as a tree)')
    .option('--experiment <name>', 'only the runs of this experiment (default: every experiment)')
    .option('--limit <n>', 'at most n runs per experiment, nested runs included: the newest top-level runs, each followed by its nested runs (0 = all)', '20')
    .option('--children <n>', 'at most n nested runs under each run, oldest first; the rest are counted on one line (0 = all)', '8')
    .option('--width <n>', 'characters per line (default: the terminal width; 100 when not a terminal, or COLUMNS; 0 = no limit)')
    .option('--status <list>', 'only runs with these statuses, comma-separated (RUNNING,FINISHED,FAILED,KILLED)')
    .option('--utc', 'show times in UTC instead of local time')
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
    .action(async (opts: { experiment?: string; limit: string; children: string; width?: string; status?: string; utc?: boolean }, cmd: Command) => {
      if (cmd.args.length > 0) throw unknownSubcommandError(cmd, cmd.args[0]);
      const ctx = contextFor(cmd);
      const limit = parseCount(opts.limit, '--limit');
      const children = parseCount(opts.children, '--children');
      const width = opts.width === undefined ? defaultWidth() : parseCount(opts.width, '--width');
      const statuses = opts.status !== undefined ? parseStatuses(opts.status) : undefined;
      const store = await ctx.openStore({ launch: false });
      const { collectRunsView, formatRunsView } = await import('../../tracking/runs-view.js');
      const view = await collectRunsView(store, { experimentName: opts.experiment, limit, children, statuses });
      ctx.print(view, formatRunsView(view, { color: useColor(), utc: opts.utc, width }));
    });

  runs
    .command('show')
    .description('print one run: info, params, metrics (latest value, history length), tags, artifacts, nested runs')
    .argument('<run-id>', 'the run id, or a unique prefix of at least 6 characters')
    .option('--utc', 'show times in UTC instead of local time')
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
