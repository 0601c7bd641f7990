/**
 * The runs a user meets when copying an id into `predict --model runs:/<id>/model`, written into
 * any tracking store (a FileStore in test/model, the contract server in test/tracking-rest): a
 * pipeline parent with a harmonization and a clustering child, a sweep whose best configuration
 * ran once and one whose best ran with two seeds, an `mlflow run` launcher above a pipeline, and a
 * lone harmonization run. The clustering runs hold real models of seeded synthetic days.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { fitClustering } from '../../src/cluster/fit.js';
import { isLpclustError, type LpclustError } from '../../src/errors.js';
import { normalizeRows } from '../../src/profiles/normalize.js';
import { logModel, resolveModel } from '../../src/model/resolve.js';
import { withRun, type ActiveRun } from '../../src/tracking/run.js';
import type { TrackingStore } from '../../src/tracking/store.js';
import { Random } from '../../src/util/random.js';

/** Slot labels of the synthetic days (hourly). */
export const SLOTS = Array.from({ length: 24 }, (_, h) => `${String(h).padStart(2, '0')}:00`);

/** 36 days of three shapes (morning, evening, flat) with seeded noise, in Wh per slot. */
export function syntheticDays(): { ids: string[]; dates: string[]; values: Float64Array } {
  const rng = new Random(7);
  const n = 36;
  const values = new Float64Array(n * 24);
  const ids: string[] = [];
  const dates: string[] = [];
  for (let i = 0; i < n; i++) {
    const shape = i % 3;
    for (let h = 0; h < 24; h++) {
      const base = shape === 0 ? (h >= 6 && h <= 9 ? 900 : 200) : shape === 1 ? (h >= 17 && h <= 21 ? 1000 : 250) : 400;
      values[i * 24 + h] = base * (1 + 0.05 * rng.normal());
    }
    ids.push(`M${i % 4}`);
    dates.push(new Date(Date.UTC(2024, 0, 1) + Math.floor(i / 4) * 86400000).toISOString().slice(0, 10));
  }
  return { ids, dates, values };
}

/** The same days as a profiles CSV text. */
export function syntheticCsv(): string {
  const d = syntheticDays();
  let out = `id,date,${SLOTS.join(',')}\n`;
  for (let i = 0; i < d.ids.length; i++) out += `${d.ids[i]},${d.dates[i]},${Array.from(d.values.subarray(i * 24, (i + 1) * 24), (v) => v.toFixed(3)).join(',')}\n`;
  return out;
}

/** Fit k-means on the synthetic days and log the model into `run` (as a clustering run does). */
async function logKmeans(run: ActiveRun, k: number, seed: number): Promise<void> {
  const d = syntheticDays();
  const X = normalizeRows(d.values, 24, 'l2');
  const fit = fitClustering({ data: X, n: d.ids.length, dim: 24 }, { model: 'kmeans', metric: 'euclidean', k, seed, nInit: 2 });
  await run.logParams({ model: 'kmeans', metric: 'euclidean', k, seed });
  await logModel(run, path.join(mkdtempSync(path.join(tmpdir(), 'lpclust-scenario-')), 'model'), { fit, slots: SLOTS, X, ids: d.ids, dates: d.dates, normalization: 'l2' });
}

/** Run ids of the scenario. */
export interface ModelRunsScenario {
  pipeline: string;
  pipelineClustering: string;
  pipelineHarmonization: string;
  sweep: string;
  sweepBest: string;
  sweepOther: string;
  sweepSeeds: string;
  sweepSeedRuns: string[];
  launcher: string;
  launcherClustering: string;
  lone: string;
}

