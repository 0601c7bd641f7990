import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Random } from '../../src/util/random.js';
import { dtwNaive } from '../../src/dtw/reference.js';
import { adjustedRandIndex, daviesBouldin, euclideanDistanceMatrix, silhouetteEuclidean } from '../../src/validate/index.js';
import {
  Agglomerative,
  DbaKMeans,
  KMeans,
  KMedoids,
  Som,
  buildInit,
  assignEuclidean,
  euclideanMatrix,
  fitClustering,
  predictClusters,
  linkage,
  linkageFull,
  fullEuclidean,
  pdistEuclidean,
  condense,
  chooseK,
  type DistanceMatrix,
  type Rows,
} from '../../src/cluster/index.js';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/cluster/${name}`, import.meta.url), 'utf8'));

function rowsFrom(X: number[][]): Rows {
  const dim = X[0].length;
  return { data: Float64Array.from(X.flat()), n: X.length, dim };
}

function blobs(rng: Random, n: number, dim: number, k: number, spread: number): Rows {
  const c = Array.from({ length: k * dim }, () => rng.normal() * 3);
  const data = new Float64Array(n * dim);
  for (let i = 0; i < n; i++) {
    const j = i % k;
    for (let t = 0; t < dim; t++) data[i * dim + t] = c[j * dim + t] + rng.normal() * spread;
  }
  return { data, n, dim };
}

function dtwMatrix(rows: Rows, radius: number): DistanceMatrix {
  const { n, dim, data } = rows;
  const D = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++) {
      const v = dtwNaive(data.subarray(i * dim, i * dim + dim), data.subarray(j * dim, j * dim + dim), radius);
      D[i * n + j] = v;
      D[j * n + i] = v;
    }
  return { n, data: D };
}

/** Same partition up to label names. */
function samePartition(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  const ab = new Map<number, number>();
  const ba = new Map<number, number>();
  for (let i = 0; i < a.length; i++) {
    const x = ab.get(a[i]);
    const y = ba.get(b[i]);
    if (x === undefined && y === undefined) {
      ab.set(a[i], b[i]);
      ba.set(b[i], a[i]);
    } else if (x !== b[i] || y !== a[i]) return false;
  }
  return true;
}

describe('k-means against scikit-learn', () => {
  const { cases } = fixture('kmeans.json');
  for (const c of cases) {
    for (const init of ['random', 'k-means++'] as const) {
      if (!c[init]) continue;
      it(`${c.name}, init ${init}: inertia ≤ scikit-learn's`, () => {
        const rows = rowsFrom(c.X);
        const m = new KMeans({ k: c.k, init, nInit: 10, seed: 0 }).fit(rows);
        const ref = c[init].inertia;
        expect(m.state!.inertia).toBeLessThanOrEqual(ref * (1 + 1e-9));
        // Inertia as scikit-learn defines it, recomputed from labels and centres.
        const { dist2, labels } = assignEuclidean(rows, m.state!.centres, c.k);
        expect(Array.from(labels)).toEqual(Array.from(m.state!.labels));
        expect(dist2.reduce((s, v) => s + v, 0)).toBeCloseTo(m.state!.inertia, 9);
      });
    }
  }
  it('finds the seed-independent optimum of well-separated data', () => {
    const c = cases.find((x: { name: string }) => x.name.startsWith('separated'));
    const rows = rowsFrom(c.X);
    for (const seed of [0, 1, 2]) {
      const m = new KMeans({ k: c.k, seed }).fit(rows);
      expect(samePartition(m.state!.labels, c.truth)).toBe(true);
      expect(Math.abs(m.state!.inertia - c.random.inertia) / c.random.inertia).toBeLessThan(1e-9);
    }
  });
});

