/**
 * `predict --model runs:/<id>/model` with the ids a user copies, against a local FileStore:
 * prefixes, pipeline and sweep parents, the `mlflow run` launcher, and runs without a model.
 * (The same checks against a tracking server: test/tracking-rest/model-runs.test.ts.)
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe } from 'vitest';
import { openStore } from '../../src/tracking/index.js';
import type { TrackingStore } from '../../src/tracking/store.js';
import { modelRunChecks, writeModelRuns, type ModelRunsScenario } from './model-runs-scenario.js';

let store: TrackingStore;
let ids: ModelRunsScenario;

beforeAll(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'lpclust-model-runs-'));
  store = await openStore(`file:${path.join(dir, 'mlruns')}`, { cwd: dir });
  ids = await writeModelRuns(store);
}, 60_000);

describe('runs:/<id>/model on a FileStore', () => {
  modelRunChecks(() => ({ store, ids }));
});
