/**
 * DBA k-means benchmark at tslearn's settings (n_init 10, max_iter 5, radius 1, 30 barycentre
 * iterations per update), against tslearn's TimeSeriesKMeans in the same run when it is available:
 *
 * 1. random initial centres, 10 restarts (each side with its own generator: same work, not the
 *    same centres);
 * 2. one run from the same explicit initial centres (k rows picked by our seed): the same
 *    computation on both sides, so labels are compared too.
 *
 * tslearn comes from the checkout in TSLEARN_SRC (put on PYTHONPATH) when that is set, else from
 * `python3 -c "import tslearn"`. Its numba functions are compiled by a warm-up fit before timing.
 * A tslearn that needs a newer numba than the installed one runs with numba's JIT disabled (plain
 * Python); that is printed, and such a ratio says nothing about tslearn's speed.
 * Inertia is printed in tslearn's convention: mean squared DTW.
 * Run: TSLEARN_SRC=/path/to/tslearn npx tsx bench/cluster-dba.ts [N] [k]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DbaKMeans } from '../src/cluster/index.js';
import { Random } from '../src/util/random.js';
import { syntheticProfiles } from './cluster-data.js';

const N = Number(process.argv[2] ?? 2000);
const k = Number(process.argv[3] ?? 12);
const L = 24;
const rows = syntheticProfiles(N, L, 4);

function timed<T>(f: () => T): [T, number] {
  const t0 = performance.now();
  const v = f();
  return [v, (performance.now() - t0) / 1000];
}

const [mRandom, oursRandom] = timed(() => new DbaKMeans({ k, seed: 0 }).fit(rows));
console.log(`lpclust DBA k-means N=${N} k=${k}, random init ×10: ${oursRandom.toFixed(2)} s, inertia ${(mRandom.state!.inertia / N).toFixed(6)}`);
const initRows = new Random(0).sample(N, k);
const init = new Float64Array(k * L);
initRows.forEach((r, j) => init.set(rows.data.subarray(r * L, (r + 1) * L), j * L));
const [mInit, oursInit] = timed(() => new DbaKMeans({ k, init }).fit(rows));
console.log(`lpclust DBA k-means N=${N} k=${k}, same explicit init ×1: ${oursInit.toFixed(2)} s, inertia ${(mInit.state!.inertia / N).toFixed(6)}, n_iter ${mInit.state!.nIter}`);

const dir = mkdtempSync(path.join(tmpdir(), 'lpclust-bench-'));
writeFileSync(path.join(dir, 'X.f64'), Buffer.from(rows.data.buffer, rows.data.byteOffset, rows.data.byteLength));
writeFileSync(path.join(dir, 'init.f64'), Buffer.from(init.buffer));
const py = `
import json, time, numpy as np, numba, tslearn
from tslearn.clustering import TimeSeriesKMeans
X = np.fromfile(${JSON.stringify(path.join(dir, 'X.f64'))}, dtype='<f8').reshape(-1, ${L}, 1)
init = np.fromfile(${JSON.stringify(path.join(dir, 'init.f64'))}, dtype='<f8').reshape(${k}, ${L}, 1)
# Band spelled as the inferred form: with {'global_constraint': 'sakoe_chiba', ...} tslearn >= 0.8
# bands the assignment but not the barycentre update (see test/cluster/dba-tslearn.test.ts).
mp = {'sakoe_chiba_radius': 1}
TimeSeriesKMeans(n_clusters=2, metric='dtw', metric_params=mp, max_iter=2, init='random', random_state=0).fit(X[:20])  # JIT warm-up
t = time.perf_counter()
a = TimeSeriesKMeans(n_clusters=${k}, metric='dtw', metric_params=mp, n_init=10, max_iter=5, init='random', random_state=0).fit(X)
t_random = time.perf_counter() - t
t = time.perf_counter()
b = TimeSeriesKMeans(n_clusters=${k}, metric='dtw', metric_params=mp, n_init=1, max_iter=5, init=init).fit(X)
t_init = time.perf_counter() - t
print(json.dumps({'version': tslearn.__version__, 'file': tslearn.__file__, 'jit': not numba.config.DISABLE_JIT,
                  'numba': numba.__version__, 't_random': t_random, 'inertia_random': float(a.inertia_),
                  't_init': t_init, 'inertia_init': float(b.inertia_), 'n_iter_init': int(b.n_iter_),
                  'labels_init': b.labels_.tolist()}))
`;

interface TslearnRun {
  version: string;
  file: string;
  jit: boolean;
  numba: string;
  t_random: number;
  inertia_random: number;
  t_init: number;
  inertia_init: number;
  n_iter_init: number;
  labels_init: number[];
}

const src = process.env.TSLEARN_SRC;
// A checkout of tslearn that needs a newer numba than Debian's: run its functions as plain Python
// rather than not at all (printed below, the ratio is then meaningless).
const prelude = src
  ? `import re, pathlib, numba\nm = re.search(r'"numba\\s*>=\\s*([0-9.]+)"', (pathlib.Path(${JSON.stringify(src)}) / 'pyproject.toml').read_text() if (pathlib.Path(${JSON.stringify(src)}) / 'pyproject.toml').exists() else '')\nif m and tuple(map(int, re.findall(r'\\d+', numba.__version__)[:2])) < tuple(map(int, m.group(1).split('.')[:2])): numba.config.DISABLE_JIT = True\n`
  : '';
const env = src ? { ...process.env, PYTHONPATH: [src, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter) } : process.env;
let ran = false;
for (const python of ['/usr/bin/python3', '/tmp/tsl/bin/python3']) {
  let out: string;
  try {
    out = execFileSync(python, ['-W', 'ignore', '-c', prelude + py], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch {
    continue; // no tslearn for this interpreter: try the next one
  }
  const r = JSON.parse(out.trim().split('\n').pop()!) as TslearnRun;
  let agree = 0;
  r.labels_init.forEach((l, i) => (agree += l === mInit.state!.labels[i] ? 1 : 0));
  console.log(`tslearn ${r.version} (${r.file}; ${python}; numba ${r.numba}, JIT ${r.jit ? 'on' : 'OFF: plain Python, ratio not meaningful'})`);
  console.log(`  random init ×10: ${r.t_random.toFixed(2)} s, inertia ${r.inertia_random.toFixed(6)}; time ratio tslearn/ours = ${(r.t_random / oursRandom).toFixed(1)} (target ≥ 10)`);
  console.log(
    `  same explicit init ×1: ${r.t_init.toFixed(2)} s, inertia ${r.inertia_init.toFixed(6)}, n_iter ${r.n_iter_init}; time ratio tslearn/ours = ${(r.t_init / oursInit).toFixed(1)}; labels equal ${agree}/${N}`,
  );
  ran = true;
  break;
}
rmSync(dir, { recursive: true, force: true });
if (!ran) console.log(`tslearn not available here${src ? ` (TSLEARN_SRC=${src})` : ' (set TSLEARN_SRC to a checkout)'}: no ratio`);
