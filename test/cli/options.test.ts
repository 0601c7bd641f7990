/**
 * The option table (src/cli/options.ts): `--help` of every command and the README's option
 * reference come from it; one parser per kind of value with one error code; the same precedence
 * (flag > environment > .env > config section > default) for every command, checked on spawned
 * CLIs through the params they log.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';
import { COMMAND_OPTIONS, GLOBAL_OPTIONS, OPTIONS, configSections, flagOf, renderOption, type OptionSpec } from '../../src/cli/options.js';
import * as table from '../../src/cli/options.js';
import { withOptionsReference } from '../../src/cli/options-doc.js';
import { CONFIG_SECTIONS, GLOBAL_SETTINGS } from '../../src/config.js';
import { INITS, METRICS, MODELS, defaultsHelp, metricsHelp } from '../../src/cluster/registry.js';
import { LINKAGES } from '../../src/cluster/agglomerative.js';
import { SCALES } from '../../src/cluster/scale-choice.js';
import { KERNEL_CHOICES } from '../../src/dtw/kernel.js';
import { MATRIX_LAYOUTS } from '../../src/dtw/matrix.js';
import { DEFAULT_MAX_BODY_MB } from '../../src/serve/server.js';
import { DEFAULT_NEWMONGO_COLLECTION, DEFAULT_NEWMONGO_DB } from '../../src/etl/newmongo-doc.js';
import { DEFAULT_HISTORIAN_TABLE } from '../../src/etl/sql-db.js';
import { isLpclustError, type LpclustError } from '../../src/errors.js';
import { syntheticDays } from '../support/synthetic.js';

const SPECS: Record<string, OptionSpec> = OPTIONS;
const BIN = path.resolve('bin/lpclust.js');

/** The sub-command `path` ("etl sql") of the program. */
function commandAt(program: Command, at: string): Command {
  let c = program;
  for (const name of at.split(' ')) {
    const next = c.commands.find((x) => x.name() === name);
    if (!next) throw new Error(`no command ${at}`);
    c = next;
  }
  return c;
}

/** The flags an Options section of a help text lists (long forms, and `-k` where that is the only form). */
function helpFlags(help: string): string[] {
  const section = help.split(/\nOptions:\n/)[1]?.split(/\n\n/)[0] ?? '';
  const out: string[] = [];
  for (const line of section.split('\n')) {
    const m = /^ {2}(?:-([A-Za-z]), )?(--[a-z0-9-]+)/.exec(line);
    if (m) out.push(m[2]);
  }
  return out.sort();
}

