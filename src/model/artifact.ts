/**
 * The lpclust model artifact (`model/` of a clustering run, and of `cluster --out-dir`): an
 * MLflow-style `MLmodel` YAML file (flavor `lpclust`, version, creation time, run id, input
 * signature of the slot columns) next to `lpclust-model.json`, a versioned JSON document with
 * everything needed to assign new days: hyper-parameters, learned state (centres, and medoid
 * profiles for DTW models), normalisation, DTW settings, resolution and slot labels.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import YAML from 'yaml';
import { inputError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { Normalization } from '../profiles/normalize.js';
import type { ClusterFit, MetricName, ModelName } from '../cluster/fit.js';
import { modelVariant } from '../cluster/registry.js';
import { PACKAGE_ROOT } from '../dtw/native.js';
import { DEFAULT_RADIUS, radiusJson } from '../dtw/settings.js';
import type { TrainingReference } from './reference.js';
import { pythonFloat } from '../tracking/file-format.js';

/** File name of the model JSON inside `model/`. */
export const MODEL_JSON = 'lpclust-model.json';
/** File name of the MLflow model descriptor inside `model/`. */
export const MLMODEL_FILE = 'MLmodel';
/** Version of the JSON layout; {@link loadModel} refuses other versions. */
export const MODEL_FORMAT_VERSION = 1;

/** DTW settings of a DTW model. */
export interface ModelDtwSettings {
  /** Sakoe–Chiba radius in slots; null = full DTW. */
  radius: number | null;
  /**
   * Accumulation precision used when the fitted labels were computed: `float64` for DTW k-means
   * (DBA assigns in float64), the DTW matrix's dtype for k-medoids and agglomerative (the matrix
   * is float32 by default). Predict uses the same precision so that it reproduces the labels.
   */
  precision: 'float32' | 'float64';
}

/** A DTW model's medoid: the training day of a cluster with the smallest summed DTW distance to its members. */
export interface ModelMedoid {
  cluster: number;
  id: string;
  date: string;
  /** The normalised profile, L values. */
  profile: number[];
}

/** The content of `lpclust-model.json` (format version 1). */
export interface LpclustModel {
  format: 'lpclust-model';
  format_version: 1;
  lpclust_version: string;
  /** ISO 8601 UTC. */
  created: string;
  /** MLflow run id of the clustering run (null when written without tracking). */
  run_id: string | null;
  model: ModelName;
  metric: MetricName;
  /** Number of clusters (rows of `centres`). */
  k: number;
  /** Hyper-parameters as fitted (defaults filled in). */
  params: Record<string, string | number>;
  /** Row normalisation applied before fitting and before predicting. */
  normalization: Normalization;
  /** DTW settings (DTW models), else null. */
  dtw: ModelDtwSettings | null;
  /** Input contract: resolution in minutes and the slot labels `HH:MM`, in order. */
  input: { resolution_minutes: number; slots: string[] };
  /**
   * What predict assigns to: `centres` (the model's own centres, or cluster means when
   * `centres_are_means`) or `medoids` (agglomerative with DTW: a mean is no DTW centre).
   */
  assign_to: 'centres' | 'medoids';
  /** Centres in normalised space, k rows of L values (cluster 0 = largest). */
  centres: number[][];
  /** True when `centres` are per-cluster means (agglomerative). */
  centres_are_means: boolean;
  /** Medoid profiles of DTW models (null otherwise). */
  medoids: ModelMedoid[] | null;
  /** Training summary. */
  training: {
    rows: number;
    cluster_sizes: number[];
    /** Fraction of training rows whose predicted cluster equals the fitted one (1 for k-means, DTW k-means, k-medoids). */
    predict_agreement: number;
    stats: Record<string, number>;
  };
  /**
   * Training-time reference for `lpclust assign` (cluster shares, distance quantiles, the data's
   * time zone when known). Absent in models written before it existed: assign then says what it
   * cannot compute.
   */
  reference?: TrainingReference;
}

/** What {@link buildModel} needs from a finished fit. */
export interface BuildModelInput {
  fit: ClusterFit;
  /** Slot labels of the training table. */
  slots: readonly string[];
  /** Normalised training rows, n × L (the rows the model was fitted on; float32 in sampled mode). */
  X: Float32Array | Float64Array;
  /** Row ids and dates of the training table (for the medoids). */
  ids: readonly string[];
  dates: readonly string[];
  normalization: Normalization;
  /** Sakoe–Chiba radius used (DTW models). */
  radius?: number;
  /** Element type of the DTW matrix the labels came from (k-medoids, agglomerative with DTW). */
  matrixPrecision?: 'float32' | 'float64';
  runId?: string | null;
  /** Raw (un-normalised) training rows, rows × L, saved as the model's input example. */
  example?: Float64Array;
}

