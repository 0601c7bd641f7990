/**
 * Run reuse for the pipeline (`--reuse`): a stage is identified by a key — the sha256 of its stage
 * name, its semantic params, the sha256 of each of its input files and the lpclust version — kept
 * as the tag `lpclust.stage_key` of its run, with the digests of its outputs in the tag
 * `lpclust.outputs`. A later stage with the same key finds that FINISHED run with
 * `store.searchRuns` and copies its outputs instead of running again. Since every stage's inputs
 * are the previous stage's outputs, a changed input anywhere upstream changes every key downstream.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Run, TrackingStore } from '../tracking/store.js';
import { log } from '../util/log.js';

/** lpclust's version (package.json), part of every stage key. */
export const LPCLUST_VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Tag names of reuse. */
export const REUSE_TAGS = {
  /** The pipeline stage of a run (`etl_oldmongo`, `harmonization`, `dtw`, `clustering`...). */
  stage: 'lpclust.stage',
  /** sha256 of stage + params + input digests + version. */
  stageKey: 'lpclust.stage_key',
  /** JSON `{name: {path, sha256, artifact?}}` of the stage's outputs. */
  outputs: 'lpclust.outputs',
  /** The run whose outputs were reused. */
  reusedFrom: 'lpclust.reused_from',
  version: 'lpclust.version',
} as const;

/**
 * sha256 (hex) of a file, or of a directory: the sha256 over the sorted list of
 * `<relative path>\0<file sha256>\n` of every file under it.
 */
export async function pathDigest(p: string): Promise<string> {
  const st = await fsp.stat(p);
  if (st.isDirectory()) {
    const files = (await listFiles(p)).sort();
    const h = createHash('sha256');
    for (const f of files) h.update(`${f}\0${await fileDigest(path.join(p, f))}\n`);
    return h.digest('hex');
  }
  return fileDigest(p);
}

/** sha256 (hex) of one file, streamed. */
export async function fileDigest(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fsp.readdir(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(dir, rel)));
    else if (e.isFile()) out.push(rel);
  }
  return out;
}

/** JSON with sorted keys, so that equal objects give equal text. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** What identifies a stage's work. */
export interface StageKeyInput {
  stage: string;
  /** Params that change the outputs (never output paths). */
  params: Record<string, unknown>;
  /** sha256 of each input, by name. */
  inputs: Record<string, string>;
  /** Default {@link LPCLUST_VERSION}. */
  version?: string;
}

/** The stage key: sha256 (hex) of the canonical JSON of stage, params, input digests and version. */
export function stageKey(k: StageKeyInput): string {
  return createHash('sha256')
    .update(canonicalJson({ stage: k.stage, params: k.params, inputs: k.inputs, version: k.version ?? LPCLUST_VERSION }))
    .digest('hex');
}

/** One recorded output of a stage run. */
export interface RecordedOutput {
  /** Absolute local path when the run wrote it. */
  path: string;
  /** {@link pathDigest} of it. */
  sha256: string;
  /** Artifact path of the same file in the run (files only), for when the local copy is gone. */
  artifact?: string;
}

/** Record the outputs of a finished stage run as the tag `lpclust.outputs` (digests computed here). */
export async function recordOutputs(store: TrackingStore, runId: string, outputs: Record<string, { path: string; artifact?: string }>): Promise<Record<string, RecordedOutput>> {
  const rec: Record<string, RecordedOutput> = {};
  for (const [name, o] of Object.entries(outputs)) {
    rec[name] = { path: path.resolve(o.path), sha256: await pathDigest(o.path), ...(o.artifact ? { artifact: o.artifact } : {}) };
  }
  await store.logBatch(runId, { tags: [{ key: REUSE_TAGS.outputs, value: JSON.stringify(rec) }] });
  return rec;
}

/** A run found for reuse, with its outputs copied to the new places. */
export interface ReuseHit {
  run: Run;
  /** The new local path of each output. */
  outputs: Record<string, string>;
}

/**
 * Find the newest FINISHED run of `stage` with `key` whose outputs can still be had — from their
 * recorded local paths when the digest still matches, else from the run's artifacts — and copy
 * them to `targets` (name → new local path). Returns null when there is none (every candidate is
 * logged at debug level with the reason).
 */
export async function findReusable(
  store: TrackingStore,
  experimentName: string,
  stage: string,
  key: string,
  targets: Record<string, string>,
): Promise<ReuseHit | null> {
  const exp = await store.getExperimentByName(experimentName);
  if (!exp) return null;
  const runs = await store.searchRuns({ experimentIds: [exp.experimentId], tags: { [REUSE_TAGS.stage]: stage, [REUSE_TAGS.stageKey]: key }, statuses: ['FINISHED'] });
  for (const run of runs) {
    const raw = run.data.tags[REUSE_TAGS.outputs];
    if (!raw) continue;
    let rec: Record<string, RecordedOutput>;
    try {
      rec = JSON.parse(raw) as Record<string, RecordedOutput>;
    } catch {
      continue;
    }
    const copied: Record<string, string> = {};
    let ok = true;
    for (const [name, target] of Object.entries(targets)) {
      const r = rec[name];
      if (!r || !(await fetchOutput(store, run.info.runId, r, target))) {
        log.debug(`reuse ${stage}: run ${run.info.runId} has no usable output ${name}`);
        ok = false;
        break;
      }
      copied[name] = target;
    }
    if (ok) return { run, outputs: copied };
  }
  return null;
}

/** Copy one recorded output to `target` if a copy with the recorded digest can be found. */
async function fetchOutput(store: TrackingStore, runId: string, r: RecordedOutput, target: string): Promise<boolean> {
  await fsp.mkdir(path.dirname(target), { recursive: true });
  if (existsSync(r.path) && (await pathDigest(r.path)) === r.sha256) {
    await fsp.cp(r.path, target, { recursive: true });
    return true;
  }
  if (!r.artifact) return false;
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'lpclust-reuse-'));
  try {
    const local = await store.downloadArtifacts(runId, r.artifact, tmp);
    if ((await pathDigest(local)) !== r.sha256) return false;
    await fsp.cp(local, target, { recursive: true });
    return true;
  } catch (e) {
    log.debug(`reuse: artifact ${r.artifact} of run ${runId}: ${(e as Error).message}`);
    return false;
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
  }
}
