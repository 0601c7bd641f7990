/**
 * Benchmark of the plots: 20,000 synthetic daily profiles (24 slots) in k = 12 clusters, every chart
 * rendered to SVG and PNG (the centres chart also at 3×). Run: `npx tsx bench/plot.ts [n] [k] [outDir]`.
 * The target: under 5 s in total.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Random } from '../src/util/random.js';
import { normalizeRows } from '../src/profiles/normalize.js';
import { renderClusterCenters, renderClusterPie, renderMetricVsK, renderSilhouette } from '../src/plot/index.js';

/** Synthetic clustered daily profiles: k daily shapes (one or two bumps), noise, L2-normalised. */
export function syntheticProfiles(n: number, k: number, L: number, seed = 0): { X: Float64Array; labels: Int32Array; centres: Float64Array } {
  const rng = new Random(seed);
  const shapes = new Float64Array(k * L);
  for (let c = 0; c < k; c++) {
    const p1 = 6 + rng.next() * 6;
    const p2 = 15 + rng.next() * 7;
    const w2 = rng.next();
    for (let j = 0; j < L; j++) {
      const h = (24 * j) / L;
      shapes[c * L + j] = 0.3 + Math.exp(-((h - p1) ** 2) / 4) + w2 * 1.5 * Math.exp(-((h - p2) ** 2) / 3);
    }
  }
  // Cluster sizes decrease geometrically, like real clusterings numbered by size.
  const weights = Array.from({ length: k }, (_, c) => 0.8 ** c);
  const total = weights.reduce((a, b) => a + b, 0);
  const labels = new Int32Array(n);
  const raw = new Float64Array(n * L);
  for (let i = 0; i < n; i++) {
    let u = rng.next() * total;
    let c = 0;
    while (c < k - 1 && u >= weights[c]) u -= weights[c++];
    labels[i] = c;
    const scale = 0.5 + rng.next();
    for (let j = 0; j < L; j++) raw[i * L + j] = Math.max(0.01, scale * (shapes[c * L + j] + 0.15 * rng.normal()));
  }
  const X = normalizeRows(raw, L, 'l2');
  const centres = new Float64Array(k * L);
  const counts = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    counts[labels[i]]++;
    for (let j = 0; j < L; j++) centres[labels[i] * L + j] += X[i * L + j];
  }
  for (let c = 0; c < k; c++) for (let j = 0; j < L; j++) centres[c * L + j] /= Math.max(1, counts[c]);
  return { X, labels, centres };
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 20000);
  const k = Number(process.argv[3] ?? 12);
  const outDir = process.argv[4] ?? mkdtempSync(path.join(os.tmpdir(), 'lpclust-bench-plot-'));
  const L = 24;
  const { X, labels, centres } = syntheticProfiles(n, k, L);
  const sil = new Float64Array(n);
  const rng = new Random(1);
  for (let i = 0; i < n; i++) sil[i] = Math.max(-1, Math.min(1, 0.35 - labels[i] * 0.02 + 0.2 * rng.normal()));
  const t0 = performance.now();
  const centresFiles = await renderClusterCenters({ X, L, labels, centres }, { outDir, basename: 'clusterCenters' });
  const t1 = performance.now();
  await renderClusterPie({ labels, k }, { outDir, basename: 'clusterPie' });
  const t2 = performance.now();
  await renderSilhouette({ silhouettes: sil, labels, k, distance: 'Euclidean' }, { outDir, basename: 'silhouette' });
  const t3 = performance.now();
  const ks = Array.from({ length: 18 }, (_, i) => i + 3);
  const series = ['kmeans', 'kmedoids', 'agglomerative', 'som'].map((name, s) => ({
    name,
    points: ks.map((kk) => ({ k: kk, value: 0.45 - 0.012 * kk + 0.03 * Math.sin(kk + s) - 0.02 * s })),
  }));
  await renderMetricVsK({ metric: 'Silhouette Score', series, best: { series: 'kmeans', k: 4 } }, { outDir, basename: 'metric_silhouette' });
  const t4 = performance.now();
  // Worst case of line mode: the most profiles `auto` still draws as lines (1500), at 1× and 3×.
  const small = syntheticProfiles(1500, k, L, 2);
  const t5 = performance.now();
  await renderClusterCenters({ X: small.X, L, labels: small.labels, centres: small.centres }, { outDir, basename: 'clusterCenters_lines' }, { mode: 'lines' });
  const t6 = performance.now();
  const ms = (a: number, b: number) => `${(b - a).toFixed(0)} ms`;
  console.log(`plots of n=${n} profiles, k=${k}, L=${L} in ${outDir}`);
  console.log(`  clusterCenters (svg + png + 3x png, ${centresFiles.width}x${centresFiles.height}): ${ms(t0, t1)}`);
  console.log(`  clusterPie: ${ms(t1, t2)}   silhouette: ${ms(t2, t3)}   metric vs k: ${ms(t3, t4)}`);
  console.log(`  total: ${ms(t0, t4)} (target < 5000 ms)`);
  console.log(`  line mode, 1500 profiles (svg + png + 3x png): ${ms(t5, t6)}`);
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  await main();
}