describe('the option table', () => {
  it('takes the model options from the model registry, loaded only for the commands that take them', async () => {
    await table.loadModelCatalogue();
    expect(table.OPTIONS.model.choices).toEqual(MODELS);
    expect(table.OPTIONS.models.choices).toEqual(MODELS);
    expect(table.OPTIONS.models.default).toEqual(MODELS);
    expect(table.OPTIONS.metric.choices).toEqual(METRICS);
    expect(table.OPTIONS.metrics.choices).toEqual(METRICS);
    expect(table.OPTIONS.init.choices).toEqual(INITS);
    expect(table.OPTIONS.linkage.choices).toEqual(LINKAGES);
    expect(table.OPTIONS.metric.help).toBe(`distance: ${metricsHelp()}`);
    expect(table.OPTIONS.nInit.defaultText).toBe(defaultsHelp('nInit'));
    expect(table.OPTIONS.maxIter.defaultText).toBe(defaultsHelp('maxIter'));
  });

  it('repeats the library choice lists and defaults it cannot import (start-up time) exactly', () => {
    expect(table.OPTIONS.kernel.choices).toEqual(KERNEL_CHOICES);
    expect(table.OPTIONS.layout.choices).toEqual(MATRIX_LAYOUTS);
    expect(table.OPTIONS.dtwLayout.choices).toEqual(MATRIX_LAYOUTS);
    expect(table.OPTIONS.scale.choices).toEqual(SCALES);
    expect(table.DEFAULT_MAX_BODY_MB).toBe(DEFAULT_MAX_BODY_MB);
    expect(table.DEFAULT_NEWMONGO_DB).toBe(DEFAULT_NEWMONGO_DB);
    expect(table.DEFAULT_NEWMONGO_COLLECTION).toBe(DEFAULT_NEWMONGO_COLLECTION);
    expect(table.DEFAULT_HISTORIAN_TABLE).toBe(DEFAULT_HISTORIAN_TABLE);
  });

  it('the global options agree with the settings table that resolves them (environment names, defaults)', () => {
    const settings = GLOBAL_SETTINGS as unknown as Record<string, { env: readonly string[]; default: unknown }>;
    const checked: string[] = [];
    for (const id of GLOBAL_OPTIONS) {
      const setting = settings[id];
      if (!setting) continue; // --config names the file; it is not a setting
      const spec = SPECS[id];
      expect(spec.env ?? [], `environment of --${spec.long}`).toEqual(setting.env);
      // A switch shows its default in words (`spool`); the tracking URI's is decided at run time.
      if (spec.default !== undefined) expect(spec.default, `default of --${spec.long}`).toEqual(setting.default);
      checked.push(id);
    }
    expect(checked.length).toBeGreaterThanOrEqual(7);
  });

  it('the config file knows exactly the sections the table reads', () => {
    expect([...CONFIG_SECTIONS].sort()).toEqual(Object.keys(configSections()).sort());
  });

  it("every command's --help lists exactly the table's flags for that command", async () => {
    const program = await buildProgram();
    expect(helpFlags(program.helpInformation())).toEqual([...GLOBAL_OPTIONS.map((id) => `--${SPECS[id].long}`), '--version', '--help'].sort());
    for (const [at, uses] of Object.entries(COMMAND_OPTIONS)) {
      const expected = uses.filter((u) => !u.configOnly).map((u) => `--${SPECS[u.id].long}`);
      expect(helpFlags(commandAt(program, at).helpInformation()), at).toEqual([...expected, '--help'].sort());
      expect(new Set(expected).size, `${at} takes a flag twice`).toBe(expected.length);
    }
  });

  it('every command registered is in the table (no command declares options of its own)', async () => {
    const program = await buildProgram();
    const walk = (c: Command, at: string): string[] => c.commands.flatMap((s) => [at ? `${at} ${s.name()}` : s.name(), ...walk(s, at ? `${at} ${s.name()}` : s.name())]);
    for (const at of walk(program, '')) {
      const c = commandAt(program, at);
      const own = c.options.filter((o) => o.long !== '--help').map((o) => o.long);
      if (own.length > 0) expect(COMMAND_OPTIONS[at], at).toBeDefined();
    }
  });

  it('the README option reference is the table (npm run docs:options)', () => {
    const readme = readFileSync(path.resolve('README.md'), 'utf8');
    expect(withOptionsReference(readme) === readme, 'README.md option reference is out of date: npm run build && npm run docs:options').toBe(true);
  });

  it('declares the k range defaults once each, by name, in the whole of src/', () => {
    const files = (readdirSync(path.resolve('src'), { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
    const where = (re: RegExp): string[] => files.filter((f) => re.test(readFileSync(path.resolve('src', f), 'utf8')));
    expect(where(/\[3, 29\]|['"`]3\.\.29['"`]/)).toEqual([path.join('cluster', 'k-range.ts')]);
    expect(where(/\[3, 20\]|['"`]3\.\.20['"`]/)).toEqual([path.join('cluster', 'k-range.ts')]);
    expect(table.DEFAULT_K_RANGE).toEqual([3, 29]);
    expect(table.DEFAULT_SWEEP_K_RANGE).toEqual([3, 20]);
    expect(flagOf(SPECS.k)).toBe('-k');
  });
});

/** The error a command line stops with before its action runs (the option hook), or undefined. */
async function usageOf(args: string[]): Promise<LpclustError | undefined> {
  const argv = ['node', 'lpclust', ...args];
  const program = await buildProgram(argv);
  program.configureOutput({ writeErr: () => {}, writeOut: () => {} });
  // Replace every action: only the options' resolution runs.
  const stub = (c: Command): void => {
    c.action(() => {});
    for (const s of c.commands) stub(s);
  };
  for (const c of program.commands) stub(c);
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (isLpclustError(e)) return e;
    throw e;
  }
  return undefined;
}

describe('one parser per kind of value', () => {
  const radiusCommands: Array<[string, string[]]> = [
    ['dtw', ['dtw', '--in', 'x.csv', '--out', 'd.npy']],
    ['cluster', ['cluster', '--in', 'x.csv']],
    ['pipeline', ['pipeline']],
    ['sweep', ['sweep']],
    ['harmonize', ['harmonize', '--sql', 'a.csv', '--out', 'h.csv', '--compute-dtw']],
  ];

  it('--radius: the same answer in every command (decimal integers ≥ 0 and none; 0x10, 1e1, 1.0, -1 refused with E_USAGE_VALUE)', async () => {
    for (const [name, base] of radiusCommands) {
      for (const bad of ['0x10', '1e1', '1.0', '-1', '']) {
        const e = await usageOf([...base, `--radius=${bad}`]);
        expect(e?.code, `${name} --radius ${bad}`).toBe('E_USAGE_VALUE');
        expect(e?.message).toContain('`--radius`');
      }
      for (const good of ['0', '3', 'none']) expect(await usageOf([...base, '--radius', good]), `${name} --radius ${good}`).toBeUndefined();
    }
  });

  it('a bad value is E_USAGE_VALUE in every command, naming the flag, what was expected and what was received', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['validate', '--in', 'x.csv', '--labels', 'l.csv', '--workers', '0'], /^Expected a positive integer for `--workers` but received `0`$/],
      [['validate', '--in', 'x.csv', '--labels', 'l.csv', '--min-prominence', '-1'], /Expected a non-negative number for `--min-prominence` but received `-1`/],
      [['dtw', '--in', 'x', '--out', 'y', '--workers', '1.5'], /Expected a positive integer for `--workers` but received `1.5`/],
      [['cluster', '--in', 'x', '--workers', '2x'], /Expected a positive integer for `--workers` but received `2x`/],
      [['cluster', '--in', 'x', '--model', 'dbscan'], new RegExp(`Expected ${MODELS.join('\\|')} for \`--model\` but received \`dbscan\``)],
      [['cluster', '--in', 'x', '--k-range', '5..3'], /Expected a k range a..b with 2 ≤ a ≤ b for `--k-range` but received `5..3`/],
      [['sweep', '--metrics', 'euclidean,cosine'], /Expected a comma-separated list of euclidean\|dtw for `--metrics` but received `cosine`/],
      [['sweep', '--seeds', '1,x'], /for `--seeds` but received `1,x`/],
      [['pipeline', '--resolution', '7'], /Expected a number of minutes that divides a day .* for `--resolution` but received `7`/],
      [['pipeline', '--timezone', 'Mars/Olympus'], /Expected an IANA time zone for `--timezone` but received `Mars\/Olympus`/],
      [['etl', 'sql', '--input', 'd', '--meters', 'm', '--out', 'o', '--fill-window', 'x'], /Expected a non-negative number for `--fill-window` but received `x`/],
      [['etl', 'newmongo', '--uri', 'mongodb://h', '--meters', 'm', '--out', 'o', '--since', '2024-02-30'], /Expected a day YYYY-MM-DD for `--since` but received `2024-02-30`/],
      [['serve', '--model', 'm', '--port', '70000'], /Expected a port 0..65535 for `--port` but received `70000`/],
      [['runs', '--limit', '-3'], /Expected a non-negative integer for `--limit` but received `-3`/],
      [['runs', '--status', 'DONE'], /for `--status` but received `DONE`/],
      [['worker', '--queue', 'redis://h', '--threads', '0'], /Expected a positive integer for `--threads` but received `0`/],
      [['assign', '--model', 'm', '--out', 'o', '--js-threshold', '0'], /Expected a positive number for `--js-threshold` but received `0`/],
      [['cluster', '--in', 'x', '--memory-budget', 'lots'], /Expected a size such as 4G.* for `--memory-budget` but received `lots`/],
      [['cluster', '--in', 'x', '--min-cluster-share', '2'], /for `--min-cluster-share` but received `2`/],
    ];
    for (const [args, re] of cases) {
      const e = await usageOf(args);
      expect(e?.code, args.join(' ')).toBe('E_USAGE_VALUE');
      expect(e?.message, args.join(' ')).toMatch(re);
    }
  });

  it('-k 1 is refused with E_USAGE_K; -k means one k in every command', async () => {
    expect((await usageOf(['cluster', '--in', 'x', '-k', '1']))?.code).toBe('E_USAGE_K');
    expect((await usageOf(['pipeline', '-k', '1']))?.code).toBe('E_USAGE_K');
    expect((await usageOf(['sweep', '-k', '1']))?.code).toBe('E_USAGE_VALUE');
    expect(await usageOf(['sweep', '-k', '7'])).toBeUndefined();
  });
});

describe('library errors carry the option name; the CLI shows the flag', () => {
  it('renders the option named in backticks as its flag, and nothing else', () => {
    expect(renderOption('fix the row, or pass `onBadRow` skip to skip it', 'onBadRow')).toBe('fix the row, or pass `--on-bad-row` skip to skip it');
    expect(renderOption('Expected `model` a path but received `x`', 'model')).toBe('Expected `--model` a path but received `x`');
    expect(renderOption('`memoryBudget` of 1 MB is too small; `modelling` stays', 'memoryBudget')).toBe('`--memory-budget` of 1 MB is too small; `modelling` stays');
    expect(renderOption('`k` 3', 'k')).toBe('`-k` 3');
    expect(renderOption('`onBadRow` skip', undefined)).toBe('`onBadRow` skip');
  });

  it('a spawned CLI shows the flag in the hint of a library error', () => {
    const r = spawnSync(process.execPath, [BIN, 'cluster', '--in', 'x.csv', '--min-cluster-share', '2'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('hint: e.g. `--min-cluster-share` 0.02');
  });
});

describe('the same precedence for every command (spawned CLI, logged params)', () => {
  let dir = '';
  let csv = '';

  beforeAll(() => {
    if (!existsSync(path.resolve('dist/cli/options.js'))) execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'ignore' });
    dir = mkdtempSync(path.join(tmpdir(), 'lpclust-options-'));
    const slots = Array.from({ length: 24 }, (_, h) => `${String(h).padStart(2, '0')}:00`);
    const { rows, classes } = syntheticDays(30, 2, 3);
    let out = `id,date,${slots.join(',')}\n`;
    rows.forEach((v, i) => {
      out += `M${classes[i] + 1},${new Date(Date.UTC(2020, 0, 1) + i * 86400000).toISOString().slice(0, 10)},${v.map((x) => x.toFixed(3)).join(',')}\n`;
    });
    csv = path.join(dir, 'profiles.csv');
    writeFileSync(csv, out);
  }, 120_000);

  function run(cwd: string, args: string[], env: Record<string, string> = {}): { status: number; stdout: string; stderr: string } {
    const clean = { ...process.env };
    for (const k of Object.keys(clean)) if (k.startsWith('LPCLUST_') || k.startsWith('MLFLOW_')) delete clean[k];
    const r = spawnSync(process.execPath, [BIN, '--tracking-uri', `file:${path.join(cwd, 'mlruns')}`, '--json', '--quiet', ...args], { cwd, encoding: 'utf8', env: { ...clean, NO_COLOR: '1', ...env } });
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  function param(cwd: string, runId: string, name: string): string | undefined {
    const root = path.join(cwd, 'mlruns');
    for (const exp of readdirSync(root)) {
      const p = path.join(root, exp, runId, 'params', name);
      if (existsSync(p)) return readFileSync(p, 'utf8');
    }
    return undefined;
  }

  function workdir(config?: unknown, dotenv?: string): string {
    const d = mkdtempSync(path.join(dir, 'w-'));
    if (config !== undefined) writeFileSync(path.join(d, 'lpclust.config.json'), JSON.stringify(config));
    if (dotenv !== undefined) writeFileSync(path.join(d, '.env'), dotenv);
    return d;
  }

  it('lpclust dtw: LPCLUST_WORKERS and the config file\'s "dtw" section apply; flag > environment > .env > config > default', () => {
    const cases: Array<{ config?: unknown; dotenv?: string; env?: Record<string, string>; flags?: string[]; radius: string; workers: string }> = [
      { radius: '1', workers: 'auto' },
      { config: { dtw: { radius: 2, workers: 2 } }, radius: '2', workers: '2' },
      { config: { dtw: { radius: 2, workers: 2 } }, dotenv: 'LPCLUST_WORKERS=1\n', radius: '2', workers: '1' },
      { config: { dtw: { radius: 'none' } }, env: { LPCLUST_WORKERS: '1' }, dotenv: 'LPCLUST_WORKERS=2\n', radius: 'none', workers: '1' },
      { config: { dtw: { radius: 2 } }, env: { LPCLUST_RADIUS: '3', LPCLUST_WORKERS: '2' }, flags: ['--radius', '0', '--workers', '1'], radius: '0', workers: '1' },
    ];
    for (const c of cases) {
      const d = workdir(c.config, c.dotenv);
      const r = run(d, ['dtw', '--in', csv, '--out', 'd.npy', ...(c.flags ?? [])], c.env);
      expect(r.status, r.stderr).toBe(0);
      const id = JSON.parse(r.stdout).runId as string;
      expect(param(d, id, 'radius'), JSON.stringify(c)).toBe(c.radius);
      expect(param(d, id, 'workers'), JSON.stringify(c)).toBe(c.workers);
    }
  }, 120_000);

  it('lpclust cluster: radius and workers from the config\'s "cluster" section and LPCLUST_WORKERS', () => {
    const d = workdir({ cluster: { radius: 3, seed: 4 } });
    const r = run(d, ['--log-level', 'debug', 'cluster', '--in', csv, '--model', 'kmedoids', '--metric', 'dtw', '-k', '3', '--out-dir', 'out'], { LPCLUST_WORKERS: '1' });
    expect(r.status, r.stderr).toBe(0);
    const id = JSON.parse(r.stdout).runId as string;
    expect(param(d, id, 'radius')).toBe('3');
    expect(param(d, id, 'seed')).toBe('4');
    // cluster logs no workers param: --log-level debug says where each option came from.
    expect(r.stderr).toContain('option --workers=1 (env: LPCLUST_WORKERS)');
    expect(r.stderr).toContain('option --radius=3 (config: lpclust.config.json:cluster.radius)');
    expect(r.stderr).toContain('option --k=3 (flag: -k)');
  }, 120_000);

  it('a wrong value from the environment or the config names its source; an unknown key names the key and the file', () => {
    const d = workdir({ dtw: { radius: 1.5 } });
    const r = run(d, ['dtw', '--in', csv, '--out', 'd.npy']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/`--radius \(.*lpclust\.config\.json dtw\.radius\)` but received `1\.5`/);
    const e = run(workdir(), ['dtw', '--in', csv, '--out', 'd.npy'], { LPCLUST_WORKERS: 'many' });
    expect(e.status).toBe(2);
    expect(e.stderr).toContain('Expected a positive integer for `--workers` (environment LPCLUST_WORKERS) but received `many`');
    const k = workdir({ dtw: { radiuss: 2 } });
    const u = run(k, ['dtw', '--in', csv, '--out', 'd.npy']);
    expect(u.status).toBe(2);
    expect(u.stderr).toContain(`${path.join(k, 'lpclust.config.json')}: unknown key "dtw.radiuss" (did you mean "dtw.radius"?)`);
    expect(existsSync(path.join(k, 'd.npy'))).toBe(false);
  }, 60_000);

  it('harmonize: --radius without --compute-dtw is refused even when it equals the default', () => {
    const d = workdir();
    const r = run(d, ['harmonize', '--sql', csv, '--out', 'h.csv', '--radius', '1']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('only apply with `--compute-dtw`');
  });

  it('sweep: -k N sweeps one k; -k a..b still works for one release with one deprecation warning naming --k-range', () => {
    const d = workdir();
    const one = run(d, ['sweep', '--in', csv, '--models', 'kmeans', '--metrics', 'euclidean', '-k', '3', '--out-dir', 'o']);
    expect(one.status, one.stderr).toBe(0);
    expect(JSON.parse(one.stdout).rows.map((x: { k: number }) => x.k)).toEqual([3]);
    const old = spawnSync(process.execPath, [BIN, '--tracking-uri', `file:${path.join(d, 'mlruns')}`, '--json', 'sweep', '--in', csv, '--models', 'kmeans', '--metrics', 'euclidean', '-k', '3..4', '--out-dir', 'o'], { cwd: d, encoding: 'utf8' });
    expect(old.status, old.stderr).toBe(0);
    expect(JSON.parse(old.stdout).rows.map((x: { k: number }) => x.k)).toEqual([3, 4]);
    const warnings = old.stderr.split('\n').filter((l) => /deprecated/.test(l));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('--k-range 3..4');
    const range = run(d, ['sweep', '--in', csv, '--models', 'kmeans', '--metrics', 'euclidean', '--k-range', '3..4', '--out-dir', 'o']);
    expect(range.status, range.stderr).toBe(0);
    expect(range.stderr).not.toMatch(/deprecated/);
  }, 120_000);
});
