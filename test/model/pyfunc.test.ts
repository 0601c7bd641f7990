/**
 * The `python_function` flavor without MLflow: for every kind of model `lpclust predict` handles,
 * Debian's python3 (numpy, pandas) imports the loader shipped in the model (`code/`), calls
 * `_load_pyfunc` on the flavor's data path as MLflow does, and `predict` on the training days must
 * give lpclust predict's clusters, distances and margins (1e-9 relative). Also: the MLmodel
 * flavor, the environment files and the input example as MLflow writes them. A python3 without
 * numpy and pandas FAILS this test (CI installs python3-numpy and python3-pandas).
 * Needs `npm run build` (spawns bin/lpclust.js).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { syntheticDays } from '../support/synthetic.js';

const BIN = path.resolve('bin/lpclust.js');
let dir = '';
let csv = '';
let python = '';

/** A python3 that imports numpy and pandas: LPCLUST_PYTHON, Debian's /usr/bin/python3, then python3 on PATH. */
function findPython(): { exe: string; tried: string[] } {
  const tried: string[] = [];
  for (const exe of [process.env.LPCLUST_PYTHON, '/usr/bin/python3', 'python3'].filter((x): x is string => !!x)) {
    const r = spawnSync(exe, ['-c', 'import numpy, pandas'], { encoding: 'utf8' });
    if (r.status === 0) return { exe, tried };
    tried.push(`${exe}: ${r.error ? r.error.message : r.stderr.trim().split('\n').pop()}`);
  }
  return { exe: '', tried };
}

function lpclust(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, '--tracking-uri', `file:${path.join(dir, 'mlruns')}`, ...args], { cwd: dir, encoding: 'utf8' });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Load the model as MLflow's pyfunc loader does, predict `csv` and the input example, print JSON. */
const SCRIPT = `
import importlib, json, os, sys
import pandas as pd
model_dir, csv = sys.argv[1], sys.argv[2]
# As mlflow.pyfunc.load_model: the flavor's code/ on sys.path, loader_module imported,
# _load_pyfunc called with <model dir>/<data>.
sys.path.insert(0, os.path.join(model_dir, "code"))
loader = importlib.import_module("lpclust_pyfunc")
model = loader._load_pyfunc(os.path.join(model_dir, "lpclust-model.json"))
df = pd.read_csv(csv, dtype={"id": str})
out = model.predict(df)
assert list(out.columns) == ["cluster", "distance", "margin"], list(out.columns)
assert str(out["cluster"].dtype) == "int64", out["cluster"].dtype
with open(os.path.join(model_dir, "input_example.json")) as f:
    example = pd.read_json(f, orient="split")
ex = model.predict(example)
print(json.dumps({"cluster": out["cluster"].tolist(), "distance": out["distance"].tolist(), "margin": out["margin"].tolist(), "example": ex["cluster"].tolist()}))
`;

beforeAll(() => {
  if (!existsSync(path.resolve('dist/cli/commands/cluster.js'))) execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { stdio: 'ignore' });
  dir = mkdtempSync(path.join(tmpdir(), 'lpclust-pyfunc-'));
  const slots = Array.from({ length: 24 }, (_, h) => `${String(h).padStart(2, '0')}:00`);
  const { rows, classes } = syntheticDays(60, 7, 3);
  let out = `id,date,${slots.join(',')}\n`;
  rows.forEach((v, i) => {
    const date = new Date(Date.UTC(2021, 0, 1) + i * 86400000).toISOString().slice(0, 10);
    out += `M${classes[i] + 1},${date},${v.map((x) => (x * 100 + 50).toFixed(3)).join(',')}\n`;
  });
  csv = path.join(dir, 'profiles.csv');
  writeFileSync(csv, out);
  python = findPython().exe;
}, 120_000);

const KINDS: Array<{ name: string; args: string[] }> = [
  { name: 'k-means', args: ['--model', 'kmeans'] },
  { name: 'k-means z-score', args: ['--model', 'kmeans', '--normalize', 'zscore'] },
  { name: 'DBA k-means (DTW, float64)', args: ['--model', 'kmeans', '--metric', 'dtw', '--radius', '2'] },
  { name: 'DTW k-medoids (float32 matrix)', args: ['--model', 'kmedoids', '--metric', 'dtw'] },
  { name: 'Euclidean k-medoids', args: ['--model', 'kmedoids', '--normalize', 'none'] },
  { name: 'agglomerative Euclidean', args: ['--model', 'agglomerative'] },
  { name: 'agglomerative DTW (medoids)', args: ['--model', 'agglomerative', '--metric', 'dtw', '--radius', '3'] },
  { name: 'SOM', args: ['--model', 'som'] },
];

