/**
 * Dataset inputs in MLflow's terms: what every store needs to check and write them the way MLflow
 * does (limits, the FileStore's folder ids and its meta.yaml text), and how lpclust describes the
 * profiles CSV a stage read (name, digest, source, slot schema, profile).
 */
import { createHash } from 'node:crypto';
import YAML from 'yaml';
import { usageError } from '../errors.js';
import { maskSecrets, maskUri } from '../util/mask.js';
import { LIMITS, type Dataset, type DatasetInput } from './store.js';

/** The input tag MLflow's UI shows as the dataset's context. */
export const DATASET_CONTEXT_TAG = 'mlflow.data.context';

/** The input tag holding the full SHA-256 of the data (the `digest` field is MLflow's 8 characters). */
export const DATASET_SHA256_TAG = 'lpclust.data.sha256';

/** What a stage did with the data it read, as shown in the UI's dataset panel. */
export type DatasetContext = 'source' | 'preprocessing' | 'training' | 'validation' | 'inference';

/**
 * Check dataset inputs as MLflow's server does before storing them (every field present, lengths
 * within {@link LIMITS}), so that a FileStore or SQLite run never holds what a server would refuse.
 * @throws LpclustError E_DATASET_INVALID naming the dataset and field
 */
export function checkDatasetInputs(inputs: readonly DatasetInput[]): void {
  for (const input of inputs) {
    const d = input.dataset;
    const which = `dataset ${JSON.stringify(d?.name ?? '')}`;
    const field = (name: string, value: string | undefined, max: number, required: boolean): void => {
      if (value === undefined || value === null || value === '') {
        if (required) throw invalid(`${which}: the field ${name} is required`);
        return;
      }
      if (typeof value !== 'string') throw invalid(`${which}: the field ${name} must be a string`);
      if (value.length > max) throw invalid(`${which}: the field ${name} has ${value.length} characters; MLflow accepts at most ${max}`);
    };
    field('name', d?.name, LIMITS.datasetName, true);
    field('digest', d?.digest, LIMITS.datasetDigest, true);
    field('source_type', d?.sourceType, LIMITS.datasetSourceType, true);
    field('source', d?.source, LIMITS.datasetSource, true);
    field('schema', d?.schema, LIMITS.datasetSchema, false);
    field('profile', d?.profile, LIMITS.datasetProfile, false);
    for (const t of input.tags ?? []) {
      if (!t.key) throw invalid(`${which}: an input tag has no key`);
      if (t.key.length > LIMITS.inputTagKey) throw invalid(`${which}: input tag key ${JSON.stringify(t.key.slice(0, 40))}… is longer than ${LIMITS.inputTagKey} characters`);
      if (t.value === undefined || t.value === null) throw invalid(`${which}: input tag ${t.key} has no value`);
      if (t.value.length > LIMITS.inputTagValue) throw invalid(`${which}: input tag ${t.key} has ${t.value.length} characters; MLflow accepts at most ${LIMITS.inputTagValue}`);
    }
  }
}

function invalid(message: string): Error {
  return usageError('E_DATASET_INVALID', message, { hint: 'this is a bug in the caller of logInputs: a dataset input must fit MLflow\'s limits' });
}

/** The FileStore's folder name of a dataset in an experiment: md5 of name and digest, as MLflow names it. */
export function fileStoreDatasetId(name: string, digest: string): string {
  return createHash('md5').update(name).update(digest).digest('hex');
}

/** The FileStore's folder name of a run's input: md5 of the dataset folder name and the run id. */
export function fileStoreInputId(datasetId: string, runId: string): string {
  return createHash('md5').update(datasetId).update(runId).digest('hex');
}

/** The dataset `meta.yaml` text of a FileStore, byte for byte as MLflow's (PyYAML) writes it. */
export function datasetMetaYaml(d: Dataset): string {
  return pyYamlMapping({
    digest: d.digest,
    name: d.name,
    profile: d.profile ?? null,
    schema: d.schema ?? null,
    source: d.source,
    source_type: d.sourceType,
  });
}

/**
 * The input `meta.yaml` text of a FileStore run. MLflow (2.12 and 3.11 alike) writes the dataset's
 * folder id as `destination_id`, not the run id: the reference stores show it, and readers ignore it.
 */
export function inputMetaYaml(datasetId: string, tags: ReadonlyArray<{ key: string; value: string }>): string {
  let text = pyYamlMapping({ destination_id: datasetId, destination_type: 'RUN', source_id: datasetId, source_type: 'DATASET' });
  if (tags.length === 0) return text + 'tags: {}\n';
  text += 'tags:\n';
  for (const t of [...tags].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) text += `  ${pyYamlLine(t.key, t.value, 2)}\n`;
  return text;
}

