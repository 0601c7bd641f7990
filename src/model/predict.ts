/**
 * Assign new days to the clusters of a saved model: check the input contract (resolution and
 * slots), normalise as the model did, and take the nearest centre under the model's metric
 * (squared Euclidean, or banded DTW with the model's radius and precision), with the distance to
 * it and the margin to the second-nearest centre as a confidence.
 */
import { inputError } from '../errors.js';
import { normalizeRows } from '../profiles/normalize.js';
import { selectKernel } from '../dtw/kernel.js';
import { ASSIGN_CHUNK_ROWS, assignChunk } from '../dtw/assign.js';
import { envelopes } from '../dtw/bounds.js';
import { radiusFromJson } from '../dtw/settings.js';
import type { LpclustModel } from './artifact.js';

/** Result of {@link Predictor.predict} for n rows. */
export interface Prediction {
  /** Nearest cluster of each row (0 = largest training cluster); length n. */
  labels: Int32Array;
  /** Distance to that cluster's centre (Euclidean or DTW, in normalised units); length n. */
  distance: Float64Array;
  /** Distance to the second-nearest centre minus `distance` (≥ 0; larger = more confident); length n. */
  margin: Float64Array;
}

/**
 * Check that the slot labels of an input match the model's.
 * @param where the input's name for messages (file name, "request")
 * @throws LpclustError E_MODEL_INPUT_RESOLUTION (different slot count), E_MODEL_INPUT_SLOTS (same count, other labels)
 */
export function checkInputSlots(model: LpclustModel, slots: readonly string[], where: string): void {
  const want = model.input.slots;
  if (slots.length !== want.length) {
    const res = 1440 / slots.length;
    throw inputError(
      'E_MODEL_INPUT_RESOLUTION',
      `${where} has ${slots.length} slot columns (${Number.isInteger(res) ? `${res}-minute` : 'irregular'} resolution) but the model expects ${want.length} (${model.input.resolution_minutes}-minute resolution, ${want[0]}..${want[want.length - 1]})`,
      { hint: resolutionAdvice(res, model.input.resolution_minutes), where: { file: where } },
    );
  }
  for (let j = 0; j < want.length; j++) {
    if (slots[j] !== want[j]) {
      throw inputError('E_MODEL_INPUT_SLOTS', `${where}: slot column ${j + 1} is "${slots[j]}" but the model expects "${want[j]}"`, {
        hint: 'give the slot columns in the model\'s order, named as in its training data',
        where: { file: where, field: String(slots[j]) },
      });
    }
  }
}

/**
 * What can make an input of `have`-minute slots fit a model of `want`-minute slots. Coarser data
 * cannot be split into finer slots (the detail is not there), so the advice is then to retrain at
 * the input's resolution or to rebuild the input from finer raw readings; finer data can be summed.
 */
export function resolutionAdvice(have: number, want: number): string {
  const etl = (m: number): string => `lpclust etl <source> --resolution ${m} ... then lpclust harmonize`;
  if (!Number.isInteger(have)) return `give one column per ${want}-minute slot (${1440 / want} columns, as the model was trained)`;
  if (have > want) {
    return (
      `${have}-minute data cannot be split into ${want}-minute slots. Either train a model at ${have} minutes ` +
      `(lpclust pipeline --resolution ${have}, or ${etl(have)} and lpclust cluster), or, if the raw readings ` +
      `have ${want}-minute detail, rebuild this input from them at ${want} minutes (${etl(want)})`
    );
  }
  if (want % have === 0) {
    return `rebuild this input at ${want} minutes from the raw readings (${etl(want)}), or sum each ${want / have} consecutive slots; or train a model at ${have} minutes (lpclust pipeline --resolution ${have})`;
  }
  return `${have}-minute slots do not add up to ${want}-minute ones: rebuild this input at ${want} minutes from the raw readings (${etl(want)}), or train a model at ${have} minutes (lpclust pipeline --resolution ${have})`;
}

/** A loaded model ready to assign rows (centres kept as typed arrays). */
export class Predictor {
  readonly model: LpclustModel;
  /** Slots per row. */
  readonly L: number;
  readonly k: number;
  /** Assignment centres, k × L row-major (centres or medoid profiles). */
  readonly centres: Float64Array;

  constructor(model: LpclustModel) {
    this.model = model;
    this.L = model.input.slots.length;
    this.k = model.k;
    const src = model.assign_to === 'medoids' && model.medoids ? model.medoids.map((m) => m.profile) : model.centres;
    this.centres = new Float64Array(this.k * this.L);
    src.forEach((row, c) => this.centres.set(row, c * this.L));
  }

  /**
   * Assign raw (un-normalised) rows: {@link normalize} then {@link predictNormalized}.
   * @param values n × L values in Wh per slot, row-major
   * @param rowName names row i for errors (e.g. `meter 7 on 2013-01-02 (new.csv, line 3)`)
   * @throws LpclustError E_DEGENERATE_PROFILE for a row the normalisation cannot handle, E_INPUT_NAN for non-finite values
   */
  predict(values: Float64Array, rowName?: (i: number) => string): Prediction {
    return this.predictNormalized(this.normalize(values, rowName));
  }

