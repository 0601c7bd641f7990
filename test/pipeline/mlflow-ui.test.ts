/**
 * What the MLflow UI shows for a sample pipeline: the sample pipeline runs through the CLI into a
 * temporary `./mlruns`, which is then read file by file the way MLflow 2.12's FileStore reads it
 * (meta.yaml keys and types, metric lines, tag files) and compared with what MLflow 2.12.2 itself
 * wrote in `test/fixtures/mlflow/2.12.2/reference/mlruns` (copied from shared/mlflow) (the `clustering` run's log-model tag and
 * `MLmodel`). Asserts the log-model tag, the per-cluster size keys and the choose-k keys; then the
 * same tag over REST, on the contract server.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { runClusterStage } from '../../src/pipeline/cluster.js';
import { OLD_PIPELINE_METRICS } from '../../src/validate/metrics.js';
import { Random } from '../../src/util/random.js';
import { ContractServer } from '../support/contract-server.js';
import { restStore } from '../tracking-rest/helpers.js';
import { BIN, REPO, ensureBuilt, tempDir } from '../tracking/helpers.js';

const REFERENCE = path.join(REPO, 'test', 'fixtures', 'mlflow', '2.12.2', 'reference', 'mlruns', '371990019711117684', '9b36ba455bec41058e74b78eba048e33');

/** One run folder as MLflow's FileStore reads it; throws where MLflow's reader would fail. */
interface FileRun {
  dir: string;
  meta: Record<string, unknown>;
  tags: Record<string, string>;
  params: Record<string, string>;
  /** key → [timestamp, value, step] lines. */
  metrics: Record<string, Array<[number, number, number]>>;
}

/** Files under `dir` as `/`-separated keys (MLflow nests keys containing `/` as folders). */
function keyFiles(dir: string, prefix = ''): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((f) => (statSync(path.join(dir, f)).isDirectory() ? keyFiles(path.join(dir, f), `${prefix}${f}/`) : [`${prefix}${f}`]));
}

function readRun(dir: string): FileRun {
  const meta = YAML.parse(readFileSync(path.join(dir, 'meta.yaml'), 'utf8')) as Record<string, unknown>;
  for (const key of ['run_id', 'run_uuid', 'user_id', 'start_time', 'end_time', 'experiment_id', 'lifecycle_stage']) expect(meta, `${dir} meta.yaml`).toHaveProperty(key);
  expect(Number.isInteger(meta.status), 'status is an integer').toBe(true);
  expect(Number.isInteger(meta.start_time)).toBe(true);
  for (const sub of ['metrics', 'params', 'artifacts']) expect(existsSync(path.join(dir, sub)), `${dir}/${sub}`).toBe(true);
  const read = (sub: string): Record<string, string> => Object.fromEntries(keyFiles(path.join(dir, sub)).map((k) => [k, readFileSync(path.join(dir, sub, k), 'utf8')]));
  const metrics: FileRun['metrics'] = {};
  for (const [key, text] of Object.entries(read('metrics'))) {
    // MLflow refuses an empty metric file and reads "<int ms> <float> <int step>" lines.
    expect(text.endsWith('\n') && text.length > 1, `metric ${key}`).toBe(true);
    metrics[key] = text.trimEnd().split('\n').map((line) => {
      expect(line, `metric ${key}`).toMatch(/^\d+ (-?[0-9.e+-]+|nan|inf|-inf) -?\d+$/);
      const [t, v, s] = line.split(' ');
      return [Number(t), Number(v), Number(s)];
    });
  }
  return { dir, meta, tags: read('tags'), params: read('params'), metrics };
}

/** The latest value of a metric, as MLflow picks it (max by step, then timestamp). */
function latest(run: FileRun, key: string): number {
  const lines = run.metrics[key];
  expect(lines, `metric ${key}`).toBeDefined();
  return [...lines].sort((a, b) => a[2] - b[2] || a[0] - b[0]).at(-1)![1];
}

