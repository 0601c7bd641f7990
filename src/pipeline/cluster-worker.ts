/**
 * Worker thread of a {@link ClusterPool}: takes tasks one at a time and answers each with its result
 * or its error. Stateless: every task carries its (shared) arrays.
 */
import { parentPort } from 'node:worker_threads';
import { isLpclustError } from '../errors.js';
import { euclideanMatrixRows } from '../cluster/euclidean.js';
import type { ClusterSpec } from '../cluster/fit.js';
import { euclideanDistanceTileRow, silhouetteEuclideanPartial, type SilhouetteLayout } from '../validate/silhouette.js';
import { runClusterWork, type ClusterData } from './cluster-work.js';

/** A unit of work for the pool. */
export type PoolTask =
  | { kind: 'fit'; data: ClusterData; spec: ClusterSpec }
  /** Rows [i0, i0 + 64) of the exact Euclidean matrix, into the shared `out` (n × n). */
  | { kind: 'euclidean-rows'; X: Float64Array; L: number; out: Float64Array; i0: number }
  /** Rows [r0, r0 + 128) of k-medoids' float32 Euclidean matrix (more than 12,000 rows), into the shared `out` (n × n). */
  | { kind: 'kmedoids-rows'; X: Float64Array; L: number; out: Float32Array; r0: number }
  /** One partial sum of the Euclidean silhouette (validate/silhouette.ts). */
  | { kind: 'silhouette-partial'; layout: SilhouetteLayout; part: number };

/** main → worker. */
export interface PoolRequest {
  id: number;
  task: PoolTask;
}

/** An error as it crosses the thread boundary (rebuilt as an LpclustError when it was one). */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  kind?: string;
  code?: string;
  hint?: string;
  where?: Record<string, unknown>;
}

/** worker → main. */
export type PoolReply = { id: number; result: unknown } | { id: number; error: SerializedError };

function serialize(e: unknown): SerializedError {
  if (!(e instanceof Error)) return { name: 'Error', message: String(e) };
  const out: SerializedError = { name: e.name, message: e.message, ...(e.stack ? { stack: e.stack } : {}) };
  if (isLpclustError(e)) Object.assign(out, { kind: e.kind, code: e.code, ...(e.hint ? { hint: e.hint } : {}), ...(e.where ? { where: e.where } : {}) });
  return out;
}

const port = parentPort;
if (port) {
  port.on('message', (msg: PoolRequest) => {
    const { id, task } = msg;
    try {
      if (task.kind === 'fit') {
        const r = runClusterWork(task.data, task.spec);
        // The fit's own arrays are not shared: hand them over instead of copying them.
        const transfer = [r.fit.labels, r.fit.sizes, r.fit.centres, r.fit.medoidRows, r.fit.linkageMatrix, r.validation.silhouetteSamples, r.validation.silhouetteDtwSamples]
          .filter((a): a is NonNullable<typeof a> => a !== undefined && !(a.buffer instanceof SharedArrayBuffer))
          .map((a) => a.buffer as ArrayBuffer);
        port.postMessage({ id, result: r } satisfies PoolReply, [...new Set(transfer)]);
      } else if (task.kind === 'euclidean-rows') {
        euclideanDistanceTileRow(task.X, task.L, task.out, task.i0);
        port.postMessage({ id, result: null } satisfies PoolReply);
      } else if (task.kind === 'silhouette-partial') {
        const acc = silhouetteEuclideanPartial(task.layout, task.part);
        port.postMessage({ id, result: acc } satisfies PoolReply, [acc.buffer as ArrayBuffer]);
      } else {
        euclideanMatrixRows({ data: task.X, n: task.X.length / task.L, dim: task.L }, task.out, task.r0);
        port.postMessage({ id, result: null } satisfies PoolReply);
      }
    } catch (e) {
      port.postMessage({ id, error: serialize(e) } satisfies PoolReply);
    }
  });
}