/** Write the scenario's runs into `store` (experiment `models`). */
export async function writeModelRuns(store: TrackingStore): Promise<ModelRunsScenario> {
  const base = { store, experimentName: 'models' };
  const ids: Partial<ModelRunsScenario> = {};
  const pipelineRun = async (parentRunId?: string): Promise<{ parent: string; clustering: string; harmonization: string }> => {
    let clustering = '';
    let harmonization = '';
    const parent = await withRun({ ...base, runName: 'kmeans euclidean k=3 pipeline', parentRunId, tags: { 'lpclust.pipeline': 'pipeline' } }, async (p) => {
      harmonization = await withRun({ ...base, runName: 'harmonization', parentRunId: p.runId, tags: { 'lpclust.stage': 'harmonization' } }, async (r) => r.runId);
      clustering = await withRun({ ...base, runName: 'kmeans euclidean k=3', parentRunId: p.runId, tags: { 'lpclust.stage': 'clustering' } }, async (r) => {
        await logKmeans(r, 3, 0);
        return r.runId;
      });
      await p.setTags({ 'lpclust.child.harmonization': harmonization, 'lpclust.child.clustering': clustering });
      return p.runId;
    });
    return { parent, clustering, harmonization };
  };
  const p = await pipelineRun();
  Object.assign(ids, { pipeline: p.parent, pipelineClustering: p.clustering, pipelineHarmonization: p.harmonization });

  const sweep = async (configs: Array<{ k: number; seed: number }>, best: string): Promise<{ parent: string; children: string[] }> => {
    const children: string[] = [];
    const parent = await withRun({ ...base, runName: 'sweep', tags: { 'lpclust.pipeline': 'sweep' } }, async (s) => {
      for (const c of configs) {
        const cfg = `kmeans_euclidean_k${c.k}_seed${c.seed}`;
        children.push(await withRun({ ...base, runName: `kmeans euclidean k=${c.k}`, parentRunId: s.runId, tags: { 'lpclust.stage': 'clustering', 'lpclust.sweep.config': cfg } }, async (r) => {
          await logKmeans(r, c.k, c.seed);
          return r.runId;
        }));
      }
      await s.setTags({ 'lpclust.best': best });
      return s.runId;
    });
    return { parent, children };
  };
  const s1 = await sweep([{ k: 2, seed: 0 }, { k: 3, seed: 0 }], 'kmeans euclidean k=3');
  Object.assign(ids, { sweep: s1.parent, sweepOther: s1.children[0], sweepBest: s1.children[1] });
  const s2 = await sweep([{ k: 3, seed: 0 }, { k: 3, seed: 1 }, { k: 2, seed: 0 }], 'kmeans euclidean k=3');
  Object.assign(ids, { sweepSeeds: s2.parent, sweepSeedRuns: s2.children.slice(0, 2) });

  // `mlflow run` opens a run of its own (no lpclust tags); lpclust's pipeline nests under it.
  ids.launcher = await withRun({ ...base, runName: 'mlflow run launcher' }, async (l) => {
    ids.launcherClustering = (await pipelineRun(l.runId)).clustering;
    return l.runId;
  });
  ids.lone = await withRun({ ...base, runName: 'harmonization', tags: { 'lpclust.stage': 'harmonization' } }, async (r) => r.runId);
  return ids as ModelRunsScenario;
}

/**
 * The checks of `runs:/<id>/model` against the scenario, for any store (`ids` and `store` are read
 * when the tests run, after the caller's beforeAll wrote the runs).
 */
export function modelRunChecks(get: () => { store: TrackingStore; ids: ModelRunsScenario }): void {
  const load = (id: string) => resolveModel(`runs:/${id}/model`, async () => get().store);
  const failure = async (id: string): Promise<LpclustError> => {
    try {
      await load(id);
    } catch (e) {
      if (isLpclustError(e)) return e;
      throw e;
    }
    throw new Error(`runs:/${id}/model loaded`);
  };

  it('a clustering run id, whole or as the 8-character prefix `lpclust runs` prints, loads its model as is', async () => {
    const { ids } = get();
    for (const id of [ids.pipelineClustering, ids.pipelineClustering.slice(0, 8)]) {
      const m = await load(id);
      expect(m.runId).toBe(ids.pipelineClustering);
      expect(m.followed).toBeUndefined();
      expect(m.model.k).toBe(3);
      expect(m.source).toBe(`runs:/${ids.pipelineClustering}/model`);
    }
  });

  it('a pipeline run (id or prefix) leads to its clustering run, and says so', async () => {
    const { ids } = get();
    for (const id of [ids.pipeline, ids.pipeline.slice(0, 8)]) {
      const m = await load(id);
      expect(m.runId).toBe(ids.pipelineClustering);
      expect(m.followed).toMatch(/is a pipeline run; using its clustering run/);
    }
  });

  it('a sweep run leads to the run of its best configuration', async () => {
    const { ids } = get();
    const m = await load(ids.sweep);
    expect(m.runId).toBe(ids.sweepBest);
    expect(m.model.k).toBe(3);
    expect(m.followed).toMatch(/is a sweep; using the run of its best configuration \(kmeans euclidean k=3\)/);
  });

  it('a sweep whose best configuration ran with two seeds: an error naming both runs and seeds', async () => {
    const { ids } = get();
    const e = await failure(ids.sweepSeeds);
    expect(e.code).toBe('E_MODEL_NOT_FOUND');
    expect(e.hint).toContain(`runs:/${ids.sweepSeedRuns[0]}/model (seed 0)`);
    expect(e.hint).toContain(`runs:/${ids.sweepSeedRuns[1]}/model (seed 1)`);
  });

  it('the run `mlflow run` opened leads through its pipeline to the clustering run', async () => {
    const { ids } = get();
    const m = await load(ids.launcher);
    expect(m.runId).toBe(ids.launcherClustering);
    expect(m.followed).toMatch(/is a parent; using its child .*pipeline.*; run .* is a pipeline run; using its clustering run/);
  });

  it('a stage run without a model: an error saying which runs hold models', async () => {
    const { ids } = get();
    for (const id of [ids.lone, ids.pipelineHarmonization]) {
      const e = await failure(id);
      expect(e.code).toBe('E_MODEL_NOT_FOUND');
      expect(e.message).toContain(id);
      expect(e.hint).toMatch(/it is a harmonization run; models are logged by clustering runs/);
    }
  });

  it('an unknown id or prefix: E_RUN_NOT_FOUND', async () => {
    const { ids } = get();
    const unknown = ids.pipeline.startsWith('0000000') ? 'ffffffff' : '00000000';
    expect((await failure(unknown)).code).toBe('E_RUN_NOT_FOUND');
  });
}
