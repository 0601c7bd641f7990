import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { GLOBAL_SETTINGS, describeSettings, envValue, readDotenv, resolveSettings, valuesOf } from '../../src/config.js';
import { BIN, ensureBuilt, tempDir } from '../tracking/helpers.js';

function dirWith(files: Record<string, string>): string {
  const dir = tempDir('lpclust-config-');
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

const CONFIG = JSON.stringify({ trackingUri: 'file:./from-config', experimentName: 'config-exp', logLevel: 'warn', quiet: true });
const DOTENV = 'MLFLOW_TRACKING_URI=file:./from-dotenv\n# a comment\nexport LPCLUST_LOG_LEVEL="error"\n';

describe('configuration precedence: flags > env > .env > lpclust.config.json > defaults', () => {
  it('defaults when nothing is set', () => {
    const r = resolveSettings(GLOBAL_SETTINGS, { flags: {}, env: {}, cwd: dirWith({}) });
    expect(valuesOf(r)).toEqual({ trackingUri: 'file:./mlruns', sqliteSchema: 'mlflow2', spoolDir: './mlruns', experimentName: 'lpclust', logLevel: 'info', quiet: false, json: false, spool: true });
    expect(Object.values(r).every((v) => v.source === 'default')).toBe(true);
  });

  it('each level overrides the ones below it, and the source of each value is known', () => {
    const cwd = dirWith({ 'lpclust.config.json': CONFIG, '.env': DOTENV });
    const onlyFiles = resolveSettings(GLOBAL_SETTINGS, { flags: {}, env: {}, cwd });
    expect(onlyFiles.trackingUri).toEqual({ value: 'file:./from-dotenv', source: 'dotenv', from: '.env:MLFLOW_TRACKING_URI' });
    expect(onlyFiles.logLevel).toEqual({ value: 'error', source: 'dotenv', from: '.env:LPCLUST_LOG_LEVEL' });
    expect(onlyFiles.experimentName).toEqual({ value: 'config-exp', source: 'config', from: 'lpclust.config.json:experimentName' });
    expect(onlyFiles.quiet).toMatchObject({ value: true, source: 'config' });
    expect(onlyFiles.json).toMatchObject({ value: false, source: 'default' });

    const env = { MLFLOW_TRACKING_URI: 'file:./from-env', MLFLOW_EXPERIMENT_NAME: 'env-exp' };
    const withEnv = resolveSettings(GLOBAL_SETTINGS, { flags: {}, env, cwd });
    expect(withEnv.trackingUri).toEqual({ value: 'file:./from-env', source: 'env', from: 'MLFLOW_TRACKING_URI' });
    expect(withEnv.experimentName).toMatchObject({ value: 'env-exp', source: 'env' });

    // LPCLUST_* wins over the standard MLFLOW_* name.
    const both = resolveSettings(GLOBAL_SETTINGS, { flags: {}, env: { ...env, LPCLUST_TRACKING_URI: 'file:./lpclust-env' }, cwd });
    expect(both.trackingUri).toMatchObject({ value: 'file:./lpclust-env', from: 'LPCLUST_TRACKING_URI' });

    const withFlags = resolveSettings(GLOBAL_SETTINGS, { flags: { trackingUri: 'file:./from-flag', quiet: false }, env, cwd });
    expect(withFlags.trackingUri).toEqual({ value: 'file:./from-flag', source: 'flag', from: '--tracking-uri' });
    expect(withFlags.quiet).toMatchObject({ value: false, source: 'flag' });
  });

  it('an explicit config file replaces lpclust.config.json; missing or invalid files are input errors naming the file', () => {
    const cwd = dirWith({ 'lpclust.config.json': CONFIG, 'other.json': '{"experimentName":"other"}', 'bad.json': '{"a":' });
    expect(resolveSettings(GLOBAL_SETTINGS, { flags: {}, env: {}, cwd, configFile: 'other.json' }).experimentName.value).toBe('other');
    expect(() => resolveSettings(GLOBAL_SETTINGS, { flags: {}, env: {}, cwd, configFile: 'missing.json' })).toThrow(
      expect.objectContaining({ code: 'E_CONFIG', kind: 'input', message: expect.stringContaining('missing.json') }),
    );
    expect(() => resolveSettings(GLOBAL_SETTINGS, { flags: {}, env: {}, cwd, configFile: 'bad.json' })).toThrow(expect.objectContaining({ code: 'E_CONFIG' }));
  });

  it('a wrong value is a usage error naming where it came from', () => {
    const cwd = dirWith({ '.env': 'LPCLUST_LOG_LEVEL=loud\n' });
    expect(() => resolveSettings(GLOBAL_SETTINGS, { flags: {}, env: {}, cwd })).toThrow(
      expect.objectContaining({ kind: 'usage', message: expect.stringMatching(/\.env LPCLUST_LOG_LEVEL.*"loud"/) }),
    );
    expect(() => resolveSettings(GLOBAL_SETTINGS, { flags: {}, env: { LPCLUST_QUIET: 'maybe' }, cwd: dirWith({}) })).toThrow(
      expect.objectContaining({ message: expect.stringContaining('environment LPCLUST_QUIET') }),
    );
  });

  it('describes settings for the log with secrets masked', () => {
    const r = resolveSettings(GLOBAL_SETTINGS, { flags: { trackingUri: 'http://bob:s3cret@mlflow:5000' }, env: {}, cwd: dirWith({}) });
    const lines = describeSettings(r, GLOBAL_SETTINGS);
    expect(lines).toContain('trackingUri=http://bob:***@mlflow:5000 (flag: --tracking-uri)');
    expect(lines.join('\n')).not.toContain('s3cret');
  });

  it('.env parsing and envValue fallback', () => {
    const cwd = dirWith({ '.env': "A=1\nexport B='two words'\nC=\"q\"\nD=x # trailing comment\nnot a line\n" });
    expect(readDotenv(path.join(cwd, '.env'))).toEqual({ A: '1', B: 'two words', C: 'q', D: 'x' });
    expect(envValue('A', {}, cwd)).toBe('1');
    expect(envValue('A', { A: 'env' }, cwd)).toBe('env');
    expect(envValue('Z', {}, cwd)).toBeUndefined();
  });
});

describe('the CLI applies the precedence', () => {
  beforeAll(() => ensureBuilt());

  const runsJson = (cwd: string, args: string[], env: Record<string, string>): Promise<{ trackingUri: string }> =>
    new Promise((resolve, reject) => {
      const clean: NodeJS.ProcessEnv = {};
      for (const [k, v] of Object.entries(process.env)) if (!/^(LPCLUST_|MLFLOW_)/.test(k)) clean[k] = v;
      execFile(process.execPath, [BIN, ...args, 'runs', '--json'], { cwd, env: { ...clean, ...env } }, (err, stdout, stderr) =>
        err ? reject(new Error(stderr)) : resolve(JSON.parse(stdout) as { trackingUri: string }),
      );
    });

  it('tracking store from flag, environment, .env, config file', async () => {
    const cwd = dirWith({ 'lpclust.config.json': CONFIG });
    const [cfg, dotenv, env, flag] = await Promise.all([
      runsJson(cwd, [], {}),
      (async () => {
        const d = dirWith({ 'lpclust.config.json': CONFIG, '.env': DOTENV });
        return runsJson(d, [], {});
      })(),
      runsJson(cwd, [], { MLFLOW_TRACKING_URI: 'file:./from-env' }),
      runsJson(cwd, ['--tracking-uri', 'file:./from-flag'], { MLFLOW_TRACKING_URI: 'file:./from-env' }),
    ]);
    expect(cfg.trackingUri).toMatch(/\/from-config$/);
    expect(dotenv.trackingUri).toMatch(/\/from-dotenv$/);
    expect(env.trackingUri).toMatch(/\/from-env$/);
    expect(flag.trackingUri).toMatch(/\/from-flag$/);
  });
});
