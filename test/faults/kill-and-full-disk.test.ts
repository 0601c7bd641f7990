/**
 * Faults: the sample pipeline killed with SIGKILL at seeded moments, and run with its tracking
 * store on a full disk (a small tmpfs). Afterwards the store must read as MLflow reads it (every
 * run folder with its meta.yaml, every metric file non-empty and whole lines, no temporary file
 * where MLflow would take it for a key), and after the next lpclust command no run stays RUNNING
 * and no temporary file is left. Every output CSV that reached its name equals an uninterrupted
 * run's. Spawns bin/lpclust.js (dist/ must be built). The full-disk part mounts a tmpfs: root is
 * needed (CI runs as root; elsewhere, without root, that part is skipped with a message, in CI it fails).
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { FileStore } from '../../src/tracking/file-store.js';
import { parseMetricValue } from '../../src/tracking/file-format.js';
import { tempOwner } from '../../src/io/owner.js';
import { Random } from '../../src/util/random.js';
import { ensureBuilt, leftovers, BIN, tempDir } from '../tracking/helpers.js';

/** The tracked command under test: the sample pipeline, without plots to keep it short. */
const PIPELINE = ['--json', 'pipeline', '--model', 'kmeans', '-k', '4', '--no-plots'];
const KILLS = 12;
const SEED = 20261202;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Run lpclust in `cwd` with its store at `<store>`; SIGKILL it after `killAfterMs` if given. */
function lpclust(cwd: string, store: string, args: string[], killAfterMs?: number): Promise<Exit> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [BIN, '--tracking-uri', `file:${store}`, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LPCLUST_LOG_LEVEL: 'warn' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

/** Every file under `dir`, relative `/` paths. */
function files(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const d of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) walk(r);
      else out.push(r);
    }
  };
  if (fs.existsSync(dir)) walk('');
  return out;
}

/**
 * Read the store as MLflow 2.12's FileStore does and fail on what makes it fail: an experiment or
 * run folder without meta.yaml (with `allowBare`, a run folder still being made — nothing in it
 * but its creation — is tolerated, as MLflow skips it), a meta.yaml that is not a mapping with an
 * integer status and the keys MLflow needs, an empty metric file or a line that is not
 * `<int ms> <float> <int step>`, a file in metrics/params/tags that is not a key (a temporary file).
 * @returns the runs: id → status code
 */
