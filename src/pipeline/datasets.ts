/**
 * What each stage logs as its MLflow dataset input: the profiles CSV it read (harmonized or clean),
 * or the raw source of an ETL, described with {@link profilesDatasetInput}. The digest is the
 * SHA-256 that run reuse computes for the same file ({@link pathDigest}).
 */
import { createHash } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { ProfileTable } from '../io/profiles.js';
import { profilesDatasetInput, type DatasetContext } from '../tracking/datasets.js';
import type { ActiveRun } from '../tracking/run.js';
import { maskUri } from '../util/mask.js';
import { pathDigest } from './reuse.js';

/** The dataset name of a profiles CSV: its file name without `.csv` (`data/harmonized.csv` → `harmonized`). */
export function datasetName(file: string): string {
  return path.basename(file).replace(/\.csv$/i, '');
}

/** SHA-256 of files already digested in this process, by path, size and mtime (a sweep reads one CSV per configuration). */
const digests = new Map<string, { key: string; sha256: Promise<string> }>();

async function cachedDigest(abs: string): Promise<string> {
  const st = await fsp.stat(abs);
  const key = `${st.size} ${st.mtimeMs}`;
  const hit = digests.get(abs);
  if (hit && hit.key === key) return hit.sha256;
  const sha256 = pathDigest(abs);
  digests.set(abs, { key, sha256 });
  return sha256;
}

/**
 * Log a profiles CSV the stage read: slot columns as the schema, rows/meters/days as the profile.
 * @param name dataset name shown in the UI, e.g. `harmonized`
 */
export async function logProfilesInput(run: ActiveRun, name: string, file: string, table: ProfileTable, context: DatasetContext): Promise<void> {
  await logProfilesFileInput(run, name, file, { slots: table.slots, rows: table.n, meters: new Set(table.ids).size, days: new Set(table.dates).size }, context);
}

/** What the dataset input of a profiles CSV shows: its slot columns and row, meter and day counts. */
export interface ProfilesShape {
  slots: readonly string[];
  rows: number;
  meters: number;
  days: number;
}

/**
 * {@link logProfilesInput} from counts, for a file that is not held in memory as a table (the
 * pipeline's `--in`, counted by a streaming scan).
 */
export async function logProfilesFileInput(run: ActiveRun, name: string, file: string, shape: ProfilesShape, context: DatasetContext): Promise<void> {
  const abs = path.resolve(file);
  await run.logInputs([
    profilesDatasetInput({
      name,
      source: abs,
      sha256: await cachedDigest(abs),
      slots: shape.slots,
      rows: shape.rows,
      meters: shape.meters,
      days: shape.days,
      context,
    }),
  ]);
}

/**
 * Log the raw source an ETL read: a local file or folder (digest of its content), or a database
 * (source type = the URI scheme, password masked; its digest identifies the query text, since a
 * live database has no content digest). `records` and `meters` are what the ETL read from it.
 */
export async function logRawSourceInput(run: ActiveRun, name: string, describe: string, records: number, meters: number, context: DatasetContext = 'source'): Promise<void> {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(describe)?.[1]?.toLowerCase();
  // A database file read by table is described as `<file> (table <name>)`: the file is the source.
  const target = /^(.*) \(table [^)]*\)$/.exec(describe)?.[1] ?? describe;
  const local = !scheme && existsSync(target);
  const source = local ? path.resolve(target) : maskUri(describe);
  const sha256 = local ? await pathDigest(source) : createHash('sha256').update(source).digest('hex');
  await run.logInputs([
    profilesDatasetInput({ name, source, sourceType: local ? 'local' : (scheme ?? 'external'), sha256, rows: records, meters, context }),
  ]);
}