/** File name of the Python loader inside `model/code/` (and in the package's `python/`). */
export const PYFUNC_MODULE_FILE = 'lpclust_pyfunc.py';
/** The loader's module name, the `python_function` flavor's `loader_module`. */
export const PYFUNC_LOADER_MODULE = 'lpclust_pyfunc';
/**
 * The Python the loader was checked with (Debian 12's python3, numpy 1.24, pandas 1.5), written as
 * the flavor's `python_version` and `python_env.yaml`'s `python`, which MLflow's virtualenv manager installs.
 */
export const PYFUNC_PYTHON_VERSION = '3.11.2';
/** What the loader imports, written to `requirements.txt` (lower bounds: the versions it was checked with). */
export const PYFUNC_REQUIREMENTS = ['numpy>=1.24', 'pandas>=1.5'] as const;

/** lpclust's version from package.json ('unknown' when it cannot be read). */
export function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function rowsToArrays(flat: Float64Array, k: number, L: number): number[][] {
  const out: number[][] = [];
  for (let c = 0; c < k; c++) out.push(Array.from(flat.subarray(c * L, (c + 1) * L)));
  return out;
}

/**
 * Build the model document from a fit. `predict_agreement` is filled by {@link saveModel}'s
 * caller through {@link withAgreement} (it needs the predictor).
 */
export function buildModel(b: BuildModelInput): LpclustModel {
  const { fit, slots, X } = b;
  const L = slots.length;
  const metric = fit.params.metric as MetricName;
  const model = fit.params.model as ModelName;
  let dtw: ModelDtwSettings | null = null;
  if (metric === 'dtw') {
    const r = typeof fit.params.radius === 'number' ? fit.params.radius : (b.radius ?? DEFAULT_RADIUS);
    // The registry says where the labels' DTW distances came from: DBA assigns with float64
    // series; k-medoids and agglomerative read the (float32 by default) matrix. Float32 training
    // rows (sampled mode) make every DTW distance of the fit accumulate in float32.
    const precision = X instanceof Float32Array ? 'float32' : modelVariant(model, metric).dtwPrecision === 'float64' ? 'float64' : (b.matrixPrecision ?? 'float32');
    dtw = { radius: radiusJson(r), precision };
  }
  let medoids: ModelMedoid[] | null = null;
  if (fit.medoidRows) {
    medoids = Array.from(fit.medoidRows, (row, c) => ({
      cluster: c,
      id: b.ids[row] ?? '',
      date: b.dates[row] ?? '',
      profile: Array.from(X.subarray(row * L, (row + 1) * L)),
    }));
  }
  return {
    format: 'lpclust-model',
    format_version: MODEL_FORMAT_VERSION,
    lpclust_version: packageVersion(),
    created: new Date().toISOString(),
    run_id: b.runId ?? null,
    model,
    metric,
    k: fit.k,
    params: { ...fit.params },
    normalization: b.normalization,
    dtw,
    input: { resolution_minutes: 1440 / L, slots: [...slots] },
    assign_to: metric === 'dtw' && fit.centresAreMeans && medoids ? 'medoids' : 'centres',
    centres: rowsToArrays(fit.centres, fit.k, L),
    centres_are_means: fit.centresAreMeans,
    medoids,
    training: { rows: fit.labels.length, cluster_sizes: Array.from(fit.sizes), predict_agreement: NaN, stats: { ...fit.stats } },
  };
}

/** MLflow's `utc_time_created` format: `YYYY-MM-DD HH:MM:SS.ffffff` (UTC, microseconds). */
export function mlflowTime(iso: string): string {
  return iso.replace('T', ' ').replace('Z', '').replace(/\.(\d{3})$/, '.$1000');
}

/**
 * The fields of an `MLmodel` file that MLflow also records in the run's `mlflow.log-model.history`
 * tag, in the order MLflow 2.12 writes them there. `mlflow_version` is left out on purpose: MLflow
 * writes the version of MLflow that saved the model, and no MLflow saved this one (the flavor
 * holds `lpclust_version`); neither the MLflow UI nor MLflow's model loader needs it.
 */
