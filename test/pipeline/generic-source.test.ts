/**
 * The generic long-format CSV as a pipeline source (spawns bin/lpclust.js: build first): from
 * flags (`--generic FILE --id-col … --cumulative`) and from the config file's
 * `pipeline.sources.generic` (pipeline and sweep), as a nested `etl_generic` run; its labels equal `lpclust cluster` on
 * the CSV that `lpclust etl generic` + `lpclust harmonize --generic` write. Also the refusals of
 * incomplete generic flags and config objects.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { configuredSources } from '../../src/pipeline/sources.js';
import { allRuns, childrenOf, tempStore } from './helpers.js';

const BIN = path.resolve('bin/lpclust.js');
const CSV = path.resolve('data/oldmongo/SYN0001.csv');
const METERS = path.resolve('data/meters.csv');
/** `lpclust etl generic`'s options for the bundled old Mongo export (cumulative Wh registers). */
const COLS = ['--id-col', 'id', '--time-col', 'timestamp', '--value-col', 'Active_Energy_+_Total_end', '--cumulative'];

function lpclust(cwd: string, args: string[]): { status: number; stdout: string; stderr: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  for (const k of Object.keys(env)) if (/^(LPCLUST_|MLFLOW_)/.test(k)) delete env[k];
  const r = spawnSync(process.execPath, [BIN, '--tracking-uri', `file:${path.join(cwd, 'mlruns')}`, ...args], { cwd, encoding: 'utf8', env });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  if (!existsSync(path.resolve('dist/cli/commands/pipeline.js'))) execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'ignore' });
});

