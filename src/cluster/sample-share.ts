/**
 * What the sampled fits of one dataset share when they run for many k (`-k 0`) or many
 * configurations (`sweep`): the seeded sample's s × s DTW (or Euclidean) matrix and the
 * agglomerative tree built on it.
 *
 * Every sampled fit draws its first sample from a fresh generator of its seed (FasterCLARA's first
 * sample and the agglomerative sample are the same rows for the same seed and size), so with one
 * sample size for every k — the largest k's, see scale.ts — the first sample is the same rows at
 * every k, and its matrix (and, for agglomerative, the tree on it, which does not depend on k) is
 * computed once. A fit at a single k gets exactly what it computes alone: the cached matrix holds
 * the same values. FasterCLARA's later samples contain the medoids found so far, which depend on
 * k, and are not shared.
 *
 * The lower-bound envelopes need no sharing: they are those of the k candidate series (k × L, built
 * in microseconds per assignment, dtw/bounds.ts), not of the n profiles.
 */
import type { DistanceMatrix, RowValues, Rows } from './common.js';

/** FNV-1a over the indices: the cache key's cheap part (a hit is then checked element by element). */
function hashIndices(idx: Int32Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < idx.length; i++) {
    h ^= idx[i];
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

function sameIndices(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The sample matrices and agglomerative trees of one dataset (see the file's header). */
export class SampleShare {
  readonly rows: Rows<RowValues>;
  private readonly matrices = new Map<string, { idx: Int32Array; D: DistanceMatrix }>();
  private readonly trees = new Map<string, { idx: Int32Array; Z: Float64Array }>();
  /** Sample matrices computed, and served again from the cache. */
  computed = 0;
  reused = 0;

  /**
   * @param rows the dataset's rows (the fits' rows must hold the same values: the same file under the same normalisation)
   * @param maxMatrices sample matrices kept at once (s² float64 each; default 2), the oldest dropped
   */
  constructor(
    rows: Rows<RowValues>,
    private readonly maxMatrices = 2,
  ) {
    this.rows = rows;
  }

  /**
   * The matrix of the sample `idx` under `radius` (0 = Euclidean), computed by `build` at the first
   * call and kept. Callers must not modify it.
   */
  matrix(idx: Int32Array, radius: number, build: () => DistanceMatrix): DistanceMatrix {
    const key = `${radius}:${idx.length}:${hashIndices(idx)}`;
    const hit = this.matrices.get(key);
    if (hit && sameIndices(hit.idx, idx)) {
      this.reused++;
      return hit.D;
    }
    const D = build();
    this.computed++;
    if (this.matrices.size >= this.maxMatrices) this.matrices.delete(this.matrices.keys().next().value!);
    this.matrices.set(key, { idx: Int32Array.from(idx), D });
    return D;
  }

  /** The agglomerative tree (linkage matrix) of the sample `idx`, built by `build` at the first call. */
  tree(idx: Int32Array, what: string, build: () => Float64Array): Float64Array {
    const key = `${what}:${idx.length}:${hashIndices(idx)}`;
    const hit = this.trees.get(key);
    if (hit && sameIndices(hit.idx, idx)) return hit.Z;
    const Z = build();
    this.trees.set(key, { idx: Int32Array.from(idx), Z });
    return Z;
  }
}
