/**
 * `lpclust dtw`: the full DTW distance matrix of a profiles CSV as a .npy file plus its sidecar,
 * computed by worker threads, as a tracked run `dtw`.
 */
import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import type { Normalization } from '../../profiles/normalize.js';
import type { KernelChoice } from '../../dtw/kernel.js';
import type { MatrixLayout } from '../../dtw/matrix.js';
import { capWorkers, contextFor } from '../context.js';
import { addOptions, resolvedOptions } from '../options.js';

/** The options of `lpclust dtw`, parsed (src/cli/options.ts). */
interface DtwFlags {
  in?: string;
  out?: string;
  radius: number;
  normalize: Normalization;
  dtype: 'float32' | 'float64';
  workers?: number;
  kernel: KernelChoice;
  tileSize: number;
  layout: MatrixLayout;
  resume?: boolean;
  force?: boolean;
  logMatrix?: boolean;
  shard?: string;
  queue?: string;
  sharedDir: string;
}

/** Register `lpclust dtw`. */
export function register(program: Command): void {
  const cmd = program
    .command('dtw')
    // `merge` is an argument, not a sub-command: it takes the same --out, --layout, --force and
    // --log-matrix as dtw itself, and a sub-command's --out would be parsed as dtw's.
    .argument('[merge shards...]', 'merge: assemble the shard files of --shard i/n runs into --out')
    .usage('--in <csv> --out <npy> [options]\n       lpclust dtw merge <shard files...> --out <npy> [--layout full|condensed] [--force] [--log-matrix]')
    .description('compute the full DTW distance matrix of a profiles CSV (.npy + .json sidecar) with worker threads, as a tracked run');
  // --in and --out are required, but checked in the action: commander would demand them of `dtw merge` too.
  addOptions(cmd, 'dtw')
    .addHelpText(
      'after',
      `
DTW(a, b) = sqrt(min over warping paths of Σ (a_i − b_j)²), the dtaidistance / tslearn convention;
radius 1 is the old pipeline's (dtaidistance window=2). Work goes to <out>.partial with a
checkpoint; after Ctrl-C, a kill or a full disk, running the same command again (same input,
radius, normalisation, dtype) picks up where it stopped; a partial of other data or settings is
refused (--force discards it). The matrix gets its final name and its sidecar only when complete.

More than one machine: with --shard i/n each machine computes a fixed share of the tiles (about
1/n of the band cells) into its own file (a shard stopped midway is continued by the same
command from <out>.partial, as a matrix is); \`lpclust dtw merge\` assembles the n files into the
.npy and sidecar one machine would have written (the same bytes). With --queue, one job per tile
goes to Redis; \`lpclust worker --queue URL\` on each machine computes them into --shared-dir and
this command shows progress, assembles the matrix as tiles arrive (the same bytes) and exits when
it is complete; Ctrl-C takes its pending jobs off the queue.

Examples:
  lpclust dtw --in harmonized.csv --out dtw.npy
  lpclust dtw --in harmonized.csv --out dtw96.npy --radius 4 --dtype float64 --workers 2
  lpclust dtw --in harmonized.csv --out full.npy --radius none --kernel js --json
  lpclust dtw --in harmonized.csv --shard 0/4 --out dtw.shard-0.tiles   # … 1/4, 2/4, 3/4 elsewhere
  lpclust dtw merge dtw.shard-*.tiles --out dtw.npy
  lpclust dtw --in harmonized.csv --out dtw.npy --queue redis://localhost:6379/0 --shared-dir /mnt/shared

dtw merge: every shard 0 … n−1 must be given once, all of the same input, radius, normalisation,
dtype and tile size; a missing, repeated or foreign shard is named in the error and nothing is
written. --layout, --force and --log-matrix apply to the merged matrix.`,
    )
    .action(async (args: string[], flags: DtwFlags, cmd: Command) => {
      if (args.length > 0) return merge(args, flags, cmd);
      const missing = (flag: string): Error => usageError('E_USAGE_OPTION', `required option '${flag}' not specified`, { hint: 'see lpclust dtw --help' });
      if (flags.in === undefined) throw missing('--in <csv>');
      if (flags.out === undefined) throw missing('--out <npy>');
      const io = { in: flags.in, out: flags.out };
      const { dtwSummary, runDtwStage } = await import('../../pipeline/dtw.js');
      const { radius, normalize, dtype, kernel, tileSize, layout } = flags;
      const workers = capWorkers(flags.workers, resolvedOptions(cmd).workers?.from);
      if (flags.resume && flags.force) throw usageError('E_USAGE_OPTION', '`--resume` and `--force` exclude each other: resume keeps the partial matrix, force discards it');
      const ctx = contextFor(cmd);
      if (flags.shard !== undefined) {
        const { parseShard } = await import('../../dtw/shard.js');
        const shard = parseShard(flags.shard);
        if (flags.layout !== 'full' || flags.logMatrix) {
          throw usageError('E_USAGE_OPTION', '`--shard` writes tiles, not a matrix: give `--layout` and `--log-matrix` to `lpclust dtw merge` instead');
        }
        const { runDtwShardStage } = await import('../../pipeline/dtw.js');
        const store = await ctx.openStore();
        const res = await runDtwShardStage({ ...io, shard, radius, normalize, dtype, workers, kernel, tileSize, force: flags.force, resume: flags.resume }, { store, experimentName: ctx.globals.experimentName });
        const s = res.outputs.shard;
        ctx.print(
          { runId: res.runId, metrics: res.metrics, out: s.out, shard: `${shard.index}/${shard.count}`, tiles: s.tiles, tilesTotal: s.tilesTotal, inputDigest: s.head.inputDigest },
          `DTW shard ${shard.index}/${shard.count}: ${s.tiles} of ${s.tilesTotal} tiles, ${s.cells.toExponential(3)} band cells in ${s.seconds.toFixed(2)} s on ${s.workers} worker(s) → ${s.out}\n  merge all ${shard.count} with: lpclust dtw merge <shard files> --out <matrix.npy>; run ${res.runId}`,
        );
        return;
      }
      if (flags.queue !== undefined && flags.shard !== undefined) throw usageError('E_USAGE_OPTION', '`--queue` and `--shard` exclude each other: a queue hands the tiles out itself');
      const { parseQueueUrl } = await import('../../queue/connection.js');
      const queue = flags.queue === undefined ? undefined : parseQueueUrl(flags.queue);
      const store = await ctx.openStore();
      const res = await runDtwStage(
        { ...io, queue, sharedDir: flags.sharedDir, radius, normalize, dtype, workers, kernel, tileSize, layout, resume: flags.resume, force: flags.force, logMatrix: flags.logMatrix },
        { store, experimentName: ctx.globals.experimentName },
      );
      const m = res.outputs.matrix;
      ctx.print(
        {
          runId: res.runId,
          metrics: res.metrics,
          out: m.out,
          sidecar: m.sidecarPath,
          sha256: m.sidecar.matrixSha256,
          kernel: m.sidecar.kernel,
          isa: m.sidecar.isa,
          workers: m.workers,
          tilesComputed: m.tilesComputed,
          tilesResumed: m.tilesResumed,
        },
        dtwSummary(res),
      );
    });

}

