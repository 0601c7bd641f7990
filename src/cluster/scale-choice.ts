/**
 * The values of `--scale` and `--memory-budget` and their parsing, apart from the planning
 * (scale.ts) so that the CLI can parse options without loading the clustering code.
 */
import { usageError } from '../errors.js';

/** `--scale` values. */
export type ScaleChoice = 'exact' | 'sampled' | 'auto';
/** All of them, for option parsing. */
export const SCALES: readonly ScaleChoice[] = ['exact', 'sampled', 'auto'];

/** `1.5 GB`, `820 MB`, `12 kB` (decimal units, as `free -h --si` and the issue speak). */
export function formatBytes(b: number): string {
  if (b >= 1e12) return `${(b / 1e12).toFixed(1)} TB`;
  if (b >= 1e9) return `${(b / 1e9).toFixed(1)} GB`;
  if (b >= 1e6) return `${(b / 1e6).toFixed(0)} MB`;
  if (b >= 1e3) return `${(b / 1e3).toFixed(0)} kB`;
  return `${b} B`;
}

/**
 * Parse `--memory-budget`: bytes, or a number with a unit K/M/G/T (optionally followed by B or iB;
 * K/M/G/T are powers of 1000, Ki/Mi/Gi/Ti of 1024).
 * @throws LpclustError E_USAGE_VALUE
 */
export function parseMemoryBudget(raw: string, flag = '--memory-budget'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:([kmgt])(i)?b?|b)?\s*$/i.exec(raw);
  if (!m) throw usageError('E_USAGE_VALUE', `Expected a size such as 4G, 512M or 2000000000 for \`${flag}\` but received \`${raw}\``);
  const unit = m[2] ? 'kmgt'.indexOf(m[2].toLowerCase()) + 1 : 0;
  const bytes = Math.floor(Number(m[1]) * (m[3] ? 1024 : 1000) ** unit);
  if (!(bytes > 0)) throw usageError('E_USAGE_VALUE', `Expected a positive size for \`${flag}\` but received \`${raw}\``);
  return bytes;
}

