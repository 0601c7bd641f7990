/**
 * Peaks of daily profiles and the peak-shape scores of the old pipeline.
 *
 * Peaks follow `scipy.signal.find_peaks`: a sample strictly higher than its neighbours; a flat top
 * (plateau) counts once, at its middle rounded down; the first and last samples are never peaks.
 * Prominence is SciPy's (`peak_prominences` with no window): from the peak, walk left while the
 * signal does not exceed the peak and take the lowest value seen, the same to the right; the
 * prominence is the peak's height above the higher of those two minima.
 */
import { inputError } from '../errors.js';
import { indexClusters, clusterMeans } from './labels.js';

/** The prominence threshold of "prominent" peaks, on normalised profiles (the old pipeline's). */
export const PROMINENCE_THRESHOLD = 0.2;

/** Peaks of one signal. */
export interface Peaks {
  /** Peak positions (sample indices), ascending. */
  positions: Int32Array;
  /** Prominence of each peak; same length as `positions`. */
  prominences: Float64Array;
}

/**
 * Find the peaks of a signal and their prominences, as `scipy.signal.find_peaks(x,
 * prominence=minProminence)` returns them (`peaks`, `properties["prominences"]`).
 * @param x the signal (NaN is refused)
 * @param minProminence keep peaks whose prominence is ≥ this (default: keep every local maximum)
 */
export function findPeaks(x: ArrayLike<number>, minProminence = -Infinity): Peaks {
  const n = x.length;
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(x[i])) throw inputError('E_VALIDATE_NAN', `Expected a signal without NaN but sample ${i} is NaN`);
  }
  const pos: number[] = [];
  const prom: number[] = [];
  const last = n - 1;
  let i = 1;
  while (i < last) {
    if (x[i - 1] < x[i]) {
      let ahead = i + 1;
      while (ahead < last && x[ahead] === x[i]) ahead++;
      if (x[ahead] < x[i]) {
        const peak = (i + ahead - 1) >> 1;
        const p = prominence(x, peak);
        if (p >= minProminence) {
          pos.push(peak);
          prom.push(p);
        }
        i = ahead;
      }
    }
    i++;
  }
  return { positions: Int32Array.from(pos), prominences: Float64Array.from(prom) };
}

/** SciPy's prominence of the peak at `peak` (no window). */
export function prominence(x: ArrayLike<number>, peak: number): number {
  const h = x[peak];
  let leftMin = h;
  for (let i = peak; i >= 0 && x[i] <= h; i--) if (x[i] < leftMin) leftMin = x[i];
  let rightMin = h;
  for (let i = peak; i < x.length && x[i] <= h; i++) if (x[i] < rightMin) rightMin = x[i];
  return h - (leftMin > rightMin ? leftMin : rightMin);
}

/**
 * Peak indicator vector: 1 at every peak of `x` with prominence ≥ `minProminence`, else 0.
 * @param minProminence default: every local maximum
 */
export function peakVector(x: ArrayLike<number>, minProminence = -Infinity): Uint8Array {
  const v = new Uint8Array(x.length);
  for (const p of findPeaks(x, minProminence).positions) v[p] = 1;
  return v;
}

/**
 * Maximum filter of width 3 on a 0/1 vector (`scipy.ndimage.maximum_filter1d(v, 3)`; at the ends
 * the window is clipped, which is what SciPy's default `reflect` mode amounts to): a peak also
 * covers its two neighbouring slots.
 */
export function widenPeaks(v: Uint8Array): Uint8Array {
  const n = v.length;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = v[i] | (i > 0 ? v[i - 1] : 0) | (i + 1 < n ? v[i + 1] : 0);
  }
  return out;
}

/** The peak-shape scores by their logged names. */
export interface PeakScores {
  /** Mean over profiles of P·C / |P| on all local maxima (1 when both have none, 0 when only P has none). */
  'Peak Match Score': number;
  /** Mean of P·C / |P| over profiles with prominent peaks (0 when no profile has one). */
  'Pr Peak Detection': number;
  /** Mean of (|C| − P·C) / |C| over profiles whose centre has prominent peaks (0 when no centre has one). */
  'Pr Peak Overdetection': number;
  /** Mean over profiles of P·C / max(|P|, |C|) (1 when both have no prominent peak). */
  'Pr Peak Performance': number;
  /** As `Pr Peak Performance` with the widened centre peaks R in the dot product. */
  'Rel Pr P Performance': number;
  /** As `Pr Peak Detection` with R in the dot product. */
  'Rel Pr P Detection': number;
  /** As `Pr Peak Overdetection` with R: (|C| − min(P·R, |C|)) / |C|. */
  'Rel Pr P Overdetection': number;
}

/**
 * Peak-shape scores comparing each profile's peaks with the peaks of its cluster's centre.
 * P: the profile's peak vector; C: its centre's; R: C widened by {@link widenPeaks}. Prominent
 * peaks have prominence ≥ `minProminence` (0.2 by default, on the normalised profile).
 * Relaxed overdetection counts at most |C| matches, since a widened centre peak can match two
 * profile peaks.
 * @param X n × L normalised profiles, row-major
 * @param labels cluster of each profile in 0..k-1; length n
 * @param centres k × L centres the model reports; default: per-cluster means
 */
