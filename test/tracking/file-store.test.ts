import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FileStore, fileUriToPath } from '../../src/tracking/file-store.js';
import { parseMetricValue, pythonFloat, validateKey } from '../../src/tracking/file-format.js';
import { openStore } from '../../src/tracking/index.js';
import { currentOwner, formatOwner } from '../../src/io/owner.js';
import { leftovers, readTree, tempDir } from './helpers.js';

const T0 = 1_700_000_000_000;

/** Replace the root URL/path, the experiment id and the run ids by placeholders. */
function normalise(tree: Record<string, string>, root: string, ids: Record<string, string>): Record<string, string> {
  const rootUrl = pathToFileURL(root).href;
  const fix = (s: string): string => {
    let out = s.split(rootUrl).join('file://<ROOT>');
    for (const [id, name] of Object.entries(ids)) out = out.split(id).join(name);
    return out;
  };
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(tree)) out[fix(k)] = fix(v);
  return out;
}

describe('FileStore layout (golden tree, byte for byte)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(T0);
  });
  afterEach(() => vi.useRealTimers());

  it('writes exactly what MLflow writes', async () => {
    const root = path.join(tempDir(), 'mlruns');
    const store = new FileStore(root);
    const exp = await store.getOrCreateExperiment('lpclust test');
    expect(exp.experimentId).toMatch(/^[1-9][0-9]{17}$/);
    const info = await store.createRun({
      experimentId: exp.experimentId,
      runName: 'kmeans k=3',
      userId: 'tester',
      startTime: T0 + 1000,
      tags: [
        { key: 'mlflow.user', value: 'tester' },
        { key: 'mlflow.source.type', value: 'LOCAL' },
      ],
    });
    expect(info.runId).toMatch(/^[0-9a-f]{32}$/);
    await store.logBatch(info.runId, {
      params: [
        { key: 'k', value: '3' },
        { key: 'model/name', value: 'kmeans' },
        { key: 'path', value: 'a b\n' },
      ],
      metrics: [
        { key: 'DB Index', value: 0.9, timestamp: T0 + 2000, step: 0 },
        { key: 'DB Index', value: 3, timestamp: T0 + 2001, step: 1 },
        { key: 'train/loss', value: 1e21, timestamp: T0 + 2002, step: 0 },
        { key: 'odd', value: NaN, timestamp: T0 + 2003, step: 0 },
        { key: 'odd', value: -Infinity, timestamp: T0 + 2004, step: 1 },
      ],
      tags: [{ key: 'note', value: 'hello\nworld' }],
    });
    const owner = formatOwner(currentOwner());
    expect(owner).toMatch(new RegExp(`^${process.pid}@\\S+ boot=[0-9a-f-]{36} start=\\d+$`));
    const ids = { [exp.experimentId]: '<EXP>', [info.runId]: '<RUN>', [owner]: '<OWNER>' };
    const runMeta = (status: number, end: string): string =>
      [
        'artifact_uri: file://<ROOT>/<EXP>/<RUN>/artifacts',
        `end_time: ${end}`,
        "entry_point_name: ''",
        "experiment_id: '<EXP>'",
        'lifecycle_stage: active',
        'run_id: <RUN>',
        'run_name: kmeans k=3',
        'run_uuid: <RUN>',
        "source_name: ''",
        'source_type: 4',
        "source_version: ''",
        'start_time: 1700000001000',
        `status: ${status}`,
        'tags: []',
        'user_id: tester',
        '',
      ].join('\n');
    const golden = (meta: string): Record<string, string> => ({
      '.trash/': '',
      '0/': '',
      '0/meta.yaml': [
        'artifact_location: file://<ROOT>/0',
        'creation_time: 1700000000000',
        "experiment_id: '0'",
        'last_update_time: 1700000000000',
        'lifecycle_stage: active',
        'name: Default',
        '',
      ].join('\n'),
      '<EXP>/': '',
      '<EXP>/meta.yaml': [
        'artifact_location: file://<ROOT>/<EXP>',
        'creation_time: 1700000000000',
        "experiment_id: '<EXP>'",
        'last_update_time: 1700000000000',
        'lifecycle_stage: active',
        'name: lpclust test',
        '',
      ].join('\n'),
      '<EXP>/<RUN>/': '',
      '<EXP>/<RUN>/meta.yaml': meta,
      '<EXP>/<RUN>/artifacts/': '',
      '<EXP>/<RUN>/metrics/': '',
      '<EXP>/<RUN>/metrics/DB Index': '1700000002000 0.9 0\n1700000002001 3.0 1\n',
      '<EXP>/<RUN>/metrics/odd': '1700000002003 nan 0\n1700000002004 -inf 1\n',
      '<EXP>/<RUN>/metrics/train/': '',
      '<EXP>/<RUN>/metrics/train/loss': '1700000002002 1e+21 0\n',
      '<EXP>/<RUN>/params/': '',
      '<EXP>/<RUN>/params/k': '3',
      '<EXP>/<RUN>/params/model/': '',
      '<EXP>/<RUN>/params/model/name': 'kmeans',
      '<EXP>/<RUN>/params/path': 'a b\n',
      '<EXP>/<RUN>/tags/': '',
      // lpclust's one addition: the run's writer, so that a later process can tell a run left
      // RUNNING by a killed process (MLflow shows it as a plain tag).
      '<EXP>/<RUN>/tags/lpclust.owner': '<OWNER>',
      '<EXP>/<RUN>/tags/mlflow.runName': 'kmeans k=3',
      '<EXP>/<RUN>/tags/mlflow.source.type': 'LOCAL',
      '<EXP>/<RUN>/tags/mlflow.user': 'tester',
      '<EXP>/<RUN>/tags/note': 'hello\nworld',
    });
    expect(normalise(readTree(root), root, ids)).toEqual(golden(runMeta(1, 'null')));
    await store.updateRun(info.runId, 'FINISHED', T0 + 9000);
    expect(normalise(readTree(root), root, ids)).toEqual(golden(runMeta(3, '1700000009000')));
    // Byte for byte, not only equal after parsing.
    const metaBytes = fs.readFileSync(path.join(root, exp.experimentId, info.runId, 'meta.yaml'));
    expect(metaBytes.toString('utf8')).toBe(runMeta(3, '1700000009000').replace(/<EXP>/g, exp.experimentId).replace(/<RUN>/g, info.runId).replace('file://<ROOT>', pathToFileURL(root).href));
  });

  it('quotes names that YAML 1.1 would read as another type', async () => {
    const root = path.join(tempDir(), 'mlruns');
    const store = new FileStore(root);
    for (const name of ['yes', '123', 'null', '1.5', "it's: tricky"]) {
      const exp = await store.getOrCreateExperiment(name);
      const text = fs.readFileSync(path.join(root, exp.experimentId, 'meta.yaml'), 'utf8');
      expect(text).toMatch(/^name: ['"]/m);
      expect((await new FileStore(root).getExperimentByName(name))?.experimentId).toBe(exp.experimentId);
    }
  });
});

