/**
 * The contract every registered model keeps (issue 13, as scikit-learn's and tslearn's estimator
 * checks): run over the model registry, so a new entry is checked without editing this file. For
 * every model × metric of METRICS — exact fit and the sampled (`--scale sampled`) fit:
 * - deterministic under a seed;
 * - labels in 0..k−1, k clusters, none empty, numbered by decreasing size;
 * - predict on the training days (through the model artifact) reproduces the labels, or — for the
 *   models whose registry entry says `agreement` — the agreement is reported, and the test prints it;
 * - the artifact round trip: written, read back, and predicting the same as before writing;
 * and for a metric the model does not have, the registry's refusal (E_USAGE_METRIC) from every
 * entry point.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Random } from '../../src/util/random.js';
import { dtwNaive } from '../../src/dtw/reference.js';
import { AssignPool } from '../../src/dtw/assign.js';
import { fitClustering, type ClusterFit } from '../../src/cluster/fit.js';
import { fitSampled } from '../../src/cluster/fit-sampled.js';
import { planScale } from '../../src/cluster/scale.js';
import { METRICS, MODEL_REGISTRY, sampledFloat32, type MetricName, type ModelEntry, unsupportedMetricError } from '../../src/cluster/registry.js';
import type { DistanceMatrix, RowValues, Rows } from '../../src/cluster/common.js';
import { buildModel, loadModelFile, saveModel } from '../../src/model/artifact.js';
import { Predictor, labelAgreement } from '../../src/model/predict.js';
import { isLpclustError } from '../../src/errors.js';

const L = 24;
const N = 72;
const K = 4;
const SEED = 7;

/**
 * Load-profile-like days: three archetypes (morning peak, evening peak, midday plateau), each
 * shifted by up to ±1 slot, with enough noise, and k = 4 clusters asked for, that the partition
 * depends on the initialisation (so a fit that ignores its seed is caught).
 */
function days(seed: number): Rows {
  const rng = new Random(seed);
  const bump = (t: number, at: number, width: number) => Math.exp(-((t - at) ** 2) / (2 * width * width));
  const shapes = [(t: number) => 0.2 + bump(t, 7, 1.5), (t: number) => 0.2 + bump(t, 19, 1.5), (t: number) => 0.3 + 0.8 * bump(t, 13, 3)];
  const data = new Float64Array(N * L);
  for (let i = 0; i < N; i++) {
    const shape = shapes[i % 3];
    const shift = (i % 5) - 2 === 0 ? 0 : Math.sign((i % 5) - 2);
    for (let t = 0; t < L; t++) data[i * L + t] = shape(t - shift) + 0.2 * rng.normal();
  }
  return { data, n: N, dim: L };
}

function dtwMatrix(rows: Rows, radius: number): DistanceMatrix {
  const { n, dim, data } = rows;
  const D = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++) {
      const v = dtwNaive(data.subarray(i * dim, (i + 1) * dim), data.subarray(j * dim, (j + 1) * dim), radius);
      D[i * n + j] = v;
      D[j * n + i] = v;
    }
  return { n, data: D };
}

