/**
 * Average-linkage benchmark: N = 10,000 × 24 rows (default), Euclidean distances, our pdist +
 * NN-chain against SciPy `linkage(X, 'average')` on the same rows; checks the heights agree.
 * Run: npx tsx bench/cluster-linkage.ts [N] [method]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agglomerative, type Linkage } from '../src/cluster/index.js';
import { syntheticProfiles } from './cluster-data.js';

const N = Number(process.argv[2] ?? 10000);
const method = (process.argv[3] ?? 'average') as Linkage;
const rows = syntheticProfiles(N, 24, 2);
const t0 = performance.now();
const Z = new Agglomerative({ k: 12, linkage: method }).fitRows(rows).state!.Z;
const ours = (performance.now() - t0) / 1000;
console.log(`lpclust ${method} linkage N=${N} (distances + linkage + cut): ${ours.toFixed(2)} s`);
const dir = mkdtempSync(path.join(tmpdir(), 'lpclust-bench-'));
writeFileSync(path.join(dir, 'X.f64'), Buffer.from(rows.data.buffer));
const py = `
import numpy as np, time
from scipy.cluster.hierarchy import linkage
X = np.fromfile(${JSON.stringify(path.join(dir, 'X.f64'))}, dtype='<f8').reshape(-1, 24)
t = time.perf_counter(); Z = linkage(X, ${JSON.stringify(method)}); t = time.perf_counter() - t
Z[:, 2].tofile(${JSON.stringify(path.join(dir, 'h.f64'))})
print(t)
`;
try {
  const t = Number(execFileSync('/usr/bin/python3', ['-c', py], { encoding: 'utf8' }).trim());
  const h = new Float64Array(readFileSync(path.join(dir, 'h.f64')).buffer.slice(0));
  let maxRel = 0;
  for (let r = 0; r < N - 1; r++) maxRel = Math.max(maxRel, Math.abs(Z[r * 4 + 2] - h[r]) / Math.max(1e-300, Math.abs(h[r])));
  console.log(`SciPy linkage(X, '${method}'): ${t.toFixed(2)} s; max relative height difference ${maxRel.toExponential(2)}`);
  console.log(`speed ratio SciPy/ours = ${(t / ours).toFixed(2)} (target ≥ 1)`);
} catch (e) {
  console.log(`SciPy not available: ${(e as Error).message.split('\n')[0]}`);
}
