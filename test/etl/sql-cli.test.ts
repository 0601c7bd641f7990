/**
 * Whole-CLI runs of `lpclust etl sql` and `lpclust etl newmongo` on the shipped sample data
 * (spawns bin/lpclust.js; builds dist/ first when it is missing): tracked runs with their params,
 * metrics and artifacts, `--json` output, identical output from text files and SQLite, usage
 * errors, nothing written on failure, and masked passwords.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeSqlite, type Row } from './sql-support.js';

const BIN = path.resolve('bin/lpclust.js');
const DATA = path.resolve('data');
let dir = '';

function lpclust(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, '--tracking-uri', `file:${path.join(dir, 'mlruns')}`, '--experiment-name', 'etl-cli', ...args], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function runDir(runId: string): string {
  const root = path.join(dir, 'mlruns');
  for (const exp of readdirSync(root)) {
    const p = path.join(root, exp, runId);
    if (existsSync(p)) return p;
  }
  throw new Error(`run ${runId} not found`);
}

function allText(p: string): string {
  if (!statSync(p).isDirectory()) return readFileSync(p, 'utf8');
  return readdirSync(p).map((n) => allText(path.join(p, n))).join('\n');
}

const common = ['--meters', `${DATA}/meters.csv`, '--rules', `${DATA}/rules.yaml`];

beforeAll(() => {
  if (!existsSync(path.resolve('dist/cli/commands/etl.js'))) execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { stdio: 'ignore' });
  dir = mkdtempSync(path.join(tmpdir(), 'lpclust-etl-cli-'));
});

describe('lpclust etl sql', () => {
  it('cleans the sample text exports as a tracked etl_sql run, and the same rows in SQLite identically', () => {
    const r = lpclust(['etl', 'sql', '--input', `${DATA}/sql`, ...common, '--out', 'clean_sql.csv', '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { runId: string; metrics: Record<string, number>; rows: number };
    expect(out.metrics.days_kept).toBe(out.rows);
    expect(out.rows).toBeGreaterThan(200);
    const run = runDir(out.runId);
    expect(readFileSync(path.join(run, 'tags', 'mlflow.runName'), 'utf8')).toBe('etl_sql');
    expect(readFileSync(path.join(run, 'params', 'input_dir'), 'utf8')).toBe(`${DATA}/sql`);
    expect(existsSync(path.join(run, 'artifacts', 'clean', 'clean_sql.csv'))).toBe(true);
    expect(existsSync(path.join(run, 'artifacts', 'quality', 'quality_report.csv'))).toBe(true);
    const csv = readFileSync(path.join(dir, 'clean_sql.csv'), 'utf8');
    expect(csv.split('\n')[0]).toBe('id,date,' + Array.from({ length: 24 }, (_, h) => `${String(h).padStart(2, '0')}:00`).join(','));

    const rows: Row[] = [];
    for (const f of readdirSync(`${DATA}/sql`).sort()) {
      for (const line of readFileSync(`${DATA}/sql/${f}`, 'utf8').trim().split('\n')) {
        const p = line.split(',');
        rows.push([p[0]!, p[1]!, Number(p[2])]);
      }
    }
    writeSqlite(path.join(dir, 'historian.sqlite'), rows, 'hist');
    const r2 = lpclust(['etl', 'sql', '--db', 'historian.sqlite', '--table', 'hist', ...common, '--out', 'clean_sql_db.csv']);
    expect(r2.status).toBe(0);
    expect(r2.stdout).toMatch(/etl sql: \d+ complete days of 5 meter\(s\)/);
    expect(readFileSync(path.join(dir, 'clean_sql_db.csv'), 'utf8')).toBe(csv);
  });

  it('refuses bad option combinations with a usage error (exit 2), writing nothing', () => {
    const both = lpclust(['etl', 'sql', '--input', `${DATA}/sql`, '--db', 'x.sqlite', ...common, '--out', 'o1.csv']);
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/exactly one of `--input <dir>` or `--db/);
    const table = lpclust(['etl', 'sql', '--db', 'x.sqlite', '--table', 'a;b', ...common, '--out', 'o2.csv']);
    expect(table.status).toBe(2);
    expect(table.stderr).toMatch(/--table/);
    const res = lpclust(['etl', 'sql', '--input', `${DATA}/sql`, ...common, '--resolution', '7', '--out', 'o3.csv']);
    expect(res.status).toBe(2);
    expect(existsSync(path.join(dir, 'o1.csv')) || existsSync(path.join(dir, 'o2.csv')) || existsSync(path.join(dir, 'o3.csv'))).toBe(false);
  });

  it('fails with exit 3 on bad input (missing folder) and 4 on an unreachable PostgreSQL, password masked', () => {
    const missing = lpclust(['etl', 'sql', '--input', 'no-such-dir', ...common, '--out', 'o4.csv']);
    expect(missing.status).toBe(3);
    expect(missing.stderr).toMatch(/no-such-dir: no such directory/);
    const pg = lpclust(['etl', 'sql', '--db', 'postgres://scada:PgS3cretPw@127.0.0.1:1/hist', ...common, '--out', 'o5.csv', '--json']);
    expect(pg.status).toBe(4);
    expect(pg.stderr).toContain('scada:***@127.0.0.1:1');
    expect(pg.stderr + pg.stdout).not.toContain('PgS3cretPw');
    expect(allText(path.join(dir, 'mlruns'))).not.toContain('PgS3cretPw');
    expect(existsSync(path.join(dir, 'o5.csv'))).toBe(false);
  });
});

describe('lpclust etl newmongo', () => {
  it('cleans the sample mongoexport file as a tracked etl_newmongo run', () => {
    const r = lpclust(['etl', 'newmongo', '--export', `${DATA}/newmongo/newmongo.jsonl`, ...common, '--out', 'clean_newmongo.csv', '--json']);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { runId: string; metrics: Record<string, number>; rows: number };
    expect(out.rows).toBeGreaterThan(300);
    expect(out.metrics.meters).toBe(4);
    const run = runDir(out.runId);
    expect(readFileSync(path.join(run, 'tags', 'mlflow.runName'), 'utf8')).toBe('etl_newmongo');
    expect(readFileSync(path.join(run, 'params', 'export_file'), 'utf8')).toBe(`${DATA}/newmongo/newmongo.jsonl`);
  });

  it('checks the options: one of --uri/--export, --days vs --since, dates', () => {
    const none = lpclust(['etl', 'newmongo', ...common, '--out', 'n1.csv']);
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/exactly one of `--uri/);
    const days = lpclust(['etl', 'newmongo', '--uri', 'mongodb://h', '--days', '-3', ...common, '--out', 'n2.csv']);
    expect(days.status).toBe(2);
    expect(days.stderr).toMatch(/positive integer for `--days` but received `-3`/);
    const mix = lpclust(['etl', 'newmongo', '--uri', 'mongodb://h', '--days', '3', '--since', '2022-01-01', ...common, '--out', 'n3.csv']);
    expect(mix.status).toBe(2);
    const order = lpclust(['etl', 'newmongo', '--uri', 'mongodb://h', '--since', '2022-02-01', '--until', '2022-01-01', ...common, '--out', 'n4.csv']);
    expect(order.stderr).toMatch(/on or before/);
    const scheme = lpclust(['etl', 'newmongo', '--uri', 'http://user:HttpPw123@h', ...common, '--out', 'n5.csv']);
    expect(scheme.status).toBe(2);
    expect(scheme.stderr).not.toContain('HttpPw123');
  });

  it('a live read from an unreachable server fails fast (exit 4) as a FAILED load_newmongo run, password masked', () => {
    const t0 = Date.now();
    const r = lpclust([
      'etl', 'newmongo',
      '--uri', 'mongodb://inergy:M0ngoS3cret@127.0.0.1:1/?serverSelectionTimeoutMS=800&directConnection=true',
      '--days', '7', ...common, '--out', 'n6.csv',
    ]);
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(r.status).toBe(4);
    expect(r.stderr).toContain('inergy:***@127.0.0.1:1');
    expect(r.stderr).not.toContain('M0ngoS3cret');
    const text = allText(path.join(dir, 'mlruns'));
    expect(text).not.toContain('M0ngoS3cret');
    expect(text).toContain('load_newmongo');
    expect(existsSync(path.join(dir, 'n6.csv'))).toBe(false);
  });
});
