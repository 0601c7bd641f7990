/**
 * `lpclust dtw`: the full DTW distance matrix of a profiles CSV as a .npy file plus its sidecar,
 * computed by worker threads, as a tracked run `dtw`.
 */
import type { Command } from 'commander';
import { availableParallelism } from 'node:os';
import { usageError } from '../../errors.js';
import { NORMALIZATIONS, type Normalization } from '../../harmonize/normalize.js';
import { KERNEL_CHOICES, type KernelChoice } from '../../dtw/kernel.js';
import { MATRIX_LAYOUTS, type MatrixLayout } from '../../dtw/matrix.js';
import { capWorkers, contextFor } from '../context.js';

interface DtwFlags {
  in: string;
  out: string;
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
    .description('compute the full DTW distance matrix of a profiles CSV (.npy + .json sidecar) with worker threads, as a tracked run')
    .requiredOption('--in <csv>', 'profiles CSV (harmonized or clean: id,date,<slot>..., every row complete)')
    .requiredOption('--out <npy>', 'matrix to write: NumPy .npy (n × n, or condensed with --layout condensed); sidecar <out>.json')
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
    .addHelpText(
      'after',
      `
DTW(a, b) = sqrt(min over warping paths of Σ (a_i − b_j)²), the dtaidistance / tslearn convention;
radius 1 is the old pipeline's (dtaidistance window=2). Work goes to <out>.partial with a
checkpoint; after Ctrl-C, a kill or a full disk, running the same command again (same input,
radius, normalisation, dtype) picks up where it stopped; a partial of other data or settings is
refused (--force discards it). The matrix gets its final name and its sidecar only when complete.

Examples:
  lpclust dtw --in harmonized.csv --out dtw.npy
  lpclust dtw --in harmonized.csv --out dtw96.npy --radius 4 --dtype float64 --workers 2
  lpclust dtw --in harmonized.csv --out full.npy --radius none --kernel js --json`,
    )
    .action(async (flags: DtwFlags, cmd: Command) => {
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
      const store = await ctx.openStore();
      const res = await runDtwStage(
        { in: flags.in, out: flags.out, radius, normalize, dtype, workers, kernel, tileSize, layout, resume: flags.resume, force: flags.force, logMatrix: flags.logMatrix },
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
