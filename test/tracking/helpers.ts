/**
 * Shared helpers of the tracking and CLI tests: temporary directories, the built library (dist/,
 * made by `npm ci` / `npm run build`; built here when missing), and reading a store tree back.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

/** The repository root. */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The built CLI launcher. */
export const BIN = path.join(REPO, 'bin', 'lpclust.js');

/** Make sure dist/ exists (tests that spawn processes use the built code). */
export function ensureBuilt(): void {
  if (fs.existsSync(path.join(REPO, 'dist', 'cli', 'main.js')) && fs.existsSync(path.join(REPO, 'dist', 'tracking', 'file-store.js'))) return;
  try {
    execFileSync(process.execPath, [path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: REPO, stdio: 'ignore' });
  } catch {
    // tsc emits even with type errors elsewhere; the checks below decide.
  }
  if (!fs.existsSync(path.join(REPO, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` first');
}

/** A fresh temporary directory. */
export function tempDir(prefix = 'lpclust-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Every file and folder under `root`: relative `/` paths (folders end with `/`) → file content (folders: ''). */
export function readTree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const d of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) {
        out[r + '/'] = '';
        walk(r);
      } else {
        out[r] = fs.readFileSync(path.join(root, r), 'utf8');
      }
    }
  };
  walk('');
  return out;
}

/** Leftover temporary or lock files under `root` (should be none once writers are done). */
export function leftovers(root: string): string[] {
  return Object.keys(readTree(root)).filter((p) => /\.tmp-|\.lpclust\.lock/.test(p));
}

const ORPHAN = path.join(REPO, 'test', 'tracking', 'fixtures', 'orphan.mjs');

/** Run a process that creates a run in `store` (an mlruns folder or a sqlite: URI), logs to it, and kills itself with SIGKILL; its run id. */
export function orphan(store: string, name: string): string {
  const r = spawnSync(process.execPath, [ORPHAN, store, name], { cwd: REPO, encoding: 'utf8' });
  expect(r.signal, r.stderr).toBe('SIGKILL');
  return r.stdout.trim();
}

/** Start a process that creates a run in `store` and stays alive (a live owner) until its stdin closes. */
export async function liveOwner(store: string, name: string): Promise<{ child: ChildProcess; runId: string }> {
  const child = spawn(process.execPath, [ORPHAN, store, name, 'hold'], { cwd: REPO, stdio: ['pipe', 'pipe', 'inherit'] });
  const runId = await new Promise<string>((resolve) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.trim());
    });
  });
  return { child, runId };
}
