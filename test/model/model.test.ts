/**
 * The model artifact and predict on 67 generated days of three shapes (test/support/synthetic.ts,
 * written as an hourly profiles CSV): round trip for every model × metric, predict on the
 * training rows = fitted labels (k-means, DTW k-means, k-medoids), agreement for agglomerative
 * and SOM, input mismatch errors, and loading through runs:/<run-id>/model from a FileStore.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { syntheticDays } from '../support/synthetic.js';
import { fitClustering, type ClusterSpec } from '../../src/cluster/fit.js';
import { computeDtwMatrix, loadDtwMatrix } from '../../src/dtw/matrix.js';
import { normalizeRows } from '../../src/profiles/normalize.js';
import { readProfiles, type ProfileTable } from '../../src/io/profiles.js';
import { loadModelFile, MODEL_JSON, saveModel } from '../../src/model/artifact.js';
import { Predictor } from '../../src/model/predict.js';
import { logModel, predictFile, resolveModel } from '../../src/model/resolve.js';
import { openStore } from '../../src/tracking/index.js';
import { withRun } from '../../src/tracking/run.js';
import type { DistanceMatrix } from '../../src/cluster/common.js';

const SLOTS = Array.from({ length: 24 }, (_, h) => `${String(h).padStart(2, '0')}:00`);
let dir = '';
let csv = '';
let table: ProfileTable;
let X: Float64Array;
let D: DistanceMatrix;

function profilesCsv(slots: string[], rows: number[][]): string {
  let out = `id,date,${slots.join(',')}\n`;
  rows.forEach((v, i) => {
    const date = new Date(Date.UTC(2020, 0, 1) + i * 86400000).toISOString().slice(0, 10);
    out += `M${i % 7},${date},${v.map((x) => x.toFixed(6)).join(',')}\n`;
  });
  return out;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'lpclust-model-'));
  const rows = syntheticDays(67, 4, 3).rows;
  csv = path.join(dir, 'profiles.csv');
  writeFileSync(csv, profilesCsv(SLOTS, rows));
  table = await readProfiles(csv);
  X = normalizeRows(table.values, 24, 'l2');
  // The DTW matrix exactly as `lpclust cluster` gets it (float32 file from the matrix writer).
  const npy = path.join(dir, 'dtw.npy');
  await computeDtwMatrix({ values: X, length: 24, out: npy, radius: 1, normalization: 'l2', ids: table.ids, dates: table.dates, workers: 1 });
  const m = await loadDtwMatrix(npy);
  D = { n: m.n, data: m.data };
}, 60_000);

const CASES: Array<{ spec: Omit<ClusterSpec, 'k' | 'seed'>; exact: boolean }> = [
  { spec: { model: 'kmeans', metric: 'euclidean' }, exact: true },
  { spec: { model: 'kmeans', metric: 'dtw', radius: 1, nInit: 2 }, exact: true },
  { spec: { model: 'kmedoids', metric: 'euclidean' }, exact: true },
  { spec: { model: 'kmedoids', metric: 'dtw', radius: 1 }, exact: true },
  { spec: { model: 'agglomerative', metric: 'euclidean' }, exact: false },
  { spec: { model: 'agglomerative', metric: 'dtw', radius: 1 }, exact: false },
  { spec: { model: 'som', metric: 'euclidean' }, exact: false },
];

describe('model artifact and predict', () => {
  for (const { spec, exact } of CASES) {
    it(`${spec.model} ${spec.metric}: round trip, predict on the training rows ${exact ? '= fitted labels' : 'agreement'}`, async () => {
      const fit = fitClustering({ data: X, n: table.n, dim: 24 }, { ...spec, k: 4, seed: 1 }, D);
      const mdir = path.join(dir, `${spec.model}-${spec.metric}`, 'model');
      const model = await logModel(null, mdir, {
        fit,
        slots: table.slots,
        X,
        ids: table.ids,
        dates: table.dates,
        normalization: 'l2',
        radius: 1,
        matrixPrecision: 'float32',
      });
      // Round trip: the loaded document equals the saved one (centres bit for bit).
      const loaded = loadModelFile(mdir);
      expect(loaded).toEqual(JSON.parse(JSON.stringify(model)));
      expect(loaded.format_version).toBe(1);
      expect(loaded.input).toEqual({ resolution_minutes: 60, slots: SLOTS });
      for (let c = 0; c < fit.k; c++) expect(Float64Array.from(loaded.centres[c])).toEqual(fit.centres.subarray(c * 24, (c + 1) * 24));
      expect(loaded.dtw === null).toBe(spec.metric === 'euclidean');
      expect(loaded.medoids === null).toBe(spec.metric === 'euclidean');
      // MLmodel: lpclust flavor, signature of the 24 slot columns.
      const mlmodel = YAML.parse(readFileSync(path.join(mdir, 'MLmodel'), 'utf8'));
      expect(mlmodel.flavors.lpclust.model_file).toBe(MODEL_JSON);
      expect(mlmodel.flavors.lpclust.lpclust_version).toBe(loaded.lpclust_version);
      expect(mlmodel.utc_time_created).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$/);
      expect(JSON.parse(mlmodel.signature.inputs).map((c: { name: string }) => c.name)).toEqual(SLOTS);
      // Predict from the raw (un-normalised) values, as `lpclust predict` does.
      const pred = new Predictor(loaded).predict(table.values);
      let same = 0;
      for (let i = 0; i < table.n; i++) if (pred.labels[i] === fit.labels[i]) same++;
      if (exact) {
        expect(Array.from(pred.labels)).toEqual(Array.from(fit.labels));
        expect(loaded.training.predict_agreement).toBe(1);
      } else {
        expect(loaded.training.predict_agreement).toBeCloseTo(same / table.n, 12);
        expect(same / table.n).toBeGreaterThan(0.5);
      }
      for (let i = 0; i < table.n; i++) {
        expect(pred.distance[i]).toBeGreaterThanOrEqual(0);
        expect(pred.margin[i]).toBeGreaterThanOrEqual(0);
      }
    });
  }

  it('predictFile writes id,date,cluster,distance,margin; resolution and slot mismatches are clear errors', async () => {
    const fit = fitClustering({ data: X, n: table.n, dim: 24 }, { model: 'kmeans', metric: 'euclidean', k: 3, seed: 0 });
    const mdir = path.join(dir, 'km3', 'model');
    await logModel(null, mdir, { fit, slots: table.slots, X, ids: table.ids, dates: table.dates, normalization: 'l2' });
    const loaded = await resolveModel(mdir, () => Promise.reject(new Error('no store needed')));
    const out = path.join(dir, 'pred.csv');
    const res = await predictFile(loaded, csv, out);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('id,date,cluster,distance,margin');
    expect(lines.length).toBe(68);
    expect(lines.slice(1).map((l) => Number(l.split(',')[2]))).toEqual(Array.from(fit.labels));
    expect(res.counts).toEqual(Array.from(fit.sizes));

    const halfHourly = path.join(dir, 'halfhourly.csv');
    const slots48 = Array.from({ length: 48 }, (_, i) => `${String(Math.floor(i / 2)).padStart(2, '0')}:${i % 2 ? '30' : '00'}`);
    writeFileSync(halfHourly, profilesCsv(slots48, [Array.from({ length: 48 }, (_, i) => 1 + i)]));
    await expect(predictFile(loaded, halfHourly, path.join(dir, 'x.csv'))).rejects.toMatchObject({
      code: 'E_MODEL_INPUT_RESOLUTION',
      message: expect.stringMatching(/48 slot columns \(30-minute resolution\) but the model expects 24 \(60-minute/),
    });
    const shifted = path.join(dir, 'shifted.csv');
    writeFileSync(shifted, profilesCsv(SLOTS.map((s) => s.replace(':00', ':30')), [Array.from({ length: 24 }, (_, i) => 1 + i)]));
    await expect(predictFile(loaded, shifted, path.join(dir, 'y.csv'))).rejects.toMatchObject({
      code: 'E_MODEL_INPUT_SLOTS',
      message: expect.stringContaining('slot column 1 is "00:30" but the model expects "00:00"'),
    });
    const zero = path.join(dir, 'zero.csv');
    writeFileSync(zero, profilesCsv(SLOTS, [Array.from({ length: 24 }, () => 0)]));
    await expect(predictFile(loaded, zero, path.join(dir, 'z.csv'))).rejects.toMatchObject({ code: 'E_DEGENERATE_PROFILE' });
  });

  it('refuses another format version and a non-lpclust MLmodel; loads runs:/<id>/model from the tracking store', async () => {
    const fit = fitClustering({ data: X, n: table.n, dim: 24 }, { model: 'som', metric: 'euclidean', k: 3, seed: 0 });
    const model = await logModel(null, path.join(dir, 'som3', 'model'), { fit, slots: table.slots, X, ids: table.ids, dates: table.dates, normalization: 'l2' });
    const v2 = path.join(dir, 'v2', 'model');
    await saveModel(v2, { ...model, format_version: 2 as 1 });
    expect(() => loadModelFile(v2)).toThrow(/model format version 2 is not supported/);
    const sk = path.join(dir, 'sk');
    await saveModel(sk, model);
    writeFileSync(path.join(sk, 'MLmodel'), 'flavors:\n  sklearn: {}\n');
    expect(() => loadModelFile(sk)).toThrow(/lpclust flavor/);
    expect(() => loadModelFile(path.join(dir, 'nowhere'))).toThrow(/no lpclust model/);

    const uri = `file:${path.join(dir, 'mlruns')}`;
    const store = await openStore(uri);
    const runId = await withRun({ store, experimentName: 'model-test', runName: 'som' }, async (run) => {
      await logModel(run, path.join(dir, 'som-run', 'model'), { fit, slots: table.slots, X, ids: table.ids, dates: table.dates, normalization: 'l2' });
      return run.runId;
    });
    const loaded = await resolveModel(`runs:/${runId}/model`, () => openStore(uri));
    expect(loaded.model.run_id).toBe(runId);
    expect(loaded.model.centres).toEqual(model.centres);
    const metric = await store.getMetricHistory(runId, 'model/predict_agreement');
    expect(metric[0].value).toBeCloseTo(model.training.predict_agreement, 12);
    await expect(resolveModel('models:/clusters/1', () => openStore(uri))).rejects.toThrow(/no registered model "clusters" in .*; registered models: none/);
  });
});
