/**
 * Benchmark of the validation metrics against scikit-learn, in one run on the same data.
 * Run: npx tsx bench/validate.ts [--n-matrix 10000] [--n 20000] [--no-python]
 * scikit-learn is timed through Debian's /usr/bin/python3 when it has sklearn; otherwise the
 * figure measured for the issue (silhouette on a precomputed 10,000² matrix: 0.49 s) is used.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { encodeNpyHeader } from '../src/io/npy.js';
import { Random } from '../src/util/random.js';
import { calinskiHarabasz, computeValidation, daviesBouldin, silhouetteEuclidean, silhouettePrecomputed } from '../src/validate/index.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const nMatrix = opt('--n-matrix', 10000);
const n = opt('--n', 20000);
const L = 24;
const k = 12;
const usePython = !args.includes('--no-python');
const PY = '/usr/bin/python3';

function hasSklearn(): boolean {
  try {
    execFileSync(PY, ['-c', 'import sklearn'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Best of `reps` wall and CPU (user + system) times in seconds. */
function time(fn: () => unknown, reps = 3): { s: number; cpu: number; value: unknown } {
  let best = Infinity;
  let cpu = Infinity;
  let value: unknown;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    value = fn();
    const c = process.cpuUsage(c0);
    best = Math.min(best, (performance.now() - t0) / 1000);
    cpu = Math.min(cpu, (c.user + c.system) / 1e6);
  }
  return { s: best, cpu, value };
}

