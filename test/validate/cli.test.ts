/**
 * Whole-CLI runs of `lpclust validate` (spawns bin/lpclust.js: run `npm run build`
 * first) on 67 generated days of two shapes (test/support/synthetic.ts), labelled by their shape.
 * The same on the real ItalyPowerDemand days and their season classes: cli.data.test.ts (data suite).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../src/io/npy.js';
import { readLabels, writeLabels, assertLabelsMatch } from '../../src/io/labels.js';
import { computeValidation, silhouettePrecomputed } from '../../src/validate/index.js';
import { normalizeRows } from '../../src/profiles/normalize.js';
import { syntheticDays } from '../support/synthetic.js';

const BIN = path.resolve('bin/lpclust.js');
let dir: string;

function lpclust(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, '--tracking-uri', `file:${path.join(dir, 'mlruns')}`, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const slots = Array.from({ length: 24 }, (_, h) => `${String(h).padStart(2, '0')}:00`);
const rows: { date: string; cls: number; values: string[] }[] = [];

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'lpclust-validate-cli-'));
  const days = syntheticDays(67, 7, 2);
  days.rows.forEach((v, i) => {
    const date = new Date(Date.UTC(2020, 0, 1 + i)).toISOString().slice(0, 10);
    rows.push({ date, cls: days.classes[i], values: v.map((x) => x.toFixed(3)) });
  });
  const csv = (rs: typeof rows): string => `id,date,${slots.join(',')}\n` + rs.map((r) => `M1,${r.date},${r.values.join(',')}\n`).join('');
  writeFileSync(path.join(dir, 'h.csv'), csv(rows));
  writeFileSync(path.join(dir, 'labels.csv'), 'id,date,cluster\n' + rows.map((r) => `M1,${r.date},${r.cls}\n`).join(''));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('lpclust validate', () => {
  it('prints the runId and the metrics, equal to scikit-learn', () => {
    const r = lpclust('--json', 'validate', '--in', 'h.csv', '--labels', 'labels.csv');
    expect(r.stderr).not.toMatch(/lpclust:/);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.runId).toMatch(/^[0-9a-f]{32}$/);
    expect(out.clusterSizes).toEqual([34, 33]);
    // scikit-learn 1.2.1 (Debian's python3-sklearn) on these rows as written in h.csv, each divided
    // by its L2 norm, and the shape classes: silhouette_score, davies_bouldin_score,
    // calinski_harabasz_score. The rows are generated, so they are the same on every machine.
    const rel = (a: number, b: number): number => Math.abs(a - b) / Math.abs(b);
    expect(rel(out.metrics['Silhouette Score'], 0.7774856935107921)).toBeLessThan(1e-12);
    expect(rel(out.metrics['DB Index'], 0.3299126401847776)).toBeLessThan(1e-12);
    expect(rel(out.metrics['Calinski-Harabasz'], 461.9106256422836)).toBeLessThan(1e-12);
    expect(out.metrics['Silhouette DTW']).toBeUndefined();
    // The run is in the store, named `validation`, with the metrics and one key per cluster size.
    const exp = readdirSync(path.join(dir, 'mlruns')).filter((e) => /^\d+$/.test(e) && e !== '0');
    const runDir = exp.map((e) => path.join(dir, 'mlruns', e, out.runId)).find((p) => existsSync(p))!;
    expect(readFileSync(path.join(runDir, 'tags', 'mlflow.runName'), 'utf8')).toBe('validation');
    expect(readFileSync(path.join(runDir, 'metrics', 'Pr Peak Performance'), 'utf8')).toContain(String(out.metrics['Pr Peak Performance']));
    // [value, step] of each line of a metric file.
    const metric = (key: string): number[][] => readFileSync(path.join(runDir, 'metrics', key), 'utf8').trim().split('\n').map((l) => l.split(' ').slice(1).map(Number));
    expect(metric('cluster_size/0')).toEqual([[34, 0]]);
    expect(metric('cluster_size/1')).toEqual([[33, 0]]);
    expect(metric('cluster_share/min')).toEqual([[33 / 67, 0]]);
    expect(metric('cluster_share/max')).toEqual([[34 / 67, 0]]);
    expect(existsSync(path.join(runDir, 'metrics', 'Cluster Size'))).toBe(false);
    const sil = readFileSync(path.join(runDir, 'artifacts', 'validation', 'silhouette.csv'), 'utf8').trim().split('\n');
    expect(sil[0]).toBe('id,date,cluster,silhouette');
    expect(sil).toHaveLength(rows.length + 1);
  });

  it('adds Silhouette DTW from a matching matrix and refuses a stale one', () => {
    const d = lpclust('-q', 'dtw', '--in', 'h.csv', '--out', 'dtw.npy', '--workers', '1');
    expect(d.code, d.stderr).toBe(0);
    const r = lpclust('--json', 'validate', '--in', 'h.csv', '--labels', 'labels.csv', '--dtw', 'dtw.npy');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    return readNpy(path.join(dir, 'dtw.npy')).then(({ data }) => {
      expect(out.metrics['Silhouette DTW']).toBe(silhouettePrecomputed(data, rows.length, rows.map((x) => x.cls)).score);
      // Same rows, one value changed: the sidecar digest no longer matches.
      const text = readFileSync(path.join(dir, 'h.csv'), 'utf8').split('\n');
      const f = text[5].split(',');
      f[10] = String(Number(f[10]) + 0.5);
      text[5] = f.join(',');
      writeFileSync(path.join(dir, 'h2.csv'), text.join('\n'));
      const s = lpclust('validate', '--in', 'h2.csv', '--labels', 'labels.csv', '--dtw', 'dtw.npy');
      expect(s.code).toBe(3);
      expect(s.stderr).toMatch(/does not belong to these profiles/);
      expect(s.stderr).toMatch(/lpclust dtw --in h2\.csv/);
      // Fewer rows than the matrix.
      writeFileSync(path.join(dir, 'h3.csv'), text.slice(0, 30).join('\n') + '\n');
      writeFileSync(path.join(dir, 'l3.csv'), 'id,date,cluster\n' + rows.slice(0, 29).map((x) => `M1,${x.date},${x.cls}\n`).join(''));
      const w = lpclust('validate', '--in', 'h3.csv', '--labels', 'l3.csv', '--dtw', 'dtw.npy');
      expect(w.code).toBe(3);
      expect(w.stderr).toMatch(/67 rows .*29 rows|does not belong/);
    });
  });

  it("uses the model's centres from --centres, checking them against the labels", () => {
    // Centres: the first profile of each class (L2-normalised), as a model might report them.
    const X = normalizeRows(Float64Array.from(rows.flatMap((r) => r.values.map(Number))), 24, 'l2');
    const first = [rows.findIndex((r) => r.cls === 0), rows.findIndex((r) => r.cls === 1)];
    const centres = Float64Array.from(first.flatMap((i) => Array.from(X.subarray(i * 24, i * 24 + 24))));
    const sizes = [34, 33];
    const csv = `cluster,size,${slots.join(',')}\n` + [0, 1].map((c) => `${c},${sizes[c]},${Array.from(centres.subarray(c * 24, c * 24 + 24)).join(',')}\n`).join('');
    writeFileSync(path.join(dir, 'centres.csv'), csv);
    const r = lpclust('--json', 'validate', '--in', 'h.csv', '--labels', 'labels.csv', '--centres', 'centres.csv');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    const expected = computeValidation({ X, L: 24, labels: rows.map((x) => x.cls), k: 2, centres }).metrics;
    expect(out.metrics.Inertia).toBe(expected.Inertia);
    expect(out.metrics['Peak Match Score']).toBe(expected['Peak Match Score']);
    expect(out.metrics.Distinctiveness).toBe(expected.Distinctiveness);
    writeFileSync(path.join(dir, 'centres-bad.csv'), csv.replace('\n0,34,', '\n0,35,'));
    const b = lpclust('validate', '--in', 'h.csv', '--labels', 'labels.csv', '--centres', 'centres-bad.csv');
    expect(b.code).toBe(3);
    expect(b.stderr).toContain('centres-bad.csv gives cluster 0 35 members but labels.csv has 34');
  });

  it('refuses labels of other rows, naming the first mismatching row', () => {
    const lines = readFileSync(path.join(dir, 'labels.csv'), 'utf8').split('\n');
    lines[4] = lines[4].replace('2020-01-04', '2021-01-04');
    writeFileSync(path.join(dir, 'bad-labels.csv'), lines.join('\n'));
    const r = lpclust('validate', '--in', 'h.csv', '--labels', 'bad-labels.csv');
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('bad-labels.csv:5: row 4 labels meter M1 on 2021-01-04 but row 4 of h.csv is meter M1 on 2020-01-04');
    writeFileSync(path.join(dir, 'short-labels.csv'), lines.slice(0, 10).join('\n').replace('2021-01-04', '2020-01-04') + '\n');
    const s = lpclust('validate', '--in', 'h.csv', '--labels', 'short-labels.csv');
    expect(s.code).toBe(3);
    expect(s.stderr).toContain('short-labels.csv has 9 rows but h.csv has 67 profiles');
  });

  it('refuses an all-zero profile, a NaN value, a single cluster and bad options', () => {
    const text = readFileSync(path.join(dir, 'h.csv'), 'utf8').split('\n');
    const zero = [...text];
    zero[3] = `M1,${rows[2].date},` + slots.map(() => '0').join(',');
    writeFileSync(path.join(dir, 'zero.csv'), zero.join('\n'));
    const z = lpclust('validate', '--in', 'zero.csv', '--labels', 'labels.csv');
    expect(z.code).toBe(3);
    expect(z.stderr).toContain(`meter M1 on ${rows[2].date}`);
    expect(z.stderr).toMatch(/all-zero/);
    const nan = [...text];
    nan[3] = nan[3].replace(/,[^,]*$/, ',NaN');
    writeFileSync(path.join(dir, 'nan.csv'), nan.join('\n'));
    const n = lpclust('validate', '--in', 'nan.csv', '--labels', 'labels.csv');
    expect(n.code).toBe(3);
    expect(n.stderr).toMatch(/nan\.csv:4: expected a finite number in column 23:00 but found "NaN"/);
    writeFileSync(path.join(dir, 'one.csv'), 'id,date,cluster\n' + rows.map((x) => `M1,${x.date},0\n`).join(''));
    const o = lpclust('validate', '--in', 'h.csv', '--labels', 'one.csv');
    expect(o.code).toBe(3);
    expect(o.stderr).toMatch(/between 2 and n − 1 = 66 non-empty clusters but the labels have 1/);
    const u = lpclust('validate', '--in', 'h.csv', '--labels', 'labels.csv', '--normalize', 'max');
    expect(u.code).toBe(2);
    expect(u.stderr).toContain('Expected l2|zscore|none for `--normalize` but received `max`');
  });
});

describe('labels CSV', () => {
  it('round-trips and checks rows against data', async () => {
    const file = path.join(dir, 'rt.csv');
    await writeLabels(file, ['A,1', 'B'], ['2020-01-01', '2020-01-02'], Int32Array.from([1, 0]));
    expect(readFileSync(file, 'utf8')).toBe('id,date,cluster\n"A,1",2020-01-01,1\nB,2020-01-02,0\n');
    const t = await readLabels(file);
    expect(t.ids).toEqual(['A,1', 'B']);
    expect(Array.from(t.labels)).toEqual([1, 0]);
    expect(t.k).toBe(2);
    expect(() => assertLabelsMatch({ ids: ['A,1', 'B'], dates: ['2020-01-01', '2020-01-03'], n: 2 }, t, { data: 'd.csv', labels: 'rt.csv' })).toThrow(
      /rt\.csv:3: row 2 labels meter B on 2020-01-02 but row 2 of d\.csv is meter B on 2020-01-03/,
    );
    writeFileSync(file, 'id,date,cluster\nA,2020-01-01,x\n');
    await expect(readLabels(file)).rejects.toThrow(/rt\.csv:2: expected a cluster number 0, 1, 2, ... for meter A on 2020-01-01 but found "x"/);
    writeFileSync(file, 'id,date,label\n');
    await expect(readLabels(file)).rejects.toThrow(/expected the header "id,date,cluster"/);
  });
});