/** Parse a dataset or input meta.yaml (YAML 1.1, as PyYAML wrote it). */
export function parseMetaYaml(text: string): Record<string, unknown> {
  const v = YAML.parse(text, { version: '1.1' }) as unknown;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('expected a mapping');
  return v as Record<string, unknown>;
}

/** Keys in sorted order, one `key: value` per entry (values strings or null). */
function pyYamlMapping(obj: Record<string, string | null>): string {
  return Object.keys(obj)
    .sort()
    .map((k) => `${pyYamlLine(k, obj[k], 0)}\n`)
    .join('');
}

/**
 * One `key: value` line as PyYAML's safe_dump writes a string: plain when that reads back as the
 * same string, else single-quoted and folded at a single space once the line passes 80 columns,
 * continuation lines indented by two more spaces than the key.
 */
function pyYamlLine(key: string, value: string | null, indent: number): string {
  if (value === null) return `${key}: null`;
  const plain = YAML.stringify(value, { version: '1.1', singleQuote: true, lineWidth: 0 }).replace(/\n$/, '');
  if (!plain.startsWith("'")) return `${key}: ${plain}`;
  const quoted = value.replace(/'/g, "''");
  let out = `${key}: '`;
  let column = indent + out.length;
  let i = 0;
  while (i < quoted.length) {
    const space = quoted.indexOf(' ', i);
    const end = space < 0 ? quoted.length : space;
    const word = quoted.slice(i, end);
    out += word;
    column += word.length;
    if (space < 0) break;
    // A run of several spaces is never a break point (folding would change the value).
    let runEnd = space;
    while (quoted[runEnd] === ' ') runEnd++;
    if (runEnd - space === 1 && column > 80 && runEnd !== quoted.length && space !== 0) {
      out += `\n${' '.repeat(indent + 2)}`;
      column = indent + 2;
    } else {
      out += quoted.slice(space, runEnd);
      column += runEnd - space;
    }
    i = runEnd;
  }
  return `${out}'`;
}

/** What {@link profilesDatasetInput} needs about a profiles CSV a stage read. */
export interface ProfilesDatasetSpec {
  /** Dataset name shown in the UI (`harmonized`, `clean_oldmongo`, `profiles`…). */
  name: string;
  /** Where it came from: a local path (absolute or as given) or a database URI (masked here). */
  source: string;
  /** `local` for files; for databases the URI scheme (`postgresql`, `mongodb`…). */
  sourceType?: string;
  /** SHA-256 (hex) of the data (the one run reuse computes). */
  sha256: string;
  /** Slot labels (`HH:MM`), the schema's columns; omitted when unknown (a raw source). */
  slots?: readonly string[];
  /** Rows (meter-days), distinct meters and distinct days, when known. */
  rows?: number;
  meters?: number;
  days?: number;
  context: DatasetContext;
}

/**
 * The dataset input of a profiles CSV (or a raw source): MLflow's 8-character digest (the first
 * characters of the SHA-256, the full one in the input tag {@link DATASET_SHA256_TAG}), the source
 * as `{"uri": …}`, the slot columns as MLflow's column-spec schema (`double`, required) and a
 * profile `{"num_rows", "num_elements", "meters", "days"}` (num_rows/num_elements are the keys MLflow
 * writes for a DataFrame; meters/days are lpclust's). JSON texts use Python's separators, as MLflow's.
 */
export function profilesDatasetInput(spec: ProfilesDatasetSpec): DatasetInput {
  const source = spec.sourceType && spec.sourceType !== 'local' ? maskUri(spec.source) : maskSecrets(spec.source);
  const dataset: Dataset = {
    name: spec.name,
    digest: spec.sha256.slice(0, 8),
    sourceType: spec.sourceType ?? 'local',
    source: pyJson({ uri: source }),
  };
  if (spec.slots && spec.slots.length > 0) {
    dataset.schema = pyJson({ mlflow_colspec: spec.slots.map((name) => ({ type: 'double', name, required: true })) });
  }
  if (spec.rows !== undefined) {
    const profile: Record<string, number> = { num_rows: spec.rows };
    if (spec.slots) profile.num_elements = spec.rows * spec.slots.length;
    if (spec.meters !== undefined) profile.meters = spec.meters;
    if (spec.days !== undefined) profile.days = spec.days;
    dataset.profile = pyJson(profile);
  }
  return {
    dataset,
    tags: [
      { key: DATASET_CONTEXT_TAG, value: spec.context },
      { key: DATASET_SHA256_TAG, value: spec.sha256 },
    ],
  };
}

/** JSON as Python's `json.dumps` writes it by default (`", "` and `": "` separators, ASCII only). */
export function pyJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(pyJson).join(', ')}]`;
  if (v && typeof v === 'object') return `{${Object.entries(v as Record<string, unknown>).map(([k, x]) => `${pyString(k)}: ${pyJson(x)}`).join(', ')}}`;
  if (typeof v === 'string') return pyString(v);
  return JSON.stringify(v);
}

function pyString(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
