/**
 * The checks a local store makes before it writes a batch, as MLflow's stores make them: valid
 * keys, a param key once per batch, text values within the limits, integer timestamps and steps.
 * A batch that fails any check writes nothing.
 */
import { usageError } from '../errors.js';
import { validateKey } from './file-format.js';
import { LIMITS, type Batch } from './store.js';

/** Check a tag (key and value length). @throws LpclustError E_TRACKING_KEY, E_TRACKING_VALUE */
export function checkTag(key: string, value: string): void {
  validateKey('tag', key);
  if (typeof value !== 'string') throw usageError('E_TRACKING_VALUE', `tag ${key}: expected a text value but received ${typeof value}`);
  if (value.length > LIMITS.tagValue) {
    throw usageError('E_TRACKING_VALUE', `tag ${key}: expected at most ${LIMITS.tagValue} characters but received ${value.length}`);
  }
}

/**
 * Check every entry of a batch before anything is written.
 * @throws LpclustError E_TRACKING_KEY, E_TRACKING_DUPLICATE, E_TRACKING_VALUE
 */
export function checkBatch(batch: Batch): void {
  const seen = new Set<string>();
  for (const p of batch.params ?? []) {
    validateKey('param', p.key);
    if (seen.has(p.key)) throw usageError('E_TRACKING_DUPLICATE', `param ${p.key} appears twice in one batch`);
    seen.add(p.key);
    if (typeof p.value !== 'string') throw usageError('E_TRACKING_VALUE', `param ${p.key}: expected a text value but received ${typeof p.value}`);
    if (p.value.length > LIMITS.paramValue) {
      throw usageError('E_TRACKING_VALUE', `param ${p.key}: expected at most ${LIMITS.paramValue} characters but received ${p.value.length}`, {
        hint: 'log long values as artifacts (ActiveRun.logParams does so automatically)',
      });
    }
  }
  for (const m of batch.metrics ?? []) {
    validateKey('metric', m.key);
    if (typeof m.value !== 'number') throw usageError('E_TRACKING_VALUE', `metric ${m.key}: expected a number but received ${typeof m.value}`);
    if (!Number.isInteger(m.timestamp)) throw usageError('E_TRACKING_VALUE', `metric ${m.key}: expected an integer ms timestamp but received ${m.timestamp}`);
    if (!Number.isInteger(m.step)) throw usageError('E_TRACKING_VALUE', `metric ${m.key}: expected an integer step but received ${m.step}`);
  }
  for (const t of batch.tags ?? []) checkTag(t.key, t.value);
}