function assertMlflowReadable(root: string, allowBare: boolean): Map<string, number> {
  const runs = new Map<string, number>();
  for (const exp of fs.readdirSync(root, { withFileTypes: true })) {
    if (!exp.isDirectory() || exp.name === '.trash') continue;
    const expDir = path.join(root, exp.name);
    expect(exp.name, `a hidden folder in the store root is read by MLflow as an experiment`).not.toMatch(/^\./);
    expect(fs.existsSync(path.join(expDir, 'meta.yaml')), `${expDir} has no meta.yaml`).toBe(true);
    for (const run of fs.readdirSync(expDir, { withFileTypes: true })) {
      // MLflow reads no run in these (datasets/<id>/ are read through a run's inputs).
      if (!run.isDirectory() || ['tags', 'datasets', 'models', 'traces'].includes(run.name)) continue;
      const dir = path.join(expDir, run.name);
      expect(run.name, `a hidden folder in an experiment is read by MLflow as a run`).not.toMatch(/^\./);
      const metaFile = path.join(dir, 'meta.yaml');
      if (!fs.existsSync(metaFile)) {
        expect(allowBare, `run folder ${dir} has no meta.yaml`).toBe(true);
        expect(fs.readdirSync(dir).filter((n) => !tempOwner(n)), `run folder ${dir} without meta.yaml has content`).toEqual([]);
        continue;
      }
      const meta = YAML.parse(fs.readFileSync(metaFile, 'utf8'), { version: '1.1' }) as Record<string, unknown>;
      expect(meta.run_uuid, metaFile).toBe(run.name);
      expect(meta.experiment_id, metaFile).toBe(exp.name);
      expect(Number.isInteger(meta.status) && (meta.status as number) >= 1 && (meta.status as number) <= 5, `${metaFile}: status ${String(meta.status)}`).toBe(true);
      expect(Number.isInteger(meta.start_time), metaFile).toBe(true);
      expect(meta.end_time === null || Number.isInteger(meta.end_time), metaFile).toBe(true);
      expect('user_id' in meta, metaFile).toBe(true);
      runs.set(run.name, meta.status as number);
      // Each dataset input MLflow reads whole: inputs/<id>/meta.yaml naming a datasets/<id>/meta.yaml.
      const inputsDir = path.join(dir, 'inputs');
      for (const id of fs.existsSync(inputsDir) ? fs.readdirSync(inputsDir) : []) {
        const link = path.join(inputsDir, id, 'meta.yaml');
        expect(fs.existsSync(link), `${link} is missing: MLflow cannot read the run`).toBe(true);
        const datasetId = (YAML.parse(fs.readFileSync(link, 'utf8')) as { source_id: string }).source_id;
        expect(fs.existsSync(path.join(expDir, 'datasets', datasetId, 'meta.yaml')), `${link} names a missing dataset`).toBe(true);
      }
      for (const sub of ['metrics', 'params', 'tags']) {
        for (const rel of files(path.join(dir, sub))) {
          expect(tempOwner(path.basename(rel)), `${dir}/${sub}/${rel} is a temporary file MLflow would read as a key`).toBeNull();
          if (sub !== 'metrics') continue;
          const text = fs.readFileSync(path.join(dir, sub, rel), 'utf8');
          expect(text.length, `${dir}/metrics/${rel} is empty: MLflow fails the whole listing`).toBeGreaterThan(0);
          expect(text.endsWith('\n'), `${dir}/metrics/${rel} ends with a cut line`).toBe(true);
          for (const line of text.slice(0, -1).split('\n')) {
            const parts = line.split(' ');
            expect(parts.length === 3 && /^\d+$/.test(parts[0]) && /^-?\d+$/.test(parts[2]), `${dir}/metrics/${rel}: ${JSON.stringify(line)}`).toBe(true);
            expect(() => parseMetricValue(parts[1])).not.toThrow();
          }
        }
      }
    }
  }
  return runs;
}

/** Every CSV under each output folder of `outputs` that reached its name equals the reference's. */
function assertCsvsEqualReference(outputs: string, reference: Map<string, Buffer>): number {
  let compared = 0;
  if (!fs.existsSync(outputs)) return 0;
  for (const runDir of fs.readdirSync(outputs)) {
    for (const rel of files(path.join(outputs, runDir))) {
      if (!rel.endsWith('.csv')) continue;
      const want = reference.get(rel);
      expect(want, `${rel} is not an output of the uninterrupted run`).toBeDefined();
      expect(fs.readFileSync(path.join(outputs, runDir, rel)).equals(want!), `${outputs}/${runDir}/${rel} differs from the uninterrupted run's`).toBe(true);
      compared++;
    }
  }
  return compared;
}

let work = '';
const reference = new Map<string, Buffer>();
let refMs = 0;
let refStoreKb = 0;

beforeAll(async () => {
  ensureBuilt();
  work = tempDir('lpclust-faults-');
  const ref = path.join(work, 'ref');
  fs.mkdirSync(ref);
  const r = await lpclust(ref, path.join(ref, 'mlruns'), PIPELINE);
  expect(r.code, r.stderr).toBe(0);
  refMs = r.ms;
  const outDir = (JSON.parse(r.stdout) as { outDir?: string; runId: string }).runId;
  const base = path.join(ref, 'outputs', outDir);
  for (const rel of files(base)) if (rel.endsWith('.csv')) reference.set(rel, fs.readFileSync(path.join(base, rel)));
  expect(reference.size).toBeGreaterThanOrEqual(4);
  refStoreKb = Number(spawnSync('du', ['-sk', path.join(ref, 'mlruns')], { encoding: 'utf8' }).stdout.split('\t')[0]);
}, 120_000);