describe('a sample pipeline as the MLflow UI reads it', () => {
  let runs: FileRun[];
  let clustering: FileRun;
  const reference = {
    tag: JSON.parse(readFileSync(path.join(REFERENCE, 'tags', 'mlflow.log-model.history'), 'utf8')) as Array<Record<string, unknown>>,
    mlmodel: YAML.parse(readFileSync(path.join(REFERENCE, 'artifacts', 'model', 'MLmodel'), 'utf8')) as Record<string, unknown>,
  };

  beforeAll(() => {
    ensureBuilt();
    const cwd = tempDir('lpclust-mlflow-ui-');
    // The sample data, DTW k-means choosing k: every kind of key this test checks.
    execFileSync(process.execPath, [BIN, 'pipeline', '--metric', 'dtw', '-k', '0', '--k-range', '3..6', '--no-plots', '--quiet'], {
      cwd,
      // The FileStore as MLflow 2 reads it (a new folder's default would be sqlite:///mlflow.db).
      env: { ...process.env, MLFLOW_TRACKING_URI: '', LPCLUST_TRACKING_URI: 'file:./mlruns' },
      stdio: 'ignore',
    });
    const root = path.join(cwd, 'mlruns');
    const exps = readdirSync(root).filter((e) => /^\d+$/.test(e) && existsSync(path.join(root, e, 'meta.yaml')) && e !== '0');
    expect(exps).toHaveLength(1);
    const expDir = path.join(root, exps[0]);
    runs = readdirSync(expDir).filter((d) => /^[0-9a-f]{32}$/.test(d)).map((d) => readRun(path.join(expDir, d)));
    clustering = runs.find((r) => r.tags['lpclust.stage'] === 'clustering')!;
  }, 240_000);

  it('every run is readable and FINISHED', () => {
    expect(runs.length).toBeGreaterThanOrEqual(6);
    for (const r of runs) expect(r.meta.status, r.tags['mlflow.runName']).toBe(3);
  });

  it('the clustering run has the mlflow.log-model.history tag as MLflow 2.12.2 writes it, and the MLmodel fields', () => {
    const raw = clustering.tags['mlflow.log-model.history'];
    expect(raw).toBeDefined();
    const history = JSON.parse(raw) as Array<Record<string, unknown>>;
    expect(history).toHaveLength(1);
    const m = history[0];
    // MLflow's keys in MLflow's order; mlflow_version left out on purpose (no MLflow wrote this model).
    expect(Object.keys(m)).toEqual(Object.keys(reference.tag[0]).filter((k) => k !== 'mlflow_version'));
    // Python's json.dumps separators, as in the reference tag.
    expect(raw.startsWith(`[{"run_id": "${clustering.meta.run_id}", "artifact_path": "model", "utc_time_created": "`)).toBe(true);
    expect(m.run_id).toBe(clustering.meta.run_id);
    expect(m.artifact_path).toBe('model');
    expect(m.utc_time_created).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$/);
    expect(String(reference.tag[0].utc_time_created)).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$/);
    expect(m.model_uuid).toMatch(/^[0-9a-f]{32}$/);
    // lpclust's own flavor, and MLflow's python_function (the reference model's only flavor) for Python users.
    expect(Object.keys(m.flavors as object)).toEqual(['lpclust', 'python_function']);
    expect(Object.keys((m.flavors as Record<string, object>).python_function).filter((k) => k in (reference.mlmodel.flavors as Record<string, Record<string, unknown>>).python_function)).toEqual(['env', 'loader_module', 'python_version']);
    const modelDir = path.join(clustering.dir, 'artifacts', 'model');
    expect(m.model_size_bytes).toBe(statSync(path.join(modelDir, 'lpclust-model.json')).size);

    // The MLmodel file: the reference's fields (but mlflow_version) plus the signature, the same
    // values as the tag, keys sorted and the time quoted as PyYAML writes them.
    const text = readFileSync(path.join(modelDir, 'MLmodel'), 'utf8');
    const mlmodel = YAML.parse(text) as Record<string, unknown>;
    expect(Object.keys(mlmodel).sort()).toEqual([...Object.keys(reference.mlmodel).filter((k) => k !== 'mlflow_version'), 'saved_input_example_info', 'signature'].sort());
    for (const key of ['run_id', 'artifact_path', 'utc_time_created', 'model_uuid', 'model_size_bytes']) expect(mlmodel[key], key).toBe(m[key]);
    expect(Object.keys(mlmodel)).toEqual(Object.keys(mlmodel).sort());
    expect(text).toContain(`utc_time_created: '${m.utc_time_created}'`);
  });

  it('logs each cluster size under cluster_size/<c> and the smallest and largest share, not a step series', () => {
    const k = Number(clustering.params.k);
    expect(k).toBeGreaterThanOrEqual(3);
    const sizes = Array.from({ length: k }, (_, c) => clustering.metrics[`cluster_size/${c}`]);
    for (const s of sizes) expect(s.map((l) => l[2])).toEqual([0]);
    const values = sizes.map((s) => s[0][1]);
    const n = Number(clustering.params.n);
    expect(values.reduce((a, b) => a + b, 0)).toBe(n);
    for (let c = 1; c < k; c++) expect(values[c]).toBeLessThanOrEqual(values[c - 1]);
    expect(clustering.metrics[`cluster_size/${k}`]).toBeUndefined();
    expect(clustering.metrics['Cluster Size']).toBeUndefined();
    expect(latest(clustering, 'cluster_share/min')).toBe(values[k - 1] / n);
    expect(latest(clustering, 'cluster_share/max')).toBe(values[0] / n);
    // The default eligibility rule held.
    expect(values[k - 1] / n).toBeGreaterThanOrEqual(0.02);
  });

  it('keeps the choose-k curve under a curve key (step = k) and the chosen k and its score as plain keys', () => {
    const curve = clustering.metrics['choose_k/silhouette_dtw_by_k'];
    expect(curve.map((l) => l[2])).toEqual([3, 4, 5, 6]);
    const k = Number(clustering.params.k);
    expect(latest(clustering, 'choose_k/k')).toBe(k);
    expect(clustering.metrics['choose_k/k'].map((l) => l[2])).toEqual([0]);
    const atK = curve.find((l) => l[2] === k)![1];
    expect(latest(clustering, 'choose_k/silhouette_dtw')).toBe(atK);
    expect(latest(clustering, 'Silhouette DTW')).toBe(atK);
    expect(latest(clustering, 'choose_k/eligible_k')).toBeGreaterThan(0);
    expect(clustering.metrics['Choose-k Silhouette DTW']).toBeUndefined();
  });

  it('keeps the old pipeline metric names and groups lpclust’s own keys by prefix', () => {
    for (const name of OLD_PIPELINE_METRICS) expect(clustering.metrics[name], name).toBeDefined();
    const flat = Object.keys(clustering.metrics).filter((key) => !key.includes('/'));
    expect(flat.sort()).toEqual([...OLD_PIPELINE_METRICS, 'Calinski-Harabasz', 'Inertia', 'Distinctiveness'].sort());
    for (const key of ['fit/dtw_inertia', 'fit/iterations', 'seconds/fit', 'model/predict_agreement']) expect(clustering.metrics[key], key).toBeDefined();
    // The parent shows the final scores too.
    const parent = runs.find((r) => r.meta.run_id === clustering.tags['mlflow.parentRunId'])!;
    expect(latest(parent, 'Silhouette DTW')).toBe(latest(clustering, 'Silhouette DTW'));
  });
});

