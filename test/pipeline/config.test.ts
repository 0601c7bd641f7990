/**
 * Pipeline sources from `lpclust.config.json`: paths relative to the config file, a database URI
 * through an environment variable (`dbEnv`), and the refusals (password in the file, variable unset,
 * unknown source).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { configuredSources } from '../../src/cli/commands/pipeline.js';
import { runPipeline, sampleData } from '../../src/pipeline/pipeline.js';
import { childrenOf, allRuns, tempStore } from './helpers.js';

const ENV = 'LPCLUST_TEST_PIPELINE_SQL_DB';
afterEach(() => {
  delete process.env[ENV];
});

function writeConfig(dir: string, pipeline: unknown): string {
  const file = path.join(dir, 'lpclust.config.json');
  writeFileSync(file, JSON.stringify({ pipeline }));
  return file;
}

describe('pipeline sources from the config file', () => {
  it('reads the SQL historian from a database named by an environment variable, with the same result as the folder', async () => {
    const { dir, store } = await tempStore('lpclust-pipeline-config-');
    const s = sampleData();
    const db = new Database(path.join(dir, 'historian.sqlite'));
    db.exec('CREATE TABLE historian (timestamp TEXT, tagname TEXT, energy REAL, quality INTEGER, qualityDetail INTEGER, OPCquality INTEGER)');
    const ins = db.prepare('INSERT INTO historian VALUES (?, ?, ?, ?, ?, ?)');
    db.transaction(() => {
      for (const f of readdirSync(s.sources.sql!.input!)) {
        for (const line of readFileSync(path.join(s.sources.sql!.input!, f), 'utf8').trim().split('\n')) {
          const c = line.split(',');
          ins.run(c[0], c[1], Number(c[2]), Number(c[3]), Number(c[4]), Number(c[5]));
        }
      }
    })();
    db.close();
    process.env[ENV] = path.join(dir, 'historian.sqlite');
    const cfg = writeConfig(dir, { sources: { $comment: 'test', sql: { dbEnv: ENV } } });
    const conf = configuredSources({}, cfg, dir)!;
    expect(conf.sources.sql).toMatchObject({ dbEnv: ENV });
    const common = { model: 'kmeans' as const, metric: 'euclidean' as const, k: 3, nInit: 1, meters: s.meters, rules: s.rules, outDir: path.join(dir, 'out'), plots: false };
    const fromDb = await runPipeline({ ...common, sources: conf.sources }, { store, experimentName: 'cfg' });
    const fromDir = await runPipeline({ ...common, sources: { sql: s.sources.sql } }, { store, experimentName: 'cfg' });
    expect(readFileSync(path.join(fromDb.outputs.outDir, 'clean_sql.csv'), 'utf8')).toBe(readFileSync(path.join(fromDir.outputs.outDir, 'clean_sql.csv'), 'utf8'));
    const etl = childrenOf(await allRuns(store, 'cfg'), fromDb.runId).get('etl_sql')!;
    expect(etl.data.params.db).toBe(process.env[ENV]);
  });

  it('resolves paths against the config file and refuses passwords, unset variables and unknown sources', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lpclust-pipeline-config2-'));
    mkdirSync(path.join(dir, 'exports'));
    mkdirSync(path.join(dir, 'nm'));
    writeFileSync(path.join(dir, 'nm', 'x.jsonl'), '');
    mkdirSync(path.join(dir, 'here'));
    const cfg = writeConfig(dir, { sources: { oldmongo: { input: 'exports' }, newmongo: { export: 'nm/x.jsonl' } } });
    expect(configuredSources({}, cfg, '/')!.sources).toEqual({ oldmongo: { input: path.join(dir, 'exports') }, newmongo: expect.objectContaining({ export: path.join(dir, 'nm/x.jsonl') }) });
    // Flags win over the file.
    expect(configuredSources({ sql: 'here' }, cfg, dir)!.sources).toEqual({ sql: { input: path.join(dir, 'here') } });
    // A path that does not exist is named with its key, before any run.
    expect(() => configuredSources({}, writeConfig(dir, { sources: { sql: { input: 'gone' } } }), dir)).toThrow(/pipeline\.sources\.sql\.input: cannot read .*gone: no such directory/);
    expect(() => configuredSources({ oldmongo: 'gone' }, cfg, dir)).toThrow(/--oldmongo: cannot read .*gone: no such directory/);
    // No sources object: none configured (the sample data is used).
    expect(configuredSources({}, writeConfig(dir, { k: 4 }), dir)).toBeNull();
    expect(() => configuredSources({}, writeConfig(dir, { sources: { sql: { db: 'postgres://u:secret@h/db' } } }), dir)).toThrow(/password.*dbEnv/);
    expect(() => configuredSources({}, writeConfig(dir, { sources: { oracle: {} } }), dir)).toThrow(/unknown key "pipeline.sources.oracle"/);
    const { store } = await tempStore('lpclust-pipeline-config3-');
    await expect(runPipeline({ model: 'kmeans', metric: 'euclidean', k: 3, sources: { sql: { dbEnv: ENV } }, outDir: path.join(dir, 'out') }, { store, experimentName: 'cfg' })).rejects.toThrow(
      new RegExp(`${ENV}.*not set`),
    );
    await expect(runPipeline({ model: 'som', metric: 'dtw', k: 3, sources: sampleData().sources }, { store, experimentName: 'cfg' })).rejects.toThrow(/som/);
  });
});
