import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { Random } from '../../src/util/random.js';
import { dtwNaive, dtwPathNaive } from '../../src/dtw/reference.js';
import { type KernelChoice, dtwBlock, dtwDistance, dtwToMany, BandedDtw, selectKernel, loadNative, nativeStatus, dtwDistanceJs } from '../../src/dtw/index.js';

const HAND_A = [0, 1, 2, 3, 0, 0, 0];
const HAND_B = [0, 0, 0, 1, 2, 3, 0];

function randomMatrix(rng: Random, n: number, L: number): Float64Array {
  const m = new Float64Array(n * L);
  for (let i = 0; i < m.length; i++) m[i] = rng.normal();
  return m;
}

const native = loadNative();
const KERNELS: KernelChoice[] = native ? ['js', 'native'] : ['js'];

describe('DTW hand values', () => {
  it('pins radius 0 (√22), 1 (√12), 2 (0) and full DTW', () => {
    expect(dtwDistance(HAND_A, HAND_B, 0)).toBe(Math.sqrt(22));
    expect(dtwDistance(HAND_A, HAND_B, 1)).toBe(Math.sqrt(12));
    expect(dtwDistance(HAND_A, HAND_B, 2)).toBe(0);
    expect(dtwDistance(HAND_A, HAND_B)).toBe(0);
    expect(dtwDistance([0, 0], [1, 1], 0)).toBe(Math.SQRT2);
  });
  it('gives the same hand values through every kernel and precision', () => {
    const data = Float64Array.from([...HAND_A, ...HAND_B]);
    for (const kernel of KERNELS) {
      for (const [r, want] of [[0, Math.sqrt(22)], [1, Math.sqrt(12)], [2, 0]] as const) {
        const out = new Float64Array(4);
        dtwBlock(data, 7, { r0: 0, r1: 2, c0: 0, c1: 2 }, r, out, { kernel });
        expect(Array.from(out)).toEqual([0, want, want, 0]);
        const out32 = new Float32Array(4);
        dtwBlock(Float32Array.from(data), 7, { r0: 0, r1: 2, c0: 0, c1: 2 }, r, out32, { kernel });
        expect(out32[1]).toBe(Math.fround(want));
      }
    }
  });
  it('rejects a bad radius with a clear message', () => {
    expect(() => dtwDistance(HAND_A, HAND_B, -3)).toThrow('Expected a non-negative integer for `radius` but received `-3`');
    expect(() => dtwDistance(HAND_A, HAND_B, 1.5)).toThrow(/received `1.5`/);
  });
});