describe('agglomerative against SciPy linkage + fcluster(maxclust)', () => {
  const { cases } = fixture('linkage.json');
  for (const c of cases) {
    it(`${c.name} ${c.method}: linkage heights and every cut`, () => {
      const y = c.input === 'rows' ? pdistEuclidean(rowsFrom(c.X)) : condense({ n: c.D.length, data: Float64Array.from(c.D.flat()) });
      const n = y.n;
      const Z = linkage(y, c.method);
      const heights = Array.from({ length: n - 1 }, (_, r) => Z[r * 4 + 2]);
      const refHeights = c.Z.map((r: number[]) => r[2]);
      for (let r = 0; r < n - 1; r++) expect(Math.abs(heights[r] - refHeights[r])).toBeLessThanOrEqual(1e-12 * (1 + refHeights[r]));
      expect(Array.from({ length: n - 1 }, (_, r) => Z[r * 4 + 3])).toEqual(c.Z.map((r: number[]) => r[3]));
      // The full-matrix NN-chain (used up to 12,000 rows) gives the same linkage matrix.
      const full = c.input === 'rows' ? fullEuclidean(rowsFrom(c.X)) : Float64Array.from(c.D.flat());
      expect(Array.from(linkageFull(full, n, c.method))).toEqual(Array.from(Z));
      for (const [k, ref] of Object.entries(c.partitions)) {
        const m = new Agglomerative({ k: Number(k), linkage: c.method });
        if (c.input === 'rows') m.fitRows(rowsFrom(c.X));
        else m.fitMatrix({ n, data: Float64Array.from(c.D.flat()) });
        expect(samePartition(m.state!.labels, ref as number[]), `k=${k}`).toBe(true);
      }
    });
  }
});

