/**
 * The built CLI (`npm run build` first: spawns bin/lpclust.js): `lpclust pipeline` with
 * no option beyond model and k on the sample data, its --json output, a usage error, and Ctrl-C
 * (SIGINT) during the clustering stage → the running child and the parent KILLED.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/tracking/index.js';
import { allRuns, childrenOf, tempStore } from './helpers.js';

const BIN = path.resolve('bin/lpclust.js');

beforeAll(() => {
  if (!existsSync(path.resolve('dist/cli/commands/pipeline.js'))) execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'ignore' });
});

describe('lpclust pipeline (CLI)', () => {
  it('runs on the sample data with only model and k, into ./mlflow.db (a new folder\'s default store) and ./outputs/<run id>', async () => {
    const { dir } = await tempStore('lpclust-pipeline-cli-');
    const r = spawnSync(process.execPath, [BIN, 'pipeline', '--model', 'som', '-k', '4', '--json', '--quiet'], { cwd: dir, encoding: 'utf8', env: { ...process.env, LPCLUST_TRACKING_URI: '', MLFLOW_TRACKING_URI: '' } });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { runId: string; metrics: Record<string, number>; outDir: string; stages: Array<{ stage: string; runId?: string }> };
    expect(out.outDir).toBe(path.join(dir, 'outputs', out.runId));
    expect(out.metrics['Silhouette Score']).toBeGreaterThan(-1);
    expect(out.stages.map((s) => s.stage)).toEqual(['etl_oldmongo', 'etl_sql', 'etl_newmongo', 'harmonization', 'clustering']);
    const store = await openStore('sqlite:///mlflow.db', { cwd: dir });
    const kids = childrenOf(await allRuns(store, 'lpclust'), out.runId);
    expect(kids.size).toBe(5);
    // A config file's "pipeline" section sets options; flags win over it.
    writeFileSync(path.join(dir, 'lpclust.config.json'), JSON.stringify({ pipeline: { model: 'kmeans', k: 3, sources: { sql: { input: path.resolve('data/sql') } }, meters: path.resolve('data/meters.csv') } }));
    const r2 = spawnSync(process.execPath, [BIN, 'pipeline', '-k', '5', '--json', '--quiet', '--no-plots'], { cwd: dir, encoding: 'utf8' });
    expect(r2.status).toBe(0);
    const out2 = JSON.parse(r2.stdout) as { runId: string; cluster: { k: number; plots: string[] }; stages: Array<{ stage: string; skipped?: string }> };
    expect(out2.cluster.k).toBe(5);
    expect(out2.cluster.plots).toEqual([]);
    expect(out2.stages.filter((s) => s.skipped).map((s) => s.stage)).toEqual(['etl_oldmongo', 'etl_newmongo']);
    const parent = (await store.getRun(out2.runId));
    expect(parent.info.runName).toBe('kmeans euclidean k=5 pipeline');
  });

  it('refuses a bad option value with a usage error naming it', () => {
    const r = spawnSync(process.execPath, [BIN, 'pipeline', '--model', 'kmeans', '--metric', 'cosine'], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/metric.*cosine/);
  });

  it('marks the running child and the parent KILLED on SIGINT', async () => {
    const { dir, store } = await tempStore('lpclust-pipeline-kill-');
    // k chosen over 3..40 with DTW k-medoids: the clustering stage runs long enough to be interrupted.
    const child = spawn(process.execPath, [BIN, '--tracking-uri', `file:${path.join(dir, 'mlruns')}`, 'pipeline', '--model', 'kmeans', '--metric', 'dtw', '-k', '0', '--k-range', '3..40', '--quiet'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Wait for the clustering child to be RUNNING.
    const deadline = Date.now() + 45_000;
    let clustering: string | undefined;
    while (Date.now() < deadline && !clustering) {
      await new Promise((r) => setTimeout(r, 150));
      const runs = await allRuns(store, 'lpclust').catch(() => []);
      clustering = runs.find((r) => r.data.tags['lpclust.stage'] === 'clustering' && r.info.status === 'RUNNING')?.info.runId;
    }
    expect(clustering).toBeDefined();
    child.kill('SIGINT');
    const code = await exited;
    expect(code).not.toBe(0);
    const runs = await allRuns(store, 'lpclust');
    const parent = runs.find((r) => r.info.runName.endsWith('pipeline'))!;
    expect(parent.info.status).toBe('KILLED');
    const kids = childrenOf(runs, parent.info.runId);
    expect(kids.get('clustering')!.info.status).toBe('KILLED');
    for (const s of ['etl_oldmongo', 'etl_sql', 'etl_newmongo', 'harmonization', 'dtw']) expect(kids.get(s)!.info.status).toBe('FINISHED');
    expect(readFileSync(path.join(dir, 'mlruns', parent.info.experimentId, parent.info.runId, 'meta.yaml'), 'utf8')).toMatch(/status: 5/);
  });

  it('sweep on worker threads: SIGINT stops every worker and leaves the running configurations and the parent KILLED, none RUNNING', async () => {
    const { dir, store } = await tempStore('lpclust-sweep-kill-');
    const child = spawn(
      process.execPath,
      [BIN, '--tracking-uri', `file:${path.join(dir, 'mlruns')}`, 'sweep', '--models', 'kmedoids,agglomerative,kmeans', '--metrics', 'euclidean,dtw', '-k', '3..40', '--seeds', '0,1,2', '--workers', '2', '--quiet', '--out-dir', path.join(dir, 'out')],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Wait until some configurations have finished and others are running.
    const deadline = Date.now() + 60_000;
    let ready = false;
    while (Date.now() < deadline && !ready) {
      await new Promise((r) => setTimeout(r, 100));
      const runs = await allRuns(store, 'lpclust').catch(() => []);
      const configs = runs.filter((r) => r.data.tags['lpclust.sweep.config']);
      ready = configs.some((r) => r.info.status === 'FINISHED') && configs.some((r) => r.info.status === 'RUNNING');
    }
    expect(ready).toBe(true);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    const runs = await allRuns(store, 'lpclust');
    const parent = runs.find((r) => r.data.tags['lpclust.pipeline'] === 'sweep')!;
    expect(parent.info.status).toBe('KILLED');
    const configs = runs.filter((r) => r.data.tags['mlflow.parentRunId'] === parent.info.runId && r.data.tags['lpclust.sweep.config']);
    expect(configs.filter((r) => r.info.status === 'RUNNING')).toEqual([]);
    expect(configs.some((r) => r.info.status === 'KILLED')).toBe(true);
    expect(configs.every((r) => r.info.status === 'KILLED' || r.info.status === 'FINISHED')).toBe(true);
    // Far fewer than the 684 configurations ran: the sweep stopped.
    expect(configs.length).toBeLessThan(684);
  });
});
