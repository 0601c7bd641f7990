/**
 * `lpclust dtw`: the full DTW distance matrix of a profiles CSV as a .npy file plus its sidecar,
 * computed by worker threads, as a tracked run `dtw`.
 */
import type { Command } from 'commander';
import { availableParallelism } from 'node:os';
import { usageError } from '../../errors.js';
import { NORMALIZATIONS, type Normalization } from '../../profiles/normalize.js';
import { KERNEL_CHOICES, type KernelChoice } from '../../dtw/kernel.js';
import { MATRIX_LAYOUTS, type MatrixLayout } from '../../dtw/matrix.js';
import { capWorkers, contextFor } from '../context.js';

interface DtwFlags {
  in?: string;
  out?: string;
  radius: string;
  normalize: string;
  dtype: string;
  workers?: string;
  kernel: string;
  tileSize: string;
  layout: string;
  resume?: boolean;
  force?: boolean;
  logMatrix?: boolean;
  shard?: string;
  queue?: string;
  sharedDir?: string;
}

function integer(raw: string, flag: string, min: number): number {
  const v = Number(raw);
  if (!/^\s*\d+\s*$/.test(raw) || !Number.isSafeInteger(v) || v < min) {
    throw usageError('E_USAGE_VALUE', `Expected a ${min > 0 ? 'positive' : 'non-negative'} integer for \`${flag}\` but received \`${raw}\``);
  }
  return v;
}

function oneOf<T extends string>(raw: string, flag: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(raw)) throw usageError('E_USAGE_VALUE', `Expected ${allowed.join('|')} for \`${flag}\` but received \`${raw}\``);
  return raw as T;
}

/** Parse `--radius`: a non-negative integer, or `none` for full DTW. */
export function parseRadius(raw: string): number {
  return raw === 'none' ? Infinity : integer(raw, '--radius', 0);
}

/** Register `lpclust dtw`. */
export function register(program: Command): void {
  program
    .command('dtw')
    // `merge` is an argument, not a sub-command: it takes the same --out, --layout, --force and
    // --log-matrix as dtw itself, and a sub-command's --out would be parsed as dtw's.
    .argument('[merge shards...]', 'merge: assemble the shard files of --shard i/n runs into --out')
    .usage('--in <csv> --out <npy> [options]\n       lpclust dtw merge <shard files...> --out <npy> [--layout full|condensed] [--force] [--log-matrix]')
    .description('compute the full DTW distance matrix of a profiles CSV (.npy + .json sidecar) with worker threads, as a tracked run')
    // Required, but checked in the action: commander would demand them of `dtw merge` too.
    .option('--in <csv>', 'profiles CSV (harmonized or clean: id,date,<slot>..., every row complete) (required)')
    .option('--out <npy>', 'matrix to write: NumPy .npy (n × n, or condensed with --layout condensed); sidecar <out>.json (required; with --shard: the shard file)')
    .option('--radius <r>', 'Sakoe–Chiba band radius in slots (|i − j| ≤ r), or `none` for full DTW', '1')
    .option('--normalize <how>', `row normalisation before DTW: ${NORMALIZATIONS.join('|')}`, 'l2')
    .option('--dtype <type>', 'matrix element type and kernel precision: float32|float64', 'float32')
    .option('--workers <n>', `worker threads (default: available cores, here ${availableParallelism()})`)
    .option('--kernel <k>', 'DTW kernel: auto (native, else TypeScript with a warning)|native|js', 'auto')
    .option('--layout <layout>', 'full: n × n, both triangles | condensed: the upper triangle as 1-D n(n−1)/2 values in SciPy squareform order (half the bytes)', 'full')
    .option('--tile-size <t>', 'tile edge in rows (memory per worker ≈ 2·t²·dtype bytes; never changes the result)', '1024')
    .option('--resume', 'finish an interrupted job from <out>.partial (what the same command does anyway; kept for scripts)')
    .option('--force', 'overwrite an existing output, or discard an existing <out>.partial and start over')
    .option('--log-matrix', 'also copy the matrix into the run artifacts (it can be large; by default its path and SHA-256 are tags)')
    .option('--queue <url>', 'compute the tiles on a job queue: redis://[:password@]host:6379/0 or rediss://… (TLS); `lpclust worker` processes take them')
    .option('--shared-dir <dir>', 'with --queue: a directory this machine and every worker see (NFS, a mounted bucket): series in, tiles out', '.')
    .option('--shard <i/n>', 'compute only shard i of n (0 ≤ i < n) of the tiles into the tile file --out; assemble the n files with `lpclust dtw merge`')
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
      const radius = parseRadius(flags.radius);
      const normalize = oneOf<Normalization>(flags.normalize, '--normalize', NORMALIZATIONS);
      const dtype = oneOf(flags.dtype, '--dtype', ['float32', 'float64'] as const);
      const kernel = oneOf<KernelChoice>(flags.kernel, '--kernel', KERNEL_CHOICES);
      const workers = capWorkers(flags.workers === undefined ? undefined : integer(flags.workers, '--workers', 1));
      const tileSize = integer(flags.tileSize, '--tile-size', 1);
      const layout = oneOf<MatrixLayout>(flags.layout, '--layout', MATRIX_LAYOUTS);
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
  const layout = oneOf<MatrixLayout>(flags.layout, '--layout', MATRIX_LAYOUTS);
  const ctx = contextFor(cmd);
  const store = await ctx.openStore();
  const res = await runDtwMergeStage({ shards, out: flags.out, layout, force: flags.force, logMatrix: flags.logMatrix }, { store, experimentName: ctx.globals.experimentName });
  const m = res.outputs.matrix;
  ctx.print({ runId: res.runId, metrics: res.metrics, out: m.out, sidecar: m.sidecarPath, sha256: m.sidecar.matrixSha256, shards: shards.length }, dtwSummary(res));
}
