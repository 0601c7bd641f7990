/**
 * `lpclust harmonize`: join the clean profiles CSVs of the sources into one harmonized CSV, as a
 * tracked run `harmonization`; optionally compute the DTW matrix of the result.
 */
import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import { HARMONIZE_SOURCES, type HarmonizeSource } from '../../harmonize/harmonize.js';
import { PRECEDENCE, SOURCES } from '../../etl/sources.js';
import type { HarmonizeDtwOptions } from '../../pipeline/harmonize.js';
import { capWorkers, contextFor } from '../context.js';

interface HarmonizeFlags extends Partial<Record<HarmonizeSource, string>> {
  rules?: string;
  out: string;
  computeDtw?: boolean;
  dropZeroDays?: boolean;
  keepZeroDays?: boolean;
  dtwOut?: string;
  dtwLayout: string;
  radius: string;
  workers?: string;
  dtype: string;
  force?: boolean;
}

function nonNegativeInt(raw: string, flag: string): number {
  const v = Number(raw);
  if (!/^\s*\d+\s*$/.test(raw) || !Number.isSafeInteger(v)) throw usageError('E_USAGE_VALUE', `Expected a non-negative integer for \`${flag}\` but received \`${raw}\``);
  return v;
}

function positiveInt(raw: string, flag: string): number {
  const v = Number(raw);
  if (!/^\s*\d+\s*$/.test(raw) || !Number.isSafeInteger(v) || v < 1) throw usageError('E_USAGE_VALUE', `Expected a positive integer for \`${flag}\` but received \`${raw}\``);
  return v;
}

/** Register `lpclust harmonize`. */
export function register(program: Command): void {
  const cmd = program
    .command('harmonize')
    .description('join clean profiles CSVs of the sources into one harmonized CSV (resolution check, excluded meters, incomplete rows, duplicates) as a tracked run');
  // One flag per registered source (etl/sources.ts).
  for (const s of HARMONIZE_SOURCES) cmd.option(`--${s} <csv>`, `clean CSV of the ${SOURCES[s].title} (${SOURCES[s].etlCommand ? `from \`lpclust etl ${s}\`` : `clean_${s}.csv of a pipeline run`})`);
  cmd
    .option('--rules <yaml>', 'rules file: meters listed under harmonize.excludeMeters (and sources.<s>.excludeMeters) are dropped')
    .requiredOption('--out <csv>', 'harmonized CSV to write (atomically)')
    .option('--keep-zero-days', 'keep days whose every slot is 0 (by default they are dropped and counted per source, as the pipeline does: they cannot be L2-normalised for DTW and clustering)')
    .option('--drop-zero-days', 'drop all-zero days (the default; accepted for scripts written when keeping them was the default)')
    .option('--compute-dtw', 'also compute the DTW matrix of the L2-normalised rows (.npy + .json sidecar)')
    .option('--dtw-out <npy>', 'DTW matrix path (default: <out without .csv>.dtw.npy)')
    .option('--dtw-layout <layout>', 'DTW matrix layout: full (n × n) | condensed (upper triangle, 1-D, SciPy squareform order, half the bytes)', 'full')
    .option('--radius <r>', 'Sakoe–Chiba band radius of the DTW matrix', '1')
    .option('--workers <n>', 'worker threads of the DTW matrix (default: available cores)')
    .option('--dtype <type>', 'DTW matrix element type: float32|float64', 'float32')
    .option('--force', 'overwrite an existing DTW matrix')
    .addHelpText(
      'after',
      `
At least one of ${HARMONIZE_SOURCES.map((s) => `--${s}`).join(', ')}. Rows with an empty cell are dropped (counted per
source). A (meter, day) present in several sources is kept once, from the first source of
${PRECEDENCE.join(' > ')} (the newest of the utility's systems first, added CSV sources last); the duplicates are counted and listed in harmonize_report.json.
Days whose every slot is 0 (no consumption recorded) are dropped and counted, as in
\`lpclust pipeline\`: they have no L2 norm, so \`dtw\` and \`cluster\` could not use them.
\`--keep-zero-days\` keeps them (e.g. to cluster with \`--normalize none\`).
Output rows are sorted by id, then date.

Examples:
  lpclust harmonize --oldmongo clean_oldmongo.csv --sql clean_sql.csv --newmongo clean_newmongo.csv --rules data/rules.yaml --out harmonized.csv
  lpclust harmonize --sql clean_sql.csv --out harmonized.csv --json
  lpclust harmonize --oldmongo a.csv --newmongo c.csv --out harmonized.csv --compute-dtw --radius 1 --workers 4`,
    )
    .action(async (flags: HarmonizeFlags, cmd: Command) => {
      const { harmonizeSummary, runHarmonizeStage } = await import('../../pipeline/harmonize.js');
      const sources: Partial<Record<HarmonizeSource, string>> = Object.fromEntries(HARMONIZE_SOURCES.map((s) => [s, flags[s]]));
      if (HARMONIZE_SOURCES.every((s) => !flags[s])) {
        throw usageError('E_USAGE_OPTION', `Expected at least one of ${HARMONIZE_SOURCES.map((s) => `\`--${s}\``).join(', ')} but received none`, {
          hint: 'e.g. lpclust harmonize --sql clean_sql.csv --out harmonized.csv',
        });
      }
      if (flags.keepZeroDays && flags.dropZeroDays) {
        throw usageError('E_USAGE_OPTION', '`--keep-zero-days` and `--drop-zero-days` contradict each other; give one (dropping is the default)');
      }
      const dtwFlagsUsed = flags.dtwOut !== undefined || flags.workers !== undefined || flags.force || flags.radius !== '1' || flags.dtype !== 'float32' || flags.dtwLayout !== 'full';
      if (dtwFlagsUsed && !flags.computeDtw) {
        throw usageError('E_USAGE_OPTION', '`--dtw-out`, `--dtw-layout`, `--radius`, `--workers`, `--dtype` and `--force` only apply with `--compute-dtw`');
      }
      let dtw: HarmonizeDtwOptions | undefined;
      if (flags.computeDtw) {
        if (flags.dtype !== 'float32' && flags.dtype !== 'float64') {
          throw usageError('E_USAGE_VALUE', `Expected float32|float64 for \`--dtype\` but received \`${flags.dtype}\``);
        }
        if (flags.dtwLayout !== 'full' && flags.dtwLayout !== 'condensed') {
          throw usageError('E_USAGE_VALUE', `Expected full|condensed for \`--dtw-layout\` but received \`${flags.dtwLayout}\``);
        }
        dtw = {
          out: flags.dtwOut,
          radius: nonNegativeInt(flags.radius, '--radius'),
          workers: capWorkers(flags.workers === undefined ? undefined : positiveInt(flags.workers, '--workers')),
          dtype: flags.dtype,
          layout: flags.dtwLayout,
          force: flags.force,
        };
      }
      const ctx = contextFor(cmd);
      const store = await ctx.openStore();
      const res = await runHarmonizeStage({ sources, rulesFile: flags.rules, out: flags.out, dropZeroDays: !flags.keepZeroDays, dtw }, { store, experimentName: ctx.globals.experimentName });
      ctx.print(
        {
          runId: res.runId,
          metrics: res.metrics,
          out: res.outputs.out,
          digest: res.outputs.digest,
          digestL2: res.outputs.digestL2,
          perSource: res.outputs.report.perSource,
          duplicateExamples: res.outputs.report.duplicateExamples,
          dtw: res.outputs.dtw ? { out: res.outputs.dtw.out, sidecar: res.outputs.dtw.sidecarPath } : undefined,
        },
        harmonizeSummary(res),
      );
    });
}