describe('the generic source in the pipeline', () => {
  it('runs etl_generic from flags and clusters as etl generic + harmonize + cluster do', async () => {
    const { dir, store } = await tempStore('lpclust-pipeline-generic-');
    const step = (args: string[]): Record<string, unknown> => {
      const r = lpclust(dir, ['--json', ...args]);
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as Record<string, unknown>;
    };
    step(['etl', 'generic', '--input', CSV, ...COLS, '--meters', METERS, '--out', 'clean_generic.csv']);
    step(['harmonize', '--generic', 'clean_generic.csv', '--out', 'harmonized.csv']);
    const cluster = step(['cluster', '--in', 'harmonized.csv', '--model', 'kmeans', '-k', '4', '--out-dir', 'c']) as { outDir: string };
    const p = step(['pipeline', '--generic', CSV, ...COLS, '--meters', METERS, '--model', 'kmeans', '-k', '4', '--no-plots', '--out-dir', 'p']) as {
      runId: string;
      outDir: string;
      stages: Array<{ stage: string; runId?: string; skipped?: string }>;
      cluster: { labels: string; n: number };
    };
    // The reference pipeline's sources are listed as not configured; generic runs; nothing else.
    expect(p.stages.map((s) => [s.stage, s.skipped ?? 'ran'])).toEqual([
      ['etl_oldmongo', 'not configured'],
      ['etl_sql', 'not configured'],
      ['etl_newmongo', 'not configured'],
      ['etl_generic', 'ran'],
      ['harmonization', 'ran'],
      ['clustering', 'ran'],
    ]);
    expect(p.cluster.n).toBeGreaterThan(50);
    expect(readFileSync(path.join(p.outDir, 'clean_generic.csv'), 'utf8')).toBe(readFileSync(path.join(dir, 'clean_generic.csv'), 'utf8'));
    expect(readFileSync(path.join(p.outDir, 'harmonized.csv'), 'utf8')).toBe(readFileSync(path.join(dir, 'harmonized.csv'), 'utf8'));
    expect(readFileSync(p.cluster.labels, 'utf8')).toBe(readFileSync(path.join(cluster.outDir, 'labels.csv'), 'utf8'));

    const runs = await allRuns(store, 'lpclust');
    const parent = runs.find((r) => r.info.runId === p.runId)!;
    expect(parent.data.params.sources).toBe('generic');
    expect(parent.data.tags['lpclust.skipped.etl_generic']).toBeUndefined();
    const children = childrenOf(runs, p.runId);
    const etl = children.get('etl_generic')!;
    expect(etl.info.runName).toBe('etl_generic');
    // The params `lpclust etl generic` logs.
    expect(etl.data.params).toMatchObject({ source: 'generic', input_file: CSV, id_col: 'id', time_col: 'timestamp', value_col: 'Active_Energy_+_Total_end', cumulative: 'true', unit: 'Wh', input_timezone: 'UTC' });
    const h = children.get('harmonization')!;
    expect(h.data.params).toMatchObject({ sources: 'generic', precedence: 'newmongo>sql>oldmongo>generic' });
    expect(h.data.metrics.generic_rows_in).toBe(p.cluster.n);
  });

  it('reads pipeline.sources.generic from the config file, paths relative to it', async () => {
    const { dir, store } = await tempStore('lpclust-pipeline-generic-cfg-');
    writeFileSync(path.join(dir, 'readings.csv'), readFileSync(CSV));
    const cfg = path.join(dir, 'lpclust.config.json');
    writeFileSync(cfg, JSON.stringify({ pipeline: { sources: { generic: { input: 'readings.csv', idCol: 'id', timeCol: 'timestamp', valueCol: 'Active_Energy_+_Total_end', cumulative: true } } } }));
    expect(configuredSources({}, cfg, '/')!.sources).toEqual({ generic: { input: path.join(dir, 'readings.csv'), idCol: 'id', timeCol: 'timestamp', valueCol: 'Active_Energy_+_Total_end', cumulative: true } });
    const r = lpclust(dir, ['--json', 'pipeline', '--meters', METERS, '--model', 'kmeans', '-k', '3', '--no-plots']);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { runId: string; stages: Array<{ stage: string; skipped?: string }> };
    expect(out.stages.filter((s) => !s.skipped).map((s) => s.stage)).toEqual(['etl_generic', 'harmonization', 'clustering']);
    const etl = childrenOf(await allRuns(store, 'lpclust'), out.runId).get('etl_generic')!;
    expect(etl.data.params.input_file).toBe(path.join(dir, 'readings.csv'));
    // The sweep reads the same configured sources.
    const sw = lpclust(dir, ['--json', 'sweep', '--meters', METERS, '--models', 'kmeans', '--metrics', 'euclidean', '-k', '3..4', '--out-dir', 'sw']);
    expect(sw.status, sw.stderr).toBe(0);
    const sweep = JSON.parse(sw.stdout) as { runId: string; rows: unknown[] };
    expect(sweep.rows).toHaveLength(2);
    const runs = await allRuns(store, 'lpclust');
    expect(runs.find((r) => r.info.runId === sweep.runId)!.data.params.sources).toBe('generic');
    expect(childrenOf(runs, sweep.runId).get('etl_generic')!.data.params.input_file).toBe(path.join(dir, 'readings.csv'));
  });

  it('refuses incomplete generic flags and config objects, naming the flag or key', async () => {
    const { dir } = await tempStore('lpclust-pipeline-generic-bad-');
    const noCol = lpclust(dir, ['pipeline', '--generic', CSV, '--id-col', 'id', '--time-col', 'timestamp']);
    expect(noCol.status).toBe(2);
    expect(noCol.stderr).toContain('`--generic` needs `--value-col`');
    const stray = lpclust(dir, ['pipeline', '--oldmongo', path.resolve('data/oldmongo'), '--id-col', 'id']);
    expect(stray.status).toBe(2);
    expect(stray.stderr).toContain('`--id-col` applies only with `--generic`');
    const unit = lpclust(dir, ['sweep', '--generic', CSV, ...COLS, '--unit', 'MWh', '--models', 'kmeans', '--metrics', 'euclidean', '-k', '3']);
    expect(unit.status).toBe(2);
    expect(unit.stderr).toContain('Expected Wh or kWh for `--unit` but received `MWh`');
    const zone = lpclust(dir, ['pipeline', '--generic', CSV, ...COLS, '--input-timezone', 'Mars/Olympus']);
    expect(zone.status).toBe(2);
    expect(zone.stderr).toContain('Expected an IANA time zone (UTC, Europe/Rome...) for `--input-timezone` but received `Mars/Olympus`');
    const cfg = path.join(dir, 'bad.json');
    writeFileSync(cfg, JSON.stringify({ pipeline: { sources: { generic: { input: CSV, idCol: 'id', timeCol: 'timestamp' } } } }));
    expect(() => configuredSources({}, cfg, dir)).toThrow(`${cfg}: pipeline.sources.generic needs "valueCol"`);
    writeFileSync(cfg, JSON.stringify({ pipeline: { sources: { generic: { input: CSV, idCol: 'id', timeCol: 'timestamp', valueCol: 'v', cumulative: 'yes' } } } }));
    expect(() => configuredSources({}, cfg, dir)).toThrow(`${cfg}: expected true or false for pipeline.sources.generic.cumulative but received "yes"`);
    // Nothing ran: no run was started by a refused command.
    expect(existsSync(path.join(dir, 'mlruns'))).toBe(false);
  });
});
