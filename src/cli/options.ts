/**
 * The option table of the CLI (issue 13): every flag of every command is declared once here — its
 * long and short form, value name, kind of value (one parser per kind, `parse.ts`), choices,
 * default, help, environment variables and config-file key — and each command picks the flags it
 * takes by name ({@link COMMAND_OPTIONS}). `--help`, the README's option reference
 * (`npm run docs:options`) and the precedence
 *
 *   flag > environment (`LPCLUST_*`) > `./.env` > config file (`lpclust.config.json` / `--config`) > default
 *
 * all come from this table, the same for every command.
 *
 * Light on purpose (start-up time, issue 16): no driver, no clustering or DTW code. Choice lists
 * that live in heavy library modules are repeated here as constants; test/cli/options.test.ts
 * checks that they equal the library's.
 */
import { type Command, Option } from 'commander';
import path from 'node:path';
import { checkConfigKeys, readConfigFile, readDotenv, SQLITE_SCHEMAS, type SettingSource } from '../config.js';
import { usageError } from '../errors.js';
import { DEFAULT_K_RANGE, DEFAULT_SWEEP_K_RANGE } from '../cluster/k-range.js';
import { SCALES } from '../cluster/scale-choice.js';
import { DEFAULT_RADIUS, KERNEL_CHOICES, MATRIX_LAYOUTS } from '../dtw/settings.js';
import { SOURCE_FLAGS, SOURCE_NAMES, SOURCES } from '../etl/sources.js';
import { NORMALIZATIONS } from '../profiles/normalize.js';
import { LOG_LEVELS } from '../util/log.js';
import { maskSecrets } from '../util/mask.js';
import { DEFAULT_MIN_CLUSTER_SHARE, SCORES } from '../validate/metrics.js';
import { parseValue, type ValueKind } from './parse.js';

/**
 * What the table takes from the model registry (cluster/registry.ts): the models, metrics and
 * initialisations, and the registry's help texts. The registry imports every model (25–40 ms), so
 * the table does not import it: {@link loadModelCatalogue} hands it over when a command that takes
 * a model option is built, and `--version` or `lpclust dtw` never load it. Adding a model therefore
 * touches nothing here.
 */
export interface ModelCatalogue {
  models: readonly string[];
  metrics: readonly string[];
  inits: readonly string[];
  /** Agglomerative linkages (`LINKAGES`). */
  linkages: readonly string[];
  /** `metricsHelp()`: `euclidean|dtw (kmeans + dtw = DBA k-means; …)`. */
  metricsHelp: string;
  /** `defaultsHelp('nInit')`, `defaultsHelp('maxIter')`. */
  nInitHelp: string;
  maxIterHelp: string;
}

let catalogue: ModelCatalogue | undefined;

/** Load the model registry and hand its lists to the table (once; later calls return at once). */
export async function loadModelCatalogue(): Promise<void> {
  if (catalogue) return;
  const [r, { LINKAGES }] = await Promise.all([import('../cluster/registry.js'), import('../cluster/agglomerative.js')]);
  catalogue = { models: r.MODELS, metrics: r.METRICS, inits: r.INITS, linkages: LINKAGES, metricsHelp: r.metricsHelp(), nInitHelp: r.defaultsHelp('nInit'), maxIterHelp: r.defaultsHelp('maxIter') };
}

/** The registry's lists. @throws Error when a model option is read before {@link loadModelCatalogue} (a wiring bug, not a user's) */
function models(): ModelCatalogue {
  if (!catalogue) throw new Error('the option table read a model option before loadModelCatalogue() (src/cli/main.ts loads it for commands that take one)');
  return catalogue;
}

/**
 * A comma-separated list option whose choices and default (all of them) are one of the model
 * registry's lists, read when the option is first shown or parsed.
 */
function registryList(long: string, noun: string, pick: (c: ModelCatalogue) => readonly string[]): OptionSpec {
  return {
    long,
    value: '<list>',
    kind: 'list',
    get choices() {
      return pick(models());
    },
    get help() {
      return `comma-separated ${noun}: ${pick(models()).join(',')}`;
    },
    get default() {
      return [...pick(models())];
    },
    get defaultText() {
      return pick(models()).join(',');
    },
    config: true,
  };
}

/** The options whose choices, help or default come from the model registry. */
export const MODEL_OPTION_IDS: readonly string[] = ['model', 'metric', 'models', 'metrics', 'init', 'nInit', 'maxIter', 'linkage'];

/** Matrix element types. */
export const DTYPE_CHOICES = ['float32', 'float64'] as const;
/** k-medoids swap methods (= `KMedoidsMethod` of cluster/kmedoids.ts). */
export const KMEDOIDS_METHOD_CHOICES = ['fasterpam', 'alternate'] as const;
/** Largest scoring request body of `lpclust serve`, MiB (= `DEFAULT_MAX_BODY_MB` of serve/server.ts). */
export const DEFAULT_MAX_BODY_MB = 50;
/** Database of the new Mongo collection (= etl/newmongo-doc.ts). */
export const DEFAULT_NEWMONGO_DB = 'inergy_prod_db';
/** Collection of the new Mongo meters (= etl/newmongo-doc.ts). */
export const DEFAULT_NEWMONGO_COLLECTION = 'asm_historical_smart_meters_uc7';
/** Historian table of the SQL source (= `DEFAULT_HISTORIAN_TABLE` of etl/sql-db.ts). */
export const DEFAULT_HISTORIAN_TABLE = 'historian';


/** The k ranges (declared once, in cluster/k-range.ts). */
export { DEFAULT_K_RANGE, DEFAULT_SWEEP_K_RANGE };

/** One option of the table. */
export interface OptionSpec {
  /** Long flag without dashes (`radius`; `no-plots` for a negated switch). */
  long: string;
  /** Short flag without dash (`k`, `q`). */
  short?: string;
  /** Value name shown in help (`<r>`); none for a switch. */
  value?: string;
  /** Kind of value: which parser of parse.ts reads it. */
  kind: ValueKind;
  /** Allowed values (`choice`, `list`). */
  choices?: readonly string[];
  /** Value when nothing sets it (already parsed). */
  default?: unknown;
  /** How help and README show the default when it is not the value itself. */
  defaultText?: string;
  /** One line of help. */
  help: string;
  /** Environment variables, first set wins (also read from ./.env). */
  env?: readonly string[];
  /** Commands the environment variables apply to (default: every command taking the flag). */
  envFor?: readonly string[];
  /** Settable in the config file (key = the option's camelCase name, in the command's section). */
  config?: boolean;
  /** A path that the config file gives relative to its own folder. */
  configPath?: boolean;
  /** Hidden from `--help` and the README. */
  hidden?: boolean;
}

