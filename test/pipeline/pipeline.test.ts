/**
 * `runPipeline` on the bundled sample data: stage hand-over (children, parent tags, artifacts,
 * run-specific outputs), the DTW matrix computed once and given to clustering, reuse (hit, and
 * miss after an input changes), failure status, and the plots (valid PNG / SVG of the right size).
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runPipeline, sampleData, type PipelineOptions } from '../../src/pipeline/pipeline.js';
import { REUSE_TAGS } from '../../src/pipeline/reuse.js';
import type { TrackingStore } from '../../src/tracking/store.js';
import { allRuns, childrenOf, pngSize, svgSize, tempStore } from './helpers.js';

const EXP = 'pipeline-test';
let dir = '';
let store: TrackingStore;
const sample = sampleData();

function opts(extra: Partial<PipelineOptions> = {}): PipelineOptions {
  return { model: 'kmeans', metric: 'euclidean', k: 4, sources: sample.sources, meters: sample.meters, rules: sample.rules, outDir: path.join(dir, 'outputs'), nInit: 2, ...extra };
}

beforeAll(async () => {
  ({ dir, store } = await tempStore('lpclust-pipeline-'));
});

describe('pipeline stage hand-over', () => {
  it('makes a parent with one child per stage, tags naming them, artifacts and run-specific outputs', async () => {
    const res = await runPipeline(opts({ sources: { sql: sample.sources.sql, newmongo: sample.sources.newmongo } }), { store, experimentName: EXP });
    const runs = await allRuns(store, EXP);
    const parent = runs.find((r) => r.info.runId === res.runId)!;
    expect(parent.info.runName).toBe('kmeans euclidean k=4 pipeline');
    expect(parent.info.status).toBe('FINISHED');
    const kids = childrenOf(runs, res.runId);
    expect([...kids.keys()].sort()).toEqual(['clustering', 'etl_newmongo', 'etl_sql', 'harmonization']);
    for (const [stage, run] of kids) {
      expect(run.info.status).toBe('FINISHED');
      expect(parent.data.tags[`lpclust.child.${stage}`]).toBe(run.info.runId);
      expect(run.data.tags[REUSE_TAGS.stageKey]).toMatch(/^[0-9a-f]{64}$/);
    }
    // The unconfigured source is skipped with a tag, and has no child.
    expect(parent.data.tags['lpclust.skipped.etl_oldmongo']).toBe('not configured');
    // Params and final metrics on the parent.
    expect(parent.data.params.model).toBe('kmeans');
    expect(parent.data.params.k).toBe('4');
    expect(parent.data.metrics['Silhouette Score']).toBeCloseTo(kids.get('clustering')!.data.metrics['Silhouette Score'], 12);
    // Hand-over through files in the run's own folder, logged as artifacts.
    expect(res.outputs.outDir).toBe(path.join(dir, 'outputs', res.runId));
    const harm = kids.get('harmonization')!;
    expect(harm.data.params.sql_csv).toBe(path.join(res.outputs.outDir, 'clean_sql.csv'));
    expect(kids.get('clustering')!.data.params.in).toBe(path.join(res.outputs.outDir, 'harmonized.csv'));
    expect((await store.listArtifacts(kids.get('etl_sql')!.info.runId, 'clean')).map((a) => a.path)).toEqual(['clean/clean_sql.csv']);
    expect((await store.listArtifacts(harm.info.runId, 'harmonized')).map((a) => a.path)).toEqual(['harmonized/harmonized.csv']);
    const plots = (await store.listArtifacts(kids.get('clustering')!.info.runId, 'plots')).map((a) => a.path).sort();
    expect(plots).toEqual(['plots/clusterCenters.png', 'plots/clusterCenters.svg', 'plots/clusterCenters_hires.png', 'plots/clusterPie.png', 'plots/clusterPie.svg', 'plots/silhouette.png', 'plots/silhouette.svg']);
    // No DTW child for a Euclidean run without --silhouette-dtw.
    expect(kids.has('dtw')).toBe(false);
    // The model carries the training reference of `lpclust assign`, with the pipeline's time zone.
    const model = JSON.parse(readFileSync(path.join(res.outputs.outDir, 'cluster', 'model', 'lpclust-model.json'), 'utf8')) as { reference: { timezone: string; cluster_shares: number[]; distance: { p99: number; max: number } } };
    expect(model.reference.timezone).toBe('UTC');
    expect(model.reference.cluster_shares.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(model.reference.distance.p99).toBeLessThanOrEqual(model.reference.distance.max);
  });

  it('computes the DTW matrix once in the dtw child and hands it to clustering', async () => {
    const res = await runPipeline(opts({ model: 'kmedoids', metric: 'dtw', sources: { sql: sample.sources.sql } }), { store, experimentName: EXP });
    const kids = childrenOf(await allRuns(store, EXP), res.runId);
    expect([...kids.keys()].sort()).toEqual(['clustering', 'dtw', 'etl_sql', 'harmonization']);
    const matrix = path.join(res.outputs.outDir, 'dtw.npy');
    expect(kids.get('dtw')!.data.tags['dtw.matrix.path']).toBe(matrix);
    expect(kids.get('clustering')!.data.params.dtw).toBe(matrix);
    expect(res.metrics['Silhouette DTW']).toBeGreaterThan(-1);
    // The clustering run computed no matrix of its own.
    expect(existsSync(path.join(res.outputs.cluster.outDir, 'dtw.npy'))).toBe(false);
  });
});

describe('pipeline reuse', () => {
  it('reuses every stage of an identical run, and reruns downstream of a changed input', async () => {
    const sqlDir = mkdtempSync(path.join(tmpdir(), 'lpclust-pipeline-sql-'));
    cpSync(sample.sources.sql!.input!, sqlDir, { recursive: true });
    const sources = { oldmongo: sample.sources.oldmongo, sql: { input: sqlDir } };
    const exp = 'pipeline-reuse';
    const first = await runPipeline(opts({ sources, reuse: true }), { store, experimentName: exp });
    expect(first.outputs.stages.every((s) => !s.reusedFrom)).toBe(true);

    // Hit: every stage reused, its outputs copied into the new run's folder.
    const second = await runPipeline(opts({ sources, reuse: true }), { store, experimentName: exp });
    const runs = await allRuns(store, exp);
    const kids1 = childrenOf(runs, first.runId);
    const kids2 = childrenOf(runs, second.runId);
    for (const stage of ['etl_oldmongo', 'etl_sql', 'harmonization', 'clustering']) {
      expect(kids2.get(stage)!.data.tags[REUSE_TAGS.reusedFrom]).toBe(kids1.get(stage)!.info.runId);
      expect(kids2.get(stage)!.info.status).toBe('FINISHED');
    }
    expect(readFileSync(path.join(second.outputs.outDir, 'harmonized.csv'), 'utf8')).toBe(readFileSync(path.join(first.outputs.outDir, 'harmonized.csv'), 'utf8'));
    expect(readFileSync(second.outputs.cluster.labels, 'utf8')).toBe(readFileSync(first.outputs.cluster.labels, 'utf8'));
    expect(second.metrics['Silhouette Score']).toBe(first.metrics['Silhouette Score']);

    // Miss: one SQL record changes (its energy + 1 Wh) → etl_sql and everything downstream rerun.
    const f = path.join(sqlDir, readdirSync(sqlDir)[0]);
    const lines = readFileSync(f, 'utf8').trimEnd().split('\n');
    const i = Math.floor(lines.length / 2);
    const cells = lines[i].split(',');
    cells[2] = String(Number(cells[2]) + 1);
    lines[i] = cells.join(',');
    writeFileSync(f, lines.join('\n') + '\n');
    const third = await runPipeline(opts({ sources, reuse: true }), { store, experimentName: exp });
    const kids3 = childrenOf(await allRuns(store, exp), third.runId);
    // The unchanged source is reused (from the newest matching run: the second's, itself a reuse).
    expect([kids1.get('etl_oldmongo')!.info.runId, kids2.get('etl_oldmongo')!.info.runId]).toContain(kids3.get('etl_oldmongo')!.data.tags[REUSE_TAGS.reusedFrom]);
    for (const stage of ['etl_sql', 'harmonization', 'clustering']) expect(kids3.get(stage)!.data.tags[REUSE_TAGS.reusedFrom]).toBeUndefined();
    expect(kids3.get('etl_sql')!.data.tags[REUSE_TAGS.stageKey]).not.toBe(kids1.get('etl_sql')!.data.tags[REUSE_TAGS.stageKey]);

    // Without --reuse nothing is reused.
    const fourth = await runPipeline(opts({ sources }), { store, experimentName: exp });
    expect(fourth.outputs.stages.some((s) => s.reusedFrom)).toBe(false);
  });
});

describe('pipeline failure', () => {
  it('marks the failing child and the parent FAILED with the error as a tag', async () => {
    const sqlDir = mkdtempSync(path.join(tmpdir(), 'lpclust-pipeline-bad-'));
    cpSync(sample.sources.sql!.input!, sqlDir, { recursive: true });
    const f = path.join(sqlDir, readdirSync(sqlDir)[0]);
    writeFileSync(f, readFileSync(f, 'utf8') + 'this is not,a historian,row\n');
    const exp = 'pipeline-fail';
    await expect(runPipeline(opts({ sources: { sql: { input: sqlDir } } }), { store, experimentName: exp })).rejects.toThrow();
    const runs = await allRuns(store, exp);
    const parent = runs.find((r) => r.info.runName.endsWith('pipeline'))!;
    expect(parent.info.status).toBe('FAILED');
    expect(parent.data.tags['lpclust.error']).toBeTruthy();
    expect(parent.data.tags['lpclust.failed_stage']).toBe('etl_sql');
    const child = childrenOf(runs, parent.info.runId).get('etl_sql')!;
    expect(child.info.status).toBe('FAILED');
    expect(child.data.tags['lpclust.error']).toBe(parent.data.tags['lpclust.error']);
    expect(childrenOf(runs, parent.info.runId).has('harmonization')).toBe(false);
  });
});

describe('pipeline plots', () => {
  it('writes valid PNG and SVG files of the right size, the high-resolution copy 3× larger, and the metric-vs-k chart for k = 0', async () => {
    const res = await runPipeline(opts({ k: 0, kRange: [3, 5], sources: { newmongo: sample.sources.newmongo } }), { store, experimentName: EXP });
    const plotDir = path.join(res.outputs.cluster.outDir, 'plots');
    for (const base of ['clusterCenters', 'clusterPie', 'silhouette', 'metricVsK']) {
      const svg = svgSize(path.join(plotDir, `${base}.svg`));
      const png = pngSize(path.join(plotDir, `${base}.png`));
      expect(svg.width).toBeGreaterThan(300);
      expect(png).toEqual({ width: Math.round(svg.width), height: Math.round(svg.height) });
    }
    const c = svgSize(path.join(plotDir, 'clusterCenters.svg'));
    expect(pngSize(path.join(plotDir, 'clusterCenters_hires.png'))).toEqual({ width: Math.round(c.width * 3), height: Math.round(c.height * 3) });
    const parent = await store.getRun(res.runId);
    expect(parent.info.runName).toBe(`kmeans euclidean k=${res.outputs.cluster.k} pipeline`);
    expect(parent.data.params.k_chosen).toBe(String(res.outputs.cluster.k));
    const cluster = childrenOf(await allRuns(store, EXP), res.runId).get('clustering')!;
    expect((await store.listArtifacts(cluster.info.runId, 'plots')).map((a) => a.path)).toContain('plots/metricVsK.png');
  });
});