/** `lpclust dtw merge SHARDS… --out M.npy`. */
async function merge(args: string[], flags: DtwFlags, cmd: Command): Promise<void> {
  if (args[0] !== 'merge') {
    throw usageError('E_USAGE_ARGUMENT', `unexpected argument \`${args[0]}\`: lpclust dtw takes its input with --in, or \`merge\` followed by shard files`, { hint: 'see lpclust dtw --help' });
  }
  const shards = args.slice(1);
  if (shards.length === 0) throw usageError('E_USAGE_ARGUMENT', 'lpclust dtw merge: expected the shard files to merge', { hint: 'lpclust dtw merge dtw.shard-*.tiles --out dtw.npy' });
  if (flags.out === undefined) throw usageError('E_USAGE_OPTION', "required option '--out <npy>' not specified", { hint: 'lpclust dtw merge <shard files...> --out dtw.npy' });
  const ignored = (['in', 'shard', 'resume'] as const).filter((k) => flags[k] !== undefined);
  if (ignored.length > 0) {
    throw usageError('E_USAGE_OPTION', `lpclust dtw merge takes the settings from the shard files: ${ignored.map((k) => `--${k}`).join(', ')} cannot be given`, { hint: 'lpclust dtw merge <shard files...> --out dtw.npy' });
  }
  const { dtwSummary, runDtwMergeStage } = await import('../../pipeline/dtw.js');
  const layout = flags.layout;
  const ctx = contextFor(cmd);
  const store = await ctx.openStore();
  const res = await runDtwMergeStage({ shards, out: flags.out, layout, force: flags.force, logMatrix: flags.logMatrix }, { store, experimentName: ctx.globals.experimentName });
  const m = res.outputs.matrix;
  ctx.print({ runId: res.runId, metrics: res.metrics, out: m.out, sidecar: m.sidecarPath, sha256: m.sidecar.matrixSha256, shards: shards.length }, dtwSummary(res));
}
