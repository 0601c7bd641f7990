/**
 * One front for both DTW kernels: validates every argument, then calls the native addon or the
 * TypeScript kernel. Both obey the same block contract and return identical values (see
 * kernel-js.ts for the precision statement).
 */
import { LpclustError } from '../errors.js';
import { log } from '../util/log.js';
import { checkRadius, effectiveRadius } from './settings.js';
import { dtwBlockJs, dtwDistanceJs, type DtwBlock, type DtwPrecision, type SeriesMatrix } from './kernel-js.js';
import { loadNative, nativeStatus, type NativeAddon } from './native.js';

// The choices live with the other DTW settings (an import-free module the CLI's option table reads).
import { KERNEL_CHOICES, type KernelChoice } from './settings.js';

export { KERNEL_CHOICES, type KernelChoice };

/** A resolved kernel. */
export interface DtwKernel {
  /** `native` or `js`. */
  name: 'native' | 'js';
  /** Instruction set (native: avx512f, avx2, sse2, portable; js: `scalar`). */
  isa: string;
  /**
   * Block contract (validated by {@link dtwBlock}): out[(i − r0)·(c1 − c0) + (j − c0)] = DTW(A_i, B_j).
   * `radius` is an integer in [0, L − 1].
   */
  block(A: SeriesMatrix, B: SeriesMatrix, L: number, b: DtwBlock, radius: number, out: SeriesMatrix, upper: boolean): void;
  /** The native nearest-candidate assignment (see {@link NativeAddon.assign}); absent from the TypeScript kernel and older addons. */
  assign?: NativeAddon['assign'];
}

const JS_KERNEL: DtwKernel = {
  name: 'js',
  isa: 'scalar',
  block(A, B, L, b, radius, out, upper) {
    const precision: DtwPrecision = out instanceof Float32Array ? 'float32' : 'float64';
    if (A === B) {
      dtwBlockJs(A, L, b, radius, out, precision, upper);
      return;
    }
    // Series against other series (centres): the block of the cross matrix, no symmetry.
    const w = b.c1 - b.c0;
    for (let i = b.r0; i < b.r1; i++) {
      const a = A.subarray(i * L, (i + 1) * L);
      for (let j = b.c0; j < b.c1; j++) out[(i - b.r0) * w + (j - b.c0)] = dtwDistanceJs(a, B.subarray(j * L, (j + 1) * L), radius, precision);
    }
  },
};

let warned = false;

/**
 * Resolve a kernel choice. `native` when the addon cannot load is an error (E_NATIVE_UNAVAILABLE);
 * `auto` then falls back to TypeScript and warns once per process.
 */
export function selectKernel(choice: KernelChoice = 'auto'): DtwKernel {
  if (choice === 'js') return JS_KERNEL;
  const addon = loadNative();
  if (addon) {
    return {
      name: 'native',
      isa: addon.isa,
      block(A, B, L, b, radius, out, upper) {
        addon.block(A, B, L, b.r0, b.r1, b.c0, b.c1, radius, out, upper);
      },
      ...(typeof addon.assign === 'function' ? { assign: addon.assign.bind(addon) } : {}),
    };
  }
  const st = nativeStatus();
  if (choice === 'native') {
    throw new LpclustError('external', 'E_NATIVE_UNAVAILABLE', `the native DTW kernel could not be loaded (tried ${st.reason})`, { hint: st.hint });
  }
  if (!warned) {
    warned = true;
    log.warn(`native DTW kernel not loaded, using the TypeScript kernel (slower). Tried: ${st.reason}. Fix: ${st.hint}`);
  }
  return JS_KERNEL;
}

function checkMatrix(m: SeriesMatrix, L: number, what: string): number {
  if (!(m instanceof Float32Array || m instanceof Float64Array)) throw new TypeError(`Expected a Float32Array or Float64Array for \`${what}\``);
  if (!Number.isInteger(L) || L < 1) throw new RangeError(`Expected a positive integer for \`L\` but received \`${L}\``);
  if (m.length % L !== 0) throw new RangeError(`Expected \`${what}\` to hold whole series of length ${L} but its length is ${m.length}`);
  return m.length / L;
}