export function peakScores(
  X: Float32Array | Float64Array,
  L: number,
  labels: ArrayLike<number>,
  centres?: Float64Array,
  minProminence = PROMINENCE_THRESHOLD,
): PeakScores {
  const n = X.length / L;
  if (!Number.isInteger(n) || labels.length !== n) throw inputError('E_VALIDATE_SHAPE', `Expected ${X.length / L} labels for ${X.length} values of ${L} slots but received ${labels.length}`);
  let centreOf: (i: number) => number;
  let C: Float64Array;
  if (centres === undefined) {
    const idx = indexClusters(labels);
    C = clusterMeans(X, L, idx);
    centreOf = (i) => idx.compact[i];
  } else {
    const k = centres.length / L;
    if (!Number.isInteger(k)) throw inputError('E_VALIDATE_SHAPE', `Expected centres with ${L} values per row but received ${centres.length} values`);
    indexClusters(labels, k);
    C = centres;
    centreOf = (i) => labels[i];
  }
  const kc = C.length / L;
  const allC: Uint8Array[] = [];
  const prC: Uint8Array[] = [];
  const relC: Uint8Array[] = [];
  for (let c = 0; c < kc; c++) {
    const row = C.subarray(c * L, c * L + L);
    allC.push(peakVector(row));
    const pr = peakVector(row, minProminence);
    prC.push(pr);
    relC.push(widenPeaks(pr));
  }
  let match = 0;
  let det = 0, detN = 0, relDet = 0;
  let over = 0, overN = 0, relOver = 0;
  let perf = 0, relPerf = 0;
  for (let i = 0; i < n; i++) {
    const row = X.subarray(i * L, i * L + L);
    const c = centreOf(i);
    const all = findPeaks(row);
    // Peak match on all local maxima.
    let nP = all.positions.length;
    let nC = count(allC[c]);
    let dot = 0;
    for (const p of all.positions) dot += allC[c][p];
    match += nP === 0 ? (nC === 0 ? 1 : 0) : dot / nP;
    // Prominent peaks: a subset of the local maxima, with the same prominences.
    nP = 0;
    dot = 0;
    let rdot = 0;
    for (let t = 0; t < all.positions.length; t++) {
      if (all.prominences[t] >= minProminence) {
        const p = all.positions[t];
        nP++;
        dot += prC[c][p];
        rdot += relC[c][p];
      }
    }
    nC = count(prC[c]);
    if (nP > 0) {
      det += dot / nP;
      relDet += rdot / nP;
      detN++;
    }
    if (nC > 0) {
      over += (nC - dot) / nC;
      relOver += (nC - Math.min(rdot, nC)) / nC;
      overN++;
    }
    const den = Math.max(nP, nC);
    perf += den === 0 ? 1 : dot / den;
    relPerf += den === 0 ? 1 : rdot / den;
  }
  return {
    'Peak Match Score': match / n,
    'Pr Peak Detection': detN === 0 ? 0 : det / detN,
    'Pr Peak Overdetection': overN === 0 ? 0 : over / overN,
    'Pr Peak Performance': perf / n,
    'Rel Pr P Performance': relPerf / n,
    'Rel Pr P Detection': detN === 0 ? 0 : relDet / detN,
    'Rel Pr P Overdetection': overN === 0 ? 0 : relOver / overN,
  };
}

function count(v: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i];
  return s;
}

/**
 * Distinctiveness of the centres: the mean, over pairs of centres (i < j), of the smallest
 * normalised Hamming distance (fraction of slots that differ, `scipy.spatial.distance.hamming`)
 * between their prominent-peak vectors, the first shifted circularly by −1, 0 or +1 slot.
 * 0 when there are fewer than 2 centres.
 * @param centres k × L centres, row-major
 */
export function distinctiveness(centres: Float64Array, L: number, minProminence = PROMINENCE_THRESHOLD): number {
  const k = centres.length / L;
  if (!Number.isInteger(k)) throw inputError('E_VALIDATE_SHAPE', `Expected centres with ${L} values per row but received ${centres.length} values`);
  const v: Uint8Array[] = [];
  for (let c = 0; c < k; c++) v.push(peakVector(centres.subarray(c * L, c * L + L), minProminence));
  let total = 0;
  let pairs = 0;
  for (let a = 0; a < k; a++) {
    for (let b = a + 1; b < k; b++) {
      let best = Infinity;
      for (const shift of [-1, 0, 1]) {
        let diff = 0;
        for (let t = 0; t < L; t++) {
          // np.roll(v, shift)[t] = v[t - shift]
          if (v[a][(((t - shift) % L) + L) % L] !== v[b][t]) diff++;
        }
        if (diff / L < best) best = diff / L;
      }
      total += best;
      pairs++;
    }
  }
  return pairs === 0 ? 0 : total / pairs;
}
