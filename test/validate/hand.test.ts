/**
 * Tiny hand-checkable cases, invariants and refusals of the validation metrics.
 */
import { describe, expect, it } from 'vitest';
import {
  adjustedRandIndex,
  calinskiHarabasz,
  computeValidation,
  daviesBouldin,
  distinctiveness,
  findPeaks,
  inertia,
  peakScores,
  euclideanDistanceMatrix,
  silhouetteEuclidean,
  silhouettePrecomputed,
  widenPeaks,
} from '../../src/validate/index.js';
import { Random } from '../../src/util/random.js';

describe('hand-checked indices', () => {
  // Four points on a line: {0, 1} and {10, 11}.
  const X = Float64Array.from([0, 1, 10, 11]);
  const y = [0, 0, 1, 1];
  it('silhouette: a = 1, b = mean distance to the other pair', () => {
    const r = silhouetteEuclidean(X, 1, y);
    // point 0: a = 1, b = (10 + 11)/2 = 10.5 → 9.5/10.5
    expect(r.samples[0]).toBeCloseTo(9.5 / 10.5, 15);
    // point 1: a = 1, b = (9 + 10)/2 = 9.5 → 8.5/9.5
    expect(r.samples[1]).toBeCloseTo(8.5 / 9.5, 15);
    expect(r.score).toBeCloseTo((9.5 / 10.5 + 8.5 / 9.5) * 0.5, 15);
  });
  it('Davies–Bouldin: (0.5 + 0.5) / 10', () => {
    expect(daviesBouldin(X, 1, y)).toBeCloseTo(0.1, 15);
  });
  it('Calinski–Harabasz: between 4·25 = 100 over (k − 1) = 1, within 1 over (n − k) = 2', () => {
    expect(calinskiHarabasz(X, 1, y)).toBeCloseTo(200, 12);
  });
  it('inertia: per-cluster means by default, given centres otherwise', () => {
    expect(inertia(X, 1, y)).toBeCloseTo(1, 15);
    expect(inertia(X, 1, y, Float64Array.from([0, 11]))).toBe(1 + 1);
  });
  it('precomputed equals Euclidean on the Euclidean distance matrix (odd n, several tiles)', () => {
    const rnd = new Random(3);
    const n = 157;
    const L = 7;
    const P = Float64Array.from({ length: n * L }, () => rnd.normal());
    const labels = Int32Array.from({ length: n }, () => rnd.int(4));
    const D = new Float64Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let t = 0; t < L; t++) s += (P[i * L + t] - P[j * L + t]) ** 2;
        D[i * n + j] = Math.sqrt(s);
      }
    const a = silhouetteEuclidean(P, L, labels);
    const b = silhouettePrecomputed(D, n, labels);
    for (let i = 0; i < n; i++) expect(Math.abs(a.samples[i] - b.samples[i])).toBeLessThan(1e-13);
  });
  it('euclideanDistanceMatrix holds the exact pairwise distances (both triangles) and scores the same silhouette', () => {
    const rnd = new Random(5);
    const n = 203; // several 64-row tiles and a ragged last one
    const L = 24;
    const P = Float64Array.from({ length: n * L }, () => rnd.normal());
    const E = euclideanDistanceMatrix(P, L);
    expect(E).toHaveLength(n * n);
    for (let i = 0; i < n; i++) {
      expect(E[i * n + i]).toBe(0);
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let t = 0; t < L; t++) {
          const e = P[i * L + t] - P[j * L + t];
          s += e * e;
        }
        // Bit for bit: the silhouette's own tile kernels compute these same sums in slot order.
        expect(E[i * n + j]).toBe(Math.sqrt(s));
        expect(E[i * n + j]).toBe(E[j * n + i]);
      }
    }
    for (const k of [2, 5, 9]) {
      const labels = Int32Array.from({ length: n }, () => rnd.int(k));
      const a = silhouetteEuclidean(P, L, labels, k);
      const b = silhouettePrecomputed(E, n, labels, k);
      expect(Math.abs(a.score - b.score)).toBeLessThan(1e-15);
      for (let i = 0; i < n; i++) expect(Math.abs(a.samples[i] - b.samples[i])).toBeLessThan(1e-14);
    }
  });
  it('refuses one cluster, n clusters, wrong sizes and a non-zero diagonal', () => {
    expect(() => silhouetteEuclidean(X, 1, [0, 0, 0, 0])).toThrow(/between 2 and n − 1/);
    expect(() => daviesBouldin(X, 1, [0, 1, 2, 3])).toThrow(/between 2 and n − 1 = 3 non-empty clusters but the labels have 4/);
    expect(() => calinskiHarabasz(X, 1, [0, 1, 1])).toThrow(/Expected 4 labels but received 3/);
    expect(() => silhouetteEuclidean(X, 1, [0, -1, 1, 1])).toThrow(/label in 0\.\.1 for sample 1 but found -1/);
    expect(() => silhouettePrecomputed(new Float64Array(9), 4, y)).toThrow(/4 × 4 distance matrix/);
    const D = new Float64Array(16).fill(1);
    expect(() => silhouettePrecomputed(D, 4, y)).toThrow(/zero diagonal but entry \(0, 0\) is 1/);
    const E = new Float32Array(16).fill(1);
    for (let i = 0; i < 4; i++) E[i * 5] = 0;
    E[2 * 4 + 3] = NaN;
    expect(() => silhouettePrecomputed(E, 4, y)).toThrow(/finite distances but entry \(2, 3\) of the matrix is NaN/);
    expect(() => silhouetteEuclidean(Float64Array.from([0, Infinity, 10, 11]), 1, y)).toThrow(/profile 2, slot 1 is Infinity/);
    expect(() => daviesBouldin(Float64Array.from([0, 1, NaN, 11]), 1, y)).toThrow(/profile 3, slot 1 is NaN/);
  });
});

