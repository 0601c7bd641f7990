/**
 * The days window of `lpclust assign` and the day as an MLflow metric step and timestamp.
 */
import { usageError } from '../errors.js';
import { civilFromDays, DAY_MS, daysFromCivil, type ZoneMapper } from '../etl/time.js';

/** Inclusive window of local days, `YYYY-MM-DD`. */
export interface DayWindow {
  since: string;
  until: string;
}

/** Days since 1970-01-01 of a date `YYYY-MM-DD` (the metric step of that day). */
export function dayNumber(date: string): number {
  return daysFromCivil(Number(date.slice(0, 4)), Number(date.slice(5, 7)), Number(date.slice(8, 10)));
}

/** The date `YYYY-MM-DD` of a day number. */
export function dateOfDay(day: number): string {
  return civilFromDays(day);
}

/** The instant (ms UTC) of local midnight starting `date` in `zone`: the metric timestamp of that day. */
export function dayTimestamp(date: string, zone: ZoneMapper): number {
  return zone.localToUtc(dayNumber(date) * DAY_MS);
}

/** Yesterday's local date in `zone` at instant `nowMs`. */
export function yesterday(zone: ZoneMapper, nowMs: number): string {
  return dateOfDay(dayNumber(zone.localDate(nowMs)) - 1);
}

/** A checked calendar date `YYYY-MM-DD` given for `flag`. */
export function parseDay(raw: string, flag: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(raw) || dateOfDay(dayNumber(raw)) !== raw) {
    throw usageError('E_USAGE_VALUE', `Expected a date YYYY-MM-DD for \`${flag}\` but received \`${raw}\``);
  }
  return raw;
}

/**
 * The window of `--days N --until D` (N days ending at D) or `--since S --until D`; D defaults to
 * yesterday in `zone`, N to 1.
 * @throws LpclustError E_USAGE_OPTION for --days with --since, E_USAGE_VALUE for since after until
 */
export function resolveWindow(o: { days?: number; since?: string; until?: string }, zone: ZoneMapper, nowMs: number): DayWindow {
  if (o.days !== undefined && o.since !== undefined) throw usageError('E_USAGE_OPTION', 'Expected either `--days N` or `--since DAY`, not both (each with an optional `--until DAY`)');
  const until = o.until ?? yesterday(zone, nowMs);
  const since = o.since ?? dateOfDay(dayNumber(until) - ((o.days ?? 1) - 1));
  if (since > until) throw usageError('E_USAGE_VALUE', `Expected \`--since\` (${since}) on or before \`--until\` (${until})`);
  return { since, until };
}
