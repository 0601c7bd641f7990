/**
 * Shared helpers of the pipeline tests: a FileStore in a temporary folder, the runs of an
 * experiment, and PNG / SVG size readers.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/tracking/index.js';
import type { Run, TrackingStore } from '../../src/tracking/store.js';

/** A fresh temporary folder and a FileStore in it. */
export async function tempStore(prefix: string): Promise<{ dir: string; store: TrackingStore; uri: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  const uri = `file:${path.join(dir, 'mlruns')}`;
  return { dir, store: await openStore(uri), uri };
}

/** Every run of the experiment. */
export async function allRuns(store: TrackingStore, experimentName: string): Promise<Run[]> {
  const exp = await store.getExperimentByName(experimentName);
  if (!exp) return [];
  return store.searchRuns({ experimentIds: [exp.experimentId] });
}

/** The children of a run, by `lpclust.stage` (or run name when untagged). */
export function childrenOf(runs: Run[], parentId: string): Map<string, Run> {
  const out = new Map<string, Run>();
  for (const r of runs) if (r.data.tags['mlflow.parentRunId'] === parentId) out.set(r.data.tags['lpclust.stage'] ?? r.info.runName, r);
  return out;
}

/** Width and height of a PNG from its IHDR chunk (and a check of the signature). */
export function pngSize(file: string): { width: number; height: number } {
  const b = readFileSync(file);
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (!sig.every((x, i) => b[i] === x) || b.toString('latin1', 12, 16) !== 'IHDR') throw new Error(`${file} is not a PNG`);
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

/** Width and height attributes of the root `<svg>` element. */
export function svgSize(file: string): { width: number; height: number } {
  const text = readFileSync(file, 'utf8');
  const m = /<svg\b[^>]*>/.exec(text);
  if (!m || !text.trimEnd().endsWith('</svg>')) throw new Error(`${file} is not an SVG document`);
  const w = /\bwidth="([\d.]+)"/.exec(m[0]);
  const h = /\bheight="([\d.]+)"/.exec(m[0]);
  return { width: Number(w?.[1]), height: Number(h?.[1]) };
}