describe('metric values as Python writes floats', () => {
  it.each([
    [0.9, '0.9'],
    [3, '3.0'],
    [-2, '-2.0'],
    [0, '0.0'],
    [-0, '-0.0'],
    [1e21, '1e+21'],
    [1e16, '1e+16'],
    [1e15, '1000000000000000.0'],
    [123456.789, '123456.789'],
    [0.0001, '0.0001'],
    [0.00001, '1e-05'],
    [1.5e-7, '1.5e-07'],
    [0.1 + 0.2, '0.30000000000000004'],
    [1.5e300, '1.5e+300'],
    [5e-324, '5e-324'],
    [Number.MAX_VALUE, '1.7976931348623157e+308'],
    [NaN, 'nan'],
    [Infinity, 'inf'],
    [-Infinity, '-inf'],
  ])('%s → %s', (x, text) => {
    expect(pythonFloat(x)).toBe(text);
    expect(Object.is(parseMetricValue(text), x)).toBe(true);
  });
  it('reads the spellings MLflow accepts', () => {
    expect(parseMetricValue('NaN')).toBeNaN();
    expect(parseMetricValue('Infinity')).toBe(Infinity);
    expect(parseMetricValue('-Infinity')).toBe(-Infinity);
    expect(() => parseMetricValue('abc')).toThrow();
  });
});

