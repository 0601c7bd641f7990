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
import Database from 'better-sqlite3';
import YAML from 'yaml';
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
    // MLflow 2 stores register the run's artifact URI, MLflow 3 the run's logged model (as MLflow does).
    if (st.env.LPCLUST_SQLITE_SCHEMA === 'mlflow3') expect(reg.source).toMatch(/^models:\/m-[0-9a-f]{32}$/);
    else expect(reg.source).toMatch(new RegExp(`${reg.runId}/artifacts/model$`));
    // model_id in MLmodel only where the model is a logged model (MLflow 2.12.2 writes none).
    const mlmodel = YAML.parse(readFileSync(path.join(p.outDir as string, 'cluster', 'model', 'MLmodel'), 'utf8')) as Record<string, unknown>;
    if (st.env.LPCLUST_SQLITE_SCHEMA === 'mlflow3') expect(mlmodel.model_id).toBe(reg.source.slice('models:/'.length));
    else expect(mlmodel).not.toHaveProperty('model_id');
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

    // An existing run registered afterwards, by the pipeline's id prefix: its clustering run's model.
    expect(json(['models', 'register', 'uc7-clusters', (p.runId as string).slice(0, 8)])).toMatchObject({ version: 3, runId: reg.runId, uri: 'models:/uc7-clusters/3' });
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

describe('MLflow 3 logged models (SQLite at revision 7d34483879f0)', () => {
  it('pipeline --register-model logs the model as a logged model, registers models:/<model_id>, and models:/<model_id> loads it', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lpclust-logged-model-'));
    const run = (args: string[], schema = 'mlflow3'): { status: number; stdout: string; stderr: string } => {
      const r = spawnSync(process.execPath, [BIN, '--tracking-uri', 'sqlite:///mlflow.db', ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, LPCLUST_SQLITE_SCHEMA: schema } });
      return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
    };
    const p = run(['--json', 'pipeline', '-k', '4', '--no-plots', '--register-model', 'uc7-clusters']);
    expect(p.status, p.stderr).toBe(0);
    const out = JSON.parse(p.stdout) as { outDir: string; registered: { runId: string; source: string } };
    const db = new Database(path.join(dir, 'mlflow.db'), { readonly: true });
    const ref = new Database(path.join('test', 'fixtures', 'mlflow', '3.11.2.dev0', 'reference', 'mlflow.db'), { readonly: true });
    try {
      const types = (d: Database.Database, sql: string): unknown => d.prepare(sql).all();
      const models = db.prepare('SELECT * FROM logged_models').all() as Array<Record<string, unknown>>;
      expect(models).toHaveLength(1);
      const lm = models[0];
      expect(lm).toMatchObject({ name: 'model', status: 2, lifecycle_stage: 'active', source_run_id: out.registered.runId });
      expect(lm.model_id).toMatch(/^m-[0-9a-f]{32}$/);
      expect(existsSync(path.join(String(lm.artifact_location), 'MLmodel'))).toBe(true);
      // MLmodel carries the model id as MLflow 3.11 writes it (model_id, model_uuid = model_id,
      // artifact_path = the model's artifact location): the reference's fields, in both copies.
      const refMlmodel = YAML.parse(readFileSync(path.join('test', 'fixtures', 'mlflow', '3.11.2.dev0', 'reference', 'mlruns', '373579331491049732', 'models', 'm-beb2177a12cf4dc2a4f2a325870e5954', 'artifacts', 'MLmodel'), 'utf8')) as Record<string, unknown>;
      expect(refMlmodel.model_uuid).toBe(refMlmodel.model_id);
      for (const file of [path.join(String(lm.artifact_location), 'MLmodel'), path.join(out.outDir, 'cluster', 'model', 'MLmodel')]) {
        expect(YAML.parse(readFileSync(file, 'utf8')), file).toMatchObject({ model_id: lm.model_id, model_uuid: lm.model_id, artifact_path: lm.artifact_location, run_id: out.registered.runId });
      }
      // No mlflow.log-model.history tag on the run (MLflow 3 writes none).
      expect(db.prepare("SELECT COUNT(*) FROM tags WHERE \"key\" = 'mlflow.log-model.history'").pluck().get()).toBe(0);
      // Same columns and value types as MLflow 3.11's own rows.
      const typeSql = (t: string, cols: string[]): string => `SELECT ${cols.map((c) => `typeof(${c}) AS ${c}`).join(', ')} FROM ${t} LIMIT 1`;
      const lmCols = ['model_id', 'experiment_id', 'name', 'artifact_location', 'creation_timestamp_ms', 'last_updated_timestamp_ms', 'status', 'lifecycle_stage', 'model_type', 'source_run_id', 'status_message'];
      expect(types(db, typeSql('logged_models', lmCols))).toEqual(types(ref, typeSql('logged_models', lmCols)));
      const link = "SELECT source_type, destination_type, step FROM inputs WHERE source_type = 'RUN_OUTPUT'";
      expect(db.prepare(link).all()).toEqual(ref.prepare(link).all());
      expect(db.prepare("SELECT source_id, destination_id FROM inputs WHERE source_type = 'RUN_OUTPUT'").get()).toEqual({ source_id: out.registered.runId, destination_id: lm.model_id });
      expect(db.prepare('SELECT source, storage_location, run_id FROM model_versions').get()).toEqual({ source: `models:/${String(lm.model_id)}`, storage_location: lm.artifact_location, run_id: out.registered.runId });
      expect(db.prepare("SELECT tag_value FROM logged_model_tags WHERE tag_key = 'mlflow.modelVersions'").pluck().get()).toBe('[{"name": "uc7-clusters", "version": 1}]');
      expect(db.prepare('SELECT param_value FROM logged_model_params WHERE param_key = ?').pluck().get('k')).toBe('4');
      // The validation metrics logged after the model are the model's too.
      expect(db.prepare("SELECT metric_value FROM logged_model_metrics WHERE metric_name = 'Silhouette Score'").pluck().get()).toBe(
        db.prepare("SELECT value FROM latest_metrics WHERE \"key\" = 'Silhouette Score' AND run_uuid = ?").pluck().get(out.registered.runId),
      );
      const harmonized = path.join(out.outDir, 'harmonized.csv');
      for (const [uri, file] of [[`models:/${String(lm.model_id)}`, 'by-id.csv'], ['models:/uc7-clusters/1', 'by-version.csv'], [`runs:/${out.registered.runId}/model`, 'by-run.csv']]) {
        const r = run(['predict', '--model', uri, '--in', harmonized, '--out', file]);
        expect(r.status, r.stderr).toBe(0);
      }
      expect(readFileSync(path.join(dir, 'by-id.csv'), 'utf8')).toBe(readFileSync(path.join(dir, 'by-run.csv'), 'utf8'));
      expect(readFileSync(path.join(dir, 'by-version.csv'), 'utf8')).toBe(readFileSync(path.join(dir, 'by-run.csv'), 'utf8'));
      const missing = run(['predict', '--model', 'models:/m-0123456789abcdef0123456789abcdef', '--in', harmonized, '--out', 'never.csv']);
      expect(missing.status).toBe(3);
      expect(missing.stderr).toContain('no logged model m-0123456789abcdef0123456789abcdef');
    } finally {
      db.close();
      ref.close();
    }
  }, 120_000);
});
