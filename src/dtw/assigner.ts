/**
 * What scores candidate centre sets on all n rows in sampled mode: this machine's worker threads
 * ({@link AssignPool}, assign.ts) or the job queue (`QueueAssigner`, queue/assign.ts, rows split
 * into jobs taken by `lpclust worker` processes). Both give the same labels and distances.
 */
import type { AssignOptions, AssignResult } from './assign.js';

/** Nearest-centre assignment of one fixed set of n × L rows. */
export interface Assigner {
  /** Rows n and series length L of the rows it holds. */
  readonly n: number;
  readonly L: number;
  /** Element type of the rows it holds (float32: sampled mode's profiles; the queue's are float64). */
  readonly dtype: 'float32' | 'float64';
  /**
   * Nearest (and with `second`, second-nearest) candidate of every row.
   * @param M k × L candidate series, row-major
   * @param radius Sakoe–Chiba radius (0 = Euclidean distance)
   */
  assign(M: Float64Array, radius: number, options?: AssignOptions): Promise<AssignResult>;
  /** Release threads or connections. */
  close(): Promise<void>;
}