const SLOTS = Array.from({ length: L }, (_, t) => `${String(t).padStart(2, '0')}:00`);
const rows = days(3);
const D = dtwMatrix(rows, 1);
const ids = Array.from({ length: N }, (_, i) => `m${i % 6}`);
const dates = Array.from({ length: N }, (_, i) => `2013-01-${String(1 + Math.floor(i / 6)).padStart(2, '0')}`);
let dir: string;
let pool: AssignPool;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lpclust-contract-'));
  pool = new AssignPool(rows.data, L, 1);
});
afterAll(async () => {
  await pool.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The labels are a partition into k non-empty clusters 0..k−1, numbered by decreasing size. */
function expectValidLabels(fit: ClusterFit, k: number): void {
  expect(fit.k).toBe(k);
  expect(fit.labels.length).toBe(N);
  const sizes = new Array<number>(k).fill(0);
  for (const l of fit.labels) {
    expect(Number.isInteger(l) && l >= 0 && l < k, `label ${l}`).toBe(true);
    sizes[l]++;
  }
  expect(sizes.every((s) => s > 0)).toBe(true);
  expect(Array.from(fit.sizes)).toEqual(sizes);
  for (let c = 1; c < k; c++) expect(sizes[c]).toBeLessThanOrEqual(sizes[c - 1]);
  expect(fit.centres.length).toBe(k * L);
}

/**
 * Predict on the training days through the artifact: exact models give back the labels; the
 * others' agreement is returned (and printed). The artifact is written, read back, and must
 * predict the same as the in-memory model.
 */
async function predictThroughArtifact(entry: ModelEntry, fit: ClusterFit, name: string, matrixPrecision?: 'float64', X: RowValues = rows.data): Promise<number> {
  const model = buildModel({ fit, slots: SLOTS, X, ids, dates, normalization: 'none', radius: 1, ...(matrixPrecision ? { matrixPrecision } : {}) });
  const before = new Predictor(model).predictNormalized(X);
  const out = path.join(dir, name);
  await saveModel(out, model);
  const back = loadModelFile(out);
  expect(back.model).toBe(entry.name);
  expect(back.params).toEqual(model.params);
  const after = new Predictor(back).predictNormalized(X);
  expect(Array.from(after.labels), `${name}: labels after the round trip`).toEqual(Array.from(before.labels));
  expect(Array.from(after.distance)).toEqual(Array.from(before.distance));
  const agreement = labelAgreement(after.labels, fit.labels);
  if (entry.predict.reproduces === 'exact') expect(Array.from(after.labels), `${name}: predict reproduces the fitted labels`).toEqual(Array.from(fit.labels));
  else {
    // Reported, as the run logs it (model/predict_agreement).
    console.log(`${name}: predict agrees with the fit on ${(100 * agreement).toFixed(1)} % of the training days (${entry.predict.because})`);
    expect(agreement).toBeGreaterThanOrEqual(0);
    expect(agreement).toBeLessThanOrEqual(1);
  }
  return agreement;
}

/** The registry's refusal, and nothing else, from `run`. */
function expectRefusal(run: () => unknown, model: ModelEntry, metric: MetricName): void {
  const want = unsupportedMetricError(model.name, metric);
  let caught: unknown;
  try {
    run();
  } catch (e) {
    caught = e;
  }
  expect(isLpclustError(caught) && caught.code).toBe('E_USAGE_METRIC');
  expect((caught as Error).message).toBe(want.message);
}

describe('profiles held in sampled mode', () => {
  it('are float32 for the DTW models with a sampled fit, float64 for Euclidean ones, k-means/SOM and mixed sweeps', () => {
    expect(sampledFloat32([{ model: 'kmedoids', metric: 'dtw' }])).toBe(true);
    expect(sampledFloat32([{ model: 'agglomerative', metric: 'dtw' }, { model: 'kmeans', metric: 'dtw' }])).toBe(true);
    expect(sampledFloat32([{ model: 'kmedoids', metric: 'euclidean' }])).toBe(false);
    expect(sampledFloat32([{ model: 'som', metric: 'euclidean' }])).toBe(false);
    expect(sampledFloat32([{ model: 'kmedoids', metric: 'dtw' }, { model: 'kmeans', metric: 'euclidean' }])).toBe(false);
  });
});

describe('model registry contract', () => {
  it('registers models, each with at least one metric and a message for every metric it lacks', () => {
    expect(MODEL_REGISTRY.length).toBeGreaterThan(0);
    for (const e of MODEL_REGISTRY) {
      expect(METRICS.some((m) => e.variants[m]), e.name).toBe(true);
      for (const m of METRICS) if (!e.variants[m]) expect(unsupportedMetricError(e.name, m).message).toContain(e.lacks?.[m] ?? `${e.name} has no ${m} variant`);
    }
  });

  for (const entry of MODEL_REGISTRY) {
    for (const metric of METRICS) {
      const v = entry.variants[metric];
      const name = `${entry.name} × ${metric}`;
      if (!v) {
        it(`${name}: refused with the registry's message (fit, sampled fit, scale plan)`, async () => {
          expectRefusal(() => fitClustering(rows, { model: entry.name, metric, k: K }, D), entry, metric);
          expectRefusal(() => planScale({ n: N, L, model: entry.name, metric, k: K, wantDtw: true, choice: 'auto', budget: 2 ** 30, budgetIsDefault: true, silhouetteSample: 100 }), entry, metric);
          await expect(fitSampled(rows, { model: entry.name, metric, k: K }, pool, { sampleSize: 40 })).rejects.toThrow(unsupportedMetricError(entry.name, metric).message);
        });
        continue;
      }
      it(`${name}: exact fit is deterministic, valid, predicts its labels (or reports agreement) and round-trips its artifact`, async () => {
        const spec = { model: entry.name, metric, k: K, seed: SEED, nInit: 1 };
        const a = fitClustering(rows, spec, metric === 'dtw' ? D : undefined);
        const b = fitClustering(rows, spec, metric === 'dtw' ? D : undefined);
        expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
        expect(Array.from(a.centres)).toEqual(Array.from(b.centres));
        expect(a.params).toEqual(b.params);
        expect(a.params.model).toBe(entry.name);
        expect(a.params.metric).toBe(metric);
        expectValidLabels(a, K);
        if (metric === 'dtw') expect(a.medoidRows?.length).toBe(K);
        // A variant that needs the DTW matrix says so instead of fitting without it.
        if (v.needsDtwMatrix) expect(() => fitClustering(rows, spec)).toThrow(/needs the DTW matrix/);
        await predictThroughArtifact(entry, a, `${entry.name}-${metric}-exact`, metric === 'dtw' ? 'float64' : undefined);
      });
      it(`${name}: sampled fit (--scale sampled) is deterministic, valid and predicts its labels (or reports agreement)`, async () => {
        const spec = { model: entry.name, metric, k: K, seed: SEED, nInit: 1 };
        const o = { sampleSize: 40 };
        // The rows as sampled mode holds them: float32 for the models with a sampled fit of their own.
        const f32 = sampledFloat32([spec]);
        const held: Rows<RowValues> = f32 ? { data: Float32Array.from(rows.data), n: rows.n, dim: rows.dim } : rows;
        const heldPool = f32 ? new AssignPool(held.data, L, 1) : pool;
        try {
          const a = await fitSampled(held, spec, heldPool, o);
          const b = await fitSampled(held, spec, heldPool, o);
          expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
          expect(Array.from(a.centres)).toEqual(Array.from(b.centres));
          expectValidLabels(a, K);
          // Float32 rows make the model's DTW precision float32 (buildModel), and predict assigns so.
          await predictThroughArtifact(entry, a, `${entry.name}-${metric}-sampled`, metric === 'dtw' && !f32 ? 'float64' : undefined, held.data);
        } finally {
          if (heldPool !== pool) await heldPool.close();
        }
      });
    }
  }
});
