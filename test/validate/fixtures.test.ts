/**
 * Agreement with scikit-learn / SciPy on the committed fixtures (scripts/make-fixtures.py).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  adjustedRandIndex,
  calinskiHarabasz,
  daviesBouldin,
  distinctiveness,
  findPeaks,
  peakScores,
  silhouetteEuclidean,
  silhouettePrecomputed,
} from '../../src/validate/index.js';

function fixture<T>(name: string): { provenance: Record<string, unknown>; cases: T[] } {
  return JSON.parse(readFileSync(new URL(`../fixtures/validate/${name}`, import.meta.url), 'utf8'));
}

/** |a − b| ≤ tol · max(|b|, floor). */
function expectClose(a: number, b: number, tol = 1e-12, floor = 1e-300): void {
  const err = Math.abs(a - b);
  if (!(err <= tol * Math.max(Math.abs(b), floor))) {
    expect.fail(`expected ${a} to equal ${b} within ${tol} relative (error ${err})`);
  }
}

interface IndexCase {
  name: string;
  X: number[][];
  L: number;
  labels: number[];
  silhouette_score: number;
  silhouette_samples: number[];
  calinski_harabasz: number;
  davies_bouldin?: number;
}

describe('indices against scikit-learn', () => {
  const fx = fixture<IndexCase>('indices.json');
  it('has provenance', () => {
    expect(fx.provenance.sklearn).toMatch(/^\d/);
    expect(fx.provenance.seed).toBeTypeOf('number');
  });
  for (const c of fx.cases) {
    const X = Float64Array.from(c.X.flat());
    const labels = Int32Array.from(c.labels);
    it(`${c.name}: Euclidean silhouette score and samples to 1e-12`, () => {
      const r = silhouetteEuclidean(X, c.L, labels);
      expectClose(r.score, c.silhouette_score);
      c.silhouette_samples.forEach((s, i) => expectClose(r.samples[i], s, 1e-12, 1));
    });
    it(`${c.name}: Calinski–Harabasz to 1e-12`, () => {
      expectClose(calinskiHarabasz(X, c.L, labels), c.calinski_harabasz);
    });
    if (c.davies_bouldin !== undefined) {
      const db = c.davies_bouldin;
      it(`${c.name}: Davies–Bouldin to 1e-12`, () => {
        expectClose(daviesBouldin(X, c.L, labels), db);
      });
    }
  }
  it('singleton cluster: silhouette of the lone sample is 0', () => {
    const c = fx.cases.find((x) => x.name.startsWith('singleton'))!;
    const r = silhouetteEuclidean(Float64Array.from(c.X.flat()), c.L, c.labels);
    expect(r.samples[7]).toBe(0);
    expect(c.silhouette_samples[7]).toBe(0);
  });
});

interface PrecomputedCase {
  name: string;
  dtype: 'float32' | 'float64';
  D: number[][];
  n: number;
  labels: number[];
  silhouette_score: number;
  silhouette_samples: number[];
}

describe('silhouette on a precomputed matrix against scikit-learn', () => {
  for (const c of fixture<PrecomputedCase>('precomputed.json').cases) {
    it(`${c.name} (${c.dtype})`, () => {
      const D = c.dtype === 'float32' ? Float32Array.from(c.D.flat()) : Float64Array.from(c.D.flat());
      const r = silhouettePrecomputed(D, c.n, Int32Array.from(c.labels));
      // scikit-learn accumulates a float32 matrix's sums in float32; we keep float64.
      const tol = c.dtype === 'float32' ? 1e-6 : 1e-12;
      expectClose(r.score, c.silhouette_score, tol);
      c.silhouette_samples.forEach((s, i) => expectClose(r.samples[i], s, tol, 1));
    });
  }
});

describe('adjusted Rand index against scikit-learn', () => {
  for (const c of fixture<{ name: string; a: number[]; b: number[]; ari: number }>('ari.json').cases) {
    it(c.name, () => expectClose(adjustedRandIndex(c.a, c.b), c.ari, 1e-12, 1e-15));
  }
});

interface PeakCase {
  name: string;
  x: number[];
  peaks: number[];
  prominences: number[];
  prominent_peaks: number[];
  prominent_prominences: number[];
}

describe('find_peaks against SciPy', () => {
  for (const c of fixture<PeakCase>('peaks.json').cases) {
    it(c.name, () => {
      const all = findPeaks(c.x);
      expect(Array.from(all.positions)).toEqual(c.peaks);
      expect(Array.from(all.prominences)).toEqual(c.prominences);
      const pr = findPeaks(c.x, 0.2);
      expect(Array.from(pr.positions)).toEqual(c.prominent_peaks);
      expect(Array.from(pr.prominences)).toEqual(c.prominent_prominences);
    });
  }
});

interface ScoreCase {
  name: string;
  X: number[][];
  L: number;
  labels: number[];
  centres: number[][];
  scores: Record<string, number>;
  distinctiveness: number;
}

describe('peak scores against a SciPy-based reference of the definitions', () => {
  for (const c of fixture<ScoreCase>('peak-scores.json').cases) {
    it(c.name, () => {
      const centres = Float64Array.from(c.centres.flat());
      const s = peakScores(Float64Array.from(c.X.flat()), c.L, c.labels, centres) as unknown as Record<string, number>;
      for (const [k, v] of Object.entries(c.scores)) expectClose(s[k], v, 1e-12, 1);
      expectClose(distinctiveness(centres, c.L), c.distinctiveness, 1e-12, 1);
    });
  }
});