describe('the log-model tag over REST', () => {
  let server: ContractServer;
  beforeAll(async () => {
    server = new ContractServer();
    await server.start();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('is set on the server run after the model/ artifacts are uploaded', async () => {
    const dir = tempDir('lpclust-rest-model-');
    // 30 days of one meter, three shapes.
    const rng = new Random(3);
    const slots = Array.from({ length: 24 }, (_, h) => `${String(h).padStart(2, '0')}:00`);
    let text = `id,date,${slots.join(',')}\n`;
    for (let d = 0; d < 30; d++) text += `M1,2024-01-${String(d + 1).padStart(2, '0')},${slots.map((_, h) => (1 + (h === 6 + 6 * (d % 3) ? 5 : 0) + rng.next()).toFixed(3)).join(',')}\n`;
    const input = path.join(dir, 'profiles.csv');
    writeFileSync(input, text);
    const res = await runClusterStage({ in: input, model: 'kmeans', metric: 'euclidean', k: 3, outDir: path.join(dir, 'out'), plots: false }, { store: restStore(server), experimentName: 'rest-model' });
    const run = server.runs.get(res.runId)!;
    const history = JSON.parse(run.tags.get('mlflow.log-model.history')!) as Array<Record<string, unknown>>;
    expect(history).toHaveLength(1);
    expect(history[0].run_id).toBe(res.runId);
    expect(history[0].artifact_path).toBe('model');
    expect([...run.artifacts.keys()].filter((k) => k.startsWith('model/')).sort()).toEqual([
      'model/MLmodel',
      'model/code/lpclust_pyfunc.py',
      'model/conda.yaml',
      'model/input_example.json',
      'model/lpclust-model.json',
      'model/python_env.yaml',
      'model/requirements.txt',
      'model/serving_input_example.json',
    ]);
    const mlmodel = YAML.parse(run.artifacts.get('model/MLmodel')!.toString('utf8')) as Record<string, unknown>;
    expect(mlmodel.model_uuid).toBe(history[0].model_uuid);
    expect(run.metrics.some((m) => m.key === 'cluster_size/0')).toBe(true);
  });
});
