/**
 * Runs launched by `mlflow run`. An MLflow Project's launcher opens a run of its own before it
 * starts the entry point's command, and hands it over in the environment: MLFLOW_RUN_ID (that run),
 * MLFLOW_EXPERIMENT_ID (its experiment) and MLFLOW_TRACKING_URI (its store). lpclust nests the runs
 * it starts under that run, in that experiment, so that one launch is one tree in the MLflow UI
 * instead of a launcher run in one experiment and unlinked lpclust runs in another.
 */
import { inputError, isLpclustError } from '../errors.js';
import type { Experiment, Run, TrackingStore } from './store.js';

/** Where the runs of this process go when it was started by `mlflow run` (or with MLFLOW_EXPERIMENT_ID). */
export interface LaunchTarget {
  /** The experiment to log into (of MLFLOW_RUN_ID's run, else MLFLOW_EXPERIMENT_ID). */
  experiment: Experiment;
  /** The launcher's run (MLFLOW_RUN_ID): the parent of the top-level runs lpclust starts. */
  parentRunId?: string;
}

/** Settings that apply to every run this process starts without a parent of its own (set by the CLI). */
export const launchDefaults: { parentRunId?: string } = {};

/**
 * Read MLFLOW_RUN_ID and MLFLOW_EXPERIMENT_ID and check them against `store`.
 * @returns null when neither is set
 * @throws LpclustError E_LAUNCH_RUN when MLFLOW_RUN_ID names no run of the store,
 *   E_LAUNCH_EXPERIMENT when MLFLOW_EXPERIMENT_ID names no experiment of it
 */
export async function launchTargetFromEnv(store: TrackingStore, env: Record<string, string | undefined>): Promise<LaunchTarget | null> {
  const runId = env.MLFLOW_RUN_ID?.trim() || undefined;
  const experimentId = env.MLFLOW_EXPERIMENT_ID?.trim() || undefined;
  if (!runId && !experimentId) return null;
  let expId = experimentId;
  if (runId) {
    let run: Run;
    try {
      run = await store.getRun(runId);
    } catch (e) {
      if (!(isLpclustError(e) && e.code === 'E_RUN_NOT_FOUND')) throw e;
      throw inputError('E_LAUNCH_RUN', `MLFLOW_RUN_ID=${runId} (the run \`mlflow run\` opened) names no run in ${store.displayUri}`, {
        hint: 'lpclust nests its runs under that run: keep the MLFLOW_TRACKING_URI `mlflow run` sets (no --tracking-uri of another store), or unset MLFLOW_RUN_ID outside `mlflow run`',
        cause: e,
      });
    }
    // The run's own experiment decides: children in another experiment would not nest in the UI.
    expId = run.info.experimentId;
  }
  const experiment = (await store.listExperiments()).find((e) => e.experimentId === expId);
  if (!experiment) {
    throw inputError('E_LAUNCH_EXPERIMENT', `MLFLOW_EXPERIMENT_ID=${expId} names no active experiment in ${store.displayUri}`, {
      hint: 'unset MLFLOW_EXPERIMENT_ID, or give the id of an existing experiment (lpclust runs lists them)',
    });
  }
  return { experiment, ...(runId ? { parentRunId: runId } : {}) };
}