describe('find_peaks by hand', () => {
  it('flat top counts once at its middle, rounded down; edges are never peaks', () => {
    expect(Array.from(findPeaks([0, 1, 1, 0]).positions)).toEqual([1]);
    expect(Array.from(findPeaks([0, 1, 1, 1, 0]).positions)).toEqual([2]);
    expect(Array.from(findPeaks([3, 1, 2, 1, 3]).positions)).toEqual([2]);
    expect(Array.from(findPeaks([0, 1, 1]).positions)).toEqual([]);
  });
  it('prominence exactly 0.2 counts, 0.19999999999999998 does not', () => {
    expect(Array.from(findPeaks([0, 0.2, 0], 0.2).positions)).toEqual([1]);
    expect(Array.from(findPeaks([0.1, 0.3, 0.1], 0.2).positions)).toEqual([]);
  });
  it('prominence is the height above the higher of the two lowest points before a higher sample', () => {
    // peak 1 (value 3): left min 0, right walk stops at the 4 with min 1 → 3 − 1 = 2
    // peak 3 (value 2): left walk stops at the 3 with min 1; right min 1 → 1
    // peak 5 (value 4): left min 0, right min 0 → 4
    const r = findPeaks([0, 3, 1, 2, 1, 4, 0]);
    expect(Array.from(r.positions)).toEqual([1, 3, 5]);
    expect(Array.from(r.prominences)).toEqual([2, 1, 4]);
  });
  it('widening a peak covers its neighbours, clipped at the ends', () => {
    expect(Array.from(widenPeaks(Uint8Array.from([1, 0, 0, 0, 1, 0])))).toEqual([1, 1, 0, 1, 1, 1]);
  });
  it('refuses NaN', () => {
    expect(() => findPeaks([0, NaN, 0])).toThrow(/sample 1 is NaN/);
  });
});

describe('peak scores by hand', () => {
  // L = 7. Centre 0 has one prominent peak at slot 2; centre 1 is flat (no peak).
  const L = 7;
  const centres = Float64Array.from([0, 0, 1, 0, 0, 0, 0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]);
  it('profile peaking with its centre scores 1, a neighbouring peak scores only when relaxed', () => {
    const X = Float64Array.from([
      0, 0, 1, 0, 0, 0, 0, // peak at 2: matches
      0, 0, 0, 1, 0, 0, 0, // peak at 3: relaxed match only
    ]);
    const s = peakScores(X, L, [0, 0], centres);
    expect(s['Peak Match Score']).toBe(0.5);
    expect(s['Pr Peak Detection']).toBe(0.5);
    expect(s['Pr Peak Overdetection']).toBe(0.5);
    expect(s['Pr Peak Performance']).toBe(0.5);
    expect(s['Rel Pr P Detection']).toBe(1);
    expect(s['Rel Pr P Overdetection']).toBe(0);
    expect(s['Rel Pr P Performance']).toBe(1);
  });
  it('no peaks on either side scores 1 for match and performance; profiles without peaks are left out of detection', () => {
    const X = Float64Array.from([
      1, 1, 1, 1, 1, 1, 1, // flat, centre 1 flat → match 1, performance 1
      0, 0.5, 0, 0, 0.1, 0, 0, // prominent peak at 1 (0.5), small one at 4 (0.1): vs flat centre
    ]);
    const s = peakScores(X, L, [1, 1], centres);
    expect(s['Peak Match Score']).toBe(0.5); // 1 and 0/2
    expect(s['Pr Peak Performance']).toBe(0.5); // 1 and 0/max(1, 0)
    expect(s['Pr Peak Detection']).toBe(0); // only the second counts: 0/1
    expect(s['Pr Peak Overdetection']).toBe(0); // centre without peaks: no term
  });
  it('a profile without peaks under a peaked centre: match 0, overdetection 1', () => {
    const s = peakScores(Float64Array.from([1, 1, 1, 1, 1, 1, 1]), L, [0], centres);
    expect(s['Peak Match Score']).toBe(0);
    expect(s['Pr Peak Overdetection']).toBe(1);
    expect(s['Pr Peak Performance']).toBe(0);
  });
  it('distinctiveness: a one-slot shift is forgiven, a two-slot shift is not', () => {
    const c = (p: number): number[] => Array.from({ length: 10 }, (_, t) => (t === p ? 1 : 0));
    expect(distinctiveness(Float64Array.from([...c(3), ...c(4)]), 10)).toBe(0);
    expect(distinctiveness(Float64Array.from([...c(3), ...c(5)]), 10)).toBe(0.2);
    // three centres: pairs (3,4) = 0, (3,6) = 0.2, (4,6) = 0.2 (6 is two slots from 4) → 0.4/3
    expect(distinctiveness(Float64Array.from([...c(3), ...c(4), ...c(6)]), 10)).toBeCloseTo(0.4 / 3, 15);
  });
});

