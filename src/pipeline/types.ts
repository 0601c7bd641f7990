/**
 * What every tracked stage (etl, harmonize, dtw, cluster, validate) takes and returns, so that the
 * CLI commands and the pipeline call stages the same way.
 */
import type { TrackingStore } from '../tracking/store.js';

/** Where a stage logs its run. */
export interface StageTracking {
  store: TrackingStore;
  experimentName: string;
  /** Set when the stage runs inside the pipeline (nested run). */
  parentRunId?: string;
  /** Extra tags for the stage's run. */
  tags?: Record<string, string>;
}

/** What a tracked stage returns. */
export interface StageResult<T> {
  /** The MLflow run id of the stage. */
  runId: string;
  /** The metrics it logged, by their logged names. */
  metrics: Record<string, number>;
  /** Stage-specific outputs (paths, counts, ...). */
  outputs: T;
}
