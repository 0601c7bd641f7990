/**
 * The scoring server on an ephemeral loopback port: /ping, /health, the three payload shapes of
 * MLflow's protocol (answers equal to the library's predictions), 400 for bad payloads, 413 above
 * the body limit, 404 / 405 / 415.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syntheticDays } from '../support/synthetic.js';
import { fitClustering } from '../../src/cluster/fit.js';
import { normalizeRows } from '../../src/profiles/normalize.js';
import { buildModel, type LpclustModel } from '../../src/model/artifact.js';
import { Predictor } from '../../src/model/predict.js';
import { startScoringServer, type ScoringServer } from '../../src/serve/server.js';

const SLOTS = Array.from({ length: 24 }, (_, h) => `${String(h).padStart(2, '0')}:00`);
let rows: number[][] = [];
let model: LpclustModel;
let predictor: Predictor;
let srv: ScoringServer;
let small: ScoringServer;

// biome-ignore lint/suspicious/noExplicitAny: the tests read response bodies of several shapes
async function post(s: ScoringServer, body: unknown, headers: Record<string, string> = { 'Content-Type': 'application/json' }): Promise<{ status: number; json: any }> {
  const r = await fetch(`${s.url}/invocations`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: r.status, json: await r.json() };
}

beforeAll(async () => {
  rows = syntheticDays(67, 5, 3).rows;
  const values = Float64Array.from(rows.flat());
  const X = normalizeRows(values, 24, 'l2');
  const fit = fitClustering({ data: X, n: rows.length, dim: 24 }, { model: 'kmeans', metric: 'dtw', k: 3, seed: 0, nInit: 1, radius: 1 });
  model = buildModel({ fit, slots: SLOTS, X, ids: [], dates: [], normalization: 'l2', radius: 1 });
  predictor = new Predictor(model);
  srv = await startScoringServer({ model, predictor, port: 0 });
  small = await startScoringServer({ model, predictor, port: 0, maxBodyMb: 0.001 });
});

afterAll(async () => {
  await srv?.close();
  await small?.close();
});

describe('lpclust serve protocol', () => {
  it('listens on loopback; GET /ping and /health answer 200', async () => {
    expect(srv.host).toBe('127.0.0.1');
    for (const p of ['/ping', '/health']) {
      const r = await fetch(`${srv.url}${p}`);
      expect(r.status).toBe(200);
      expect(await r.json()).toEqual({ status: 'ok' });
    }
    expect((await fetch(`${srv.url}/nope`)).status).toBe(404);
    expect((await fetch(`${srv.url}/invocations`)).status).toBe(405);
  });

  it('dataframe_split, dataframe_records and inputs give the library predictions', async () => {
    const batch = rows.slice(0, 10);
    const want = predictor.predict(Float64Array.from(batch.flat()));
    const expected = batch.map((_, i) => ({ cluster: want.labels[i], distance: want.distance[i], margin: want.margin[i] }));
    const split = await post(srv, { dataframe_split: { columns: SLOTS, data: batch } });
    expect(split.status).toBe(200);
    expect(split.json).toEqual({ predictions: expected });
    const withIds = await post(srv, { dataframe_split: { columns: ['id', 'date', ...SLOTS], data: batch.map((r, i) => [`m${i}`, '2020-01-01', ...r]) } });
    expect(withIds.json.predictions[3]).toEqual({ ...expected[3], id: 'm3', date: '2020-01-01' });
    const records = await post(srv, { dataframe_records: batch.map((r) => Object.fromEntries(SLOTS.map((s, j) => [s, r[j]]))) });
    expect(records.json).toEqual({ predictions: expected });
    const inputs = await post(srv, { inputs: batch });
    expect(inputs.json).toEqual({ predictions: expected });
    expect(expected.some((p) => p.cluster !== expected[0].cluster)).toBe(true);
  });

  it('bad payloads get 400 with a clear message', async () => {
    const cases: Array<[unknown, RegExp]> = [
      ['{"inputs": [', /Invalid JSON body/],
      [[1, 2], /Expected a JSON object/],
      [{ foo: [] }, /exactly one of the keys dataframe_split, dataframe_records or inputs/],
      [{ inputs: [rows[0].slice(0, 23)] }, /inputs\[0\] to be an array of 24 values \(60-minute slots 00:00\.\.23:00\) but received 23 values/],
      [{ inputs: [[...rows[0].slice(0, 23), 'x']] }, /finite number at inputs\[0\]\[23\]/],
      [{ dataframe_split: { columns: SLOTS.slice(0, 12), data: [rows[0].slice(0, 12)] } }, /12 slot columns .* but the model expects 24/],
      [{ dataframe_records: [{ ...Object.fromEntries(SLOTS.map((s) => [s, 1])), '24:00': 1 }] }, /column "24:00"/],
      [{ dataframe_records: [Object.fromEntries(SLOTS.slice(1).map((s) => [s, 1]))] }, /no column "00:00"/],
      [{ inputs: [new Array(24).fill(0)] }, /all-zero profile/],
    ];
    for (const [body, msg] of cases) {
      const r = await post(srv, body);
      expect(r.status, JSON.stringify(body).slice(0, 60)).toBe(400);
      expect(r.json.error_code).toBe('BAD_REQUEST');
      expect(r.json.message).toMatch(msg);
    }
    const wrongType = await post(srv, { inputs: rows.slice(0, 1) }, { 'Content-Type': 'text/csv' });
    expect(wrongType.status).toBe(415);
  });

  it('a body above --max-body-mb gets 413; a small one still passes', async () => {
    const big = await post(small, { inputs: rows.slice(0, 20) });
    expect(big.status).toBe(413);
    expect(big.json.message).toMatch(/larger than the limit of 0.001 MiB/);
    const ok = await post(small, { inputs: rows.slice(0, 1) });
    expect(ok.status).toBe(200);
    expect(ok.json.predictions).toHaveLength(1);
  });
});