describe('adjusted Rand index by hand', () => {
  it('is 1 for the same partition under other names and symmetric', () => {
    expect(adjustedRandIndex([0, 0, 1, 1], [1, 1, 0, 0])).toBe(1);
    const a = [0, 0, 0, 1, 1, 2, 2, 2];
    const b = [1, 1, 0, 0, 2, 2, 2, 2];
    expect(adjustedRandIndex(a, b)).toBe(adjustedRandIndex(b, a));
  });
  it('is negative for an anti-correlated split', () => {
    expect(adjustedRandIndex([0, 0, 1, 1], [0, 1, 0, 1])).toBe(-0.5);
  });
});

describe('computeValidation', () => {
  const rnd = new Random(11);
  const n = 90;
  const L = 24;
  const X = new Float64Array(n * L);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 3;
    let ss = 0;
    for (let t = 0; t < L; t++) {
      const v = Math.exp(-((t - 6 * (labels[i] + 1)) ** 2) / 3) + 0.1 + 0.05 * Math.abs(rnd.normal());
      X[i * L + t] = v;
      ss += v * v;
    }
    for (let t = 0; t < L; t++) X[i * L + t] /= Math.sqrt(ss);
  }
  it('returns every metric by its logged name, and Silhouette DTW only with a matrix', () => {
    const r = computeValidation({ X, L, labels, k: 3 });
    expect(Object.keys(r.metrics).sort()).toEqual(
      [
        'DB Index', 'Silhouette Score', 'Calinski-Harabasz', 'Inertia', 'Peak Match Score', 'Pr Peak Detection',
        'Pr Peak Overdetection', 'Pr Peak Performance', 'Rel Pr P Performance', 'Rel Pr P Detection',
        'Rel Pr P Overdetection', 'Distinctiveness',
      ].sort(),
    );
    expect(r.clusterSizes).toEqual([30, 30, 30]);
    expect(r.metrics['Silhouette Score']).toBeGreaterThan(0.5);
    expect(r.metrics['Pr Peak Performance']).toBe(1);
    expect(r.metrics.Distinctiveness).toBeGreaterThan(0);
    const D = new Float32Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) D[i * n + j] = i === j ? 0 : labels[i] === labels[j] ? 1 : 2;
    const d = computeValidation({ X, L, labels, k: 3, dtw: { matrix: D } });
    expect(d.metrics['Silhouette DTW']).toBeCloseTo(0.5, 12);
    expect(d.silhouetteDtwSamples).toHaveLength(n);
  });
  it('reads Silhouette Score from a given Euclidean matrix: same value, every other metric identical', () => {
    const plain = computeValidation({ X, L, labels, k: 3 });
    const shared = computeValidation({ X, L, labels, k: 3, euclidean: { matrix: euclideanDistanceMatrix(X, L) } });
    expect(Math.abs(shared.metrics['Silhouette Score'] - plain.metrics['Silhouette Score'])).toBeLessThan(1e-15);
    const { 'Silhouette Score': _a, ...rest } = plain.metrics;
    const { 'Silhouette Score': _b, ...restShared } = shared.metrics;
    expect(restShared).toEqual(rest);
    // The matrix really is what is read: a different matrix gives a different score.
    const scaled = euclideanDistanceMatrix(X, L).map((v, i) => (Math.floor(i / n) % 3 === 0 ? v * 3 : v));
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) scaled[i * n + j] = scaled[j * n + i];
    expect(computeValidation({ X, L, labels, k: 3, euclidean: { matrix: scaled } }).metrics['Silhouette Score']).not.toBeCloseTo(plain.metrics['Silhouette Score'], 3);
    expect(() => computeValidation({ X, L, labels, k: 3, euclidean: { matrix: new Float64Array(4) } })).toThrow(/90 × 90 Euclidean distance matrix/);
  });
  it('refuses NaN, wrong centres and a wrong matrix size', () => {
    const bad = X.slice();
    bad[5 * L + 3] = NaN;
    expect(() => computeValidation({ X: bad, L, labels, k: 3 })).toThrow(/profile 6, slot 4 is NaN/);
    expect(() => computeValidation({ X, L, labels, k: 3, centres: new Float64Array(5) })).toThrow(/3 × 24 centres/);
    expect(() => computeValidation({ X, L, labels, k: 3, dtw: { matrix: new Float32Array(4) } })).toThrow(/90 × 90 DTW matrix/);
  });
});
