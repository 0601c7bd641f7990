/**
 * `runSweep` structure on the sample data: the shared stages once, one nested run per
 * configuration, the summary CSV, the stability across seeds, the best configuration and charts.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sampleData } from '../../src/pipeline/pipeline.js';
import { planSharedEuclidean, runSweep } from '../../src/pipeline/sweep.js';
import { runClusterStage } from '../../src/pipeline/cluster.js';
import { splitCsvLine } from '../../src/io/csv.js';
import { allRuns, childrenOf, pngSize, tempStore } from './helpers.js';
import type { MetricName, ModelName } from '../../src/cluster/fit.js';

describe('sweep', () => {
  it('shares one dataset and one DTW matrix across a nested run per configuration and summarises them', async () => {
    const { dir, store } = await tempStore('lpclust-sweep-');
    const s = sampleData();
    const res = await runSweep(
      {
        models: ['kmeans', 'agglomerative', 'som'],
        metrics: ['euclidean', 'dtw'],
        kRange: [3, 4],
        seeds: [0, 1],
        nInit: 1,
        sources: { sql: s.sources.sql },
        meters: s.meters,
        rules: s.rules,
        outDir: path.join(dir, 'outputs'),
      },
      { store, experimentName: 'sweep-test' },
    );
    const runs = await allRuns(store, 'sweep-test');
    const parent = runs.find((r) => r.info.runId === res.runId)!;
    expect(parent.info.status).toBe('FINISHED');
    const children = runs.filter((r) => r.data.tags['mlflow.parentRunId'] === res.runId);
    // (kmeans, agglomerative) × (euclidean, dtw) + som × euclidean = 5 pairs × 2 k × 2 seeds.
    const configs = children.filter((r) => r.data.tags['lpclust.sweep.config']);
    expect(configs).toHaveLength(20);
    expect(configs.every((r) => r.info.status === 'FINISHED')).toBe(true);
    expect(parent.data.tags['lpclust.skipped.som_dtw']).toBeTruthy();
    // The shared stages ran once each.
    const shared = childrenOf(children, res.runId);
    expect(children.filter((r) => r.data.tags['lpclust.stage'] === 'dtw')).toHaveLength(1);
    expect(children.filter((r) => r.data.tags['lpclust.stage'] === 'harmonization')).toHaveLength(1);
    const matrix = shared.get('dtw')!.data.tags['dtw.matrix.path'];
    expect(configs.every((r) => r.data.params.dtw === matrix)).toBe(true);
    // Every configuration has Silhouette DTW (the matrix is shared with the Euclidean ones).
    expect(configs.every((r) => Number.isFinite(r.data.metrics['Silhouette DTW']))).toBe(true);

    // Summary CSV: a header and one row per configuration, with every metric.
    const lines = readFileSync(res.outputs.summaryCsv, 'utf8').trim().split('\n');
    const header = splitCsvLine(lines[0]);
    expect(header.slice(0, 6)).toEqual(['model', 'metric', 'k', 'seed', 'run_id', 'status']);
    expect(header).toContain('Silhouette Score');
    expect(header).toContain('DB Index');
    expect(lines).toHaveLength(21);
    const ids = new Set(configs.map((r) => r.info.runId));
    for (const l of lines.slice(1)) expect(ids.has(splitCsvLine(l)[4])).toBe(true);
    expect((await store.listArtifacts(res.runId, 'summary')).map((a) => a.path).sort()).toEqual(['summary/stability.csv', 'summary/summary.csv']);

    // Best by Silhouette DTW (the default with a DTW metric) is the highest mean over seeds among
    // the configurations passing the eligibility rule.
    expect(res.outputs.select).toBe('Silhouette DTW');
    const best = res.outputs.best!;
    const maxMean = Math.max(
      ...[...new Set(res.outputs.rows.filter((r) => !r.excluded).map((r) => `${r.model} ${r.metric} ${r.k}`))].map((key) => {
        const vs = res.outputs.rows.filter((r) => `${r.model} ${r.metric} ${r.k}` === key).map((r) => r.metrics['Silhouette DTW']);
        return vs.reduce((a, b) => a + b, 0) / vs.length;
      }),
    );
    expect(best.value).toBeCloseTo(maxMean, 12);
    expect(parent.data.tags['lpclust.best']).toBe(`${best.model} ${best.metric} k=${best.k}`);
    expect(parent.data.tags['lpclust.best_run_id']).toBe(best.runId);
    expect(configs.find((r) => r.info.runId === best.runId)!.data.tags['lpclust.sweep.config']).toMatch(new RegExp(`^${best.model}_${best.metric}_k${best.k}_s[01]$`));
    // The parent's input is the harmonized CSV every configuration clustered, never empty.
    expect(parent.data.params.in).toBe(res.outputs.harmonized);

    // Stability: deterministic agglomerative labels agree perfectly across seeds.
    expect(res.outputs.stability).toHaveLength(10);
    for (const st of res.outputs.stability.filter((x) => x.model === 'agglomerative')) expect(st.meanAri).toBeCloseTo(1, 12);
    expect(parent.data.metrics['stability/mean_seed_ari']).toBeGreaterThan(0);

    // Charts of metrics against k per model, logged on the parent.
    const plots = (await store.listArtifacts(res.runId, 'plots')).map((a) => a.path);
    for (const m of ['kmeans', 'agglomerative', 'som']) {
      expect(plots).toContain(`plots/${m}_Silhouette_DTW.png`);
      expect(plots).toContain(`plots/${m}_seed_ARI.svg`);
    }
    expect(pngSize(path.join(res.outputs.outDir, 'plots', 'kmeans_Silhouette_Score.png')).width).toBeGreaterThan(300);
    // The overview of the select metric over every model × metric, with the best ringed and the
    // direction of better on the axis.
    expect(plots).toContain('plots/all_Silhouette_DTW.png');
    const overview = readFileSync(path.join(res.outputs.outDir, 'plots', 'all_Silhouette_DTW.svg'), 'utf8');
    for (const name of ['kmeans euclidean', 'kmeans dtw', 'agglomerative euclidean', 'agglomerative dtw', 'som euclidean']) expect(overview).toContain(name);
    expect(overview).toContain('Silhouette DTW (higher is better)');
    expect(overview).toContain(`best: ${best.model} ${best.metric}, k = ${best.k}`);
  });

  it('gives agglomerative labels identical to standalone `lpclust cluster` while loading the matrix once and cutting one tree per metric', async () => {
    const { dir, store } = await tempStore('lpclust-sweep-agglo-');
    const s = sampleData();
    const res = await runSweep(
      { models: ['agglomerative'], metrics: ['euclidean', 'dtw'], kRange: [3, 5], seeds: [0, 1], linkage: 'average', sources: { sql: s.sources.sql }, meters: s.meters, rules: s.rules, outDir: path.join(dir, 'outputs') },
      { store, experimentName: 'sweep-agglo' },
    );
    expect(res.outputs.rows.every((r) => r.status === 'FINISHED')).toBe(true);
    const dtw = res.outputs.dtw!;
    for (const metric of ['euclidean', 'dtw'] as const) {
      for (const k of [3, 5]) {
        // The standalone stage reads and checks the matrix itself and builds its own tree.
        const alone = await runClusterStage(
          { in: res.outputs.harmonized, model: 'agglomerative', metric, k, dtw, linkage: 'average', outDir: path.join(dir, `alone-${metric}-${k}`), plots: false },
          { store, experimentName: 'sweep-agglo-alone' },
        );
        for (const seed of [0, 1]) {
          const cfgDir = path.join(res.outputs.outDir, 'configs', `agglomerative_${metric}_k${k}_s${seed}`);
          expect(readFileSync(path.join(cfgDir, 'labels.csv'), 'utf8')).toBe(readFileSync(alone.outputs.labelsFile, 'utf8'));
          expect(readFileSync(path.join(cfgDir, 'linkage.npy')).equals(readFileSync(alone.outputs.linkageFile!))).toBe(true);
          const row = res.outputs.rows.find((r) => r.metric === metric && r.k === k && r.seed === seed)!;
          expect(row.metrics['Silhouette DTW']).toBe(alone.metrics['Silhouette DTW']);
          // The sweep reads the Euclidean silhouette from distances computed once: same to the
          // rounding of the sums' order.
          expect(Math.abs(row.metrics['Silhouette Score'] - alone.metrics['Silhouette Score'])).toBeLessThan(1e-15);
        }
      }
    }
    // k = 3 and 5 really differ (the cut, not a constant, is being compared).
    const l3 = readFileSync(path.join(res.outputs.outDir, 'configs', 'agglomerative_dtw_k3_s0', 'labels.csv'), 'utf8');
    const l5 = readFileSync(path.join(res.outputs.outDir, 'configs', 'agglomerative_dtw_k5_s0', 'labels.csv'), 'utf8');
    expect(l3).not.toBe(l5);
  });

  it('gives Euclidean k-medoids labels identical to standalone `lpclust cluster` while sharing the distances', async () => {
    const { dir, store } = await tempStore('lpclust-sweep-kmedoids-');
    const s = sampleData();
    const res = await runSweep(
      { models: ['kmedoids', 'kmeans'], metrics: ['euclidean'], kRange: [3, 4], seeds: [0, 1], nInit: 1, sources: { sql: s.sources.sql }, meters: s.meters, rules: s.rules, outDir: path.join(dir, 'outputs') },
      { store, experimentName: 'sweep-kmedoids' },
    );
    expect(res.outputs.rows.every((r) => r.status === 'FINISHED')).toBe(true);
    for (const model of ['kmedoids', 'kmeans'] as const) {
      for (const k of [3, 4]) {
        for (const seed of [0, 1]) {
          const alone = await runClusterStage(
            { in: res.outputs.harmonized, model, metric: 'euclidean', k, seed, nInit: 1, outDir: path.join(dir, `alone-${model}-${k}-${seed}`), plots: false },
            { store, experimentName: 'sweep-kmedoids-alone' },
          );
          const cfgDir = path.join(res.outputs.outDir, 'configs', `${model}_euclidean_k${k}_s${seed}`);
          expect(readFileSync(path.join(cfgDir, 'labels.csv'), 'utf8')).toBe(readFileSync(alone.outputs.labelsFile, 'utf8'));
          const row = res.outputs.rows.find((r) => r.model === model && r.k === k && r.seed === seed)!;
          expect(Math.abs(row.metrics['Silhouette Score'] - alone.metrics['Silhouette Score'])).toBeLessThan(1e-15);
          expect(row.metrics['DB Index']).toBe(alone.metrics['DB Index']);
        }
      }
    }
  });

  it('gives the same rows and labels on one worker thread as on three (the order of completion does not matter)', async () => {
    const { dir, store } = await tempStore('lpclust-sweep-workers-');
    const s = sampleData();
    const base = { models: ['kmeans', 'kmedoids', 'agglomerative', 'som'] as const, metrics: ['euclidean', 'dtw'] as const, kRange: [3, 5] as const, seeds: [0, 1], nInit: 1, sources: { sql: s.sources.sql }, meters: s.meters, rules: s.rules };
    const one = await runSweep({ ...base, models: [...base.models], metrics: [...base.metrics], workers: 1, outDir: path.join(dir, 'one') }, { store, experimentName: 'sweep-workers' });
    const three = await runSweep({ ...base, models: [...base.models], metrics: [...base.metrics], workers: 3, outDir: path.join(dir, 'three') }, { store, experimentName: 'sweep-workers' });
    expect(one.metrics['sweep/workers']).toBe(1);
    expect(three.metrics['sweep/workers']).toBe(3);
    expect(three.outputs.rows).toHaveLength(42);
    expect(three.outputs.rows.every((r) => r.status === 'FINISHED')).toBe(true);
    const strip = (rows: typeof one.outputs.rows) => rows.map(({ runId: _r, metrics: { 'seconds/fit': _f, ...m }, ...rest }) => ({ ...rest, m }));
    expect(strip(three.outputs.rows)).toEqual(strip(one.outputs.rows));
    for (const r of one.outputs.rows) {
      const cfg = `${r.model}_${r.metric}_k${r.k}_s${r.seed}`;
      expect(readFileSync(path.join(three.outputs.outDir, 'configs', cfg, 'labels.csv'), 'utf8')).toBe(readFileSync(path.join(one.outputs.outDir, 'configs', cfg, 'labels.csv'), 'utf8'));
    }
    expect(three.outputs.stability).toEqual(one.outputs.stability);
    const { runId: _r1, ...best1 } = one.outputs.best!;
    const { runId: _r3, ...best3 } = three.outputs.best!;
    expect(best3).toEqual(best1);
    // Every configuration's run ended FINISHED, none left RUNNING.
    const runs = await allRuns(store, 'sweep-workers');
    expect(runs.filter((r) => r.data.tags['mlflow.parentRunId'] === three.runId && r.data.tags['lpclust.sweep.config']).every((r) => r.info.status === 'FINISHED')).toBe(true);
  });

  it('serialized as for large matrices (one tree build at a time on a worker replaced after it, k-medoids\' matrix after the trees) gives the same rows and labels', async () => {
    const { dir, store } = await tempStore('lpclust-sweep-serial-');
    const s = sampleData();
    const base = { models: ['agglomerative', 'kmedoids'] as ModelName[], metrics: ['euclidean', 'dtw'] as MetricName[], kRange: [3, 4] as const, seeds: [0, 1], nInit: 1, workers: 2, sources: { sql: s.sources.sql }, meters: s.meters, rules: s.rules };
    const free = await runSweep({ ...base, serialize: false, outDir: path.join(dir, 'free') }, { store, experimentName: 'sweep-serial' });
    const serial = await runSweep({ ...base, serialize: true, outDir: path.join(dir, 'serial') }, { store, experimentName: 'sweep-serial' });
    expect(serial.outputs.rows.every((r) => r.status === 'FINISHED')).toBe(true);
    const strip = (rows: typeof free.outputs.rows) => rows.map(({ runId: _r, metrics: { 'seconds/fit': _f, ...m }, ...rest }) => ({ ...rest, m }));
    expect(strip(serial.outputs.rows)).toEqual(strip(free.outputs.rows));
    for (const r of free.outputs.rows) {
      const cfg = `${r.model}_${r.metric}_k${r.k}_s${r.seed}`;
      expect(readFileSync(path.join(serial.outputs.outDir, 'configs', cfg, 'labels.csv'), 'utf8')).toBe(readFileSync(path.join(free.outputs.outDir, 'configs', cfg, 'labels.csv'), 'utf8'));
    }
    expect(serial.metrics.peak_rss_mb).toBeGreaterThan(0);
  }, 300_000);

  it('a configuration failing on a worker thread is a FAILED run and row with its error; the others and the parent finish', async () => {
    const { dir, store } = await tempStore('lpclust-sweep-fail-');
    const s = sampleData();
    // Ward needs Euclidean geometry: every DTW configuration fails inside the worker (building the
    // tree), every Euclidean one succeeds.
    const res = await runSweep(
      { models: ['agglomerative'], metrics: ['dtw', 'euclidean'], kRange: [3, 5], linkage: 'ward', workers: 2, sources: { sql: s.sources.sql }, meters: s.meters, rules: s.rules, outDir: path.join(dir, 'out') },
      { store, experimentName: 'sweep-fail' },
    );
    const failed = res.outputs.rows.filter((r) => r.status === 'FAILED');
    expect(failed.map((r) => `${r.metric} ${r.k}`)).toEqual(['dtw 3', 'dtw 4', 'dtw 5']);
    for (const r of failed) expect(r.error).toMatch(/--linkage.*ward.*Ward needs Euclidean geometry/);
    expect(res.outputs.rows.filter((r) => r.status === 'FINISHED').map((r) => `${r.metric} ${r.k}`)).toEqual(['euclidean 3', 'euclidean 4', 'euclidean 5']);
    expect(res.metrics['sweep/failed']).toBe(3);
    const runs = await allRuns(store, 'sweep-fail');
    const parent = runs.find((r) => r.info.runId === res.runId)!;
    expect(parent.info.status).toBe('FINISHED');
    const byConfig = new Map(runs.filter((r) => r.data.tags['lpclust.sweep.config']).map((r) => [r.data.tags['lpclust.sweep.config'], r]));
    for (const k of [3, 4, 5]) {
      const run = byConfig.get(`agglomerative_dtw_k${k}_s0`)!;
      expect(run.info.status).toBe('FAILED');
      expect(failed.find((r) => r.k === k)!.runId).toBe(run.info.runId);
      expect(byConfig.get(`agglomerative_euclidean_k${k}_s0`)!.info.status).toBe('FINISHED');
    }
    const summary = readFileSync(res.outputs.summaryCsv, 'utf8');
    expect(summary.split('\n').filter((l) => l.includes(',FAILED,'))).toHaveLength(3);
  });

  it('shares the Euclidean distances only when there is more than one configuration and they fit in memory', () => {
    expect(planSharedEuclidean(500, ['kmeans', 'kmedoids'], ['euclidean', 'dtw'], 3, 1)).toEqual({ silhouette: true, kmedoids: true, serialize: false });
    expect(planSharedEuclidean(500, ['kmeans'], ['euclidean'], 3, 1)).toEqual({ silhouette: true, kmedoids: false, serialize: false });
    expect(planSharedEuclidean(500, ['kmedoids'], ['euclidean'], 1, 1)).toEqual({ silhouette: false, kmedoids: false, serialize: false });
    // Above 12,000 profiles no exact float64 matrix (3.2 GB at 20,000): k-medoids' float32 one only,
    // and the large working arrays one at a time.
    expect(planSharedEuclidean(20000, ['kmeans', 'kmedoids', 'agglomerative'], ['euclidean', 'dtw'], 2, 1)).toEqual({ silhouette: false, kmedoids: true, serialize: true });
    // 8·n² bytes beyond half the free memory: nothing is shared, every configuration computes its own.
    const huge = Math.ceil(Math.sqrt(os.freemem() / 8)) + 1;
    expect(planSharedEuclidean(huge, ['kmeans', 'som'], ['euclidean'], 5, 1)).toMatchObject({ silhouette: false, kmedoids: false });
  });
});
