/**
 * `predict --model runs:/<id>/model` with the ids a user copies, against a tracking server (the
 * contract server on loopback): prefixes, pipeline and sweep parents, the `mlflow run` launcher,
 * runs without a model, and a prefix two server runs share.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLpclustError } from '../../src/errors.js';
import { resolveModel } from '../../src/model/resolve.js';
import type { RestStore } from '../../src/tracking/rest-store.js';
import type { ContractServer } from '../support/contract-server.js';
import { modelRunChecks, writeModelRuns, type ModelRunsScenario } from '../model/model-runs-scenario.js';
import { restStore, startServer } from './helpers.js';

let server: ContractServer;
let store: RestStore;
let ids: ModelRunsScenario;

beforeAll(async () => {
  server = await startServer({ maxPageSize: 5 });
  store = restStore(server);
  ids = await writeModelRuns(store);
}, 60_000);

afterAll(async () => {
  store?.close();
  await server?.stop();
});

describe('runs:/<id>/model on a tracking server', () => {
  modelRunChecks(() => ({ store, ids }));

  it('a prefix two runs share: E_RUN_AMBIGUOUS listing both', async () => {
    // Give two server runs ids with a common 8-character prefix (the server assigns random ids).
    const rename = (from: string, to: string): void => {
      const run = server.runs.get(from)!;
      server.runs.delete(from);
      run.info.run_id = to;
      run.info.run_uuid = to;
      server.runs.set(to, run);
    };
    rename(ids.lone, `abcdef12${'1'.repeat(24)}`);
    rename(ids.pipelineHarmonization, `abcdef12${'2'.repeat(24)}`);
    try {
      await resolveModel('runs:/abcdef12/model', async () => store);
      expect.unreachable();
    } catch (e) {
      expect(isLpclustError(e) && e.code).toBe('E_RUN_AMBIGUOUS');
      expect((e as Error).message).toContain(`abcdef12${'1'.repeat(24)}`);
      expect((e as Error).message).toContain(`abcdef12${'2'.repeat(24)}`);
    } finally {
      rename(`abcdef12${'1'.repeat(24)}`, ids.lone);
      rename(`abcdef12${'2'.repeat(24)}`, ids.pipelineHarmonization);
    }
  });
});