function writeNpy(file: string, data: Float32Array | Float64Array, shape: number[]): void {
  const header = encodeNpyHeader(data instanceof Float32Array ? 'float32' : 'float64', shape);
  const body = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(header.length + body.length);
  out.set(header);
  out.set(body, header.length);
  writeFileSync(file, out);
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'lpclust-bench-validate-'));
try {
  const rnd = new Random(0);
  // Blobs: k centres in L dimensions, rows L2-normalised like the profiles.
  const centres = Float64Array.from({ length: k * L }, () => Math.abs(rnd.normal()));
  const makeRows = (m: number): { X: Float64Array; labels: Int32Array } => {
    const X = new Float64Array(m * L);
    const labels = new Int32Array(m);
    for (let i = 0; i < m; i++) {
      const c = rnd.int(k);
      labels[i] = c;
      let ss = 0;
      for (let t = 0; t < L; t++) {
        const v = Math.abs(centres[c * L + t] + 0.5 * rnd.normal());
        X[i * L + t] = v;
        ss += v * v;
      }
      for (let t = 0; t < L; t++) X[i * L + t] /= Math.sqrt(ss);
    }
    return { X, labels };
  };
  // A symmetric distance matrix with zero diagonal (Euclidean distances of blob rows).
  const m = makeRows(nMatrix);
  const D = new Float32Array(nMatrix * nMatrix);
  for (let i = 0; i < nMatrix; i++) {
    for (let j = i + 1; j < nMatrix; j++) {
      let ss = 0;
      for (let t = 0; t < L; t++) {
        const d = m.X[i * L + t] - m.X[j * L + t];
        ss += d * d;
      }
      D[i * nMatrix + j] = D[j * nMatrix + i] = Math.sqrt(ss);
    }
  }
  const D64 = Float64Array.from(D);
  const big = makeRows(n);

  const ours: Record<string, { s: number; cpu: number; value: number }> = {};
  const rec = (name: string, fn: () => number, reps = 3): void => {
    const r = time(fn, reps);
    ours[name] = { s: r.s, cpu: r.cpu, value: r.value as number };
  };
  rec(`silhouette precomputed ${nMatrix}² float32`, () => silhouettePrecomputed(D, nMatrix, m.labels).score);
  rec(`silhouette precomputed ${nMatrix}² float64`, () => silhouettePrecomputed(D64, nMatrix, m.labels).score);
  rec(`davies-bouldin ${n}×${L}`, () => daviesBouldin(big.X, L, big.labels));
  rec(`calinski-harabasz ${n}×${L}`, () => calinskiHarabasz(big.X, L, big.labels));
  rec(`silhouette euclidean ${n}×${L}`, () => silhouetteEuclidean(big.X, L, big.labels).score, 1);
  rec(`all metrics ${n}×${L} (computeValidation)`, () => computeValidation({ X: big.X, L, labels: big.labels, k }).metrics['Silhouette Score'], 1);

  let theirs: Record<string, [number, number | undefined]> = {};
  let source = 'issue figure (scikit-learn not available)';
  if (usePython && hasSklearn()) {
    writeNpy(path.join(dir, 'D32.npy'), D, [nMatrix, nMatrix]);
    writeNpy(path.join(dir, 'D64.npy'), D64, [nMatrix, nMatrix]);
    writeNpy(path.join(dir, 'Xm.npy'), m.X, [nMatrix, L]);
    writeNpy(path.join(dir, 'X.npy'), big.X, [n, L]);
    writeNpy(path.join(dir, 'y.npy'), Float64Array.from(big.labels), [n]);
    writeNpy(path.join(dir, 'ym.npy'), Float64Array.from(m.labels), [nMatrix]);
    const script = `
import json, time, numpy as np, sklearn
from sklearn import metrics
d = ${JSON.stringify(dir)}
D32 = np.load(d + '/D32.npy'); D64 = np.load(d + '/D64.npy'); ym = np.load(d + '/ym.npy').astype(int)
X = np.load(d + '/X.npy'); y = np.load(d + '/y.npy').astype(int)
def best(f, reps=3):
    b = c = float('inf')
    for _ in range(reps):
        t = time.perf_counter(); p = time.process_time(); f()
        b = min(b, time.perf_counter() - t); c = min(c, time.process_time() - p)
    return [b, c]
out = {
  'silhouette precomputed ${nMatrix}² float32': best(lambda: metrics.silhouette_score(D32, ym, metric='precomputed')),
  'silhouette precomputed ${nMatrix}² float64': best(lambda: metrics.silhouette_score(D64, ym, metric='precomputed')),
  'davies-bouldin ${n}×${L}': best(lambda: metrics.davies_bouldin_score(X, y)),
  'calinski-harabasz ${n}×${L}': best(lambda: metrics.calinski_harabasz_score(X, y)),
  'silhouette euclidean ${n}×${L}': best(lambda: metrics.silhouette_score(X, y), 1),
  'values': [float(metrics.silhouette_score(D64, ym, metric='precomputed')), float(metrics.davies_bouldin_score(X, y))],
  'sklearn': sklearn.__version__,
}
print(json.dumps(out))
`;
    const res = JSON.parse(execFileSync(PY, ['-c', script], { encoding: 'utf8', maxBuffer: 1 << 20 }));
    source = `scikit-learn ${res.sklearn}, same data, same run`;
    const [silRef, dbRef] = res.values as number[];
    const relSil = Math.abs(ours[`silhouette precomputed ${nMatrix}² float64`].value - silRef) / Math.abs(silRef);
    const relDb = Math.abs(ours[`davies-bouldin ${n}×${L}`].value - dbRef) / Math.abs(dbRef);
    console.log(`agreement with scikit-learn: silhouette (float64 matrix) rel. error ${relSil.toExponential(2)}, Davies–Bouldin ${relDb.toExponential(2)}`);
    delete res.values;
    delete res.sklearn;
    theirs = res;
  } else {
    theirs = { [`silhouette precomputed ${nMatrix}² float32`]: [0.49, undefined] };
  }
  console.log(`validation benchmark (best of 3 unless noted; reference: ${source}; ${os.cpus().length} cores, load average ${os.loadavg()[0].toFixed(1)})`);
  console.log('wall = elapsed seconds; cpu = process CPU seconds (less sensitive to other work on the machine)');
  console.log(`${'metric'.padEnd(44)} ${'ours wall'.padStart(10)} ${'ours cpu'.padStart(9)} ${'sk wall'.padStart(8)} ${'sk cpu'.padStart(8)} ${'wall ×'.padStart(7)} ${'cpu ×'.padStart(7)}`);
  const f = (v: number | undefined, w: number): string => (v === undefined ? '-' : v.toFixed(3)).padStart(w);
  for (const [name, r] of Object.entries(ours)) {
    const [tw, tc] = theirs[name] ?? [undefined, undefined];
    const ratio = (a: number | undefined, b: number): string => (a === undefined ? '-' : (a / b).toFixed(2) + '×').padStart(7);
    console.log(`${name.padEnd(44)} ${f(r.s, 10)} ${f(r.cpu, 9)} ${f(tw, 8)} ${f(tc, 8)} ${ratio(tw, r.s)} ${ratio(tc, r.cpu)}`);
  }
  console.log('× = scikit-learn time / lpclust time (above 1: lpclust is faster)');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
