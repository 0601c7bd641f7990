/**
 * Start-up (issue 16): `--version` and `--help` load no database driver and no plotting stack, and
 * the help built from the lazily loaded command modules is the help of the complete program.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BIN, ensureBuilt, REPO, tempDir } from '../tracking/helpers.js';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(args: string[], cwd = REPO): Promise<Result> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  for (const k of Object.keys(env)) if (/^(LPCLUST_|MLFLOW_)/.test(k)) delete env[k];
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd, env, timeout: 60_000, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

/**
 * Packages that must not load to print the version or help: the database drivers (MongoDB,
 * PostgreSQL, SQLite) and the PNG renderer of the plots. All are CommonJS, so a module loaded by
 * any route (import or require) is in the CommonJS cache, which the probe prints at exit.
 */
const HEAVY = ['mongodb', 'pg', 'better-sqlite3', '@resvg/resvg-js'];

let probe: string;
beforeAll(() => {
  ensureBuilt();
  probe = path.join(tempDir('lpclust-startup-'), 'probe.mjs');
  writeFileSync(
    probe,
    `import { createRequire } from 'node:module';
const cache = createRequire(import.meta.url).cache;
process.on('exit', () => process.stderr.write('\\nPROBE ' + JSON.stringify(Object.keys(cache)) + '\\n'));
`,
  );
});

/** The packages of HEAVY a process loaded, from the probe's line. */
function heavyLoaded(r: Result): string[] {
  const line = r.stderr.split('\n').find((l) => l.startsWith('PROBE '));
  expect(line, `no probe output in: ${r.stderr}`).toBeDefined();
  const files = JSON.parse(line!.slice(6)) as string[];
  return HEAVY.filter((p) => files.some((f) => f.includes(`${path.sep}node_modules${path.sep}${p}${path.sep}`)));
}

describe('lpclust start-up', () => {
  it('the probe sees the drivers and the plotting stack when they are loaded', async () => {
    const r = await run(['--import', probe, '--input-type=module', '-e', HEAVY.map((p) => `await import(${JSON.stringify(p)});`).join(' ')]);
    expect(r.code).toBe(0);
    expect(heavyLoaded(r)).toEqual(HEAVY);
  });

  it('--version, --help and a command help load no driver and no plotting stack', async () => {
    const cases = [['--version'], ['-V'], ['--help'], ['dtw', '--help'], ['cluster', '--help'], ['pipeline', '--help'], ['etl', 'sql', '--help'], ['dwt']];
    const results = await Promise.all(cases.map((c) => run(['--import', probe, BIN, ...c])));
    results.forEach((r, i) => expect(heavyLoaded(r), `lpclust ${cases[i].join(' ')}`).toEqual([]));
    expect(results[0].code).toBe(0);
    expect(results[0].stdout).toMatch(/^\d+\.\d+\.\d+/);
    // A misspelt command is still answered with the closest one (every command was loaded for it).
    expect(results[7].code).toBe(2);
    expect(results[7].stderr).toContain("unknown command 'dwt'");
    expect(results[7].stderr).toContain('(Did you mean dtw?)');
  });

  it('the model registry (every model\'s code) loads only for commands that take a model option', async () => {
    // A module hook (ESM modules are not in the CommonJS cache) reports the registry's loading.
    const dir = tempDir('lpclust-startup-hooks-');
    writeFileSync(
      path.join(dir, 'hooks.mjs'),
      "export async function load(url, context, next) { if (url.endsWith('/dist/cluster/registry.js')) process.stderr.write('\\nREGISTRY LOADED\\n'); return next(url, context); }\n",
    );
    writeFileSync(path.join(dir, 'register.mjs'), "import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n");
    const cases: Array<[string[], boolean]> = [
      [['--version'], false],
      [['dtw', '--help'], false],
      [['runs', '--help'], false],
      [['cluster', '--help'], true],
      [['sweep', '--help'], true],
    ];
    const results = await Promise.all(cases.map(([c]) => run(['--import', path.join(dir, 'register.mjs'), BIN, ...c])));
    results.forEach((r, i) => {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr.includes('REGISTRY LOADED'), `lpclust ${cases[i][0].join(' ')}`).toBe(cases[i][1]);
    });
  });

  it('every help printed from the lazily loaded commands is the complete program’s', async () => {
    // The complete program (every command module loaded) prints the help of every command path.
    const dump = await run([
      '--input-type=module',
      '-e',
      `const { buildProgram } = await import(${JSON.stringify(path.join(REPO, 'dist', 'cli', 'main.js'))});
const program = await buildProgram();
const out = [];
const walk = (cmd, words) => { out.push({ words, help: cmd.helpInformation() }); for (const sub of cmd.commands) walk(sub, [...words, sub.name()]); };
walk(program, []);
process.stdout.write(JSON.stringify(out));`,
    ]);
    expect(dump.code, dump.stderr).toBe(0);
    const expected = JSON.parse(dump.stdout) as Array<{ words: string[]; help: string }>;
    expect(expected.length).toBeGreaterThan(15);
    const got = await Promise.all(expected.map((e) => run([BIN, ...e.words, '--help'])));
    expected.forEach((e, i) => {
      expect(got[i].code, `lpclust ${e.words.join(' ')} --help`).toBe(0);
      // commander adds the "after" help text to --help output; the usage and options come first.
      expect(got[i].stdout.startsWith(e.help), `lpclust ${e.words.join(' ')} --help`).toBe(true);
    });
    // A misspelt option of a lazily loaded command is still answered with the closest one.
    const typo = await run([BIN, 'dtw', '--in', 'x.csv', '--out', 'x.npy', '--raduis', '2']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('(Did you mean --radius?)');
  });
});
