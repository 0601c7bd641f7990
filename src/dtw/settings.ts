/**
 * PLACEHOLDER of branch `optable` for the interface agreed with branch `dtwset` (issue 13 item 3):
 * `dtwset` owns this file; on merge its version replaces this one entirely. Only what the CLI's
 * option table uses is here.
 */
import { usageError } from '../errors.js';

/** The default Sakoe–Chiba radius, in slots (the old pipeline's dtaidistance window=2). */
export const DEFAULT_RADIUS = 1;

/** A radius: an integer ≥ 0, or Infinity for no band. */
export type DtwRadius = number;

/** Parse a radius: a decimal integer ≥ 0 or `none`; `0x10`, `1e1`, `1.0`, `-1` are refused. */
export function parseRadius(raw: string, optionName: string): DtwRadius {
  if (raw === 'none') return Number.POSITIVE_INFINITY;
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
    throw usageError('E_USAGE_VALUE', `Expected a non-negative integer for \`${optionName}\` but received \`${raw}\``, { hint: 'a band radius in slots (0, 1, 2...), or none for full DTW' });
  }
  return Number(raw);
}