export interface MlmodelInfo {
  run_id?: string;
  artifact_path: string;
  utc_time_created: string;
  flavors: { lpclust: Record<string, string | number | null>; python_function: Record<string, unknown> };
  model_uuid: string;
  /** MLflow 3's logged-model id (`m-…`), when the model is also a logged model (MLflow 3 writes it as `model_uuid` too). */
  model_id?: string;
  /** Bytes of the model's own file (`lpclust-model.json`), as MLflow counts the flavor's files. */
  model_size_bytes: number;
}

/** An MLflow 3 logged model the `MLmodel` describes: its id and where its files are. */
export interface LoggedModelRef {
  modelId: string;
  /** The logged model's artifact location (MLflow 3 writes it as `artifact_path`). */
  artifactLocation: string;
}

/**
 * The descriptor fields of a model (a new `model_uuid` each call). With `logged` (an MLflow 3
 * store), as MLflow 3 writes them: `model_id`, `model_uuid` = the model id, and `artifact_path` =
 * the logged model's artifact location.
 */
export function mlmodelInfo(m: LpclustModel, modelSizeBytes: number, artifactPath = 'model', logged?: LoggedModelRef): MlmodelInfo {
  const info: MlmodelInfo = {
    ...(m.run_id ? { run_id: m.run_id } : {}),
    artifact_path: artifactPath,
    utc_time_created: mlflowTime(m.created),
    flavors: {
      lpclust: {
        lpclust_version: m.lpclust_version,
        model_file: MODEL_JSON,
        format_version: m.format_version,
        model: m.model,
        metric: m.metric,
        k: m.k,
        normalization: m.normalization,
        resolution_minutes: m.input.resolution_minutes,
        ...(m.dtw ? { dtw_radius: m.dtw.radius } : {}),
        loader: 'lpclust predict --model <dir> | lpclust serve --model <dir>',
      },
      // MLflow's pyfunc loader adds `code/` to sys.path and calls
      // lpclust_pyfunc._load_pyfunc('<model dir>/lpclust-model.json').
      python_function: {
        code: 'code',
        data: MODEL_JSON,
        env: { conda: 'conda.yaml', virtualenv: 'python_env.yaml' },
        loader_module: PYFUNC_LOADER_MODULE,
        python_version: PYFUNC_PYTHON_VERSION,
      },
    },
    model_uuid: randomUUID().replace(/-/g, ''),
    model_size_bytes: modelSizeBytes,
  };
  if (logged) {
    info.artifact_path = logged.artifactLocation;
    info.model_uuid = logged.modelId;
    info.model_id = logged.modelId;
  }
  return info;
}

/**
 * JSON as Python's `json.dumps` writes it with its defaults (`", "` and `": "` separators, non-ASCII
 * escaped as `\uXXXX`): the text MLflow stores in the `mlflow.log-model.history` tag and in the
 * signature of an `MLmodel`.
 */
export function pythonJson(v: unknown, num?: (x: number) => string): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return `[${v.map((x) => pythonJson(x, num)).join(', ')}]`;
  if (typeof v === 'object') return `{${Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).map(([k, x]) => `${pythonJson(k)}: ${pythonJson(x, num)}`).join(', ')}}`;
  if (typeof v === 'number' && num) return num(v);
  if (typeof v === 'string') return JSON.stringify(v).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (typeof v === 'number' && !Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
  return JSON.stringify(v);
}

/** `value` with its mapping keys sorted at every level (PyYAML's `safe_dump` sorts them, so MLflow's files do). */
function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) out[key] = sortedKeys((value as Record<string, unknown>)[key]);
  return out;
}

/**
 * The `MLmodel` descriptor (YAML) in MLflow's layout: keys sorted, `utc_time_created` quoted (a
 * YAML 1.1 reader such as PyYAML would read it unquoted as a date), the flavor `lpclust`, and the
 * signature in MLflow's column-based format, JSON text inside the YAML (inputs: one `double` column
 * per slot; outputs: cluster, distance, margin).
 */