describe('the python_function flavor', () => {
  it('a python3 with numpy and pandas is installed (CI installs python3-numpy python3-pandas)', () => {
    const { exe, tried } = findPython();
    expect(exe, `no python3 with numpy and pandas; tried ${tried.join('; ')}. Install them: apt-get install python3-numpy python3-pandas`).not.toBe('');
  });

  it.each(KINDS)('$name: the Python loader predicts what lpclust predict does', ({ name, args }) => {
    expect(python, 'no python3 with numpy and pandas (see the first test)').not.toBe('');
    const fit = lpclust(['--json', 'cluster', '--in', csv, ...args, '-k', '3', '--out-dir', 'out']);
    expect(fit.status, fit.stderr).toBe(0);
    const runId = (JSON.parse(fit.stdout) as { runId: string }).runId;
    const modelDir = path.join(dir, 'out', runId, 'model');
    const predOut = path.join(dir, `pred-${runId}.csv`);
    const pred = lpclust(['predict', '--model', modelDir, '--in', csv, '--out', predOut]);
    expect(pred.status, pred.stderr).toBe(0);
    const want = readFileSync(predOut, 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));

    const py = spawnSync(python, ['-c', SCRIPT, modelDir, csv], { encoding: 'utf8' });
    expect(py.status, `${name}: ${py.stderr}`).toBe(0);
    const got = JSON.parse(py.stdout) as { cluster: number[]; distance: number[]; margin: number[]; example: number[] };
    expect(got.cluster).toHaveLength(want.length);
    for (let i = 0; i < want.length; i++) {
      const [, , c, d, m] = want[i];
      expect(got.cluster[i], `row ${i + 1}`).toBe(Number(c));
      expect(Math.abs(got.distance[i] - Number(d)), `distance of row ${i + 1}: ${got.distance[i]} vs ${d}`).toBeLessThanOrEqual(1e-9 * Math.max(1e-12, Math.abs(Number(d))));
      expect(Math.abs(got.margin[i] - Number(m)), `margin of row ${i + 1}: ${got.margin[i]} vs ${m}`).toBeLessThanOrEqual(1e-9 * Math.max(Math.abs(Number(d)), Math.abs(Number(m)), 1e-12));
    }
    // The input example is the first training day, in Wh: it predicts as that row does.
    expect(got.example).toEqual([Number(want[0][2])]);
  });

  it('the model carries the flavor, its environment and the input example as MLflow writes them', () => {
    const fit = lpclust(['--json', 'cluster', '--in', csv, '--model', 'kmeans', '-k', '3', '--out-dir', 'layout']);
    expect(fit.status, fit.stderr).toBe(0);
    const modelDir = path.join(dir, 'layout', (JSON.parse(fit.stdout) as { runId: string }).runId, 'model');
    const mlmodel = YAML.parse(readFileSync(path.join(modelDir, 'MLmodel'), 'utf8')) as {
      flavors: Record<string, Record<string, unknown>>;
      saved_input_example_info: Record<string, string>;
      signature: { outputs: string };
    };
    expect(mlmodel.flavors.python_function).toEqual({
      code: 'code',
      data: 'lpclust-model.json',
      env: { conda: 'conda.yaml', virtualenv: 'python_env.yaml' },
      loader_module: 'lpclust_pyfunc',
      python_version: '3.11.2',
    });
    expect(mlmodel.flavors.lpclust.model_file).toBe('lpclust-model.json');
    expect(mlmodel.saved_input_example_info).toEqual({ artifact_path: 'input_example.json', pandas_orient: 'split', serving_input_path: 'serving_input_example.json', type: 'dataframe' });
    expect(JSON.parse(mlmodel.signature.outputs)).toEqual([
      { type: 'long', name: 'cluster', required: true },
      { type: 'double', name: 'distance', required: true },
      { type: 'double', name: 'margin', required: true },
    ]);
    expect(readFileSync(path.join(modelDir, 'code', 'lpclust_pyfunc.py'), 'utf8')).toBe(readFileSync(path.resolve('python/lpclust_pyfunc.py'), 'utf8'));
    expect(readFileSync(path.join(modelDir, 'python_env.yaml'), 'utf8')).toBe('python: 3.11.2\nbuild_dependencies:\n- pip\n- setuptools\n- wheel\ndependencies:\n- -r requirements.txt\n');
    expect(readFileSync(path.join(modelDir, 'requirements.txt'), 'utf8')).toBe('numpy>=1.24\npandas>=1.5');
    // input_example.json: pandas "split" JSON on one line, as MLflow; serving_input_example.json: indented, under dataframe_split.
    const firstRow = readFileSync(csv, 'utf8').split('\n')[1].split(',').slice(2).map(Number);
    const example = readFileSync(path.join(modelDir, 'input_example.json'), 'utf8');
    expect(example).toMatch(/^\{"columns": \["00:00", "01:00", .*\], "data": \[\[[0-9.e+-]+(, [0-9.e+-]+){23}\]\]\}$/);
    expect(JSON.parse(example).data).toEqual([firstRow]);
    const serving = readFileSync(path.join(modelDir, 'serving_input_example.json'), 'utf8');
    expect(serving.startsWith('{\n  "dataframe_split": {\n    "columns": [\n      "00:00",\n')).toBe(true);
    expect(JSON.parse(serving)).toEqual({ dataframe_split: JSON.parse(example) });
  });
});