/** Options of {@link dtwBlock} and {@link dtwToMany}. */
export interface DtwCallOptions {
  /** Kernel choice (default `auto`). */
  kernel?: KernelChoice | DtwKernel;
}

/**
 * Fill block {r0, r1, c0, c1} of the DTW distance matrix of the n × L series `data` into the
 * caller-owned `out` ((r1 − r0) × (c1 − c0), row-major, same element type as `data`; float32 data
 * accumulates in float32, float64 data in float64). With `upper`, only j > i is computed, the
 * diagonal gets 0 and j < i is left untouched.
 * @param radius Sakoe–Chiba radius in slots, or `Infinity` for full DTW
 */
export function dtwBlock(
  data: SeriesMatrix,
  L: number,
  block: DtwBlock,
  radius: number,
  out: SeriesMatrix,
  options: DtwCallOptions & { upper?: boolean } = {},
): void {
  const n = checkMatrix(data, L, 'data');
  checkRadius(radius);
  const { r0, r1, c0, c1 } = block;
  for (const [k, v] of Object.entries(block)) {
    if (!Number.isInteger(v) || v < 0 || v > n) throw new RangeError(`Expected \`${k}\` in [0, ${n}] but received \`${v}\``);
  }
  if (r1 < r0 || c1 < c0) throw new RangeError(`Expected r0 ≤ r1 and c0 ≤ c1 but received {r0: ${r0}, r1: ${r1}, c0: ${c0}, c1: ${c1}}`);
  if (out.constructor !== data.constructor) throw new TypeError('Expected `out` of the same element type as `data`');
  if (out.length < (r1 - r0) * (c1 - c0)) throw new RangeError(`Expected \`out\` of at least ${(r1 - r0) * (c1 - c0)} elements but it has ${out.length}`);
  const kernel = typeof options.kernel === 'object' ? options.kernel : selectKernel(options.kernel);
  kernel.block(data, data, L, block, effectiveRadius(radius, L), out, options.upper ?? false);
}

/**
 * DTW distances from each of the n series in `data` to each of the k series in `centres`
 * (one-to-many when k = 1; series against cluster centres), as an n × k row-major array of the
 * same element type as `data`. `centres` is converted to that type when it differs.
 * @param data n × L series, row-major
 * @param centres k × L series, row-major
 * @param radius Sakoe–Chiba radius, or `Infinity` for full DTW
 */
export function dtwToMany<T extends SeriesMatrix>(
  data: T,
  centres: SeriesMatrix,
  L: number,
  radius: number,
  options: DtwCallOptions & { out?: T } = {},
): T {
  const n = checkMatrix(data, L, 'data');
  const k0 = checkMatrix(centres, L, 'centres');
  checkRadius(radius);
  const Ctor = data.constructor as { new (x: ArrayLike<number> | number): T };
  const C = centres.constructor === data.constructor ? centres : new Ctor(centres);
  const out = options.out ?? new Ctor(n * k0);
  if (out.length < n * k0) throw new RangeError(`Expected \`out\` of at least ${n * k0} elements but it has ${out.length}`);
  const kernel = typeof options.kernel === 'object' ? options.kernel : selectKernel(options.kernel);
  kernel.block(data, C, L, { r0: 0, r1: n, c0: 0, c1: k0 }, effectiveRadius(radius, L), out, false);
  return out;
}

/**
 * DTW distance between two series of the same length, accumulated in float64.
 * @param radius Sakoe–Chiba radius in slots (|i − j| ≤ radius), or `Infinity` (default) for full DTW
 */
export function dtwDistance(a: ArrayLike<number>, b: ArrayLike<number>, radius = Infinity): number {
  checkRadius(radius);
  return dtwDistanceJs(a, b, radius, 'float64');
}
