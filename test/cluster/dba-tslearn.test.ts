/**
 * DBA k-means against tslearn's TimeSeriesKMeans(metric="dtw") itself, started from the same
 * explicit initial centres so that neither side's random generator matters. The reference run is
 * in test/fixtures/dtw/dba-kmeans.json (scripts/make-dtw-fixtures.py; the tslearn commit is in its
 * provenance); no Python runs here. Inputs are real SGSC household days (CC BY 3.0 AU, see
 * test/fixtures/README.md) through lpclust's own L2 normalisation, as the pipeline does, and
 * small integer series (exact ties in path costs and in nearest centres, so tie-breaking is
 * pinned too).
 *
 * Inertia: tslearn's `inertia_` is the mean squared DTW of the last assignment INSIDE its loop,
 * made before the last centre update (its `_post_fit` re-assigns the labels to the final centres
 * but puts the old inertia back). lpclust's `state.inertia` is the sum over the final labels to
 * the returned centres, so that inertia, labels and centres describe one and the same partition.
 * Hence: ours / n = the fixture's `inertia_final`, and ours with maxIter = n_iter − 1 (whose final
 * assignment IS tslearn's last in-loop assignment) / n = tslearn's `inertia_`.
 *
 * The reference run passes the band as metric_params={"sakoe_chiba_radius": r}. The spelling
 * {"global_constraint": "sakoe_chiba", ...} would make that tslearn commit band the assignment but
 * not the barycentre update (the string reaches an internal function expecting an integer code and
 * falls through to "no constraint"; the fixture's provenance.band_probe measures it). lpclust
 * bands both steps, which is what both spellings mean.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { DbaKMeans, type Rows } from '../../src/cluster/index.js';
import { normalizeRows } from '../../src/profiles/normalize.js';
import { LpclustError } from '../../src/errors.js';

/** One TimeSeriesKMeans fit from the case's initial centres. */
interface DbaRun {
  max_iter: number;
  labels: number[];
  /** k × L. */
  centres: number[][];
  /** tslearn `inertia_`: mean squared DTW at the last in-loop assignment. */
  inertia: number;
  /** Mean squared DTW of the final labels to the final centres. */
  inertia_final: number;
  n_iter: number;
  warnings: string[];
}

interface DbaCase {
  name: string;
  /** How `raw` becomes the clustered series (lpclust's normalizeRows). */
  normalization: 'l2' | 'none';
  n: number;
  length: number;
  /** n × L, before normalisation. */
  raw: number[][];
  input_first_row: number[];
  k: number;
  radius: number;
  tol: number;
  /** k × L, rows of the normalised series. */
  init_centres: number[][];
  runs: DbaRun[];
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/dtw/dba-kmeans.json', import.meta.url), 'utf8')) as {
  provenance: { tslearn: { commit: string } };
  cases: DbaCase[];
};

function rowsOf(c: DbaCase): Rows {
  const L = c.length;
  return { data: normalizeRows(Float64Array.from(c.raw.flat()), L, c.normalization), n: c.n, dim: L };
}

function fitLike(c: DbaCase, rows: Rows, maxIter: number): DbaKMeans {
  return new DbaKMeans({
    k: c.k,
    radius: c.radius,
    maxIter,
    tol: c.tol,
    maxIterBarycenter: 30,
    init: Float64Array.from(c.init_centres.flat()),
  }).fit(rows);
}

const relDiff = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), Number.MIN_VALUE);

describe(`DBA k-means equals tslearn TimeSeriesKMeans (${fixture.provenance.tslearn.commit.slice(0, 12)}) from the same initial centres`, () => {
  for (const [c, run] of fixture.cases.flatMap((c) => c.runs.map((run) => [c, run] as const))) {
    it(`${c.name} (n=${c.n}, L=${c.length}, k=${c.k}, radius ${c.radius}, max_iter ${run.max_iter}): labels, centres, n_iter, inertia`, () => {
      const rows = rowsOf(c);
      // The fixture's inputs are lpclust's normalised rows bit for bit.
      expect(Array.from(rows.data.subarray(0, c.length))).toEqual(c.input_first_row);
      expect(run.warnings).toEqual([]);
      const m = fitLike(c, rows, run.max_iter);
      const s = m.state!;
      expect(s.emptyReseeds).toBe(0);
      expect(Array.from(s.labels)).toEqual(run.labels);
      expect(s.nIter).toBe(run.n_iter);
      const want = run.centres.flat();
      let worst = 0;
      for (let t = 0; t < want.length; t++) worst = Math.max(worst, Math.abs(s.centres[t] - want[t]));
      expect(worst).toBeLessThanOrEqual(1e-9);
      expect(relDiff(s.inertia / c.n, run.inertia_final)).toBeLessThanOrEqual(1e-9);
      expect(Array.from(m.predict(rows))).toEqual(run.labels);
      console.log(
        `${c.name} max_iter ${run.max_iter}: n_iter ${s.nIter}, max |centre − tslearn| = ${worst.toExponential(2)}, ` +
          `inertia/n relative difference ${relDiff(s.inertia / c.n, run.inertia_final).toExponential(2)}`,
      );
    });
    it(`${c.name}, max_iter ${run.max_iter}: tslearn's inertia_ is the assignment before the last update`, () => {
      expect(run.n_iter).toBeGreaterThanOrEqual(2);
      const rows = rowsOf(c);
      const before = fitLike(c, rows, run.n_iter - 1).state!;
      expect(relDiff(before.inertia / c.n, run.inertia)).toBeLessThanOrEqual(1e-9);
    });
  }
  it('covers the household days (stopped by max_iter 3, and converged) and the integer series', () => {
    expect(fixture.cases.map((c) => [c.name, c.runs.map((r) => r.max_iter)])).toEqual([
      ['sgsc-households-48', [3, 20]],
      ['random-integers-12', [10]],
    ]);
  });
  it('covers a run stopped by max_iter, where tslearn inertia_ differs from the final partition', () => {
    expect(fixture.cases.some((c) => c.runs.some((r) => r.n_iter === r.max_iter && relDiff(r.inertia, r.inertia_final) > 1e-6))).toBe(true);
  });
});

describe('DbaKMeans init option', () => {
  const c = fixture.cases[0];
  const rows = rowsOf(c);
  it('runs once from the given centres whatever nInit and seed, and does not modify them', () => {
    const init = Float64Array.from(c.init_centres.flat());
    const copy = Float64Array.from(init);
    const a = new DbaKMeans({ k: c.k, radius: c.radius, maxIter: 3, init, nInit: 5, seed: 1 }).fit(rows).state!;
    expect(a.nIter).toBe(3);
    const b = new DbaKMeans({ k: c.k, radius: c.radius, maxIter: 3, init, seed: 2 }).fit(rows).state!;
    expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
    expect(Array.from(a.centres)).toEqual(Array.from(b.centres));
    expect(Array.from(init)).toEqual(Array.from(copy));
  });
  it('rejects centres of the wrong shape or with non-finite values (E_USAGE_INIT)', () => {
    const short = new Float64Array(c.k * c.length - 1);
    expect(() => new DbaKMeans({ k: c.k, init: short }).fit(rows)).toThrow(LpclustError);
    expect(() => new DbaKMeans({ k: c.k, init: short }).fit(rows)).toThrow(/initial centre values/);
    const bad = Float64Array.from(c.init_centres.flat());
    bad[5] = NaN;
    expect(() => new DbaKMeans({ k: c.k, init: bad }).fit(rows)).toThrow(/centre 1, slot 6 is NaN/);
  });
});
