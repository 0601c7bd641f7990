/**
 * The old Mongo source's tests, run on the bundled synthetic meter SYN0001 (oldmongo.test.ts,
 * default suite) and on the whole real meter BBB6004 (oldmongo.data.test.ts, data suite): the
 * shipped rules as a tracked run, the two register scale jumps found automatically, and the CLI.
 * Both meters have the fleet's register unit changes (×10 at 2019-04-29 13:00 UTC, ×1000 at
 * 2019-05-14 10:00 UTC) and take the same rule of data/rules.yaml.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readProfiles } from '../../src/io/profiles.js';
import { oldMongoSource } from '../../src/etl/oldmongo.js';
import { runEtlStage } from '../../src/pipeline/etl.js';
import { FileStore } from '../../src/tracking/file-store.js';
import { BIN, ensureBuilt, REPO, tempDir } from '../tracking/helpers.js';

/** The shipped rules file. */
export const RULES = path.join(REPO, 'data', 'rules.yaml');

export interface OldMongoCase {
  /** The meter id; its export is `<source>/<meter>.csv`. */
  meter: string;
  /** Folder holding `<meter>.csv` directly (the `<dir>/<METER>.csv` layout). */
  source: string;
  /** Meter description CSV. */
  meters: string;
  /** The meter's contractual power in that description, kW (the bound of an hour's energy). */
  powerKw: number;
  /** Data lines of `<meter>.csv`. */
  records: number;
  /** Data lines stamped before 2019-04-29 13:00 UTC (the rule's dropBefore). */
  droppedBefore: number;
  /** Complete days kept with the shipped rules, and the first and last of them. */
  days: number;
  first: string;
  last: string;
}

/** A folder laid out as the old exports were: <dir>/csv/<meter>.csv. */
export function exportFolder(c: OldMongoCase): string {
  const dir = tempDir('lpclust-oldmongo-');
  fs.mkdirSync(path.join(dir, 'csv'));
  fs.copyFileSync(path.join(c.source, `${c.meter}.csv`), path.join(dir, 'csv', `${c.meter}.csv`));
  return dir;
}