describe('invariants', () => {
  const rng = new Random(7);
  const rows = blobs(rng, 150, 24, 4, 1.5);

  it('k-means and SOM: labels are the argmin to the centres and equal predict(X); same seed, same labels', () => {
    for (const init of ['random', 'k-means++'] as const) {
      const m = new KMeans({ k: 5, init, seed: 3 }).fit(rows);
      expect(Array.from(m.predict(rows))).toEqual(Array.from(m.state!.labels));
      expect(Array.from(new KMeans({ k: 5, init, seed: 3 }).fit(rows).state!.labels)).toEqual(Array.from(m.state!.labels));
    }
    const s = new Som({ k: 4, seed: 1 }).fit(rows);
    expect(Array.from(s.predict(rows))).toEqual(Array.from(s.state!.labels));
    expect(Array.from(new Som({ k: 4, seed: 1 }).fit(rows).state!.labels)).toEqual(Array.from(s.state!.labels));
  });

  it('DBA k-means: labels are the argmin DTW to the centres, predict(X) equals them, and every cluster is used', () => {
    const m = new DbaKMeans({ k: 4, nInit: 3, seed: 2 }).fit(rows);
    const st = m.state!;
    expect(Array.from(m.predict(rows))).toEqual(Array.from(st.labels));
    let inertia = 0;
    for (let i = 0; i < rows.n; i++) {
      const x = rows.data.subarray(i * 24, i * 24 + 24);
      const d = Array.from({ length: 4 }, (_, c) => dtwNaive(x, st.centres.subarray(c * 24, c * 24 + 24), 1));
      const best = d.indexOf(Math.min(...d));
      expect(st.labels[i]).toBe(best);
      inertia += d[best] ** 2;
    }
    expect(st.inertia).toBeCloseTo(inertia, 9);
    expect(new Set(st.labels).size).toBe(4);
  });

  it('k-medoids: FasterPAM and alternate give labels = argmin to the medoids; FasterPAM is never worse than BUILD', () => {
    const D = dtwMatrix(rows, 1);
    for (const method of ['fasterpam', 'alternate'] as const) {
      for (const init of ['random', 'k-medoids++', 'build'] as const) {
        const m = new KMedoids({ k: 4, method, init, seed: 5 }).fit(D);
        const st = m.state!;
        const toMed = new Float64Array(rows.n * 4);
        let total = 0;
        for (let i = 0; i < rows.n; i++) for (let c = 0; c < 4; c++) toMed[i * 4 + c] = D.data[i * rows.n + st.medoids[c]];
        expect(Array.from(m.predictFromDistances(toMed))).toEqual(Array.from(st.labels));
        for (let i = 0; i < rows.n; i++) total += toMed[i * 4 + st.labels[i]];
        expect(st.totalDeviation).toBeCloseTo(total, 9);
      }
    }
    // No single swap improves a FasterPAM result (it is a local optimum of PAM's swap neighbourhood).
    const st = new KMedoids({ k: 4, seed: 1 }).fit(D).state!;
    const cost = (med: number[]) => {
      let s = 0;
      for (let i = 0; i < rows.n; i++) s += Math.min(...med.map((m) => D.data[i * rows.n + m]));
      return s;
    };
    const base = cost(Array.from(st.medoids));
    for (let c = 0; c < 4; c++)
      for (let x = 0; x < rows.n; x += 7) {
        const med = Array.from(st.medoids);
        med[c] = x;
        expect(cost(med)).toBeGreaterThanOrEqual(base - 1e-9);
      }
  });

  it('BUILD (incremental gains) picks the medoids of the textbook definition', () => {
    const D = euclideanMatrix(blobs(new Random(4), 200, 6, 5, 2));
    const { n, data } = D;
    const med: number[] = [];
    const d1 = new Float64Array(n).fill(Infinity);
    for (let m = 0; m < 8; m++) {
      let bestGain = -Infinity;
      let bc = -1;
      for (let c = 0; c < n; c++) {
        if (med.includes(c)) continue;
        let g = 0;
        // First medoid: the smallest total distance (largest negative sum); later: the largest gain.
        for (let o = 0; o < n; o++) g += m === 0 ? -data[c * n + o] : Math.max(0, d1[o] - data[c * n + o]);
        if (g > bestGain) {
          bestGain = g;
          bc = c;
        }
      }
      med.push(bc);
      for (let o = 0; o < n; o++) d1[o] = Math.min(d1[o], data[bc * n + o]);
    }
    expect(Array.from(buildInit(D, 8))).toEqual(med);
  });

  it('duplicate rows: empty clusters are re-seeded, never a crash', () => {
    const data = new Float64Array(20 * 3);
    for (let i = 10; i < 20; i++) data.set([1, 2, 3], i * 3);
    const r: Rows = { data, n: 20, dim: 3 };
    for (const model of ['kmeans', 'kmedoids', 'som'] as const) {
      const fit = fitClustering(r, { model, metric: 'euclidean', k: 3, nInit: 2 });
      expect(fit.labels.length).toBe(20);
      expect(fit.sizes.reduce((s, v) => s + v, 0)).toBe(20);
    }
  });

  it('fitClustering numbers clusters by decreasing size, reports centres, medoids for DTW', () => {
    const small = blobs(new Random(3), 60, 24, 3, 0.8);
    const D = dtwMatrix(small, 1);
    for (const [model, metric] of [
      ['kmeans', 'euclidean'],
      ['kmeans', 'dtw'],
      ['kmedoids', 'dtw'],
      ['agglomerative', 'dtw'],
      ['agglomerative', 'euclidean'],
      ['som', 'euclidean'],
    ] as const) {
      const fit = fitClustering(small, { model, metric, k: 3, nInit: 2 }, D);
      for (let c = 1; c < fit.k; c++) expect(fit.sizes[c]).toBeLessThanOrEqual(fit.sizes[c - 1]);
      expect(fit.centres.length).toBe(fit.k * 24);
      if (metric === 'dtw') expect(fit.medoidRows!.length).toBe(fit.k);
      // Nearest-centre models: predict(X) under the model's metric gives back the fitted labels.
      if (model !== 'agglomerative') expect(Array.from(predictClusters(fit, small)), `${model}/${metric}`).toEqual(Array.from(fit.labels));
      expect(adjustedRandIndex(fit.labels, Int32Array.from({ length: 60 }, (_, i) => i % 3))).toBeGreaterThan(0.9);
    }
  });

  it('chooseK finds the number of well-separated blobs', async () => {
    const r = blobs(new Random(11), 120, 6, 4, 0.2);
    const seen: number[] = [];
    const res = await chooseK(r, { model: 'kmeans', metric: 'euclidean', nInit: 3 }, [2, 7], undefined, (s) => {
      seen.push(s.k);
    });
    expect(res.k).toBe(4);
    expect(seen).toEqual([2, 3, 4, 5, 6, 7]);
  });

  it('chooseK does not rank a k whose clustering has a cluster under --min-cluster-share: two groups plus two outlier days', async () => {
    // Two groups of 74 days and 2 outlier days: the silhouette is best at k = 3 (74, 74, 2), a
    // split in which one cluster is 1.3 % of the days.
    const rng = new Random(5);
    const dim = 6;
    const n = 150;
    const data = new Float64Array(n * dim);
    for (let i = 0; i < 148; i++) for (let t = 0; t < dim; t++) data[i * dim + t] = (i % 2 === 0 ? 1.5 : -1.5) * (t < 3 ? 1 : 0) + rng.normal() * 0.5;
    for (const i of [148, 149]) for (let t = 0; t < dim; t++) data[i * dim + t] = 8 + rng.normal() * 0.1;
    const rows = { data, n, dim };
    const spec = { model: 'kmeans', metric: 'euclidean', nInit: 3 } as const;
    const off = await chooseK(rows, spec, [2, 5], undefined, undefined, { minClusterShare: 0 });
    expect(Array.from(off.fit.sizes)).toEqual([74, 74, 2]);
    const on = await chooseK(rows, spec, [2, 5]);
    expect(on.k).toBe(2);
    expect(Array.from(on.fit.sizes)).toEqual([76, 74]);
    // Not chosen although it scores best, and the reason is given.
    const k3 = on.scores.find((s) => s.k === 3)!;
    expect(k3.value).toBeGreaterThan(on.scores[0].value);
    expect(k3.excluded).toBe('1 of 3 clusters under 2 % of the days (smallest 2 of 150, 1.3 %)');
    expect(on.scores[0].excluded).toBeUndefined();
    // Ranking by a lower-is-better score, among the eligible k only.
    const db = await chooseK(rows, spec, [2, 5], undefined, undefined, { select: { key: 'DB Index', better: 'lower', score: (f) => daviesBouldin(rows.data, dim, f.labels, f.k) } });
    const eligible = db.scores.filter((s) => !s.excluded);
    expect(db.better).toBe('lower');
    expect(db.scores.find((s) => s.k === db.k)!.value).toBe(Math.min(...eligible.map((s) => s.value)));
    await expect(chooseK(rows, spec, [3, 4], undefined, undefined, { minClusterShare: 0.4 })).rejects.toThrow(/no k in 3\.\.4 gives clusters that each hold at least 40\.0 % of the days/);
  });

  it('chooseK builds one agglomerative tree and one k-medoids matrix, and reads silhouettes from a given matrix: same scores as fitting every k alone', async () => {
    const r = blobs(new Random(12), 90, 8, 5, 0.6);
    const E = euclideanDistanceMatrix(r.data, r.dim);
    for (const spec of [{ model: 'agglomerative', metric: 'euclidean', linkage: 'average' }, { model: 'kmedoids', metric: 'euclidean', init: 'build' }] as const) {
      const res = await chooseK(r, spec, [2, 8]);
      const shared = await chooseK(r, spec, [2, 8], undefined, undefined, { euclidean: E });
      for (let k = 2; k <= 8; k++) {
        const alone = fitClustering(r, { ...spec, k });
        const s = silhouetteEuclidean(r.data, r.dim, alone.labels, alone.k).score;
        expect(res.scores[k - 2]).toMatchObject({ k, value: s, sizes: Array.from(alone.sizes) });
        expect(Math.abs(shared.scores[k - 2].value - s)).toBeLessThan(1e-15);
      }
      expect(shared.k).toBe(res.k);
      expect(Array.from(res.fit.labels)).toEqual(Array.from(fitClustering(r, { ...spec, k: res.k }).labels));
    }
    await expect(chooseK(r, { model: 'kmeans', metric: 'euclidean' }, [2, 3], undefined, undefined, { euclidean: new Float64Array(4) })).rejects.toThrow(/90 × 90/);
  });
});

describe('bad input', () => {
  const rows = blobs(new Random(1), 10, 4, 2, 1);
  it('refuses k < 2, k > rows, NaN and a wrong-size matrix with clear errors', () => {
    expect(() => fitClustering(rows, { model: 'kmeans', metric: 'euclidean', k: 1 })).toThrow(/k ≥ 2/);
    expect(() => fitClustering(rows, { model: 'kmeans', metric: 'euclidean', k: 11 })).toThrow(/k ≤ the number of rows \(10\)/);
    const bad = { ...rows, data: Float64Array.from(rows.data) };
    bad.data[5] = NaN;
    expect(() => fitClustering(bad, { model: 'som', metric: 'euclidean', k: 2 })).toThrow(/row 2, slot 2 is NaN/);
    expect(() => fitClustering(rows, { model: 'kmedoids', metric: 'dtw', k: 2 })).toThrow(/needs the DTW matrix/);
    expect(() => fitClustering(rows, { model: 'agglomerative', metric: 'dtw', k: 2, linkage: 'ward' }, euclideanMatrix(rows))).toThrow(/Ward/);
  });
});