  /**
   * The rows as the model compares them: checked, normalised as its training rows were, in its
   * precision. A caller holding many rows can drop the raw ones before {@link predictNormalized}.
   * @throws LpclustError as {@link predict}
   */
  normalize(values: Float64Array, rowName?: (i: number) => string): Float32Array | Float64Array {
    const { L } = this;
    const n = values.length / L;
    if (!Number.isInteger(n)) throw inputError('E_MODEL_INPUT_SHAPE', `Expected rows of ${L} values but received ${values.length} values`);
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i])) {
        const r = Math.floor(i / L);
        throw inputError('E_INPUT_NAN', `Expected finite values but ${rowName ? rowName(r) : `row ${r + 1}`} has ${values[i]} in slot ${this.model.input.slots[i % L]}`);
      }
    }
    // A float32 DTW model reads float32 rows: normalised straight into them (the same values as
    // rounding the float64 ones), so no float64 copy of the normalised rows is held.
    const float32 = this.model.metric === 'dtw' && this.model.dtw!.precision === 'float32';
    return normalizeRows(values, L, this.model.normalization, rowName, { float32 });
  }

  /**
   * Assign rows that are already normalised as the model's training rows (n × L; float32 rows are
   * sampled mode's training rows, compared with float32 DTW models as they are).
   */
  predictNormalized(X: Float32Array | Float64Array): Prediction {
    const { L, k, centres } = this;
    const n = X.length / L;
    if (this.model.metric === 'dtw') {
      // The fit's precision: float64 rows for float64 distances, float32 ones (rounded once) for float32.
      const float32 = this.model.dtw!.precision === 'float32';
      return this.predictDtw(float32 ? (X instanceof Float32Array ? X : new Float32Array(X)) : X instanceof Float64Array ? X : new Float64Array(X));
    }
    const D = new Float64Array(n * k);
    if (this.model.metric === 'euclidean') {
      // Squared distances compared exactly as the fit's assignment does (same summation order).
      for (let i = 0; i < n; i++) {
        const ri = i * L;
        for (let c = 0; c < k; c++) {
          const rc = c * L;
          let s = 0;
          for (let t = 0; t < L; t++) {
            const d = X[ri + t] - centres[rc + t];
            s += d * d;
          }
          D[i * k + c] = s;
        }
      }
    }
    const labels = new Int32Array(n);
    const distance = new Float64Array(n);
    const margin = new Float64Array(n);
    const squared = this.model.metric === 'euclidean';
    for (let i = 0; i < n; i++) {
      let best = Infinity;
      let second = Infinity;
      let bc = 0;
      for (let c = 0; c < k; c++) {
        const d = D[i * k + c];
        // Strict < : ties go to the lowest cluster id, as in the fit.
        if (d < best) {
          second = best;
          best = d;
          bc = c;
        } else if (d < second) second = d;
      }
      labels[i] = bc;
      const b = squared ? Math.sqrt(best) : best;
      const s = squared ? Math.sqrt(second) : second;
      distance[i] = b;
      margin[i] = s - b;
    }
    return { labels, distance, margin };
  }

  /**
   * DTW models: the nearest-centre assignment of dtw/assign.ts, by chunks of rows, so no n × k
   * distance table is held, in the model's precision (float32 rows: the centres rounded to float32
   * and every distance accumulated in float32, as the float32 DTW matrix and sampled mode compute
   * them; DTW is symmetric to the bit, so the centre-as-row orientation changes nothing). Same
   * labels, distances and margins as computing every distance (ties: lowest cluster id).
   */
  private predictDtw(X: Float32Array | Float64Array): Prediction {
    const { L, centres } = this;
    const n = X.length / L;
    const radius = radiusFromJson(this.model.dtw!.radius);
    const env = envelopes(centres, L, radius);
    const kernel = selectKernel();
    const labels = new Int32Array(n);
    const distance = new Float64Array(n);
    const margin = new Float64Array(n);
    const n2 = new Int32Array(Math.min(n, ASSIGN_CHUNK_ROWS));
    const d2 = new Float64Array(Math.min(n, ASSIGN_CHUNK_ROWS));
    for (let r0 = 0; r0 < n; r0 += ASSIGN_CHUNK_ROWS) {
      const r1 = Math.min(n, r0 + ASSIGN_CHUNK_ROWS);
      const h = r1 - r0;
      const d1 = distance.subarray(r0, r1);
      assignChunk(X, L, r0, r1, centres, env, kernel, radius, { second: true }, { n1: labels.subarray(r0, r1), d1, n2: n2.subarray(0, h), d2: d2.subarray(0, h) });
      for (let i = 0; i < h; i++) margin[r0 + i] = d2[i] - d1[i];
    }
    return { labels, distance, margin };
  }
}

/** Fraction of equal entries of two label arrays of the same length (1 for empty arrays). */
export function labelAgreement(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`Expected label arrays of the same length but received ${a.length} and ${b.length}`);
  if (a.length === 0) return 1;
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}