describe('FileStore reads back what it wrote', () => {
  it('params, tags, latest metrics, history, search', async () => {
    const store = new FileStore(path.join(tempDir(), 'mlruns'));
    const exp = await store.getOrCreateExperiment('e');
    const mk = async (name: string, start: number, k: string): Promise<string> => {
      const r = await store.createRun({ experimentId: exp.experimentId, runName: name, userId: 'u', startTime: start, tags: [] });
      await store.logBatch(r.runId, { params: [{ key: 'k', value: k }], tags: [{ key: 'stage', value: 'cluster' }] });
      return r.runId;
    };
    const a = await mk('a', T0, '3');
    const b = await mk('b', T0 + 10, '4');
    const c = await mk('c', T0 + 20, '3');
    await store.logBatch(a, {
      metrics: [
        { key: 'm', value: 5, timestamp: 10, step: 2 },
        { key: 'm', value: 7, timestamp: 5, step: 1 },
        { key: 'm', value: 1, timestamp: 20, step: 2 },
        { key: 'm', value: 9, timestamp: 20, step: 2 },
      ],
    });
    const run = await store.getRun(a);
    expect(run.info).toMatchObject({ runId: a, runName: 'a', userId: 'u', status: 'RUNNING', startTime: T0, endTime: null, experimentId: exp.experimentId });
    expect(run.data.params).toEqual({ k: '3' });
    expect(run.data.tags).toEqual({ 'mlflow.runName': 'a', stage: 'cluster', 'lpclust.owner': expect.stringMatching(new RegExp(`^${process.pid}@`)) });
    // Latest = max by (step, timestamp, value).
    expect(run.data.metrics).toEqual({ m: 9 });
    expect((await store.getMetricHistory(a, 'm')).map((m) => [m.value, m.step, m.timestamp])).toEqual([
      [5, 2, 10],
      [7, 1, 5],
      [1, 2, 20],
      [9, 2, 20],
    ]);
    await store.updateRun(b, 'FAILED', T0 + 100);
    const ids = (q: Parameters<FileStore['searchRuns']>[0]): Promise<string[]> => store.searchRuns(q).then((rs) => rs.map((r) => r.info.runId));
    expect(await ids({ experimentIds: [exp.experimentId] })).toEqual([c, b, a]);
    expect(await ids({ experimentIds: [exp.experimentId], params: { k: '3' } })).toEqual([c, a]);
    expect(await ids({ experimentIds: [exp.experimentId], params: { k: '3' }, tags: { stage: 'cluster' }, maxResults: 1 })).toEqual([c]);
    expect(await ids({ experimentIds: [exp.experimentId], statuses: ['FAILED'] })).toEqual([b]);
    expect(await ids({ experimentIds: [exp.experimentId], tags: { stage: 'other' } })).toEqual([]);
    // A second store instance (another process) finds the run by id.
    expect((await new FileStore(store.root).getRun(b)).info.status).toBe('FAILED');
    await expect(store.getRun('0123456789abcdef0123456789abcdef')).rejects.toMatchObject({ code: 'E_RUN_NOT_FOUND' });
  });

  it('params are written once: same value is fine, another value is an error', async () => {
    const store = new FileStore(path.join(tempDir(), 'mlruns'));
    const exp = await store.getOrCreateExperiment('e');
    const r = await store.createRun({ experimentId: exp.experimentId, runName: 'r', userId: 'u', startTime: T0, tags: [] });
    await store.logBatch(r.runId, { params: [{ key: 'k', value: '12' }] });
    await store.logBatch(r.runId, { params: [{ key: 'k', value: '12' }] });
    await expect(store.logBatch(r.runId, { params: [{ key: 'k', value: '13' }] })).rejects.toMatchObject({ code: 'E_PARAM_CHANGED', kind: 'usage' });
    await expect(store.logBatch(r.runId, { params: [{ key: 'x', value: '1' }, { key: 'x', value: '1' }] })).rejects.toMatchObject({ code: 'E_TRACKING_DUPLICATE' });
    await expect(store.logBatch(r.runId, { params: [{ key: 'long', value: 'x'.repeat(6001) }] })).rejects.toMatchObject({ code: 'E_TRACKING_VALUE' });
    await expect(store.logBatch(r.runId, { metrics: [{ key: 'm', value: 1, timestamp: 1.5, step: 0 }] })).rejects.toMatchObject({ code: 'E_TRACKING_VALUE' });
    expect((await store.getRun(r.runId)).data.params).toEqual({ k: '12' });
    expect(leftovers(store.root)).toEqual([]);
  });

  it('validates keys as MLflow does', () => {
    for (const ok of ['k', 'DB Index', 'train/acc', 'a-b_c.d', 'Silhouette DTW', 'é1', 'x'.repeat(250)]) expect(() => validateKey('param', ok)).not.toThrow();
    for (const bad of ['', '/a', 'a//b', 'a/../b', '..', 'a..b', 'a/', 'a:b', 'a\\b', 'a\nb', 'x'.repeat(251), 'a/./b']) {
      expect(() => validateKey('metric', bad), JSON.stringify(bad)).toThrow(expect.objectContaining({ code: 'E_TRACKING_KEY' }));
    }
  });

  it('updateRunSync ends a run without the event loop', async () => {
    const store = new FileStore(path.join(tempDir(), 'mlruns'));
    const exp = await store.getOrCreateExperiment('e');
    const r = await store.createRun({ experimentId: exp.experimentId, runName: 'r', userId: 'u', startTime: T0, tags: [] });
    expect(store.updateRunSync(r.runId, 'KILLED', T0 + 5)).toBe(true);
    const text = fs.readFileSync(path.join(store.root, exp.experimentId, r.runId, 'meta.yaml'), 'utf8');
    expect(text).toMatch(/^status: 5$/m);
    expect(text).toMatch(/^end_time: 1700000000005$/m);
    expect(store.updateRunSync('ffffffffffffffffffffffffffffffff', 'KILLED', T0)).toBe(false);
  });
});

