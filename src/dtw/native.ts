/**
 * Loader of the native DTW addon (build/Release/lpclust_dtw.node, built from native/ by node-gyp
 * during `npm ci`). Loading never throws: when the addon is missing or broken, {@link loadNative}
 * returns null and {@link nativeStatus} says what was tried and how to fix it, so callers fall
 * back to the TypeScript kernel with one warning.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The functions the addon exports (see native/dtw_kernel.cc). */
export interface NativeAddon {
  /** Block contract; A, B, out all Float32Array or all Float64Array; radius already clamped ≥ 0. */
  block(
    A: Float32Array | Float64Array,
    B: Float32Array | Float64Array,
    L: number,
    r0: number,
    r1: number,
    c0: number,
    c1: number,
    radius: number,
    out: Float32Array | Float64Array,
    upper: boolean,
  ): void;
  /**
   * An uninitialised ArrayBuffer of `bytes` bytes whose memory starts on an
   * `align`-byte boundary (direct I/O needs it; absent from addons built before issue 16).
   */
  alignedBuffer?(bytes: number, align: number): ArrayBuffer;
  /**
   * A tile of the upper triangle for the matrix worker (r0 ≤ c0, A the n × L series): `out` (h × w)
   * the rows, on a diagonal tile with `full` both halves; `mirror` (w × h) the columns as rows
   * when given. The values of `block` (absent from addons built before issue 16).
   */
  tile?(A: Float32Array | Float64Array, L: number, r0: number, r1: number, c0: number, c1: number, radius: number, out: Float32Array | Float64Array, mirror: Float32Array | Float64Array | null, full: boolean): void;
  /**
   * One k-means restart (native/kmeans_kernel.cc; absent from addons built before it): the port of
   * `lloydHamerly`, bit for bit. `centres` (k × dim) is updated in place, `labels` (n) receives the
   * final labels; returns [inertia, iterations, re-seeded empty clusters].
   */
  kmeansLloyd?(data: Float64Array, n: number, dim: number, centres: Float64Array, k: number, maxIter: number, tolAbs: number, labels: Int32Array): [number, number, number];
  /**
   * `hartiganRefine` before its guard, bit for bit: the move passes on `labels` (n, in place); when
   * a row moved, the exact means into `centres` (k × dim) and the nearest-centre labels. Returns
   * [moves, inertia of the new labels].
   */
  kmeansHartigan?(data: Float64Array, n: number, dim: number, k: number, labels: Int32Array, maxPasses: number, centres: Float64Array): [number, number];
  /**
   * Nearest-candidate assignment of rows [r0, r1) of X to the k candidates M (native/dtw_kernel.cc;
   * absent from addons built before it): X and M both Float32Array or both Float64Array, `upper` /
   * `lower` the k × L envelopes of M (read only with `prune`), `margin` ≥ 1 the relative slack of the
   * bound test. Writes n1/d1 (and n2/d2 with `second`; else pass null) for the r1 − r0 rows and
   * returns the number of exact DTW distances computed. Same answer with and without `prune`.
   */
  assign?(
    X: Float32Array | Float64Array,
    M: Float32Array | Float64Array,
    L: number,
    r0: number,
    r1: number,
    radius: number,
    upper: Float64Array,
    lower: Float64Array,
    second: boolean,
    prune: boolean,
    margin: number,
    n1: Int32Array,
    d1: Float64Array,
    n2: Int32Array | null,
    d2: Float64Array | null,
  ): number;
  /**
   * DBA barycentre sums of rows [r0, r1) (src/dtw/dba-sums.ts `accumulateDbaChunk`, bit for bit; absent
   * from older addons): rows whose centre (labels[i − r0]) is active are aligned to it and added
   * into sums / counts (k × L) and cost (k).
   */
  dbaAccumulate?(
    X: Float32Array | Float64Array,
    L: number,
    r0: number,
    r1: number,
    labels: Int32Array,
    centres: Float64Array,
    active: Uint8Array,
    radius: number,
    sums: Float64Array,
    counts: Float64Array,
    cost: Float64Array,
  ): void;
  /** Instruction set of the clone in use: avx512f, avx2, sse2 or portable. */
  isa: string;
  abiVersion: number;
}

/** Whether the addon loaded, and if not why. */
export interface NativeStatus {
  loaded: boolean;
  /** Instruction set in use when loaded. */
  isa?: string;
  /** Paths tried, in order. */
  tried: string[];
  /** Why it did not load (first line of each failure). */
  reason?: string;
  /** How to fix it. */
  hint?: string;
}

/** Package root: src/dtw/ or dist/dtw/ are two levels below it. */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

let cached: { addon: NativeAddon | null; status: NativeStatus } | undefined;

/**
 * Candidate addon paths: `LPCLUST_NATIVE_PATH` if set (tests use it to simulate a missing addon),
 * then the node-gyp Release and Debug builds.
 */
function candidates(): string[] {
  const env = process.env.LPCLUST_NATIVE_PATH;
  if (env !== undefined && env !== '') return [path.resolve(env)];
  return [path.join(PACKAGE_ROOT, 'build', 'Release', 'lpclust_dtw.node'), path.join(PACKAGE_ROOT, 'build', 'Debug', 'lpclust_dtw.node')];
}

/** Load the addon once per thread (each worker thread loads its own instance). */
export function loadNative(): NativeAddon | null {
  if (cached) return cached.addon;
  const tried = candidates();
  const reasons: string[] = [];
  const require = createRequire(import.meta.url);
  for (const p of tried) {
    if (!existsSync(p)) {
      reasons.push(`${p}: not found`);
      continue;
    }
    try {
      const addon = require(p) as NativeAddon;
      if (typeof addon.block !== 'function' || addon.abiVersion !== 1) throw new Error('unexpected exports (stale build?)');
      cached = { addon, status: { loaded: true, isa: addon.isa, tried } };
      return addon;
    } catch (e) {
      reasons.push(`${p}: ${String((e as Error).message ?? e).split('\n')[0]}`);
    }
  }
  cached = {
    addon: null,
    status: {
      loaded: false,
      tried,
      reason: reasons.join('; '),
      hint: 'build it with `npm rebuild lpclust` or `npx node-gyp rebuild` in the lpclust folder (needs python3, make and a C++ compiler); meanwhile the TypeScript kernel is used (slower)',
    },
  };
  return null;
}

/** Status of the native addon (loads it if not done yet). */
export function nativeStatus(): NativeStatus {
  loadNative();
  return cached!.status;
}
