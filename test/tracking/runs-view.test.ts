import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileStore } from '../../src/tracking/file-store.js';
import { collectRunsView, formatDuration, formatMetricValue, formatRunsView, resolveRun } from '../../src/tracking/runs-view.js';
import { tempDir } from './helpers.js';

describe('runs view formatting', () => {
  it('durations and metric values', () => {
    expect(formatDuration(850)).toBe('850ms');
    expect(formatDuration(12_340)).toBe('12.3s');
    expect(formatDuration(245_000)).toBe('4m 05s');
    expect(formatDuration(7_380_000)).toBe('2h 03m');
    expect(formatMetricValue(3)).toBe('3');
    expect(formatMetricValue(0.812345)).toBe('0.8123');
    expect(formatMetricValue(1234567.8)).toBe('1.235e+6');
    expect(formatMetricValue(0.00012)).toBe('1.2e-4');
    expect(formatMetricValue(NaN)).toBe('nan');
    expect(formatMetricValue(-Infinity)).toBe('-inf');
  });

  it('draws the tree with continuation lines, honours --limit, resolves id prefixes', async () => {
    const store = new FileStore(path.join(tempDir(), 'mlruns'));
    const exp = await store.getOrCreateExperiment('e');
    const t = Date.UTC(2026, 0, 1);
    const mk = async (name: string, dt: number, parent?: string): Promise<string> =>
      (
        await store.createRun({
          experimentId: exp.experimentId,
          runName: name,
          userId: 'u',
          startTime: t + dt,
          tags: parent ? [{ key: 'mlflow.parentRunId', value: parent }] : [],
        })
      ).runId;
    const old = await mk('old', 0);
    const p = await mk('p', 10);
    const a = await mk('a', 20, p);
    await mk('a1', 30, a);
    await mk('b', 40, p);
    const view = await collectRunsView(store, { limit: 4 });
    expect(view.experiments).toHaveLength(1); // the empty Default is left out
    const text = formatRunsView(view, { utc: true, now: t + 1000 });
    const names = text
      .split('\n')
      .filter((l) => /^ {2}[0-9a-f]{8}/.test(l))
      .map((l) => l.slice(12).split(/\s+RUNNING/)[0].trimEnd());
    expect(names).toEqual(['p', '├─ a', '│  └─ a1', '└─ b']);
    expect(text).toContain('1 older top-level run not shown');
    expect(text).toMatch(/RUNNING\s+01-01 00:00\s+990ms…/);
    expect(text).not.toContain(old.slice(0, 8));
    expect((await resolveRun(store, p.slice(0, 10))).info.runId).toBe(p);
    await expect(resolveRun(store, 'zzzzzzzz')).rejects.toMatchObject({ code: 'E_RUN_NOT_FOUND' });
    await expect(resolveRun(store, 'a b')).rejects.toMatchObject({ code: 'E_USAGE_VALUE' });
    await expect(collectRunsView(store, { experimentName: 'nope' })).rejects.toMatchObject({ code: 'E_EXPERIMENT_NOT_FOUND', hint: expect.stringContaining('"e"') });
  });

  it('shows key params and metrics first, fits the width, counts printed runs, summarises large sweeps', async () => {
    const store = new FileStore(path.join(tempDir(), 'mlruns'));
    const exp = await store.getOrCreateExperiment('sweeps');
    const t = Date.UTC(2026, 0, 1);
    const mk = async (name: string, dt: number, parent?: string): Promise<string> => {
      const info = await store.createRun({ experimentId: exp.experimentId, runName: name, userId: 'u', startTime: t + dt, tags: parent ? [{ key: 'mlflow.parentRunId', value: parent }] : [] });
      await store.updateRun(info.runId, 'FINISHED', t + dt + 1500);
      return info.runId;
    };
    const sweep = await mk('sweep', 0);
    await store.logBatch(sweep, { params: [{ key: 'models', value: 'kmeans' }, { key: 'seeds', value: '0..11' }, { key: 'drop_zero_days', value: 'true' }], metrics: [{ key: 'best Silhouette Score', value: 0.41, timestamp: t, step: 0 }, { key: 'configurations', value: 12, timestamp: t, step: 0 }] });
    for (let seed = 0; seed < 12; seed++) {
      const id = await mk('kmeans euclidean k=3', 10 + seed, sweep);
      await store.logBatch(id, {
        // Alphabetically first keys (L, algorithm, Calinski-Harabasz, Cluster Size) are not the ones a user looks for.
        params: [{ key: 'L', value: '24' }, { key: 'algorithm', value: 'lloyd' }, { key: 'model', value: 'kmeans' }, { key: 'metric', value: 'euclidean' }, { key: 'k', value: '3' }, { key: 'seed', value: String(seed) }],
        metrics: [
          { key: 'Calinski-Harabasz', value: 50 + seed, timestamp: t, step: 0 },
          { key: 'Cluster Size', value: 7, timestamp: t, step: 0 },
          { key: 'DB Index', value: 1.5, timestamp: t, step: 0 },
          { key: 'Silhouette Score', value: 0.3 + seed / 100, timestamp: t, step: 0 },
        ],
      });
    }
    await mk('older', -10_000);

    const all = formatRunsView(await collectRunsView(store, { children: 0 }), { utc: true, width: 0 });
    const child = all.split('\n').find((l) => l.includes('├─ kmeans euclidean k=3'))!;
    // The name says model, metric and k: the params shown add the seed; the metrics start with the scores.
    expect(child).toMatch(/seed=0 \| Sil=0\.3 DB=1\.5 CH=50$/);
    expect(child).not.toContain('algorithm=');
    expect(all).toMatch(/models=kmeans seeds=0\.\.11 \| best Silhouette Score=0\.41 configurations=12/);
    expect(all).toContain('Sil = Silhouette Score, DB = DB Index, CH = Calinski-Harabasz');
    // Sweep children differ by their seed, so no two lines are the same.
    const childLines = all.split('\n').filter((l) => l.includes('kmeans euclidean k=3  '));
    expect(new Set(childLines.map((l) => l.slice(10))).size).toBe(12);

    const runLines = (text: string): string[] => text.split('\n').filter((l) => /^ {2}[0-9a-f]{8} {2}/.test(l));
    const limited = formatRunsView(await collectRunsView(store, { limit: 3, children: 0 }), { utc: true, width: 100 });
    expect(runLines(limited)).toHaveLength(3);
    expect(limited).toContain('… and 10 more nested runs');
    expect(limited).toContain('… 1 older top-level run not shown');

    const summarised = formatRunsView(await collectRunsView(store, { children: 4 }), { utc: true, width: 100 });
    expect(runLines(summarised)).toHaveLength(1 + 4 + 1);
    expect(summarised).toMatch(/└─ … and 8 more nested runs \(lpclust runs show [0-9a-f]{8}; --children 0 shows all\)/);
    for (const l of summarised.split('\n')) expect(l.length, l).toBeLessThanOrEqual(100);
    for (const l of formatRunsView(await collectRunsView(store, { children: 0 }), { utc: true, width: 60 }).split('\n')) expect(l.length, l).toBeLessThanOrEqual(60);
  });
});
