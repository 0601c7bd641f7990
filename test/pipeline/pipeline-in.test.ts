/**
 * `lpclust pipeline --in HARMONIZED.csv` (spawns bin/lpclust.js: build first): the ETL and
 * harmonization stages are skipped and say why, the file is the parent's dataset input, the
 * clustering equals `lpclust cluster` on the same file, sampled mode skips the DTW stage and says
 * what it does instead, and a wrong `--in` is refused before any run exists.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Random } from '../../src/util/random.js';
import { runPipeline } from '../../src/pipeline/pipeline.js';
import { allRuns, childrenOf, tempStore } from './helpers.js';

const BIN = path.resolve('bin/lpclust.js');
const N = 1500;
const METERS = 5;

function lpclust(cwd: string, args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, '--tracking-uri', `file:${path.join(cwd, 'mlruns')}`, ...args], { cwd, encoding: 'utf8' });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A harmonized CSV: five daily shapes with shifts and noise, METERS meters × 300 days. */
function writeHarmonized(file: string): void {
  const rng = new Random(5);
  const slots = Array.from({ length: 24 }, (_, h) => `${String(h).padStart(2, '0')}:00`);
  let out = `id,date,${slots.join(',')}\n`;
  for (let i = 0; i < N; i++) {
    const a = i % 5;
    const shift = rng.int(3) - 1;
    const v = slots.map((_, t) => (200 + 100 * Math.sin((t + shift + a * 5) / 3.5) * (1 + a / 4) + 20 * rng.normal()).toFixed(1));
    const date = new Date(Date.UTC(2021, 0, 1) + (i % (N / METERS)) * 86400000).toISOString().slice(0, 10);
    out += `M${Math.floor(i / (N / METERS))},${date},${v.join(',')}\n`;
  }
  writeFileSync(file, out);
}

beforeAll(() => {
  if (!existsSync(path.resolve('dist/cli/commands/pipeline.js'))) execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'ignore' });
});