describe('experiments and the root', () => {
  it('creates Default (0) and .trash with a new root only', async () => {
    const dir = tempDir();
    const fresh = new FileStore(path.join(dir, 'mlruns'));
    await fresh.getOrCreateExperiment('x');
    expect((await fresh.listExperiments()).map((e) => [e.experimentId, e.name])).toContainEqual(['0', 'Default']);
    expect(fs.existsSync(path.join(dir, 'mlruns', '.trash'))).toBe(true);
    // A root set up by MLflow whose Default was deleted keeps it deleted.
    const other = path.join(dir, 'other');
    fs.mkdirSync(path.join(other, '.trash'), { recursive: true });
    const s2 = new FileStore(other);
    await s2.getOrCreateExperiment('y');
    expect((await s2.listExperiments()).map((e) => e.name)).toEqual(['y']);
    // The same name gives the same experiment.
    expect((await s2.getOrCreateExperiment('y')).experimentId).toBe((await s2.getExperimentByName('y'))?.experimentId);
    expect(await s2.getExperimentByName('nope')).toBeNull();
  });

  it('reading a store that does not exist finds nothing and creates nothing', async () => {
    const root = path.join(tempDir(), 'absent');
    const store = new FileStore(root);
    expect(await store.listExperiments()).toEqual([]);
    expect(fs.existsSync(root)).toBe(false);
  });

  it('reads runs written by MLflow (two-field metric lines, NaN spellings)', async () => {
    const root = path.join(tempDir(), 'mlruns');
    const run = path.join(root, '5', 'abc123');
    for (const sub of ['metrics', 'params', 'tags', 'artifacts']) fs.mkdirSync(path.join(run, sub), { recursive: true });
    fs.writeFileSync(path.join(root, '5', 'meta.yaml'), "artifact_location: file:///x/5\ncreation_time: 1\nexperiment_id: '5'\nlast_update_time: 1\nlifecycle_stage: active\nname: from mlflow\n");
    fs.writeFileSync(
      path.join(run, 'meta.yaml'),
      "artifact_uri: file:///x/5/abc123/artifacts\nend_time: 20\nentry_point_name: ''\nexperiment_id: '5'\nlifecycle_stage: active\nrun_id: abc123\nrun_name: old\nrun_uuid: abc123\nsource_name: ''\nsource_type: 4\nsource_version: ''\nstart_time: 10\nstatus: 3\ntags: []\nuser_id: me\n",
    );
    fs.writeFileSync(path.join(run, 'metrics', 'm'), '100 NaN\n200 Infinity 3\n');
    const store = new FileStore(root);
    const r = await store.getRun('abc123');
    expect(r.info).toMatchObject({ status: 'FINISHED', startTime: 10, endTime: 20, runName: 'old' });
    expect(r.data.metrics.m).toBe(Infinity);
    expect((await store.getMetricHistory('abc123', 'm'))[0]).toMatchObject({ step: 0, timestamp: 100 });
  });
});