export function mlmodelYaml(m: LpclustModel, info: MlmodelInfo = mlmodelInfo(m, 0), withExample = false): string {
  const inputs = m.input.slots.map((s) => ({ type: 'double', name: s, required: true }));
  const outputs = [
    { type: 'long', name: 'cluster', required: true },
    { type: 'double', name: 'distance', required: true },
    { type: 'double', name: 'margin', required: true },
  ];
  // As MLflow records an input example saved beside the model (pandas "split" orient).
  const example = withExample ? { saved_input_example_info: { artifact_path: INPUT_EXAMPLE_FILE, pandas_orient: 'split', serving_input_path: SERVING_INPUT_EXAMPLE_FILE, type: 'dataframe' } } : {};
  const doc = new YAML.Document(sortedKeys({ ...info, ...example, signature: { inputs: pythonJson(inputs), outputs: pythonJson(outputs), params: null } }));
  const created = doc.get('utc_time_created', true) as YAML.Scalar;
  created.type = 'QUOTE_SINGLE';
  return doc.toString({ lineWidth: 0 });
}

/** Input example files, as MLflow names them. */
export const INPUT_EXAMPLE_FILE = 'input_example.json';
export const SERVING_INPUT_EXAMPLE_FILE = 'serving_input_example.json';

/**
 * Write the model into `dir` (created if needed; each file atomically, `MLmodel` last so that a
 * directory with an `MLmodel` is complete): `lpclust-model.json`; for MLflow's `python_function`
 * flavor the loader `code/lpclust_pyfunc.py`, `python_env.yaml`, `requirements.txt` and
 * `conda.yaml`; with `example` (raw Wh rows, rows × L) the input example in MLflow's two files;
 * with `logged`, the MLflow 3 logged model's id in `MLmodel` ({@link mlmodelInfo}).
 * @returns the descriptor fields written to `MLmodel` (what the run's log-model tag records)
 */
export async function saveModel(dir: string, m: LpclustModel, example?: Float64Array, logged?: LoggedModelRef): Promise<MlmodelInfo> {
  await fsp.mkdir(path.join(dir, 'code'), { recursive: true });
  // JSON numbers print the shortest text that reads back to the same double: centres round-trip exactly.
  const json = JSON.stringify(m, null, 1) + '\n';
  await writeFileAtomic(path.join(dir, MODEL_JSON), json);
  await writeFileAtomic(path.join(dir, 'code', PYFUNC_MODULE_FILE), readFileSync(path.join(PACKAGE_ROOT, 'python', PYFUNC_MODULE_FILE)));
  for (const [file, text] of Object.entries(pyfuncEnvFiles())) await writeFileAtomic(path.join(dir, file), text);
  const L = m.input.slots.length;
  const withExample = example !== undefined && example.length >= L;
  if (withExample) {
    const rows: number[][] = [];
    for (let r = 0; r + L <= example.length; r += L) rows.push(Array.from(example.subarray(r, r + L)));
    const split = { columns: m.input.slots, data: rows };
    await writeFileAtomic(path.join(dir, INPUT_EXAMPLE_FILE), pythonJson(split, pythonFloat));
    await writeFileAtomic(path.join(dir, SERVING_INPUT_EXAMPLE_FILE), pythonJsonIndented({ dataframe_split: split }));
  }
  const info = mlmodelInfo(m, Buffer.byteLength(json), 'model', logged);
  await writeFileAtomic(path.join(dir, MLMODEL_FILE), mlmodelYaml(m, info, withExample));
  return info;
}

/** The environment files of the pyfunc flavor, in MLflow's layouts (`python_env.yaml`, `requirements.txt`, `conda.yaml`). */
export function pyfuncEnvFiles(): Record<string, string> {
  const reqs = PYFUNC_REQUIREMENTS.join('\n');
  return {
    'python_env.yaml': `python: ${PYFUNC_PYTHON_VERSION}\nbuild_dependencies:\n- pip\n- setuptools\n- wheel\ndependencies:\n- -r requirements.txt\n`,
    'requirements.txt': reqs,
    'conda.yaml': `channels:\n- conda-forge\ndependencies:\n- python=${PYFUNC_PYTHON_VERSION}\n- pip\n- pip:\n${PYFUNC_REQUIREMENTS.map((r) => `  - ${r}\n`).join('')}name: mlflow-env\n`,
  };
}

