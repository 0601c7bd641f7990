/**
 * `lpclust serve --model models:/NAME@ALIAS --watch-alias`: moving the alias with `lpclust models
 * alias` makes the running server serve the other version (seen on /version), said on stderr;
 * the flag without an alias URI is a usage error (spawns bin/lpclust.js; needs dist/).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { syntheticDays } from '../support/synthetic.js';

const BIN = path.resolve('bin/lpclust.js');
let dir = '';

function lpclust(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, '--tracking-uri', 'file:./mlruns', ...args], { cwd: dir, encoding: 'utf8' });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  if (!existsSync(path.resolve('dist/serve/watch-alias.js'))) execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'ignore' });
  dir = mkdtempSync(path.join(tmpdir(), 'lpclust-watch-alias-'));
  const slots = Array.from({ length: 24 }, (_, h) => `${String(h).padStart(2, '0')}:00`);
  let out = `id,date,${slots.join(',')}\n`;
  syntheticDays(60, 3, 3).rows.forEach((row, i) => {
    out += `M${i % 3},${new Date(Date.UTC(2021, 0, 1) + i * 86400000).toISOString().slice(0, 10)},${row.map((x) => x.toFixed(3)).join(',')}\n`;
  });
  writeFileSync(path.join(dir, 'days.csv'), out);
  for (const k of ['3', '4']) {
    const r = lpclust(['cluster', '--in', 'days.csv', '-k', k, '--n-init', '1', '--register-model', 'watched']);
    expect(r.status, r.stderr).toBe(0);
  }
  expect(lpclust(['models', 'alias', 'watched', '1', 'prod']).status).toBe(0);
}, 120_000);

async function version(url: string): Promise<number> {
  const r = await fetch(`${url}/version`);
  return ((await r.json()) as { k: number }).k;
}

describe('serve --watch-alias', () => {
  it('serves the version the alias names after it moves', async () => {
    const child = spawn(process.execPath, [BIN, '--tracking-uri', 'file:./mlruns', '--json', 'serve', '--model', 'models:/watched@prod', '--port', '0', '--watch-alias', '--watch-interval', '0.2'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          try {
            resolve((JSON.parse(out) as { url: string }).url);
          } catch {
            // Not complete yet.
          }
        });
        child.on('exit', () => reject(new Error(`serve exited: ${err}`)));
      });
      expect(await version(url)).toBe(3);
      expect(lpclust(['models', 'alias', 'watched', '2', 'prod']).status).toBe(0);
      const deadline = Date.now() + 20_000;
      while ((await version(url)) !== 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(await version(url)).toBe(4);
      expect(err).toContain('alias prod of "watched" moved from version 1 to 2');
      // An alias removed: the server keeps what it serves and says why once.
      expect(lpclust(['models', 'delete-alias', 'watched', 'prod']).status).toBe(0);
      await new Promise((r) => setTimeout(r, 800));
      expect(await version(url)).toBe(4);
      expect(err.match(/has no alias "prod"/g)?.length).toBe(1);
    } finally {
      child.kill('SIGINT');
      await new Promise((r) => child.once('exit', r));
    }
  }, 60_000);

  it('needs a models:/NAME@ALIAS model', () => {
    const r = lpclust(['serve', '--model', 'models:/watched/1', '--watch-alias']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('Expected `--model models:/<name>@<alias>` with `--watch-alias`');
  });
});
