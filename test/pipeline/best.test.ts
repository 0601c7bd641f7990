/**
 * "Best" must be usable: on the sample data the DTW silhouette scores best a split of the 633 days
 * into 614, 10 and 9 (agglomerative, average linkage on the DTW matrix, k = 3). By default neither
 * the sweep nor choose-k may pick it; the summary says why it was left out.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runPipeline, sampleData } from '../../src/pipeline/pipeline.js';
import { runSweep, sweepSummary } from '../../src/pipeline/sweep.js';
import { splitCsvLine } from '../../src/io/csv.js';
import { tempStore } from './helpers.js';

describe('the best configuration on the sample data', () => {
  it('sweep and choose-k leave out the 614 / 10 / 9 split by default, and would pick it without the rule', async () => {
    const { dir, store } = await tempStore('lpclust-best-');
    const s = sampleData();
    const base = { models: ['kmeans', 'agglomerative'] as Array<'kmeans' | 'agglomerative'>, metrics: ['dtw'] as Array<'dtw'>, kRange: [3, 3] as const, nInit: 1, sources: s.sources, meters: s.meters, rules: s.rules, reuse: true, outDir: path.join(dir, 'out') };
    const tracking = { store, experimentName: 'best' };

    const res = await runSweep(base, tracking);
    const agglo = res.outputs.rows.find((r) => r.model === 'agglomerative')!;
    expect(agglo.sizes).toEqual([614, 10, 9]);
    const kmeans = res.outputs.rows.find((r) => r.model === 'kmeans')!;
    // The degenerate split has the higher silhouette, and is not chosen.
    expect(agglo.metrics['Silhouette DTW']).toBeGreaterThan(kmeans.metrics['Silhouette DTW']);
    expect(res.outputs.best).toMatchObject({ model: 'kmeans', metric: 'dtw', k: 3, runId: kmeans.runId });
    expect(agglo.excluded).toBe('2 of 3 clusters under 2 % of the days (smallest 9 of 633, 1.4 %)');
    expect(kmeans.excluded).toBeUndefined();
    const parent = await store.getRun(res.runId);
    expect(parent.data.tags['lpclust.best']).toBe('kmeans dtw k=3');
    expect(parent.data.tags['lpclust.best_run_id']).toBe(kmeans.runId);
    expect(parent.data.params.in).toBe(res.outputs.harmonized);
    expect(parent.data.params.min_cluster_share).toBe('0.02');
    expect(parent.data.metrics['best/silhouette_dtw']).toBe(kmeans.metrics['Silhouette DTW']);
    expect(parent.data.metrics['sweep/excluded']).toBe(1);

    // The summary lists every configuration with its score; the excluded one says why.
    const table = sweepSummary(res);
    expect(table).toMatch(/agglomerative\s+dtw\s+3\s+0\s+0\.2650.*not ranked: 2 of 3 clusters under 2 % of the days \(smallest 9 of 633, 1\.4 %\)/);
    expect(table).toMatch(/kmeans\s+dtw\s+3\s+0\s+0\.\d{4}.*BEST/);
    expect(table).toContain('best by Silhouette DTW (higher is better) among the configurations whose every cluster holds ≥ 2 % of the days (1 of 2 not ranked; --min-cluster-share): kmeans dtw k=3');
    const csv = readFileSync(res.outputs.summaryCsv, 'utf8').trim().split('\n').map((l) => splitCsvLine(l));
    const col = (name: string): number => csv[0].indexOf(name);
    const aggloRow = csv.find((r) => r[0] === 'agglomerative')!;
    expect(aggloRow[col('eligible')]).toBe('false');
    expect(aggloRow[col('excluded_because')]).toBe(agglo.excluded);
    expect(csv.find((r) => r[0] === 'kmeans')![col('best')]).toBe('true');

    // Without the rule the silhouette picks the degenerate split (what the rule prevents).
    const off = await runSweep({ ...base, minClusterShare: 0 }, tracking);
    expect(off.outputs.best).toMatchObject({ model: 'agglomerative', k: 3 });

    // choose-k: agglomerative DTW has no k in 3..29 without a cluster under 2 % of the days: a
    // clear error, not a degenerate model.
    const pipe = { model: 'agglomerative' as const, metric: 'dtw' as const, k: 0, sources: s.sources, meters: s.meters, rules: s.rules, reuse: true, plots: false, outDir: path.join(dir, 'pipe') };
    await expect(runPipeline(pipe, tracking)).rejects.toThrow(/no k in 3\.\.29 gives clusters that each hold at least 2\.0 % of the days: the closest, k = 3, has a cluster of 9 of 633 days \(1\.4 %\)/);
    const chosenOff = await runPipeline({ ...pipe, kRange: [3, 5], minClusterShare: 0 }, tracking);
    expect(chosenOff.outputs.cluster.clusterSizes).toEqual([614, 10, 9]);
  }, 300_000);
});