/** How a command takes an option of the table. */
export interface OptionUse {
  /** Key of {@link OPTIONS}. */
  id: OptionId;
  /** A note appended to the help where the meaning differs for this command (kept few). */
  note?: string;
  /** Required on the command line. */
  required?: boolean;
  /** This command's own default, where two commands have always differed (kept few). */
  default?: unknown;
  /** Not read from the config file by this command. */
  noConfig?: boolean;
  /** No flag for this command: set only by environment, `.env`, config file or default. */
  configOnly?: boolean;
  /** This command's own kind of value (kept few: the sweep's deprecated `-k a..b`). */
  kind?: ValueKind;
}

/** Every option of every command but the sources' (which come from the source registry). */
const STATIC_OPTIONS = {
  // Global options (every command; resolved by config.ts GLOBAL_SETTINGS, see context.ts).
  trackingUri: { long: 'tracking-uri', value: '<uri>', kind: 'text', help: 'MLflow tracking URI: sqlite:///mlflow.db, file:./mlruns or http(s)://host', defaultText: './mlruns when it holds runs, else sqlite:///mlflow.db', env: ['LPCLUST_TRACKING_URI', 'MLFLOW_TRACKING_URI'], config: true },
  sqliteSchema: { long: 'sqlite-schema', value: '<name>', kind: 'choice', choices: SQLITE_SCHEMAS, help: 'schema of a SQLite tracking database lpclust creates: mlflow2 (MLflow 2.12+ open it, MLflow 3 upgrades it) or mlflow3 (MLflow 3.11+ only)', default: 'mlflow2', env: ['LPCLUST_SQLITE_SCHEMA'], config: true },
  experimentName: { long: 'experiment-name', value: '<name>', kind: 'text', help: 'MLflow experiment', default: 'lpclust', env: ['LPCLUST_EXPERIMENT_NAME', 'MLFLOW_EXPERIMENT_NAME'], config: true },
  config: { long: 'config', value: '<file>', kind: 'path', help: 'configuration file', defaultText: './lpclust.config.json when present' },
  spoolDir: { long: 'spool-dir', value: '<dir>', kind: 'path', help: 'where runs go while a tracking server is unreachable', default: './mlruns', env: ['LPCLUST_SPOOL_DIR'], config: true },
  spool: { long: 'no-spool', kind: 'switch', help: 'fail instead of spooling runs while a tracking server is unreachable', defaultText: 'spool', env: ['LPCLUST_SPOOL'], config: true },
  json: { long: 'json', kind: 'switch', help: 'print machine-readable JSON on stdout', env: ['LPCLUST_JSON'], config: true },
  logLevel: { long: 'log-level', value: '<level>', kind: 'choice', choices: LOG_LEVELS, help: 'stderr verbosity; debug adds stack traces and where every setting came from', default: 'info', env: ['LPCLUST_LOG_LEVEL'], config: true },
  quiet: { long: 'quiet', short: 'q', kind: 'switch', help: 'no progress or info output', env: ['LPCLUST_QUIET'], config: true },

  // Inputs and outputs.
  in: { long: 'in', value: '<csv>', kind: 'path', help: 'profiles CSV in the harmonized format (id,date,HH:MM...)' },
  out: { long: 'out', value: '<file>', kind: 'path', help: 'output file, written atomically (only on success)' },
  outDir: { long: 'out-dir', value: '<dir>', kind: 'path', help: 'base output directory; each run writes to <dir>/<run id>/', default: 'outputs', env: ['LPCLUST_OUT_DIR'], config: true, configPath: true },
  meters: { long: 'meters', value: '<csv>', kind: 'path', help: 'meter description CSV (id,Contractual power (kW),Production (kW),Type)', config: true, configPath: true },
  rules: { long: 'rules', value: '<yaml>', kind: 'path', help: 'rules file of per-meter quirks and excluded meters (e.g. data/rules.yaml)', config: true, configPath: true },
  force: { long: 'force', kind: 'switch', help: 'overwrite an existing output' },

  // Profiles.
  resolution: { long: 'resolution', value: '<minutes>', kind: 'minutes', help: 'minutes per slot: 15, 30, 60 (any divisor of a day)', default: 60, env: ['LPCLUST_PIPELINE_RESOLUTION'], envFor: ['pipeline', 'sweep'], config: true },
  timezone: { long: 'timezone', value: '<iana>', kind: 'timezone', help: 'time zone of days and slot labels, e.g. UTC, Europe/Rome', default: 'UTC', env: ['LPCLUST_PIPELINE_TIMEZONE'], envFor: ['pipeline', 'sweep'], config: true },
  normalize: { long: 'normalize', value: '<method>', kind: 'choice', choices: NORMALIZATIONS, help: `row normalisation: ${NORMALIZATIONS.join('|')}`, default: 'l2', config: true },
  dropZeroDays: { long: 'drop-zero-days', kind: 'switch', help: 'drop days whose every slot is 0 (the default: they have no L2 norm)', default: true, config: true },
  keepZeroDays: { long: 'keep-zero-days', kind: 'switch', help: 'keep days whose every slot is 0 (dropped and counted per source by default: they cannot be L2-normalised for DTW and clustering)' },

  // ETL.
  fillWindow: { long: 'fill-window', value: '<hours>', kind: 'nonNegNumber', help: 'fill missing slots up to this many hours after the last real value', default: 2, config: true },
  onBadRow: { long: 'on-bad-row', value: '<mode>', kind: 'choice', choices: ['error', 'skip'], help: 'error: stop at the first bad row; skip: count it in the quality report', default: 'error', config: true },
  autoScale: { long: 'no-auto-scale', kind: 'switch', help: 'do not detect register scale jumps (meters without scale rules)', default: true, config: true },
  rejectOutliers: { long: 'no-reject-outliers', kind: 'switch', help: 'keep slots above the contractual-power bound', default: true, config: true },
  inputDir: { long: 'input', value: '<dir>', kind: 'path', help: 'folder of the exports' },
  inputFile: { long: 'input', value: '<csv>', kind: 'path', help: 'input CSV or CSV.gz' },
  idCol: { long: 'id-col', value: '<name>', kind: 'text', help: 'column of the meter id' },
  timeCol: { long: 'time-col', value: '<name>', kind: 'text', help: 'column of the timestamp (ISO 8601; naive = --input-timezone)' },
  valueCol: { long: 'value-col', value: '<name>', kind: 'text', help: 'column of the energy' },
  cumulative: { long: 'cumulative', kind: 'switch', help: 'values are cumulative registers read at the END of the interval starting at the timestamp, as in the old Mongo exports; without it each value is the energy of that interval' },
  unit: { long: 'unit', value: '<unit>', kind: 'choice', choices: ['Wh', 'kWh'], help: 'unit of the values: Wh or kWh', default: 'Wh' },
  inputTimezone: { long: 'input-timezone', value: '<iana>', kind: 'timezone', help: 'zone of naive timestamps', defaultText: '--timezone' },
  historianDb: { long: 'db', value: '<sqlite file | postgres://...>', kind: 'text', help: 'database holding the historian table instead of --input (the password is never logged)' },
  table: { long: 'table', value: '<name>', kind: 'text', help: 'historian table of the database (columns timestamp, tagname, energy, ...)', defaultText: DEFAULT_HISTORIAN_TABLE },
  mongoUri: { long: 'uri', value: '<mongodb://...>', kind: 'text', help: 'live MongoDB (runs load_newmongo, then etl_newmongo on its raw CSV; the password is never logged)' },
  mongoExport: { long: 'export', value: '<file>', kind: 'path', help: 'instead of --uri: mongoexport JSON lines / JSON array, or the raw CSV the old loader wrote' },
  mongoDb: { long: 'db', value: '<name>', kind: 'text', help: 'database of the live MongoDB', defaultText: DEFAULT_NEWMONGO_DB },
  collection: { long: 'collection', value: '<name>', kind: 'text', help: 'collection of the live MongoDB', defaultText: DEFAULT_NEWMONGO_COLLECTION },
  days: { long: 'days', value: '<n>', kind: 'posInt', help: 'only the last N days' },
  since: { long: 'since', value: '<YYYY-MM-DD>', kind: 'day', help: 'first day (inclusive)' },
  until: { long: 'until', value: '<YYYY-MM-DD>', kind: 'day', help: 'last day (inclusive)' },
  rawOut: { long: 'raw-out', value: '<csv>', kind: 'path', help: 'with --uri: keep the raw CSV of the documents here', defaultText: 'a temporary file, logged as an artifact then deleted' },

  // DTW.
  radius: { long: 'radius', value: '<r>', kind: 'radius', help: 'Sakoe–Chiba band radius of DTW in slots (|i − j| ≤ r), or none for full DTW', default: DEFAULT_RADIUS, env: ['LPCLUST_RADIUS'], config: true },
  dtype: { long: 'dtype', value: '<type>', kind: 'choice', choices: DTYPE_CHOICES, help: 'DTW matrix element type and kernel precision: float32|float64', default: 'float32', config: true },
  workers: { long: 'workers', value: '<n>', kind: 'posInt', help: 'worker threads', defaultText: 'all cores', env: ['LPCLUST_WORKERS'], config: true },
  kernel: { long: 'kernel', value: '<k>', kind: 'choice', choices: KERNEL_CHOICES, help: 'DTW kernel: auto (native, else TypeScript with a warning)|native|js', default: 'auto', config: true },
  layout: { long: 'layout', value: '<layout>', kind: 'choice', choices: MATRIX_LAYOUTS, help: 'full: n × n, both triangles | condensed: the upper triangle as 1-D n(n−1)/2 values in SciPy squareform order (half the bytes)', default: 'full', config: true },
  dtwLayout: { long: 'dtw-layout', value: '<layout>', kind: 'choice', choices: MATRIX_LAYOUTS, help: 'DTW matrix layout: full (n × n) | condensed (upper triangle, 1-D, SciPy squareform order, half the bytes)', default: 'full', config: true },
  tileSize: { long: 'tile-size', value: '<t>', kind: 'posInt', help: 'tile edge in rows (memory per worker ≈ 2·t²·dtype bytes; never changes the result)', default: 1024, config: true },
  resume: { long: 'resume', kind: 'switch', help: 'finish an interrupted job from <out>.partial (what the same command does anyway; kept for scripts)' },
  logMatrix: { long: 'log-matrix', kind: 'switch', help: 'also copy the matrix into the run artifacts (it can be large; by default its path and SHA-256 are tags)' },
  shard: { long: 'shard', value: '<i/n>', kind: 'text', help: 'compute only shard i of n (0 ≤ i < n) of the tiles into the tile file --out; assemble the n files with `lpclust dtw merge`' },
  computeDtw: { long: 'compute-dtw', kind: 'switch', help: 'also compute the DTW matrix of the L2-normalised rows (.npy + .json sidecar)' },
  dtwOut: { long: 'dtw-out', value: '<npy>', kind: 'path', help: 'DTW matrix path', defaultText: '<out without .csv>.dtw.npy' },
  dtw: { long: 'dtw', value: '<npy>', kind: 'path', help: 'DTW matrix of the same profiles (from `lpclust dtw`), checked against its sidecar' },
  silhouetteDtw: { long: 'silhouette-dtw', kind: 'switch', help: 'with Euclidean models: also compute the DTW matrix, for Silhouette DTW', default: false, config: true },

  // Clustering.
  model: {
    long: 'model',
    value: '<name>',
    kind: 'choice',
    get choices() {
      return models().models;
    },
    get help() {
      return `clustering model: ${models().models.join('|')}`;
    },
    default: 'kmeans', env: ['LPCLUST_PIPELINE_MODEL'], envFor: ['pipeline'], config: true },
  metric: {
    long: 'metric',
    value: '<name>',
    kind: 'choice',
    get choices() {
      return models().metrics;
    },
    get help() {
      return `distance: ${models().metricsHelp}`;
    },
    default: 'euclidean', env: ['LPCLUST_PIPELINE_METRIC'], envFor: ['pipeline'], config: true },
  k: { long: 'k', short: 'k', value: '<k>', kind: 'k', help: 'number of clusters', default: 12, env: ['LPCLUST_PIPELINE_K'], envFor: ['pipeline'], config: true },
  kRange: { long: 'k-range', value: '<a..b>', kind: 'kRange', help: 'range of k, inclusive: the k tried with -k 0 (cluster, pipeline), or swept (sweep)', default: DEFAULT_K_RANGE, defaultText: `${DEFAULT_K_RANGE[0]}..${DEFAULT_K_RANGE[1]}`, config: true },
  select: { long: 'select', value: '<score>', kind: 'score', help: `score ranking k (-k 0) or configurations (sweep), with its direction; one of ${SCORES.map((x) => `"${x.key}" (${x.better})`).join(', ')}`, defaultText: 'the silhouette of the metric: "Silhouette DTW" when the DTW matrix is computed, else "Silhouette Score"', config: true },
  minClusterShare: { long: 'min-cluster-share', value: '<share>', kind: 'share', help: 'a k (-k 0) or configuration (sweep) is ranked only when every cluster holds at least this share of the days (0 = off)', default: DEFAULT_MIN_CLUSTER_SHARE, config: true },
  seed: { long: 'seed', value: '<n>', kind: 'nonNegInt', help: 'random seed', default: 0, config: true },
  nInit: {
    long: 'n-init',
    value: '<n>',
    kind: 'posInt',
    help: 'restarts keeping the best',
    get defaultText() {
      return models().nInitHelp;
    },
    config: true,
  },
  maxIter: {
    long: 'max-iter',
    value: '<n>',
    kind: 'posInt',
    help: 'iteration cap',
    get defaultText() {
      return models().maxIterHelp;
    },
    config: true,
  },
  linkage: {
    long: 'linkage',
    value: '<name>',
    kind: 'choice',
    get choices() {
      return models().linkages;
    },
    get help() {
      return `agglomerative linkage: ${models().linkages.join('|')}`;
    },
    defaultText: 'ward; average with --metric dtw',
    config: true,
  },
  init: {
    long: 'init',
    value: '<name>',
    kind: 'choice',
    get choices() {
      return models().inits;
    },
    get help() {
      return `initialisation: ${models().inits.join('|')} (kmeans: random|k-means++; kmedoids: all, k-means++ = k-medoids++)`;
    },
    defaultText: 'random',
    config: true,
  },
  kmedoidsMethod: { long: 'kmedoids-method', value: '<name>', kind: 'choice', choices: KMEDOIDS_METHOD_CHOICES, help: 'k-medoids swap method: fasterpam (PAM-quality swaps) | alternate (Voronoi iteration)', default: 'fasterpam', config: true },
  plots: { long: 'no-plots', kind: 'switch', help: 'do not render the plots', default: true, config: true },
  reuse: { long: 'reuse', kind: 'switch', help: 'reuse the outputs of earlier FINISHED stage runs with the same params, inputs and version', default: false, env: ['LPCLUST_REUSE'], config: true },
  registerModel: { long: 'register-model', value: '<name>', kind: 'text', help: 'register the model as a new version of this registered model (created when missing); lpclust models shows it, predict --model models:/<name>@<alias> loads it' },
  models: registryList('models', 'models', (c) => c.models),
  metrics: registryList('metrics', 'distances', (c) => c.metrics),
  seeds: { long: 'seeds', value: '<list>', kind: 'intList', help: 'comma-separated seeds; several add the label stability across seeds (adjusted Rand index)', default: [0], defaultText: '0', config: true },

  // Large n.
  scale: { long: 'scale', value: '<mode>', kind: 'choice', choices: SCALES, help: 'exact (n × n matrices) | sampled (nothing n × n: FasterCLARA k-medoids, agglomerative on a sample, silhouettes on a stratified sample) | auto: exact while the matrices fit --memory-budget and n ≤ 100,000', default: 'auto', env: ['LPCLUST_SCALE'], config: true },
  memoryBudget: { long: 'memory-budget', value: '<size>', kind: 'size', help: 'memory for the large arrays (exact: the n × n matrices; sampled: the samples), e.g. 8G or 512M', defaultText: 'half the free memory', env: ['LPCLUST_MEMORY_BUDGET'], config: true },
  sampleSize: { long: 'sample-size', value: '<n>', kind: 'sampleSize', help: "sampled k-medoids and agglomerative: profiles per sample; with -k 0 or a sweep, one size for every k, the largest k's, so that every k shares the first sample and its matrix", defaultText: '80 + 4k, raised to 2,000 when the budget allows', config: true },

  // Validation.
  labels: { long: 'labels', value: '<csv>', kind: 'path', help: 'labels CSV (id,date,cluster) of exactly the rows of --in, in order' },
  centres: { long: 'centres', value: '<csv>', kind: 'path', help: "the model's centres.csv (from `lpclust cluster`): inertia and peak scores against them, as cluster computed", defaultText: 'per-cluster means' },
  minProminence: { long: 'min-prominence', value: '<p>', kind: 'nonNegNumber', help: 'prominence threshold of prominent peaks, on normalised profiles', default: 0.2, config: true },

  // Queue.
  queue: { long: 'queue', value: '<url>', kind: 'url', help: 'the Redis job queue that `lpclust worker` processes take jobs from: redis://[:password@]host:6379/0, or rediss://… for TLS (the password is never printed)' },
  sharedDir: { long: 'shared-dir', value: '<dir>', kind: 'path', help: 'with --queue: a directory this machine and every worker see (NFS, a mounted bucket)', default: '.', config: true },
  queueRows: { long: 'queue-rows', value: '<n>', kind: 'posInt', help: 'with --queue: profiles per assignment job (does not change any result)', default: 32768, config: true },
  threads: { long: 'threads', value: '<n>', kind: 'posInt', help: 'worker threads, also the jobs taken at once', defaultText: 'all cores', env: ['LPCLUST_WORKERS'], config: true },
  lockDuration: { long: 'lock-duration', value: '<ms>', kind: 'posInt', help: 'a job whose worker has not renewed its lock for this long is given to another worker', default: 30000, config: true },

  // Models, scoring, day-ahead.
  modelRef: { long: 'model', value: '<path|uri>', kind: 'text', help: 'the model: a model/ directory (of a run, or of `cluster --out-dir`), runs:/<run-id>/model (the id may be the 8-character prefix `lpclust runs` prints) or a registered models:/<name>@<alias> | models:/<name>/<version> (from --tracking-uri)' },
  host: { long: 'host', value: '<host>', kind: 'text', help: 'interface to listen on (loopback by default; 0.0.0.0 exposes it to the network)', default: '127.0.0.1', config: true },
  port: { long: 'port', value: '<port>', kind: 'port', help: 'TCP port (0 = any free port)', default: 5001, config: true },
  maxBodyMb: { long: 'max-body-mb', value: '<mb>', kind: 'posNumber', help: 'largest request body in MiB; larger requests get 413', default: DEFAULT_MAX_BODY_MB, config: true },
  watchAlias: { long: 'watch-alias', kind: 'switch', help: 'with --model models:/<name>@<alias>: poll the alias and serve the version it names when it moves (lpclust models alias ...)' },
  watchInterval: { long: 'watch-interval', value: '<seconds>', kind: 'posNumber', help: 'seconds between polls of --watch-alias', default: 30, config: true },
  newmongoExport: { long: 'newmongo-export', value: '<file>', kind: 'path', help: 'source: a new Mongo export (mongoexport JSON lines / array, or the raw CSV of the old loader)' },
  assignMongoUri: { long: 'mongo-uri', value: '<mongodb://...>', kind: 'text', help: "source: the live new Mongo collection (only the window's days are read; the password is never logged)", env: ['LPCLUST_MONGO_URI'] },
  sqlInput: { long: 'sql-input', value: '<dir>', kind: 'path', help: 'source: a folder of SQL historian <METER>.txt exports' },
  sqlDb: { long: 'sql-db', value: '<sqlite file | postgres://...>', kind: 'text', help: 'source: a SQL historian table in a database' },
  generic: { long: 'generic', value: '<csv>', kind: 'path', help: 'source: a long-format CSV (id, timestamp, energy per row); needs --id-col, --time-col, --value-col' },
  to: { long: 'to', value: '<uri>', kind: 'repeat', help: 'also upsert into postgres://user:PASSWORD@host/db#table or mongodb://user:PASSWORD@host/db.collection (repeatable)', env: ['LPCLUST_ASSIGN_TO'] },
  post: { long: 'post', value: '<url>', kind: 'url', help: 'also POST the assignments as JSON to this URL (retried as the REST tracking store retries)', env: ['LPCLUST_ASSIGN_POST'] },
  driftThreshold: { long: 'drift-threshold', value: '<psi>', kind: 'posNumber', help: "population stability index of the window's cluster shares against the training shares above which retraining is recommended (e.g. 0.25)", config: true },
  jsThreshold: { long: 'js-threshold', value: '<d>', kind: 'posNumber', help: 'Jensen–Shannon distance (base 2, 0..1) above which retraining is recommended', config: true },

  // Runs and sync.
  experiment: { long: 'experiment', value: '<name>', kind: 'text', help: 'only the runs of this experiment', defaultText: 'every experiment' },
  limit: { long: 'limit', value: '<n>', kind: 'nonNegInt', help: 'at most n runs per experiment, nested runs included: the newest top-level runs, each followed by its nested runs (0 = all)', default: 20, config: true },
  children: { long: 'children', value: '<n>', kind: 'nonNegInt', help: 'at most n nested runs under each run, oldest first; the rest are counted on one line (0 = all)', default: 8, config: true },
  width: { long: 'width', value: '<n>', kind: 'nonNegInt', help: 'characters per line (0 = no limit)', defaultText: 'the terminal width; 100 when not a terminal, or COLUMNS', config: true },
  status: { long: 'status', value: '<list>', kind: 'statusList', help: 'only runs with these statuses, comma-separated (RUNNING,FINISHED,FAILED,KILLED)' },
  utc: { long: 'utc', kind: 'switch', help: 'show times in UTC instead of local time', config: true },
  from: { long: 'from', value: '<store>', kind: 'text', help: 'local store to read: a directory, a file: URI or a sqlite:///<file> URI', default: './mlruns' },
  syncTo: { long: 'to', value: '<uri>', kind: 'text', help: 'tracking server (or another local store) to write to', defaultText: '--tracking-uri / MLFLOW_TRACKING_URI when it is http(s)://' },
  full: { long: 'full', kind: 'switch', help: 'compare every run with the server, also those the sync state (.lpclust-sync.json in --from) says are unchanged' },
} as const satisfies Record<string, OptionSpec>;

