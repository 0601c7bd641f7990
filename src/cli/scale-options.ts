/**
 * The large-n options shared by `cluster`, `pipeline`, `sweep` and `validate`: `--scale`,
 * `--memory-budget` and `--sample-size` (see cluster/scale.ts). Parsing only: no heavy import.
 */
import type { Command } from 'commander';
import { usageError } from '../errors.js';
import { parseMemoryBudget, SCALES, type ScaleChoice } from '../cluster/scale-choice.js';

/** Help texts, one place for every command. */
export const SCALE_HELP = {
  scale: `exact (n × n matrices) | sampled (nothing n × n: FasterCLARA k-medoids, agglomerative on a sample, silhouettes on a stratified sample) | auto: exact while the matrices fit --memory-budget and n ≤ 100,000`,
  memoryBudget: 'memory for the large arrays (exact: the n × n matrices; sampled: the samples), e.g. 8G or 512M (default: half the free memory)',
  sampleSize: "sampled k-medoids and agglomerative: profiles per sample (default 80 + 4k, raised to 2,000 when the budget allows); with -k 0 or a sweep, one size for every k, the largest k's, so that every k shares the first sample and its matrix",
} as const;

/** Add the three options to a command. */
export function addScaleOptions(cmd: Command): Command {
  return cmd.option('--scale <mode>', SCALE_HELP.scale, 'auto').option('--memory-budget <size>', SCALE_HELP.memoryBudget).option('--sample-size <n>', SCALE_HELP.sampleSize);
}

/** Parse `--scale`. */
export function parseScale(raw: unknown, flag = '--scale'): ScaleChoice {
  const v = String(raw);
  if (!(SCALES as readonly string[]).includes(v)) throw usageError('E_USAGE_VALUE', `Expected ${SCALES.join('|')} for \`${flag}\` but received \`${v}\``);
  return v as ScaleChoice;
}

/** Parse `--sample-size`: an integer ≥ 2 (checked against n and k once the data is read). */
export function parseSampleSize(raw: unknown, flag = '--sample-size'): number {
  const v = Number(raw);
  if (String(raw).trim() === '' || !Number.isInteger(v) || v < 2) throw usageError('E_USAGE_VALUE', `Expected an integer ≥ 2 for \`${flag}\` but received \`${String(raw)}\``);
  return v;
}

/** The parsed options, ready to spread into a stage's options. */
export function scaleFlags(flags: { scale?: string; memoryBudget?: string; sampleSize?: string }): { scale: ScaleChoice; memoryBudget?: number; sampleSize?: number } {
  return {
    scale: parseScale(flags.scale ?? 'auto'),
    ...(flags.memoryBudget !== undefined ? { memoryBudget: parseMemoryBudget(flags.memoryBudget) } : {}),
    ...(flags.sampleSize !== undefined ? { sampleSize: parseSampleSize(flags.sampleSize) } : {}),
  };
}