describe('artifacts', () => {
  it('logs files and directory contents, lists and downloads them', async () => {
    const dir = tempDir();
    const store = new FileStore(path.join(dir, 'mlruns'));
    const exp = await store.getOrCreateExperiment('e');
    const r = await store.createRun({ experimentId: exp.experimentId, runName: 'r', userId: 'u', startTime: T0, tags: [] });
    fs.writeFileSync(path.join(dir, 'model.json'), '{"k":3}');
    fs.mkdirSync(path.join(dir, 'plots', 'sub'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'plots', 'a.svg'), '<svg/>');
    fs.writeFileSync(path.join(dir, 'plots', 'sub', 'b.txt'), 'b');
    await store.logArtifact(r.runId, path.join(dir, 'model.json'));
    await store.logArtifact(r.runId, path.join(dir, 'model.json'), 'model');
    await store.logArtifact(r.runId, path.join(dir, 'plots'), 'charts');
    expect(await store.listArtifacts(r.runId)).toEqual([
      { path: 'charts', isDir: true },
      { path: 'model', isDir: true },
      { path: 'model.json', isDir: false, size: 7 },
    ]);
    expect(await store.listArtifacts(r.runId, 'charts')).toEqual([
      { path: 'charts/a.svg', isDir: false, size: 6 },
      { path: 'charts/sub', isDir: true },
    ]);
    const out = path.join(dir, 'down');
    const f = await store.downloadArtifacts(r.runId, 'model/model.json', out);
    expect(fs.readFileSync(f, 'utf8')).toBe('{"k":3}');
    const d = await store.downloadArtifacts(r.runId, 'charts', out);
    expect(fs.readFileSync(path.join(d, 'sub', 'b.txt'), 'utf8')).toBe('b');
    await expect(store.logArtifact(r.runId, path.join(dir, 'model.json'), '../escape')).rejects.toMatchObject({ code: 'E_ARTIFACT_PATH' });
    await expect(store.downloadArtifacts(r.runId, 'nope', out)).rejects.toMatchObject({ code: 'E_ARTIFACT_NOT_FOUND' });
    await expect(store.logArtifact(r.runId, path.join(dir, 'missing.txt'))).rejects.toMatchObject({ code: 'E_ARTIFACT_SOURCE' });
    expect(leftovers(store.root)).toEqual([]);
    expect(leftovers(out)).toEqual([]);
  });
});

describe('tracking URIs', () => {
  it('resolves file: URIs and plain paths', async () => {
    const cwd = tempDir();
    expect(fileUriToPath('file:./mlruns', cwd)).toBe(path.join(cwd, 'mlruns'));
    expect(fileUriToPath('file:mlruns', cwd)).toBe(path.join(cwd, 'mlruns'));
    expect(fileUriToPath('mlruns', cwd)).toBe(path.join(cwd, 'mlruns'));
    expect(fileUriToPath(pathToFileURL(path.join(cwd, 'a b')).href, '/')).toBe(path.join(cwd, 'a b'));
    expect(fileUriToPath('file:/abs/x', cwd)).toBe('/abs/x');
    const store = await openStore('file:./mlruns', { cwd });
    expect(store).toBeInstanceOf(FileStore);
    expect(store.displayUri).toBe(pathToFileURL(path.join(cwd, 'mlruns')).href);
  });
  it('refuses other schemes with a clear error, secrets masked', async () => {
    await expect(openStore('ftp://user:hunter22@host/x')).rejects.toMatchObject({ code: 'E_TRACKING_URI', kind: 'usage' });
    await expect(openStore('ftp://user:hunter22@host/x')).rejects.toSatisfy((e: Error) => !e.message.includes('hunter22'));
  });
});
