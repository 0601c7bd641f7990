/**
 * Generated daily load profiles for the default test suite, so that it needs no dataset beside
 * the repository (the real datasets are for `npm run test:data`, see test/support/datasets.ts).
 *
 * Each day is one of a few household-like shapes — evening peak, daytime plateau, night load —
 * with its own level (×0.6–1.6), its peaks shifted by up to ±1 hour (what DTW's band absorbs) and
 * 4 % Gaussian noise. Values are Wh per hour, strictly positive, rounded to 3 decimals so that the
 * rows in memory are exactly what a profiles CSV written from them reads back. The same seed gives
 * the same rows on every machine (lpclust's own seeded generator, V8's deterministic Math).
 */
import { Random } from '../../src/util/random.js';

/** Hour labels 00:00 … 23:00 of a 60-minute profiles CSV. */
export const HOURLY_SLOTS: string[] = Array.from({ length: 24 }, (_, h) => `${String(h).padStart(2, '0')}:00`);

/** Shape c at hour h (fractional), before level and noise: Wh per hour. */
function shape(c: number, h: number): number {
  const bump = (centre: number, width: number, height: number): number => height * Math.exp(-(((h - centre) / width) ** 2));
  switch (c % 3) {
    case 0: // household: small morning peak, large evening peak
      return 300 + bump(7.5, 1.2, 500) + bump(19, 1.8, 1200);
    case 1: // daytime plateau (office, shop): high from 9 to 17
      return 250 + 900 / (1 + Math.exp(-(h - 8.5) * 3)) / (1 + Math.exp((h - 17.5) * 3));
    default: // night load (storage heating, pump): high until dawn
      return 200 + 1100 / (1 + Math.exp((h - 5.5) * 2.5)) + bump(21, 1.5, 300);
  }
}

/**
 * `n` generated days of 24 hourly values.
 * @param n number of days (rows).
 * @param seed seed of the generator.
 * @param shapes number of distinct shapes (1–3); day i has shape `i % shapes`, so classes are
 *   balanced: with n = 67 and 2 shapes, 34 days of shape 0 and 33 of shape 1.
 * @returns `rows[i]` = the 24 values of day i; `classes[i]` = its shape.
 */
export function syntheticDays(n: number, seed: number, shapes = 2): { rows: number[][]; classes: number[] } {
  if (!(shapes >= 1 && shapes <= 3)) throw new RangeError(`syntheticDays: 1 to 3 shapes, got ${shapes}`);
  const rnd = new Random(seed);
  const rows: number[][] = [];
  const classes: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % shapes;
    const level = 0.6 + rnd.next();
    const shift = 2 * rnd.next() - 1;
    const row: number[] = [];
    for (let h = 0; h < 24; h++) {
      const v = level * shape(c, h - shift) * (1 + 0.04 * rnd.normal());
      row.push(Math.max(1, Math.round(v * 1000) / 1000));
    }
    rows.push(row);
    classes.push(c);
  }
  return { rows, classes };
}
