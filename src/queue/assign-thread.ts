/**
 * Worker thread of a queue worker's row-range assignment (queue/assign.ts): holds one dataset's
 * rows (float64 or float32 on a SharedArrayBuffer, read once per dataset) and answers each job — a row range
 * and a candidate set — with {@link assignChunk}, the same function this machine's AssignPool
 * runs, so a row gets the same nearest and second-nearest candidate and distance either way.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { envelopes, type Envelopes } from '../dtw/bounds.js';
import { selectKernel } from '../dtw/kernel.js';
import { assignChunk, type AssignOptions } from '../dtw/assign.js';
import type { KernelChoice } from '../dtw/kernel.js';

/** What the thread starts with. */
export interface AssignThreadData {
  /** n × L rows of `dtype`. */
  X: SharedArrayBuffer;
  /** Their element type (float32: sampled mode's DTW profiles; absent: float64). */
  dtype?: 'float32' | 'float64';
  L: number;
  kernel: KernelChoice;
}

/** main → thread: rows [r0, r1) against the k × L candidates M. */
export interface AssignThreadRequest {
  id: number;
  M: Float64Array;
  radius: number;
  r0: number;
  r1: number;
  options: AssignOptions;
}

/** thread → main (`ready` first, with the kernel the thread runs). */
export type AssignThreadReply =
  | { ready: { kernel: 'native' | 'js'; isa: string } }
  | { id: number; n1: Int32Array; d1: Float64Array; n2?: Int32Array; d2?: Float64Array; exact: number }
  | { id: number; error: string };

function main(): void {
  const port = parentPort!;
  const d = workerData as AssignThreadData;
  const X = d.dtype === 'float32' ? new Float32Array(d.X) : new Float64Array(d.X);
  const kernel = selectKernel(d.kernel);
  // The envelopes of a candidate set are rebuilt only when the set changes (one set per round).
  let last: { M: Float64Array; radius: number; env: Envelopes } | null = null;
  port.postMessage({ ready: { kernel: kernel.name, isa: kernel.isa } } satisfies AssignThreadReply);
  port.on('message', (m: AssignThreadRequest) => {
    try {
      if (!last || last.radius !== m.radius || Buffer.compare(bytes(last.M), bytes(m.M)) !== 0) last = { M: m.M, radius: m.radius, env: envelopes(m.M, d.L, m.radius) };
      const h = m.r1 - m.r0;
      const second = m.options.second ?? false;
      const out = { n1: new Int32Array(h), d1: new Float64Array(h), ...(second ? { n2: new Int32Array(h), d2: new Float64Array(h) } : {}) };
      const exact = assignChunk(X, d.L, m.r0, m.r1, m.M, last.env, kernel, m.radius, m.options, out);
      const transfer = [out.n1.buffer, out.d1.buffer, ...(out.n2 ? [out.n2.buffer, out.d2!.buffer] : [])] as ArrayBuffer[];
      port.postMessage({ id: m.id, ...out, exact } satisfies AssignThreadReply, transfer);
    } catch (e) {
      port.postMessage({ id: m.id, error: (e as Error).message } satisfies AssignThreadReply);
    }
  });
}

function bytes(a: Float64Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

main();