describe('DTW kernels agree with the naive definition (property tests)', () => {
  const rng = new Random(20261121);
  const lengths = [1, 2, 3, 5, 7, 8, 13, 24, 31, 48, 96];
  it('TypeScript float64 equals dtwNaive bit for bit; float32 within float32 rounding', () => {
    for (const L of lengths) {
      for (const r of [0, 1, 2, 4, 7, L - 1, Infinity]) {
        if (r < 0) continue;
        for (let t = 0; t < 4; t++) {
          const a = randomMatrix(rng, 1, L);
          const b = randomMatrix(rng, 1, L);
          const want = dtwNaive(a, b, r);
          expect(dtwDistance(a, b, r)).toBe(want);
          const got32 = dtwDistanceJs(Float32Array.from(a), Float32Array.from(b), r, 'float32');
          expect(Math.abs(got32 - want)).toBeLessThanOrEqual(1e-5 * Math.max(1, want));
        }
      }
    }
  });
  it('block contract: every kernel equals dtwNaive (float64 exactly, float32 = TS float32 exactly)', () => {
    const kernels = KERNELS;
    for (const L of [1, 3, 7, 24, 37, 96]) {
      for (const r of [0, 1, 3, Infinity]) {
        const n = 5 + rng.int(40); // not a multiple of the lane count
        const d64 = randomMatrix(rng, n, L);
        const d32 = Float32Array.from(d64);
        const block = { r0: rng.int(3), r1: n - rng.int(3), c0: rng.int(4), c1: n };
        const h = block.r1 - block.r0;
        const w = block.c1 - block.c0;
        const ref64 = new Float64Array(h * w);
        const ref32 = new Float32Array(h * w);
        dtwBlock(d64, L, block, r, ref64, { kernel: 'js' });
        dtwBlock(d32, L, block, r, ref32, { kernel: 'js' });
        for (let i = block.r0; i < block.r1; i++) {
          for (let j = block.c0; j < block.c1; j++) {
            const want = dtwNaive(d64.subarray(i * L, (i + 1) * L), d64.subarray(j * L, (j + 1) * L), r);
            expect(ref64[(i - block.r0) * w + j - block.c0]).toBe(want);
            expect(Math.abs(ref32[(i - block.r0) * w + j - block.c0] - want)).toBeLessThanOrEqual(2e-5 * Math.max(1, want));
          }
        }
        for (const kernel of kernels) {
          for (const upper of [false, true]) {
            const o64 = new Float64Array(h * w).fill(-1);
            const o32 = new Float32Array(h * w).fill(-1);
            dtwBlock(d64, L, block, r, o64, { kernel, upper });
            dtwBlock(d32, L, block, r, o32, { kernel, upper });
            for (let i = block.r0; i < block.r1; i++) {
              for (let j = block.c0; j < block.c1; j++) {
                const k = (i - block.r0) * w + j - block.c0;
                const e64 = upper && j < i ? -1 : ref64[k];
                const e32 = upper && j < i ? -1 : ref32[k];
                expect(o64[k], `${kernel} f64 L=${L} r=${r} (${i},${j})`).toBe(e64);
                expect(o32[k], `${kernel} f32 L=${L} r=${r} (${i},${j})`).toBe(e32);
              }
            }
          }
        }
      }
    }
  });
  it('series against centres (one-to-many, block) equals dtwNaive', () => {
    const L = 24;
    const data = randomMatrix(rng, 23, L);
    const centres = randomMatrix(rng, 5, L);
    for (const kernel of KERNELS) {
      const out = dtwToMany(data, centres, L, 2, { kernel });
      expect(out).toBeInstanceOf(Float64Array);
      for (let i = 0; i < 23; i++) {
        for (let c = 0; c < 5; c++) {
          expect(out[i * 5 + c]).toBe(dtwNaive(data.subarray(i * L, (i + 1) * L), centres.subarray(c * L, (c + 1) * L), 2));
        }
      }
      const one = dtwToMany(data, centres.subarray(0, L), L, Infinity, { kernel });
      expect(one.length).toBe(23);
      expect(one[3]).toBe(dtwNaive(data.subarray(3 * L, 4 * L), centres.subarray(0, L)));
    }
  });
  it("BandedDtw's warping path (DBA's) equals dtwPathNaive (distance and path) on many lengths and radii", () => {
    for (const L of [1, 2, 5, 24, 50]) {
      for (const r of [0, 1, 3, Infinity]) {
        const dtw = new BandedDtw(L, r);
        // Reused tables: several pairs per instance, as DBA aligns every row with one instance.
        for (let pair = 0; pair < 3; pair++) {
          const a = randomMatrix(rng, 1, L);
          const b = randomMatrix(rng, 1, L);
          const got = dtw.warpingPath(a, b);
          const want = dtwPathNaive(a, b, r);
          expect(got.distance).toBe(want.distance);
          expect(got.path).toEqual(want.path);
        }
      }
    }
    // Ties: series of a few integer levels have many optimal paths; the tie-breaking is the reference's.
    for (const r of [1, 2, 4, Infinity]) {
      const dtw = new BandedDtw(12, r);
      for (let pair = 0; pair < 200; pair++) {
        const a = Array.from({ length: 12 }, () => rng.int(3));
        const b = Array.from({ length: 12 }, () => rng.int(3));
        expect(dtw.warpingPath(a, b)).toEqual(dtwPathNaive(a, b, r));
      }
    }
    expect(() => new BandedDtw(5, 1).warpingPath([1, 2, 3], [1, 2, 3, 4, 5])).toThrow(RangeError);
    const p = new BandedDtw(HAND_A.length, 2).warpingPath(HAND_A, HAND_B);
    expect(p.distance).toBe(0);
    expect(p.path[0]).toEqual([0, 0]);
    expect(p.path[p.path.length - 1]).toEqual([6, 6]);
  });
});

describe('native addon', () => {
  it('is built in this checkout and reports its instruction set', () => {
    // The addon is part of the build (npm ci runs node-gyp); a checkout without it is a failure here.
    expect(nativeStatus().loaded, nativeStatus().reason).toBe(true);
    expect(['avx512f', 'avx2', 'sse2', 'portable']).toContain(native!.isa);
    expect(selectKernel('auto').name).toBe('native');
  });
  it('loads and computes inside worker threads (context-aware)', async () => {
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const m = require(workerData.path);
      const A = new Float64Array(workerData.data);
      const out = new Float64Array(4);
      m.block(A, A, 7, 0, 2, 0, 2, 1, out, false);
      parentPort.postMessage(Array.from(out));`;
    const path = (await import('node:path')).resolve('build/Release/lpclust_dtw.node');
    const run = () =>
      new Promise<number[]>((resolve, reject) => {
        const w = new Worker(code, { eval: true, workerData: { path, data: [...HAND_A, ...HAND_B] } });
        w.once('message', resolve);
        w.once('error', reject);
      });
    const results = await Promise.all([run(), run(), run()]);
    for (const r of results) expect(r).toEqual([0, Math.sqrt(12), Math.sqrt(12), 0]);
  });
  it('rejects mixed element types', () => {
    expect(() => dtwBlock(new Float32Array(14), 7, { r0: 0, r1: 2, c0: 0, c1: 2 }, 1, new Float64Array(4), { kernel: 'native' })).toThrow(/same element type/);
    expect(() => native!.block(new Float32Array(14), new Float32Array(14), 7, 0, 3, 0, 2, 1, new Float32Array(6), false)).toThrow(/bounds/);
  });
});
