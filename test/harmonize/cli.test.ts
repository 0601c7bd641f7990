/**
 * `lpclust harmonize` drops all-zero days by default, as the pipeline does, so that `dtw` and
 * `cluster` on its output work; `--keep-zero-days` keeps them, and then the L2 error names the
 * harmonize option (spawns bin/lpclust.js; needs dist/).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const BIN = path.resolve('bin/lpclust.js');
let dir = '';

function lpclust(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, '--tracking-uri', `file:${path.join(dir, 'mlruns')}`, ...args], { cwd: dir, encoding: 'utf8' });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'lpclust-harmonize-cli-'));
  const slots = Array.from({ length: 24 }, (_, h) => `${String(h).padStart(2, '0')}:00`);
  let csv = `id,date,${slots.join(',')}\n`;
  for (let d = 1; d <= 9; d++) {
    const zero = d === 4;
    csv += `M1,2024-01-0${d},${slots.map((_, h) => (zero ? 0 : 100 + ((h * d) % 7) * 30)).join(',')}\n`;
  }
  writeFileSync(path.join(dir, 'clean.csv'), csv);
});

describe('lpclust harmonize and all-zero days', () => {
  it('drops them by default (counted), so cluster on the output works', () => {
    const h = lpclust(['--json', 'harmonize', '--sql', 'clean.csv', '--out', 'h.csv']);
    expect(h.status, h.stderr).toBe(0);
    const res = JSON.parse(h.stdout);
    expect(res.perSource.sql).toMatchObject({ rowsIn: 9, droppedZero: 1, rowsKept: 8 });
    expect(readFileSync(path.join(dir, 'h.csv'), 'utf8')).not.toContain('2024-01-04');
    const c = lpclust(['cluster', '--in', 'h.csv', '-k', '2', '--n-init', '1']);
    expect(c.status, c.stderr).toBe(0);
    // --drop-zero-days is still accepted (the old way to ask for the default).
    expect(lpclust(['harmonize', '--sql', 'clean.csv', '--out', 'h2.csv', '--drop-zero-days']).status).toBe(0);
  });

  it('--keep-zero-days keeps them, and cluster then names the harmonize option', () => {
    const h = lpclust(['--json', 'harmonize', '--sql', 'clean.csv', '--out', 'kept.csv', '--keep-zero-days']);
    expect(h.status, h.stderr).toBe(0);
    expect(JSON.parse(h.stdout).perSource.sql).toMatchObject({ droppedZero: 0, rowsKept: 9 });
    const c = lpclust(['cluster', '--in', 'kept.csv', '-k', '2']);
    expect(c.status).toBe(3);
    expect(c.stderr).toMatch(/meter M1 on 2024-01-04 .*an all-zero profile has no L2 norm/);
    expect(c.stderr).toMatch(/hint: drop all-zero days with `lpclust harmonize` \(it drops them unless given --keep-zero-days/);
  });

  it('--keep-zero-days with --drop-zero-days: a usage error', () => {
    const r = lpclust(['harmonize', '--sql', 'clean.csv', '--out', 'x.csv', '--keep-zero-days', '--drop-zero-days']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/contradict each other/);
  });
});
