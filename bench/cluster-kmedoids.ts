/**
 * k-medoids benchmark: FasterPAM (random init, the old default) on an N × N float32 distance
 * matrix (default N = 20,000, 1.6 GB; Euclidean distances of synthetic profiles stand in for the
 * DTW matrix: the algorithm only reads the matrix). Target: < 30 s for the fit.
 * Run: node --max-old-space-size=8192 --import tsx bench/cluster-kmedoids.ts [N] [k]
 */
import { KMedoids, euclideanMatrix } from '../src/cluster/index.js';
import { syntheticProfiles } from './cluster-data.js';

const N = Number(process.argv[2] ?? 20000);
const k = Number(process.argv[3] ?? 12);
const rows = syntheticProfiles(N, 24, 3);
let t = performance.now();
const D = euclideanMatrix(rows);
console.log(`matrix ${N}² (${D.data.constructor.name}) built in ${((performance.now() - t) / 1000).toFixed(1)} s`);
for (const init of ['random', 'build'] as const) {
  t = performance.now();
  const m = new KMedoids({ k, init, seed: 0 }).fit(D);
  const s = (performance.now() - t) / 1000;
  const st = m.state!;
  console.log(`FasterPAM init=${init} k=${k}: ${s.toFixed(2)} s (target < 30 s, ratio ${(s / 30).toFixed(2)}), total deviation ${st.totalDeviation.toFixed(4)}, ${st.swaps} swaps, ${st.nIter} passes`);
}
