/**
 * Benchmark of the pipeline and the sweep, with the time split by stage.
 *
 *   npx tsx bench/pipeline.ts [--profiles 20000] [--k 3..20] [--models kmeans,kmedoids,agglomerative,som]
 *                             [--metrics euclidean,dtw] [--seeds 0] [--workers N] [--skip-sample] [--skip-sweep] [--skip-baseline]
 *
 * 1. The whole pipeline on the bundled sample data (kmeans euclidean k=12, kmedoids dtw k=12):
 *    wall time of every child run (from the store) and of the parent.
 * 2. A sweep of models × metrics × k on `--profiles` synthetic daily profiles (24 slots, 12 shapes,
 *    seeded): the shared DTW matrix computed once, then one clustering run per configuration; time
 *    of the dataset, DTW, clustering (per model and metric) and plots.
 * 3. The baseline in the same run: one standalone clustering run per model × metric at the middle k
 *    (as the old shell loop ran every configuration), extrapolated to all configurations; the ratio.
 * Writes into a temporary folder (printed); nothing in the work tree.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeProfiles } from '../src/io/profiles.js';
import { slotLabels } from '../src/io/profiles.js';
import { runPipeline, sampleData } from '../src/pipeline/pipeline.js';
import { runSweep } from '../src/pipeline/sweep.js';
import { runClusterStage } from '../src/pipeline/cluster.js';
import { openStore } from '../src/tracking/index.js';
import type { MetricName, ModelName } from '../src/cluster/fit.js';
import { syntheticProfiles } from './plot.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}
const flag = (name: string): boolean => process.argv.includes(`--${name}`);

const dir = mkdtempSync(path.join(os.tmpdir(), 'lpclust-bench-pipeline-'));
const store = await openStore(`file:${path.join(dir, 'mlruns')}`);
console.log(`bench pipeline: ${os.cpus().length} CPU(s) (${os.cpus()[0]?.model ?? '?'}), Node ${process.version}; folder ${dir}`);

if (!flag('skip-sample')) {
  const s = sampleData();
  for (const [model, metric] of [['kmeans', 'euclidean'], ['kmedoids', 'dtw'], ['agglomerative', 'dtw']] as Array<[ModelName, MetricName]>) {
    const t0 = performance.now();
    const res = await runPipeline({ model, metric, k: 12, sources: s.sources, meters: s.meters, rules: s.rules, outDir: path.join(dir, 'outputs') }, { store, experimentName: 'bench' });
    const wall = (performance.now() - t0) / 1000;
    const parts: string[] = [];
    for (const st of res.outputs.stages) {
      if (!st.runId) continue;
      const r = await store.getRun(st.runId);
      parts.push(`${st.stage} ${((r.info.endTime! - r.info.startTime) / 1000).toFixed(2)}`);
    }
    console.log(`sample pipeline ${model} ${metric} k=12: ${res.outputs.cluster.n} profiles, ${wall.toFixed(2)} s wall; by stage (s): ${parts.join(', ')}`);
  }
}

if (!flag('skip-sweep')) {
  const n = Number(arg('profiles', '20000'));
  const [k0, k1] = arg('k', '3..20').split('..').map(Number);
  const models = arg('models', 'kmeans,kmedoids,agglomerative,som').split(',') as ModelName[];
  const metrics = arg('metrics', 'euclidean,dtw').split(',') as MetricName[];
  const seeds = arg('seeds', '0').split(',').map(Number);
  const L = 24;
  const { X } = syntheticProfiles(n, 12, L, 7);
  const values = new Float64Array(X.length);
  for (let i = 0; i < X.length; i++) values[i] = X[i] * 1000;
  const ids: string[] = [];
  const dates: string[] = [];
  for (let i = 0; i < n; i++) {
    ids.push(`M${String(i % 500).padStart(4, '0')}`);
    dates.push(new Date(Date.UTC(2020, 0, 1) + Math.floor(i / 500) * 86_400_000).toISOString().slice(0, 10));
  }
  const csv = path.join(dir, `synthetic_${n}.csv`);
  await writeProfiles(csv, { ids, dates, slots: slotLabels(60), values, n, length: L });
  const t0 = performance.now();
  const workers = arg('workers', '') === '' ? undefined : Number(arg('workers', ''));
  const res = await runSweep({ models, metrics, kRange: [k0, k1], seeds, in: csv, outDir: path.join(dir, 'outputs'), nInit: 1, ...(workers ? { workers } : {}) }, { store, experimentName: 'bench' });
  const wall = (performance.now() - t0) / 1000;
  const s = res.outputs.seconds;
  console.log(`sweep ${models.join(',')} × ${metrics.join(',')} × k ${k0}..${k1} × seeds ${seeds.join(',')} on ${n} synthetic profiles: ${res.outputs.rows.length} configurations, ${wall.toFixed(1)} s wall`);
  console.log(`  by stage (s): dataset ${s.dataset.toFixed(2)}, DTW matrix ${s.dtw.toFixed(2)} (once) + read and check ${s.load.toFixed(2)}, Euclidean distances ${s.distances.toFixed(2)} (once), clustering ${s.clustering.toFixed(1)} on ${res.metrics['sweep/workers']} worker thread(s), plots ${s.plots.toFixed(2)}`);
  const groups = new Map<string, { fit: number[]; wall: number[] }>();
  for (const r of res.outputs.rows) {
    const key = `${r.model} ${r.metric}`;
    const g = groups.get(key) ?? { fit: [], wall: [] };
    if (r.status === 'FINISHED') g.fit.push(r.metrics['seconds/fit']);
    const run = r.runId ? await store.getRun(r.runId) : undefined;
    if (run?.info.endTime) g.wall.push((run.info.endTime - run.info.startTime) / 1000);
    groups.set(key, g);
  }
  for (const [key, g] of groups) {
    const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
    console.log(`  ${key.padEnd(24)} ${g.wall.length} runs: fit ${sum(g.fit).toFixed(1)} s, run wall ${sum(g.wall).toFixed(1)} s (mean ${(sum(g.wall) / Math.max(1, g.wall.length)).toFixed(2)} s/run incl. validation and logging; runs overlap on the workers)`);
  }
  if (res.outputs.best) console.log(`  best by ${res.outputs.select}: ${res.outputs.best.model} ${res.outputs.best.metric} k=${res.outputs.best.k} (${res.outputs.best.value.toFixed(4)})`);
  console.log(`  failed configurations: ${res.outputs.rows.filter((r) => r.status === 'FAILED').length}`);
  console.log(`  peak RSS of the sweep process (peak_rss_mb): ${res.metrics.peak_rss_mb} MB; load: ${execFileSync('uptime', { encoding: 'utf8' }).trim()}`);

  if (!flag('skip-baseline')) {
    // Baseline in the same run: the old shell loop's way, one standalone clustering run per
    // configuration (`lpclust cluster --dtw <matrix>`: it reads and checks the matrix, builds its
    // own tree or distances and scores its own silhouettes). Generous to the loop, which also
    // recomputed the DTW matrix every time. Measured once per model × metric at the middle k,
    // times the number of k and seeds.
    const kMid = Math.round((k0 + k1) / 2);
    const nConfigs = (k1 - k0 + 1) * seeds.length;
    let estimate = 0;
    const parts: string[] = [];
    for (const model of models) {
      for (const metric of metrics) {
        if (model === 'som' && metric === 'dtw') continue;
        const tb = performance.now();
        await runClusterStage(
          { in: csv, model, metric, k: kMid, seed: seeds[0], nInit: 1, dtw: res.outputs.dtw, outDir: path.join(dir, 'baseline', `${model}_${metric}`), plots: false },
          { store, experimentName: 'bench-baseline' },
        );
        const sec = (performance.now() - tb) / 1000;
        estimate += sec * nConfigs;
        parts.push(`${model} ${metric} ${sec.toFixed(1)}`);
      }
    }
    const shared = s.dtw + s.load + s.distances + s.clustering;
    console.log(`  baseline, one standalone clustering run per configuration (s/run at k=${kMid}): ${parts.join(', ')}`);
    console.log(`  → ${(estimate / 60).toFixed(1)} min estimated for the ${res.outputs.rows.length} configurations (+ DTW ${s.dtw.toFixed(1)} s once) against the sweep's ${(shared / 60).toFixed(1)} min: ×${((estimate + s.dtw) / shared).toFixed(2)}`);
  }
}
