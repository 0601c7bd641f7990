/**
 * k-means benchmark: N = 20,000 × 24, k = 12, n_init 10, random init (the setting), on
 * L2-normalised synthetic load profiles, against scikit-learn's KMeans (Lloyd) in the same run
 * through Debian's /usr/bin/python3 (`apt-get install python3-sklearn`). Prints the best of 3 fits
 * of each, the time ratio, both inertias, each side's peak RSS and the machine's load (`uptime`:
 * the machine may be shared; figures from a loaded machine are only indicative).
 *
 *   npm run build && npx tsx bench/cluster-kmeans.ts [N] [--workers W]
 *
 * lpclust runs its restarts on W threads (default: one per core); scikit-learn uses its OpenMP
 * threads (one per core). OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, set on some machines for old
 * OpenBLAS builds, are unset for the Python side only (they slow a current numpy); the BLAS and
 * OpenMP pools it then runs are printed (threadpoolctl).
 */
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
// The compiled library (run `npm run build` first; `npm run bench` does): the restarts' helper
// threads then load plain JavaScript, as they do for users, not TypeScript through tsx's loader.
import { KMeans } from '../dist/cluster/index.js';
import { closeKMeansHelpers } from '../dist/cluster/kmeans-restarts.js';
import { syntheticProfiles } from './cluster-data.js';

const N = Number(process.argv[2] && !process.argv[2].startsWith('--') ? process.argv[2] : 20000);
const wi = process.argv.indexOf('--workers');
const workers = wi >= 0 ? Number(process.argv[wi + 1]) : availableParallelism();
const L = 24;
const uptime = (): string => execFileSync('uptime', { encoding: 'utf8' }).trim();
const rows = syntheticProfiles(N, L, 1);
console.log(`load before: ${uptime()}`);
// Best of 3, as for scikit-learn below (the CPU may be shared: the best run is the least disturbed).
let ours = Infinity;
let m = new KMeans({ k: 12, nInit: 10, seed: 0, workers });
for (let rep = 0; rep < 3; rep++) {
  const t0 = performance.now();
  m = new KMeans({ k: 12, nInit: 10, seed: 0, workers }).fit(rows);
  ours = Math.min(ours, (performance.now() - t0) / 1000);
}
await closeKMeansHelpers();
const oursRss = process.resourceUsage().maxRSS / 1024;
console.log(`lpclust KMeans N=${N} k=12 n_init=10 random init, ${workers} thread(s) (best of 3): ${ours.toFixed(3)} s, inertia ${m.state!.inertia.toFixed(6)}, peak RSS ${oursRss.toFixed(0)} MB`);
const dir = mkdtempSync(path.join(tmpdir(), 'lpclust-bench-'));
const file = path.join(dir, 'X.f64');
writeFileSync(file, Buffer.from(rows.data.buffer));
const py = `
import numpy as np, time, resource, sklearn
from sklearn.cluster import KMeans
try:
    from threadpoolctl import threadpool_info
    pools = '; '.join(f"{p.get('internal_api')} {p.get('num_threads')} threads" + (f" ({p.get('architecture')})" if p.get('architecture') else '') for p in threadpool_info())
except Exception as e:
    pools = f'threadpoolctl unavailable ({e})'
X = np.fromfile(${JSON.stringify(file)}, dtype='<f8').reshape(-1, ${L})
best = 1e9
for rep in range(3):
    t = time.perf_counter(); km = KMeans(n_clusters=12, init='random', n_init=10, random_state=0, algorithm='lloyd').fit(X); best = min(best, time.perf_counter() - t)
print(best, repr(km.inertia_), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, sklearn.__version__, '|', pools)
`;
const env = { ...process.env };
delete env.OPENBLAS_CORETYPE;
delete env.OPENBLAS_L2_SIZE;
try {
  const out = execFileSync('/usr/bin/python3', ['-c', py], { encoding: 'utf8', env }).trim();
  const [head, pools] = out.split(' | ');
  const [t, inertia, rss, version] = head.split(' ');
  const [tt, ii] = [Number(t), Number(inertia)];
  console.log(`scikit-learn ${version} KMeans (lloyd, best of 3): ${tt.toFixed(3)} s, inertia ${ii.toFixed(6)}, peak RSS ${Number(rss).toFixed(0)} MB; thread pools: ${pools}`);
  console.log(`time ratio lpclust/scikit-learn = ${(ours / tt).toFixed(2)} (target ≤ 1); inertia lpclust/scikit-learn = ${(m.state!.inertia / ii).toFixed(6)} (target ≤ 1)`);
} catch (e) {
  console.log(`scikit-learn not available through /usr/bin/python3 (apt-get install python3-sklearn): ${(e as Error).message.split('\n')[0]}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(`load after: ${uptime()}`);
