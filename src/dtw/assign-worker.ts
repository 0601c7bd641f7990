/**
 * Worker thread of {@link AssignPool} (assign.ts): holds the shared profiles, answers each request
 * (a chunk of rows and the candidate series) with the chunk's nearest candidates, or (DBA k-means)
 * with the chunk's barycentre sums. The envelopes of a candidate set are rebuilt only when the set
 * changes.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { envelopes, type Envelopes } from './bounds.js';
import { selectKernel } from './kernel.js';
import { assignChunk, type AssignReply, type AssignRequest, type AssignWorkerData, type DbaRequest } from './assign.js';
import { BandedDtw } from './banded.js';
import { accumulateDbaChunk } from './dba-sums.js';

function main(): void {
  const port = parentPort!;
  const d = workerData as AssignWorkerData;
  const X = d.dtype === 'float32' ? new Float32Array(d.X) : new Float64Array(d.X);
  const kernel = selectKernel(d.kernel);
  let lastM: Float64Array | null = null;
  let lastRadius = -1;
  let env: Envelopes | null = null;
  let dtw: BandedDtw | null = null;
  port.on('message', (q: AssignRequest | DbaRequest) => {
    try {
      if ('kind' in q) {
        const m = q;
        if (!dtw || dtw.r !== m.radius) dtw = new BandedDtw(d.L, m.radius);
        const out = accumulateDbaChunk(X, d.L, m.r0, m.r1, m.labels, m.centres, m.k, m.active, dtw);
        port.postMessage({ id: m.id, ...out } satisfies AssignReply, [out.sums.buffer, out.counts.buffer, out.cost.buffer] as ArrayBuffer[]);
        return;
      }
      const m = q;
      if (!env || lastRadius !== m.radius || !sameValues(lastM!, m.M)) {
        env = envelopes(m.M, d.L, m.radius);
        lastM = m.M;
        lastRadius = m.radius;
      }
      const h = m.r1 - m.r0;
      const second = m.options.second ?? false;
      const out = { n1: new Int32Array(h), d1: new Float64Array(h), ...(second ? { n2: new Int32Array(h), d2: new Float64Array(h) } : {}) };
      const exact = assignChunk(X, d.L, m.r0, m.r1, m.M, env, kernel, m.radius, m.options, out);
      const transfer = [out.n1.buffer, out.d1.buffer, ...(out.n2 ? [out.n2.buffer, out.d2!.buffer] : [])] as ArrayBuffer[];
      port.postMessage({ id: m.id, ...out, exact } satisfies AssignReply, transfer);
    } catch (e) {
      port.postMessage({ id: q.id, error: (e as Error).message } satisfies AssignReply);
    }
  });
}

function sameValues(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

main();
