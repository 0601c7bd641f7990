/**
 * The model registry from the command line, per local store (FileStore, SQLite at both
 * revisions): `pipeline --register-model`, `lpclust models alias|show|list|delete-alias`, and
 * `predict --model models:/NAME@ALIAS` giving exactly what `predict --model runs:/…` gives;
 * `cluster`/`sweep --register-model` add versions; a missing name, version or alias is refused
 * (exit 3) naming what exists, with no output file (spawns bin/lpclust.js; needs dist/).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const BIN = path.resolve('bin/lpclust.js');

beforeAll(() => {
  if (!existsSync(path.resolve('dist/model/register.js'))) execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'ignore' });
});

const STORES = [
  { label: 'file store', uri: 'file:./mlruns', env: {} },
  { label: 'SQLite mlflow2', uri: 'sqlite:///mlflow.db', env: {} },
  { label: 'SQLite mlflow3', uri: 'sqlite:///mlflow.db', env: { LPCLUST_SQLITE_SCHEMA: 'mlflow3' } },
];

describe.each(STORES)('the registry from the CLI ($label)', (st) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'lpclust-registry-cli-'));
  const lpclust = (args: string[]): { status: number; stdout: string; stderr: string } => {
    const r = spawnSync(process.execPath, [BIN, '--tracking-uri', st.uri, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, ...st.env } });
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };
  const json = (args: string[]): Record<string, unknown> => {
    const r = lpclust(['--json', ...args]);
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  };

  it('pipeline --register-model, then predict models:/NAME@prod agrees with predict runs:/…', () => {
    const p = json(['pipeline', '-k', '4', '--no-plots', '--register-model', 'uc7-clusters']);
    const reg = p.registered as { name: string; version: number; uri: string; runId: string; source: string };
    expect(reg).toMatchObject({ name: 'uc7-clusters', version: 1, uri: 'models:/uc7-clusters/1' });
    // The version points at the clustering run's model, not at the pipeline (parent) run.
    expect(reg.runId).toBe((p.stages as Array<{ stage: string; runId: string }>).find((x) => x.stage === 'clustering')?.runId);
    expect(reg.source).toMatch(new RegExp(`${reg.runId}/artifacts/model$`));
    expect(json(['models', 'alias', 'uc7-clusters', '1', 'prod'])).toMatchObject({ version: 1, previous: null });
    const harmonized = path.join(p.outDir as string, 'harmonized.csv');
    const a = json(['predict', '--model', 'models:/uc7-clusters@prod', '--in', harmonized, '--out', 'by-alias.csv']);
    json(['predict', '--model', `runs:/${reg.runId}/model`, '--in', harmonized, '--out', 'by-run.csv']);
    expect((a.model as { source: string }).source).toBe('models:/uc7-clusters/1');
    expect(readFileSync(path.join(dir, 'by-alias.csv'), 'utf8')).toBe(readFileSync(path.join(dir, 'by-run.csv'), 'utf8'));
    json(['predict', '--model', 'models:/uc7-clusters/latest', '--in', harmonized, '--out', 'by-latest.csv']);
    expect(readFileSync(path.join(dir, 'by-latest.csv'), 'utf8')).toBe(readFileSync(path.join(dir, 'by-run.csv'), 'utf8'));

    // A second version from `cluster`; the alias moves to it; show and list agree.
    const c = json(['cluster', '--in', harmonized, '-k', '3', '--n-init', '1', '--register-model', 'uc7-clusters']);
    expect(c.registered).toMatchObject({ version: 2, runId: c.runId });
    expect(json(['models', 'alias', 'uc7-clusters', '2', 'prod'])).toMatchObject({ version: 2, previous: 1 });
    const show = json(['models', 'show', 'uc7-clusters']) as { versions: Array<{ version: number; aliases: string[]; runId: string }> };
    expect(show.versions.map((v) => [v.version, v.aliases, v.runId])).toEqual([[1, [], reg.runId], [2, ['prod'], c.runId]]);
    const list = json(['models', 'list']) as { models: Array<{ name: string; latestVersion: number; aliases: Record<string, number> }> };
    expect(list.models).toEqual([expect.objectContaining({ name: 'uc7-clusters', latestVersion: 2, aliases: { prod: 2 } })]);
    const moved = json(['predict', '--model', 'models:/uc7-clusters@prod', '--in', harmonized, '--out', 'moved.csv']);
    expect((moved.model as { k: number }).k).toBe(3);
    expect(json(['models', 'delete-alias', 'uc7-clusters', 'prod'])).toMatchObject({ previous: 2 });

    // Missing name, version, alias: exit 3, what exists named, no output written.
    const before = readdirSync(dir).sort();
    for (const [uri, says] of [
      ['models:/uc7-clusters@prod', 'its aliases: none'],
      ['models:/uc8/1', 'registered models: uc7-clusters'],
      ['models:/uc7-clusters/9', 'its versions: 1, 2'],
    ] as const) {
      const r = lpclust(['predict', '--model', uri, '--in', harmonized, '--out', 'never.csv']);
      expect(r.status, uri).toBe(3);
      expect(r.stderr).toContain(says);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
    const r = lpclust(['models', 'alias', 'uc7-clusters', '7', 'staging']);
    expect(r.status).toBe(3);
    expect(r.stderr).toContain('has no version 7; its versions: 1, 2');
    expect(readdirSync(dir).sort()).toEqual(before);
  }, 180_000);

  it('refuses a bad --register-model name before the run starts', () => {
    const before = readdirSync(dir).sort();
    const r = lpclust(['pipeline', '-k', '4', '--no-plots', '--register-model', 'bad/name', '--out-dir', 'never']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('Expected a registered model name');
    expect(readdirSync(dir).sort()).toEqual(before);
  }, 60_000);
});

describe('sweep --register-model', () => {
  it('registers the model of the best configuration', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lpclust-registry-sweep-'));
    const run = (args: string[]): { status: number; stdout: string; stderr: string } => {
      const r = spawnSync(process.execPath, [BIN, '--tracking-uri', 'sqlite:///mlflow.db', ...args], { cwd: dir, encoding: 'utf8' });
      return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
    };
    const s = run(['--json', 'sweep', '--models', 'kmeans', '--metrics', 'euclidean', '-k', '3..4', '--register-model', 'best']);
    expect(s.status, s.stderr).toBe(0);
    const out = JSON.parse(s.stdout) as { runId: string; registered: { version: number; runId: string } };
    expect(out.registered.version).toBe(1);
    const shown = JSON.parse(run(['--json', 'runs', 'show', out.runId]).stdout) as { tags?: Record<string, string>; run?: { data?: { tags?: Record<string, string> } } };
    const tags = shown.tags ?? shown.run?.data?.tags ?? {};
    expect(tags['lpclust.best_run_id']).toBe(out.registered.runId);
    const two = run(['sweep', '--models', 'kmeans', '--metrics', 'euclidean', '-k', '3..4', '--seeds', '0,1', '--register-model', 'best']);
    expect(two.status).toBe(2);
    expect(two.stderr).toContain('one seed');
  }, 180_000);
});
