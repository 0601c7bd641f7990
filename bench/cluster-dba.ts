/**
 * DBA k-means benchmark at tslearn's settings (random init, n_init 10, max_iter 5, radius 1,
 * 30 barycentre iterations per update). Prints our time and inertia (tslearn's convention: mean squared DTW),
 * and tslearn's when `python3 -c "import tslearn"` works (it is not packaged in Debian).
 * Run: npx tsx bench/cluster-dba.ts [N] [k]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DbaKMeans } from '../src/cluster/index.js';
import { syntheticProfiles } from './cluster-data.js';

const N = Number(process.argv[2] ?? 2000);
const k = Number(process.argv[3] ?? 12);
const rows = syntheticProfiles(N, 24, 4);
const t0 = performance.now();
const m = new DbaKMeans({ k, seed: 0 }).fit(rows);
const ours = (performance.now() - t0) / 1000;
console.log(`lpclust DBA k-means N=${N} k=${k}: ${ours.toFixed(2)} s, inertia (mean squared DTW) ${(m.state!.inertia / N).toFixed(6)}`);
const dir = mkdtempSync(path.join(tmpdir(), 'lpclust-bench-'));
writeFileSync(path.join(dir, 'X.f64'), Buffer.from(rows.data.buffer));
const py = `
import numpy as np, time
from tslearn.clustering import TimeSeriesKMeans
X = np.fromfile(${JSON.stringify(path.join(dir, 'X.f64'))}, dtype='<f8').reshape(-1, 24, 1)
t = time.perf_counter()
km = TimeSeriesKMeans(n_clusters=${k}, metric='dtw', metric_params={'sakoe_chiba_radius': 1}, n_init=10, max_iter=5, random_state=0).fit(X)
print(time.perf_counter() - t, km.inertia_)
`;
for (const python of ['/usr/bin/python3', '/tmp/tsl/bin/python3']) {
  try {
    const [t, inertia] = execFileSync(python, ['-c', py], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split(' ').map(Number);
    console.log(`tslearn TimeSeriesKMeans (${python}): ${t.toFixed(2)} s, inertia ${inertia.toFixed(6)}; speed ratio tslearn/ours = ${(t / ours).toFixed(1)} (target ≥ 10)`);
    process.exit(0);
  } catch {
    // try the next interpreter
  }
}
console.log('tslearn not available here: no ratio');
