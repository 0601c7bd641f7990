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
    const view = await collectRunsView(store, { limit: 1 });
    expect(view.experiments).toHaveLength(1); // the empty Default is left out
    const text = formatRunsView(view, { utc: true, now: t + 1000 });
    const names = text
      .split('\n')
      .filter((l) => /^  [0-9a-f]{8}/.test(l))
      .map((l) => l.slice(12).split(/\s+RUNNING/)[0].trimEnd());
    expect(names).toEqual(['p', '├─ a', '│  └─ a1', '└─ b']);
    expect(text).toContain('1 older run not shown');
    expect(text).toMatch(/RUNNING\s+2026-01-01 00:00:00\s+990ms…/);
    expect(text).not.toContain(old.slice(0, 8));
    expect((await resolveRun(store, p.slice(0, 10))).info.runId).toBe(p);
    await expect(resolveRun(store, 'zzzzzzzz')).rejects.toMatchObject({ code: 'E_RUN_NOT_FOUND' });
    await expect(resolveRun(store, 'a b')).rejects.toMatchObject({ code: 'E_USAGE_VALUE' });
    await expect(collectRunsView(store, { experimentName: 'nope' })).rejects.toMatchObject({ code: 'E_EXPERIMENT_NOT_FOUND', hint: expect.stringContaining('"e"') });
  });
});
