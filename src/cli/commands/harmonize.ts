/**
 * `lpclust harmonize`: join the clean profiles CSVs of the sources into one harmonized CSV, as a
 * tracked run `harmonization`; optionally compute the DTW matrix of the result.
 */
import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import { HARMONIZE_SOURCES, type HarmonizeSource } from '../../harmonize/harmonize.js';
import { PRECEDENCE } from '../../etl/sources.js';
import type { HarmonizeDtwOptions } from '../../pipeline/harmonize.js';
import { capWorkers, contextFor } from '../context.js';
import { addOptions, isSet, resolvedOptions } from '../options.js';

/** The options of `lpclust harmonize`, parsed (src/cli/options.ts). */
interface HarmonizeFlags extends Partial<Record<HarmonizeSource, string>> {
  rules?: string;
  out: string;
  computeDtw?: boolean;
  dropZeroDays: boolean;
  keepZeroDays?: boolean;
  dtwOut?: string;
  dtwLayout: 'full' | 'condensed';
  radius: number;
  workers?: number;
  dtype: 'float32' | 'float64';
  force?: boolean;
}

/** Register `lpclust harmonize`. */
export function register(program: Command): void {
  const cmd = program
    .command('harmonize')
    .description('join clean profiles CSVs of the sources into one harmonized CSV (resolution check, excluded meters, incomplete rows, duplicates) as a tracked run');
  // The sources' flags come from the source registry (etl/sources.ts), through the option table.
  addOptions(cmd, 'harmonize')
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
      // Given (flag, environment, config), not defaulted: the source says so, not the value.
      if (flags.keepZeroDays && flags.dropZeroDays && isSet(cmd, 'dropZeroDays')) {
        throw usageError('E_USAGE_OPTION', '`--keep-zero-days` and `--drop-zero-days` contradict each other; give one (dropping is the default)');
      }
      // Only flags count: an environment variable or config key meant for other commands does not.
      const given = (name: string): boolean => resolvedOptions(cmd)[name]?.source === 'flag';
      const dtwFlagsUsed = ['dtwOut', 'dtwLayout', 'radius', 'workers', 'dtype', 'force'].some(given);
      if (dtwFlagsUsed && !flags.computeDtw) {
        throw usageError('E_USAGE_OPTION', '`--dtw-out`, `--dtw-layout`, `--radius`, `--workers`, `--dtype` and `--force` only apply with `--compute-dtw`');
      }
      let dtw: HarmonizeDtwOptions | undefined;
      if (flags.computeDtw) {
        dtw = {
          out: flags.dtwOut,
          radius: flags.radius,
          workers: capWorkers(flags.workers, resolvedOptions(cmd).workers?.from),
          dtype: flags.dtype,
          layout: flags.dtwLayout,
          force: flags.force,
        };
      }
      const ctx = contextFor(cmd);
      const store = await ctx.openStore();
      const res = await runHarmonizeStage({ sources, rulesFile: flags.rules, out: flags.out, dropZeroDays: !flags.keepZeroDays && flags.dropZeroDays, dtw }, { store, experimentName: ctx.globals.experimentName });
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