describe('lpclust pipeline --in', () => {
  it('skips ETL and harmonization, logs the file as the dataset input, and clusters as `lpclust cluster` does', async () => {
    const { dir, store } = await tempStore('lpclust-pipeline-in-');
    const csv = path.join(dir, 'meters-2021.csv');
    writeHarmonized(csv);
    const r = lpclust(dir, ['--json', 'pipeline', '--in', 'meters-2021.csv', '--model', 'kmeans', '-k', '5', '--no-plots']);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { runId: string; outDir: string; stages: Array<{ stage: string; runId?: string; skipped?: string }>; cluster: { labels: string; n: number } };
    expect(out.stages.map((s) => [s.stage, s.skipped ?? 'ran'])).toEqual([
      ['etl_oldmongo', 'the input is the harmonized CSV given with --in'],
      ['etl_sql', 'the input is the harmonized CSV given with --in'],
      ['etl_newmongo', 'the input is the harmonized CSV given with --in'],
      ['harmonization', 'the input is the harmonized CSV given with --in'],
      ['clustering', 'ran'],
    ]);
    expect(out.cluster.n).toBe(N);
    // No harmonized copy: the clustering read the file given.
    expect(existsSync(path.join(out.outDir, 'harmonized.csv'))).toBe(false);
    const parent = await store.getRun(out.runId);
    expect(parent.data.params.in).toBe(csv);
    expect(parent.data.params.resolution).toBe('60');
    expect(parent.data.params.sources).toBeUndefined();
    expect(parent.data.tags['lpclust.skipped.harmonization']).toBe('the input is the harmonized CSV given with --in');
    const inputs = await store.getRunInputs(out.runId);
    expect(inputs).toHaveLength(1);
    expect(inputs[0].dataset.name).toBe('meters-2021');
    expect(JSON.parse(inputs[0].dataset.source)).toEqual({ uri: csv });
    expect(JSON.parse(inputs[0].dataset.profile!)).toEqual({ num_rows: N, num_elements: N * 24, meters: METERS, days: N / METERS });
    expect(inputs[0].tags.find((t) => t.key === 'mlflow.data.context')?.value).toBe('training');
    expect(childrenOf(await allRuns(store, 'lpclust'), out.runId).size).toBe(1);

    // The same model on the same file through `lpclust cluster`: the same labels, byte for byte.
    const c = lpclust(dir, ['--json', 'cluster', '--in', csv, '--model', 'kmeans', '-k', '5', '--out-dir', 'direct']);
    expect(c.status, c.stderr).toBe(0);
    const cl = JSON.parse(c.stdout) as { outDir: string };
    expect(readFileSync(out.cluster.labels, 'utf8')).toBe(readFileSync(path.join(cl.outDir, 'labels.csv'), 'utf8'));
    expect(readFileSync(path.join(path.dirname(out.cluster.labels), 'centres.csv'), 'utf8')).toBe(readFileSync(path.join(cl.outDir, 'centres.csv'), 'utf8'));
  }, 120_000);

  it('in sampled mode skips the DTW stage and says, in the log and on the parent run, what clustering does instead', async () => {
    const { dir, store } = await tempStore('lpclust-pipeline-in-sampled-');
    const csv = path.join(dir, 'h.csv');
    writeHarmonized(csv);
    const r = lpclust(dir, ['--json', 'pipeline', '--in', csv, '--model', 'kmedoids', '--metric', 'dtw', '-k', '5', '--scale', 'sampled', '--sample-size', '200']);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { runId: string; outDir: string; stages: Array<{ stage: string; runId?: string; skipped?: string }>; metrics: Record<string, number> };
    const dtw = out.stages.find((s) => s.stage === 'dtw');
    expect(dtw?.runId).toBeUndefined();
    const why = `sampled mode: no ${N} × ${N} matrix, which would take 9 MB; the clustering run computes DTW only where it needs it: within its samples and from every profile to the 5 medoids`;
    expect(dtw?.skipped).toBe(why);
    expect(r.stderr).toContain(`dtw stage skipped: ${why}`);
    const parent = await store.getRun(out.runId);
    expect(parent.data.tags['lpclust.skipped.dtw']).toBe(why);
    expect(parent.data.tags['lpclust.scale']).toBe('sampled');
    expect(out.metrics['Silhouette DTW_sample_size']).toBeGreaterThan(0);
    expect(existsSync(path.join(out.outDir, 'dtw.npy'))).toBe(false);
    expect(existsSync(path.join(out.outDir, 'cluster', 'plots', 'silhouette.svg'))).toBe(true);
  }, 120_000);

  it('refuses a wrong --in, or --in with sources, meters or rules, before any run exists', async () => {
    const { dir, store } = await tempStore('lpclust-pipeline-in-bad-');
    writeFileSync(path.join(dir, 'long.csv'), 'meter,timestamp,kwh\nM1,2021-01-01T00:00,1.5\n');
    writeHarmonized(path.join(dir, 'h60.csv'));
    const cases: Array<[string[], number, RegExp]> = [
      [['--in', 'missing.csv'], 3, /--in.*missing\.csv/],
      [['--in', 'long.csv'], 3, /long\.csv:1: expected a header "id,date,00:00,\.\.\." but found "meter,timestamp,kwh"/],
      [["--in", "long.csv", "--sql", "."], 2, /--in \S*long\.csv replaces the sources, but sql is given too/],
      [['--in', 'long.csv', '--meters', 'long.csv'], 2, /--meters applies to the ETL and harmonization stages, which --in skips/],
      [['--in', 'h60.csv', '--resolution', '15'], 2, /--resolution 15 but \S*h60\.csv has 24 slots a day \(60 minutes each\)/],
    ];
    for (const [args, code, re] of cases) {
      const r = lpclust(dir, ['pipeline', '--model', 'kmeans', '-k', '3', ...args]);
      expect(r.stderr, args.join(' ')).toMatch(re);
      expect(r.status, args.join(' ')).toBe(code);
      expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
    }
    expect(await allRuns(store, 'lpclust')).toEqual([]);
    expect(existsSync(path.join(dir, 'outputs'))).toBe(false);
  }, 60_000);

  it('allocates nothing of n² elements end to end in sampled mode (a budget smaller than one n × n matrix)', async () => {
    const { dir, store } = await tempStore('lpclust-pipeline-in-n2-');
    const csv = path.join(dir, 'h.csv');
    writeHarmonized(csv);
    const n2 = N * N;
    let largest = 0;
    const saved = { F64: globalThis.Float64Array, F32: globalThis.Float32Array, AB: globalThis.ArrayBuffer, SAB: globalThis.SharedArrayBuffer };
    // Elements of every typed array and buffer built through the globals (buffers counted in float64 elements).
    const watch = <T extends object>(C: T, bytesPer: number): T =>
      new Proxy(C, {
        construct(target, args, newTarget) {
          const a = args[0];
          const len = typeof a === 'number' ? a / bytesPer : a instanceof saved.AB || a instanceof saved.SAB ? a.byteLength / 8 : a && typeof a === 'object' && 'length' in a ? (a as { length: number }).length : 0;
          if (len > largest) largest = len;
          return Reflect.construct(target as unknown as new (...x: unknown[]) => object, args, newTarget);
        },
      });
    globalThis.Float64Array = watch(saved.F64, 1);
    globalThis.Float32Array = watch(saved.F32, 1);
    globalThis.ArrayBuffer = watch(saved.AB, 8);
    globalThis.SharedArrayBuffer = watch(saved.SAB, 8);
    let res: Awaited<ReturnType<typeof runPipeline>>;
    try {
      // One float32 n × n matrix is 9 MB: the budget of 6 MB cannot hold it, auto goes sampled.
      res = await runPipeline({ input: csv, sources: {}, model: 'kmedoids', metric: 'dtw', k: 5, memoryBudget: 6e6, sampleSize: 300, workers: 1, outDir: path.join(dir, 'outputs') }, { store, experimentName: 'n2' });
    } finally {
      globalThis.Float64Array = saved.F64;
      globalThis.Float32Array = saved.F32;
      globalThis.ArrayBuffer = saved.AB;
      globalThis.SharedArrayBuffer = saved.SAB;
    }
    expect(res.outputs.cluster.n).toBe(N);
    expect(res.outputs.stages.find((s) => s.stage === 'dtw')?.skipped).toMatch(/^sampled mode/);
    expect(res.outputs.cluster.plots.length).toBeGreaterThan(0);
    // The instrumentation saw the FasterCLARA sample matrix (300²) but nothing near n².
    expect(largest).toBeGreaterThanOrEqual(300 * 300);
    expect(largest).toBeLessThan(n2 / 4);
  }, 120_000);
});
