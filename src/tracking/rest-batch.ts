/**
 * Splitting a {@link Batch} into `runs/log-batch` requests that a tracking server accepts:
 * ≤ 100 params, ≤ 100 tags, ≤ 1000 metrics and ≤ 1000 entities per request, and never the same
 * key twice in one request (MLflow answers 400). Values of one metric key keep their order: the
 * i-th value of a key always goes to a later request than the (i−1)-th, so a history uploaded in
 * pieces reads back in logging order.
 */
import { LIMITS, type Batch, type Metric, type Param, type Tag } from './store.js';

/** Per-request limits (the server's by default; tests may pass smaller ones). */
export interface BatchLimits {
  params: number;
  tags: number;
  metrics: number;
  entities: number;
}

/** MLflow's limits. */
export const SERVER_BATCH_LIMITS: BatchLimits = {
  params: LIMITS.batchParams,
  tags: LIMITS.batchTags,
  metrics: LIMITS.batchMetrics,
  entities: LIMITS.batchEntities,
};

interface Chunk {
  params: Param[];
  tags: Tag[];
  metrics: Metric[];
  keys: Set<string>;
}

type Kind = 'params' | 'tags' | 'metrics';

/**
 * Split a batch into requests within `limits`, packing first-fit while keeping each key's values
 * in order. A param logged twice with the same value in one batch is sent once.
 * @returns the requests in the order they must be sent (never empty ones).
 */
export function splitBatch(batch: Batch, limits: BatchLimits = SERVER_BATCH_LIMITS): Required<Batch>[] {
  const chunks: Chunk[] = [];
  const lastChunkOfKey = new Map<string, number>();
  // First chunk that may still have room for a kind; avoids rescanning full chunks (O(n) overall for typical batches).
  const firstOpen: Record<Kind, number> = { params: 0, tags: 0, metrics: 0 };
  const seenParam = new Map<string, string>();

  const place = (kind: Kind, entity: Param | Tag | Metric): void => {
    const keyId = `${kind}\u0000${entity.key}`;
    const after = lastChunkOfKey.get(keyId);
    let i = Math.max(firstOpen[kind], after === undefined ? 0 : after + 1);
    for (; ; i++) {
      if (i === chunks.length) chunks.push({ params: [], tags: [], metrics: [], keys: new Set() });
      const c = chunks[i];
      const total = c.params.length + c.tags.length + c.metrics.length;
      if (c[kind].length >= limits[kind] || total >= limits.entities) {
        if (i === firstOpen[kind]) firstOpen[kind] = i + 1;
        continue;
      }
      if (c.keys.has(keyId)) continue;
      (c[kind] as Array<Param | Tag | Metric>).push(entity);
      c.keys.add(keyId);
      lastChunkOfKey.set(keyId, i);
      return;
    }
  };

  for (const p of batch.params ?? []) {
    if (seenParam.get(p.key) === p.value) continue;
    seenParam.set(p.key, p.value);
    place('params', p);
  }
  for (const t of batch.tags ?? []) place('tags', t);
  for (const m of batch.metrics ?? []) place('metrics', m);
  return chunks.map((c) => ({ params: c.params, tags: c.tags, metrics: c.metrics }));
}