/** The id of a pipeline/sweep flag of a source (`source.generic`, `source.idCol`). */
function sourceFlagId(attr: string): string {
  return `source.${attr}`;
}

/** The id of harmonize's flag of a source's clean CSV (`clean.sql`). */
function cleanCsvId(source: string): string {
  return `clean.${source}`;
}

/**
 * The sources' options, from the source registry (etl/sources.ts), where each source declares
 * its pipeline/sweep flags: adding a source adds its flags here. Their values stay texts (or a
 * switch): the registry's `flagSources` reads and checks them.
 */
function sourceOptions(): Record<string, OptionSpec> {
  const out: Record<string, OptionSpec> = {};
  for (const f of SOURCE_FLAGS) {
    const m = /^--([a-z0-9-]+)(?: (<.+>))?$/.exec(f.flags);
    if (!m) throw new Error(`source flag ${f.flags}: expected --name or --name <value>`);
    out[sourceFlagId(f.attr)] = { long: m[1], ...(m[2] ? { value: m[2] } : {}), kind: m[2] ? 'text' : 'switch', help: f.help };
  }
  for (const s of SOURCE_NAMES) {
    out[cleanCsvId(s)] = { long: s, value: '<csv>', kind: 'path', help: `clean CSV of the ${SOURCES[s].title} (${SOURCES[s].etlCommand ? `from \`lpclust etl ${s}\`` : `clean_${s}.csv of a pipeline run`})` };
  }
  return out;
}

/** Every option of every command. */
export const OPTIONS: Readonly<Record<string, OptionSpec>> = { ...STATIC_OPTIONS, ...sourceOptions() };

/** Name of an option of the table. */
export type OptionId = string;

const SPECS: Record<string, OptionSpec> = OPTIONS;

/** The pipeline/sweep flags of every source, in registry order. */
const SOURCE_USES: readonly OptionUse[] = SOURCE_FLAGS.map((f) => ({ id: sourceFlagId(f.attr) }));

/** The global options (program level), in help order. */
export const GLOBAL_OPTIONS: readonly OptionId[] = ['trackingUri', 'sqliteSchema', 'experimentName', 'config', 'spoolDir', 'spool', 'json', 'logLevel', 'quiet'];

const ETL_COMMON: readonly OptionUse[] = [
  { id: 'out', required: true, note: 'the clean profiles CSV' },
  { id: 'resolution' },
  { id: 'timezone' },
  { id: 'rules' },
  { id: 'fillWindow' },
  { id: 'onBadRow' },
  { id: 'autoScale' },
  { id: 'rejectOutliers' },
];


/**
 * The options of every command, in `--help` order (key: the command as typed after `lpclust`).
 * Notes (`note`) say how a shared option reads for one command; command-specific defaults
 * (`default`) are where two commands have always differed.
 */
export const COMMAND_OPTIONS: Readonly<Record<string, readonly OptionUse[]>> = {
  pipeline: [
    { id: 'model' },
    { id: 'metric' },
    { id: 'k', note: '0 chooses k over --k-range (best --select among the k passing --min-cluster-share)' },
    { id: 'kRange' },
    { id: 'select' },
    { id: 'minClusterShare' },
    { id: 'resolution' },
    { id: 'timezone' },
    { id: 'in', note: 'skips the ETL and harmonization stages (instead of the sources)' },
    ...SOURCE_USES,
    { id: 'meters', note: "default: the sample data's when no source is configured" },
    { id: 'rules', note: "default: the sample data's when no source is configured" },
    { id: 'reuse' },
    { id: 'outDir' },
    { id: 'seed' },
    { id: 'nInit' },
    { id: 'linkage' },
    { id: 'init' },
    { id: 'normalize' },
    { id: 'radius' },
    { id: 'workers' },
    { id: 'silhouetteDtw' },
    { id: 'dropZeroDays', configOnly: true },
    { id: 'plots' },
    { id: 'registerModel' },
    { id: 'scale' },
    { id: 'memoryBudget' },
    { id: 'sampleSize' },
  ],
  sweep: [
    { id: 'models' },
    { id: 'metrics' },
    { id: 'kRange', default: DEFAULT_SWEEP_K_RANGE, noConfig: true },
    { id: 'k', note: 'sweeps this one k instead of --k-range (`-k a..b` is deprecated: use --k-range a..b)', default: undefined, noConfig: true, kind: 'kOrRange' },
    { id: 'seeds' },
    { id: 'select' },
    { id: 'minClusterShare' },
    { id: 'in', note: 'skips the ETL and harmonization stages (instead of the sources)' },
    ...SOURCE_USES,
    { id: 'meters' },
    { id: 'rules' },
    { id: 'resolution' },
    { id: 'timezone' },
    { id: 'silhouetteDtw' },
    { id: 'dropZeroDays', configOnly: true },
    { id: 'normalize' },
    { id: 'radius' },
    { id: 'nInit' },
    { id: 'workers', note: 'for the DTW matrix and for the configurations, which run side by side' },
    { id: 'reuse' },
    { id: 'scale', note: 'decided once for the sweep (sampled: configurations run one at a time)' },
    { id: 'memoryBudget' },
    { id: 'sampleSize' },
    { id: 'outDir' },
    { id: 'registerModel', note: 'the model of the best configuration (its run must be the only one of that configuration: one seed)' },
    { id: 'queue', note: 'the DTW matrix as tile jobs and each exact configuration as a job; in sampled mode the configurations run here and their assignments go out as row-range jobs' },
    { id: 'sharedDir', note: '--out-dir and --in must be inside it' },
  ],
  runs: [{ id: 'experiment' }, { id: 'limit' }, { id: 'children' }, { id: 'width' }, { id: 'status' }, { id: 'utc' }],
  'runs show': [{ id: 'utc' }],
  sync: [{ id: 'from' }, { id: 'syncTo' }, { id: 'experiment' }, { id: 'full' }],
  'etl oldmongo': [{ id: 'inputDir', required: true, note: 'per-meter CSVs <dir>/csv/<METER>.csv or <dir>/<METER>.csv (cumulative registers Active_Energy_±_Total_end)' }, { id: 'meters', required: true }, ...ETL_COMMON],
  'etl generic': [
    { id: 'inputFile', required: true },
    { id: 'idCol', required: true },
    { id: 'timeCol', required: true },
    { id: 'valueCol', required: true },
    { id: 'cumulative' },
    { id: 'unit' },
    { id: 'inputTimezone' },
    { id: 'meters', note: 'without it the outlier bound uses 200 kW' },
    ...ETL_COMMON,
  ],
  'etl sql': [{ id: 'inputDir', note: '<METER>.txt exports (no header: timestamp,tagname,energy,quality,qualityDetail,OPCquality)' }, { id: 'historianDb' }, { id: 'table' }, { id: 'meters', required: true }, ...ETL_COMMON],
  'etl newmongo': [
    { id: 'mongoUri' },
    { id: 'mongoExport' },
    { id: 'mongoDb' },
    { id: 'collection' },
    { id: 'days', note: 'with --uri, by the document date' },
    { id: 'since', note: 'with --uri' },
    { id: 'until', note: 'with --uri' },
    { id: 'rawOut' },
    { id: 'meters', required: true },
    ...ETL_COMMON,
  ],
  harmonize: [
    ...SOURCE_NAMES.map((s) => ({ id: cleanCsvId(s) })),
    { id: 'rules', note: 'meters listed under harmonize.excludeMeters (and sources.<s>.excludeMeters) are dropped' },
    { id: 'out', required: true, note: 'the harmonized CSV' },
    { id: 'keepZeroDays' },
    { id: 'dropZeroDays', note: 'accepted for scripts written when keeping them was the default' },
    { id: 'computeDtw' },
    { id: 'dtwOut' },
    { id: 'dtwLayout' },
    { id: 'radius' },
    { id: 'workers' },
    { id: 'dtype' },
    { id: 'force', note: 'the DTW matrix of --compute-dtw' },
  ],
  dtw: [
    { id: 'in', note: 'or clean, every row complete (required)' },
    { id: 'out', note: 'the matrix: NumPy .npy (n × n, or condensed with --layout condensed), sidecar <out>.json (required; with --shard: the shard file)' },
    { id: 'radius' },
    { id: 'normalize' },
    { id: 'dtype' },
    { id: 'workers' },
    { id: 'kernel' },
    { id: 'layout' },
    { id: 'tileSize' },
    { id: 'resume' },
    { id: 'force', note: 'or discard an existing <out>.partial and start over' },
    { id: 'logMatrix' },
    { id: 'queue', note: 'one job per tile' },
    { id: 'sharedDir' },
    { id: 'shard' },
  ],
  cluster: [
    { id: 'in', required: true },
    { id: 'model' },
    { id: 'metric' },
    { id: 'k', note: '0 chooses k over --k-range (best --select among the k passing --min-cluster-share)' },
    { id: 'kRange' },
    { id: 'select' },
    { id: 'minClusterShare' },
    { id: 'dtw', note: 'with --metric dtw it is computed once into the output directory when omitted; with euclidean it adds Silhouette DTW' },
    { id: 'radius' },
    { id: 'linkage' },
    { id: 'init' },
    { id: 'kmedoidsMethod' },
    { id: 'nInit' },
    { id: 'maxIter' },
    { id: 'seed' },
    { id: 'normalize' },
    { id: 'outDir', default: 'lpclust-out/cluster' },
    { id: 'workers' },
    { id: 'queue', note: 'with --scale sampled, the scoring of candidate medoids and the assignment of every profile, by row ranges; in exact mode, the DTW matrix, by tiles' },
    { id: 'sharedDir' },
    { id: 'queueRows' },
    { id: 'registerModel' },
    { id: 'scale' },
    { id: 'memoryBudget' },
    { id: 'sampleSize' },
  ],
  validate: [
    { id: 'in', required: true },
    { id: 'labels', required: true },
    { id: 'centres' },
    { id: 'dtw', note: 'adds Silhouette DTW' },
    { id: 'normalize' },
    { id: 'minProminence' },
    { id: 'workers' },
    { id: 'scale', note: "sampled: silhouettes on a stratified sample (Silhouette DTW from the matrix's radius, the matrix is not loaded)" },
    { id: 'memoryBudget' },
  ],
  predict: [
    { id: 'modelRef', required: true },
    { id: 'in', required: true, note: "at the model's resolution, in Wh per slot (not normalised)" },
    { id: 'out', note: 'labels CSV id,date,cluster,distance,margin (default: <in>.labels.csv)' },
  ],
  assign: [
    { id: 'modelRef', required: true },
    { id: 'in', note: 'source: e.g. harmonized data or a day-ahead forecast (Wh per slot)' },
    { id: 'newmongoExport' },
    { id: 'assignMongoUri' },
    { id: 'mongoDb', note: 'of --mongo-uri' },
    { id: 'collection', note: 'of --mongo-uri' },
    { id: 'sqlInput' },
    { id: 'sqlDb' },
    { id: 'table', note: 'of --sql-db' },
    { id: 'generic' },
    { id: 'idCol', note: 'with --generic' },
    { id: 'timeCol', note: 'with --generic' },
    { id: 'valueCol', note: 'with --generic' },
    { id: 'cumulative', note: 'with --generic' },
    { id: 'unit', note: 'with --generic' },
    { id: 'inputTimezone', note: "with --generic (default: the days' zone)" },
    { id: 'days', note: 'ending at --until (default 1)' },
    { id: 'since', note: 'instead of --days' },
    { id: 'until', note: "default: yesterday in the model's time zone" },
    { id: 'timezone', note: "default: the model's, recorded by `lpclust pipeline`, else UTC; must match the model's", default: undefined },
    { id: 'resolution', note: "must equal the model's (the default)", default: undefined },
    { id: 'meters', note: 'required with the new Mongo and SQL sources' },
    { id: 'rules' },
    { id: 'fillWindow', default: undefined, note: 'as for `lpclust etl` (default 2)' },
    { id: 'onBadRow' },
    { id: 'out', required: true, note: 'the assignments CSV: id,date,cluster,distance,margin,novel' },
    { id: 'to' },
    { id: 'post' },
    { id: 'driftThreshold' },
    { id: 'jsThreshold' },
  ],
  serve: [{ id: 'modelRef', required: true }, { id: 'host' }, { id: 'port' }, { id: 'maxBodyMb' }, { id: 'watchAlias' }, { id: 'watchInterval' }],
  worker: [
    { id: 'queue', required: true },
    { id: 'sharedDir', note: 'where this machine sees it (default: the path the submitter gave)', default: undefined },
    { id: 'threads' },
    { id: 'lockDuration' },
  ],
};

/** Which config-file section a command's options are read from. */
export function configSection(command: string): string {
  const first = command.split(' ')[0];
  return first === 'sweep' ? 'pipeline' : first;
}

/** The sections of the config file and the keys each holds (global keys are at the top level). */
export function configSections(): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [command, uses] of Object.entries(COMMAND_OPTIONS)) {
    const keys = uses.filter((u) => SPECS[u.id].config && !u.noConfig).map((u) => attributeName(SPECS[u.id]));
    if (keys.length === 0) continue;
    const s = configSection(command);
    out[s] = [...new Set([...(out[s] ?? []), ...keys])];
  }
  out.pipeline = [...(out.pipeline ?? []), 'sources'];
  return out;
}

/** The camelCase name commander and the config file use (`no-plots` → `plots`). */
export function attributeName(spec: OptionSpec): string {
  return spec.long.replace(/^no-/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** The flag as a user types it: `--radius`, `-k` (for `k`), `--no-plots`. */
export function flagOf(spec: OptionSpec): string {
  return spec.short && spec.short === spec.long ? `-${spec.short}` : `--${spec.long}`;
}

/** `-k, --k <k>` / `--radius <r>`: commander's flags string. */
export function flagsString(spec: OptionSpec): string {
  return `${spec.short ? `-${spec.short}, ` : ''}--${spec.long}${spec.value ? ` ${spec.value}` : ''}`;
}

/** The default of an option for a command (its own, else the table's). */
export function defaultFor(use: OptionUse): unknown {
  return 'default' in use ? use.default : SPECS[use.id].default;
}

function showValue(v: unknown): string {
  if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'number') return `${v[0]}..${v[1]}`;
  if (Array.isArray(v)) return v.join(',');
  return String(v);
}

/** The help line of an option for a command: help, the command's note, default, variables. */
export function helpFor(use: OptionUse, command: string): string {
  const spec = SPECS[use.id];
  const def = defaultFor(use);
  const parts = [spec.help + noteText(use.note)];
  // A negated switch (`--no-plots`) has the feature on by default: its help says what the flag does.
  const defaultText = 'default' in use ? (def === undefined ? undefined : showValue(def)) : (spec.defaultText ?? (def === undefined || spec.kind === 'switch' ? undefined : showValue(def)));
  const extras: string[] = [];
  if (use.required) extras.push('required');
  if (defaultText !== undefined && !/\(default/.test(use.note ?? '')) extras.push(`default: ${defaultText}`);
  const env = envNames(spec, command);
  if (env.length > 0) extras.push(`env: ${env.join(', ')}`);
  return extras.length > 0 ? `${parts[0]} (${extras.join('; ')})` : parts[0];
}

/** A command's note after the help: `: the harmonized CSV` names the thing, `; with --uri` adds a condition. */
export function noteText(note: string | undefined): string {
  if (!note) return '';
  return /^the /.test(note) ? `: ${note}` : `; ${note}`;
}

/** The environment variables of an option for a command. */
export function envNames(spec: OptionSpec, command: string): readonly string[] {
  if (!spec.env) return [];
  if (spec.envFor && !spec.envFor.includes(command.split(' ')[0])) return [];
  return spec.env;
}

/** The commander option of a table entry (no commander default: defaults are applied by {@link resolveOptions}). */
export function commanderOption(use: OptionUse, command: string): Option {
  const spec = SPECS[use.id];
  const o = new Option(flagsString(spec), helpFor(use, command));
  if (use.required) o.makeOptionMandatory(true);
  if (spec.kind === 'repeat') o.argParser((v: string, acc: string[] | undefined) => [...(acc ?? []), v]);
  if (spec.hidden) o.hideHelp();
  return o;
}

/** Add the program's global options (resolved by context.ts through config.ts GLOBAL_SETTINGS). */
export function addGlobalOptions(program: Command): Command {
  for (const id of GLOBAL_OPTIONS) {
    const spec = SPECS[id];
    const o = new Option(flagsString(spec), helpFor({ id }, ''));
    // commander checks these two as before (its own message), so `lpclust --log-level x` reads the same.
    if (spec.choices && spec.kind === 'choice') o.choices([...spec.choices]);
    program.addOption(o);
  }
  return program;
}

/**
 * Add a command's options from the table, and resolve them before its action runs: the action
 * then reads parsed values (numbers, lists, booleans), each from the first of flag, environment,
 * `./.env`, config file, default.
 * @param command the command as typed after `lpclust`, a key of {@link COMMAND_OPTIONS}
 */
export function addOptions(cmd: Command, command: string): Command {
  const uses = COMMAND_OPTIONS[command];
  if (!uses) throw new Error(`no options declared for command "${command}" in src/cli/options.ts`);
  for (const use of uses) if (!use.configOnly) cmd.addOption(commanderOption(use, command));
  cmd.hook('preAction', (_self, action) => {
    if (action === cmd) resolveOptions(cmd, command);
  });
  return cmd;
}

/** A resolved option with where it came from. */
export interface ResolvedOption {
  value: unknown;
  source: SettingSource;
  /** The flag, variable or config key that set it. */
  from: string;
}

const RESOLVED = new WeakMap<Command, Record<string, ResolvedOption>>();

/** The resolution of a command's options (after its preAction hook ran), for logging and checks. */
export function resolvedOptions(cmd: Command): Record<string, ResolvedOption> {
  return RESOLVED.get(cmd) ?? {};
}

/** The program (root command) of a command. */
function rootOf(cmd: Command): Command {
  let c = cmd;
  while (c.parent) c = c.parent;
  return c;
}

/**
 * Resolve a command's options with the precedence flag > environment > `./.env` > config file >
 * default, parse each with its kind's parser and store the parsed values in the command (its
 * `opts()`), replacing commander's raw texts.
 */
export function resolveOptions(cmd: Command, command: string, env: Record<string, string | undefined> = process.env, cwd = process.cwd()): Record<string, ResolvedOption> {
  const uses = COMMAND_OPTIONS[command];
  const configFile = rootOf(cmd).opts().config as string | undefined;
  const dotenv = readDotenv(path.join(cwd, '.env'));
  const cfg = readConfigFile({ cwd, configFile });
  const sectionName = configSection(command);
  const rawSection = cfg.data[sectionName];
  if (rawSection !== undefined && (rawSection === null || typeof rawSection !== 'object' || Array.isArray(rawSection))) {
    throw usageError('E_CONFIG', `${cfg.file}: expected "${sectionName}" to be an object of settings but received ${JSON.stringify(rawSection)}`, { where: { file: cfg.file, field: sectionName } });
  }
  const section = (rawSection ?? {}) as Record<string, unknown>;
  checkConfigKeys(section, configSections()[sectionName] ?? [], cfg.file, sectionName);
  const base = cfg.file ? path.dirname(cfg.file) : cwd;
  const out: Record<string, ResolvedOption> = {};
  for (const use of uses) {
    const spec = SPECS[use.id];
    const name = attributeName(spec);
    const flag = flagOf(spec);
    const choices = spec.choices;
    const kind = use.kind ?? spec.kind;
    let r: ResolvedOption;
    if (cmd.getOptionValueSource(name) === 'cli') {
      r = { value: parseValue(kind, cmd.getOptionValue(name), { flag, choices }), source: 'flag', from: flag };
    } else {
      const names = envNames(spec, command);
      const envName = names.find((n) => env[n] !== undefined && env[n] !== '');
      const dotName = envName ? undefined : names.find((n) => dotenv[n] !== undefined && dotenv[n] !== '');
      if (envName) r = { value: parseValue(kind, env[envName], { flag, where: `environment ${envName}`, choices }), source: 'env', from: envName };
      else if (dotName) r = { value: parseValue(kind, dotenv[dotName], { flag, where: `.env ${dotName}`, choices }), source: 'dotenv', from: `.env:${dotName}` };
      else if (spec.config && !use.noConfig && section[name] !== undefined) {
        const key = `${sectionName}.${name}`;
        let value = parseValue(kind, section[name], { flag, where: `${cfg.file} ${key}`, choices });
        // Paths in the config file are relative to its folder (as its sources are).
        if (spec.configPath && typeof value === 'string') value = path.resolve(base, value);
        r = { value, source: 'config', from: `${path.basename(cfg.file ?? '')}:${key}` };
      } else r = { value: defaultFor(use), source: 'default', from: 'default' };
    }
    out[name] = r;
    cmd.setOptionValueWithSource(name, r.value, r.source === 'flag' ? 'cli' : r.source === 'dotenv' ? 'env' : r.source);
  }
  RESOLVED.set(cmd, out);
  return out;
}

/** `--flag=value (source: from)` lines of a command's options for `--log-level debug`, secrets masked. */
export function describeOptions(cmd: Command): string[] {
  return Object.values(resolvedOptions(cmd)).length === 0
    ? []
    : Object.entries(resolvedOptions(cmd)).map(([name, r]) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}=${maskSecrets(JSON.stringify(r.value) ?? 'undefined')} (${r.source}${r.source === 'default' ? '' : `: ${r.from}`})`);
}

/** True when the option was set by the user (flag, environment, `.env` or config), not a default. */
export function isSet(cmd: Command, name: string): boolean {
  const r = resolvedOptions(cmd)[name];
  return r !== undefined && r.source !== 'default';
}

/** The flag of a library option name (`onBadRow` → `--on-bad-row`, `k` → `-k`), from the table. */
export function flagOfOption(option: string): string {
  const spec = Object.values(SPECS).find((x) => attributeName(x) === option);
  return spec ? flagOf(spec) : `--${option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/**
 * A library error's text as the CLI shows it: the option it is about, named in backticks by its
 * library name (`` `onBadRow` skip ``), becomes its flag (`` `--on-bad-row` skip ``).
 */
export function renderOption(text: string, option: string | undefined): string {
  if (option === undefined) return text;
  const flag = flagOfOption(option);
  return text.replace(new RegExp(`\`${option.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?=[\` ])`, 'g'), `\`${flag}`);
}