/** Registers the tests of `c` under `title`. */
export function oldMongoCases(title: string, c: OldMongoCase): void {
  describe(`etl oldmongo on ${title}`, () => {
    it(`keeps the ${c.days} complete days with the shipped rules, as a tracked run`, async () => {
      const dir = exportFolder(c);
      const store = new FileStore(path.join(dir, 'mlruns'));
      const out = path.join(dir, 'clean_oldmongo.csv');
      const res = await runEtlStage(
        { reader: oldMongoSource(dir), runName: 'etl_oldmongo', out, metersFile: c.meters, rulesFile: RULES, clean: { resolutionMinutes: 60, timeZone: 'UTC' } },
        { store, experimentName: 'etl-test' },
      );
      expect(res.metrics.records_read).toBe(c.records);
      // The rules drop the meter's records before 2019-04-29 13:00 (the ×10 jump) and scale those
      // before 2019-05-14 10:00 by 1000: one rule correction, none found automatically.
      expect(res.metrics.records_dropped_before).toBe(c.droppedBefore);
      expect(res.metrics.scale_corrections).toBe(1);
      expect(res.metrics.scale_corrections_auto).toBe(0);
      expect(res.metrics.days_kept).toBe(c.days);
      const table = await readProfiles(out);
      expect(table.n).toBe(c.days);
      expect(table.slots.length).toBe(24);
      expect(table.dates[0]).toBe(c.first);
      expect(table.dates[table.n - 1]).toBe(c.last);
      expect(new Set(table.ids)).toEqual(new Set([c.meter]));
      // Hourly energy within the contractual bound, net export possible.
      const bound = c.powerKw * 1000;
      for (const v of table.values) expect(Math.abs(v)).toBeLessThanOrEqual(bound);
      // 2019-05-14 09:00–10:00 spans the ×1000 correction instant: an ordinary value, not a spike.
      expect(table.values[9]).toBeGreaterThan(1000);
      expect(table.values[9]).toBeLessThan(bound);

      const run = await store.getRun(res.runId);
      expect(run.info.status).toBe('FINISHED');
      expect(run.data.tags['mlflow.runName']).toBe('etl_oldmongo');
      expect(run.data.params).toMatchObject({ resolution: '60', timezone: 'UTC', dst_policy: 'drop' });
      expect(run.data.metrics.days_kept).toBe(c.days);
      expect(run.data.tags.clean_oldmongo_csv).toBe(out);
      expect((await store.listArtifacts(res.runId, 'clean')).map((a) => a.path)).toEqual(['clean/clean_oldmongo.csv']);
      const quality = (await store.listArtifacts(res.runId, 'quality')).map((a) => a.path).sort();
      expect(quality).toEqual(['quality/quality_report.csv', 'quality/quality_report.json']);
    });

    it('finds the two register scale jumps automatically (no rules), reported in metrics and the quality report', async () => {
      const dir = tempDir('lpclust-oldmongo-');
      const store = new FileStore(path.join(dir, 'mlruns'));
      // The source folder itself: <meter>.csv directly in it.
      const res = await runEtlStage(
        { reader: oldMongoSource(c.source), runName: 'etl_oldmongo', out: path.join(dir, 'auto.csv'), metersFile: c.meters },
        { store, experimentName: 'etl-test' },
      );
      expect(res.metrics.scale_corrections_auto).toBe(2);
      // Where the unit changes are: ×10 at 2019-04-29T13:00Z, ×1000 at 2019-05-14T10:00Z.
      const q = res.outputs.report.meter(c.meter);
      expect(q.scaleCorrections.map((s) => [s.factor, s.at])).toEqual([
        [10, '2019-04-29T13:00:00Z'],
        [1000, '2019-05-14T10:00:00Z'],
      ]);
      const dl = await store.downloadArtifacts(res.runId, 'quality/quality_report.json', dir);
      const report = JSON.parse(fs.readFileSync(dl, 'utf8')) as { meters: Array<{ scaleCorrections: Array<{ origin: string; factor: number }> }> };
      expect(report.meters[0].scaleCorrections.map((s) => `${s.origin}${s.factor}`)).toEqual(['auto10', 'auto1000']);
      // Without auto detection the ×10 and ×1000 steps are outliers: fewer days, no correction.
      const off = await runEtlStage(
        { reader: oldMongoSource(c.source), runName: 'etl_oldmongo', out: path.join(dir, 'off.csv'), metersFile: c.meters, clean: { autoScale: false } },
        { store, experimentName: 'etl-test' },
      );
      expect(off.metrics.scale_corrections).toBe(0);
      expect(off.metrics.outliers_rejected).toBeGreaterThan(0);
    });
  });

  describe(`lpclust etl oldmongo (CLI) on ${title}`, () => {
    beforeAll(() => ensureBuilt());

    it('prints the run id and metrics with --json', async () => {
      const dir = exportFolder(c);
      const out = path.join(dir, 'c.csv');
      const args = ['--tracking-uri', `file:${path.join(dir, 'mlruns')}`, 'etl', 'oldmongo', '--input', dir, '--meters', c.meters, '--rules', RULES, '--out', out];
      const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(process.execPath, [BIN, '--json', ...args], { cwd: dir, timeout: 60_000 }, (err, stdout, stderr) =>
          resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
        );
      });
      expect(r.stderr).not.toMatch(/error/i);
      expect(r.code).toBe(0);
      const j = JSON.parse(r.stdout) as { runId: string; metrics: Record<string, number>; rows: number };
      expect(j.runId).toMatch(/^[0-9a-f]{32}$/);
      expect(j.metrics.days_kept).toBe(c.days);
      expect(j.rows).toBe(c.days);
      expect(fs.readFileSync(out, 'utf8').split('\n')[0]).toBe('id,date,' + Array.from({ length: 24 }, (_, h) => `${String(h).padStart(2, '0')}:00`).join(','));
    });
  });
}