/** JSON as Python's `json.dumps(value, indent=2)` writes it (MLflow's `serving_input_example.json`). */
export function pythonJsonIndented(v: unknown, indent = ''): string {
  const inner = indent + '  ';
  if (Array.isArray(v)) return v.length === 0 ? '[]' : `[\n${v.map((x) => inner + pythonJsonIndented(x, inner)).join(',\n')}\n${indent}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>);
    return entries.length === 0 ? '{}' : `{\n${entries.map(([k, x]) => `${inner}${pythonJson(k)}: ${pythonJsonIndented(x, inner)}`).join(',\n')}\n${indent}}`;
  }
  return typeof v === 'number' ? pythonFloat(v) : pythonJson(v);
}

/** The tag in which MLflow lists a run's logged models (the UI's Models column and model panel read it). */
export const LOG_MODEL_HISTORY_TAG = 'mlflow.log-model.history';

/**
 * The new value of a run's `mlflow.log-model.history` tag after logging `info`: MLflow's JSON list
 * of the models' descriptor fields (without the signature), `info` appended to any list already
 * there (an unreadable old value is replaced).
 */
export function logModelHistory(previous: string | undefined, info: MlmodelInfo): string {
  let list: unknown[] = [];
  if (previous) {
    try {
      const parsed = JSON.parse(previous) as unknown;
      if (Array.isArray(parsed)) list = parsed;
    } catch {
      list = [];
    }
  }
  return pythonJson([...list, info]);
}

function bad(file: string, what: string): never {
  throw inputError('E_MODEL_INVALID', `${file}: ${what}`, {
    hint: 'give the model/ directory written by `lpclust cluster` (or a run\'s model artifact)',
    where: { file },
  });
}

/**
 * Read a model from a `model/` directory (or its `lpclust-model.json` / `MLmodel` file), checking
 * the format and version and the shapes of the learned state.
 * @throws LpclustError E_MODEL_NOT_FOUND, E_MODEL_VERSION, E_MODEL_INVALID
 */
export function loadModelFile(location: string): LpclustModel {
  let file = location;
  if (existsSync(location) && statSync(location).isDirectory()) {
    file = path.join(location, MODEL_JSON);
    const mlmodel = path.join(location, MLMODEL_FILE);
    if (existsSync(mlmodel)) {
      const desc = YAML.parse(readFileSync(mlmodel, 'utf8')) as { flavors?: Record<string, { model_file?: string }> } | null;
      const fl = desc?.flavors?.lpclust;
      if (!fl) bad(mlmodel, `expected an MLmodel with the lpclust flavor but found flavors ${JSON.stringify(Object.keys(desc?.flavors ?? {}))}`);
      if (fl.model_file) file = path.join(location, fl.model_file);
    }
  } else if (path.basename(location) === MLMODEL_FILE) {
    return loadModelFile(path.dirname(location));
  }
  if (!existsSync(file)) {
    throw inputError('E_MODEL_NOT_FOUND', `no lpclust model at ${location} (expected ${file})`, {
      hint: 'give a model/ directory (from `lpclust cluster`, in its --out-dir or a run) or runs:/<run-id>/model',
      where: { file },
    });
  }
  let doc: LpclustModel;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8')) as LpclustModel;
  } catch (e) {
    bad(file, `not valid JSON (${(e as Error).message})`);
  }
  if (doc?.format !== 'lpclust-model') bad(file, `expected "format": "lpclust-model" but found ${JSON.stringify(doc?.format)}`);
  if (doc.format_version !== MODEL_FORMAT_VERSION) {
    throw inputError('E_MODEL_VERSION', `${file}: model format version ${doc.format_version} is not supported (this lpclust reads version ${MODEL_FORMAT_VERSION})`, {
      hint: 'refit the model with this lpclust version, or use the lpclust version that wrote it',
      where: { file },
    });
  }
  const L = doc.input?.slots?.length ?? 0;
  if (L === 0 || 1440 % L !== 0) bad(file, `expected input.slots dividing a day but found ${L} slots`);
  if (!Array.isArray(doc.centres) || doc.centres.length !== doc.k || doc.centres.some((c) => !Array.isArray(c) || c.length !== L || c.some((v) => typeof v !== 'number' || !Number.isFinite(v)))) {
    bad(file, `expected ${doc.k} centres of ${L} finite numbers`);
  }
  if (doc.assign_to === 'medoids' && (!Array.isArray(doc.medoids) || doc.medoids.length !== doc.k || doc.medoids.some((m) => m.profile?.length !== L))) {
    bad(file, `expected ${doc.k} medoid profiles of ${L} values`);
  }
  if (doc.metric === 'dtw' && !doc.dtw) bad(file, 'a DTW model needs its "dtw" settings');
  return doc;
}