const mounted: string[] = [];
afterAll(() => {
  for (const m of mounted) spawnSync('umount', [m]);
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('kill -9 at seeded moments of the sample pipeline', () => {
  it(`leaves a store MLflow reads, no RUNNING run and no temporary file after the next start, and only whole CSVs (${KILLS} kills)`, async () => {
    const dir = path.join(work, 'kills');
    fs.mkdirSync(dir);
    const store = path.join(dir, 'mlruns');
    const rng = new Random(SEED);
    let killed = 0;
    for (let i = 0; i < KILLS; i++) {
      // Moments spread over the whole run (start-up included), as measured on the reference run.
      const at = Math.round((0.1 + 0.9 * rng.next()) * refMs);
      const r = await lpclust(dir, store, PIPELINE, at);
      if (r.signal === 'SIGKILL') killed++;
      else expect(r.code, r.stderr).toBe(0);
      // Readable right after every kill, before anything cleans up.
      if (fs.existsSync(store)) assertMlflowReadable(store, true);
    }
    expect(killed).toBeGreaterThanOrEqual(KILLS / 2);
    // lpclust's own reader lists every run of every experiment.
    const fsStore = new FileStore(store);
    for (const e of await fsStore.listExperiments()) await fsStore.searchRuns({ experimentIds: [e.experimentId] });

    // The next start (the same pipeline, uninterrupted) recovers the store.
    const next = await lpclust(dir, store, PIPELINE);
    expect(next.code, next.stderr).toBe(0);
    const runs = assertMlflowReadable(store, false);
    const running = [...runs].filter(([, s]) => s === 1);
    expect(running, 'runs left RUNNING after the next start').toEqual([]);
    expect(runs.size).toBeGreaterThan(5);
    expect(leftovers(store), 'temporary or lock files left in the store').toEqual([]);
    // The outputs of the killed pipelines: every CSV that reached its name is whole, no temporary file is left.
    expect(assertCsvsEqualReference(path.join(dir, 'outputs'), reference)).toBeGreaterThan(reference.size);
    expect(files(path.join(dir, 'outputs')).filter((f) => tempOwner(path.basename(f))), 'temporary files left in outputs').toEqual([]);
    // Runs of killed processes say why they failed.
    const failed = (await new FileStore(store).searchRuns({ experimentIds: (await new FileStore(store).listExperiments()).map((e) => e.experimentId) })).filter(
      (r) => r.data.tags['lpclust.error.code'] === 'E_RUN_OWNER_GONE',
    );
    expect(failed.length).toBeGreaterThan(0);
    for (const f of failed) expect(f.info.status).toBe('FAILED');
  }, 600_000);
});

describe('the tracking store on a full disk', () => {
  it('fails with a clear error, leaves a readable store, and the next start (with space) ends every run', async (ctx) => {
    const dir = path.join(work, 'full');
    fs.mkdirSync(dir);
    const mnt = path.join(dir, 'disk');
    fs.mkdirSync(mnt);
    // Fill points: a quarter, half and three quarters of what the sample pipeline's store takes.
    const sizesKb = [0.25, 0.5, 0.75].map((f) => Math.max(64, Math.round(f * refStoreKb)));
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizesKb[0]}k`, 'tmpfs', mnt], { encoding: 'utf8' });
    if (m.status !== 0) {
      if (process.env.CI) throw new Error(`cannot mount a tmpfs for the full-disk test: ${m.stderr}`);
      ctx.skip(`cannot mount a tmpfs (not root?): ${m.stderr.trim()}`);
    }
    mounted.push(mnt);
    const store = path.join(mnt, 'mlruns');
    for (const kb of sizesKb) {
      spawnSync('mount', ['-o', `remount,size=${kb}k`, mnt]);
      const r = await lpclust(dir, store, PIPELINE);
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toMatch(/the disk is full|no space left/i);
      expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
      assertMlflowReadable(store, true);
      expect(fs.existsSync(path.join(store, '.lpclust.lock')), 'a lock left by a full disk').toBe(false);
    }
    // Space again: the next start ends every run and cleans up.
    spawnSync('mount', ['-o', 'remount,size=64m', mnt]);
    const next = await lpclust(dir, store, PIPELINE);
    expect(next.code, next.stderr).toBe(0);
    const runs = assertMlflowReadable(store, false);
    expect([...runs].filter(([, s]) => s === 1), 'runs left RUNNING after the next start').toEqual([]);
    expect(leftovers(store)).toEqual([]);
    expect(assertCsvsEqualReference(path.join(dir, 'outputs'), reference)).toBeGreaterThanOrEqual(reference.size);

    // The DTW matrix on a full disk: the hint offers float32 only when the matrix is float64.
    const small = path.join(dir, 'small');
    fs.mkdirSync(small);
    expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', small]).status).toBe(0);
    mounted.push(small);
    const harmonized = path.join(work, 'ref', 'outputs', fs.readdirSync(path.join(work, 'ref', 'outputs'))[0], 'harmonized.csv');
    const f32 = await lpclust(dir, path.join(dir, 'mlruns'), ['dtw', '--in', harmonized, '--out', path.join(small, 'd.npy')]);
    expect(f32.code).toBe(4);
    expect(f32.stderr).toContain('not enough free space');
    expect(f32.stderr).not.toContain('--dtype float32');
    const f64 = await lpclust(dir, path.join(dir, 'mlruns'), ['dtw', '--in', harmonized, '--out', path.join(small, 'd.npy'), '--dtype', 'float64']);
    expect(f64.code).toBe(4);
    expect(f64.stderr).toContain('--dtype float32');
  }, 600_000);
});

describe('metric lines on a full disk', () => {
  /** Fill the file system of `dir` to the last page. */
  function fill(dir: string): void {
    const fd = fs.openSync(path.join(dir, 'filler'), 'a');
    const page = Buffer.alloc(4096, 1);
    try {
      for (;;) fs.writeSync(fd, page);
    } catch (e) {
      expect((e as NodeJS.ErrnoException).code).toBe('ENOSPC');
    } finally {
      fs.closeSync(fd);
    }
  }

  it('a new metric is never an empty file, and a line crossing into a page the disk has not got is cut off again', async (ctx) => {
    const mnt = path.join(work, 'metrics-disk');
    fs.mkdirSync(mnt);
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt], { encoding: 'utf8' });
    if (m.status !== 0) {
      if (process.env.CI) throw new Error(`cannot mount a tmpfs for the full-disk test: ${m.stderr}`);
      ctx.skip(`cannot mount a tmpfs (not root?): ${m.stderr.trim()}`);
    }
    mounted.push(mnt);
    const store = new FileStore(path.join(mnt, 'mlruns'));
    const exp = await store.getOrCreateExperiment('full');
    const run = await store.createRun({ experimentId: exp.experimentId, runName: 'r', userId: 'u', startTime: 1, tags: [] });
    const metrics = path.join(mnt, 'mlruns', exp.experimentId, run.runId, 'metrics');
    // A metric file a few bytes short of a page (lines "1700000000000 <i>.5 <i>"): its next line needs one page more.
    const values: Array<{ key: string; value: number; timestamp: number; step: number }> = [];
    for (let i = 0, size = 0; size + `1700000000000 ${i}.5 ${i}\n`.length <= 4095; size += `1700000000000 ${i}.5 ${i}\n`.length, i++) {
      values.push({ key: 'loss', value: i + 0.5, timestamp: 1700000000000, step: i });
    }
    await store.logBatch(run.runId, { metrics: values });
    const size = fs.statSync(path.join(metrics, 'loss')).size;
    expect(size).toBeGreaterThan(4096 - '1700000009999 0.125 999\n'.length);
    expect(size).toBeLessThanOrEqual(4096);
    fill(mnt);
    const before = fs.readFileSync(path.join(metrics, 'loss'));
    await expect(store.logBatch(run.runId, { metrics: [{ key: 'loss', value: 0.125, timestamp: 1700000009999, step: 999 }] })).rejects.toMatchObject({ code: 'E_TRACKING_IO' });
    expect(fs.readFileSync(path.join(metrics, 'loss')).equals(before), 'a cut line was left in the metric file').toBe(true);
    await expect(store.logBatch(run.runId, { metrics: [{ key: 'new', value: 1, timestamp: 1700000009999, step: 0 }] })).rejects.toMatchObject({ code: 'E_TRACKING_IO' });
    expect(fs.existsSync(path.join(metrics, 'new')), 'an empty metric file was left').toBe(false);
    expect(leftovers(path.join(mnt, 'mlruns'))).toEqual([]);
    fs.rmSync(path.join(mnt, 'filler'));
    await store.logBatch(run.runId, { metrics: [{ key: 'new', value: 1, timestamp: 1700000009999, step: 0 }] });
    expect(fs.readFileSync(path.join(metrics, 'new'), 'utf8')).toBe('1700000009999 1.0 0\n');
  });
});
