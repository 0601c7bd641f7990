/**
 * DTW against the reference tools themselves: tslearn (`metrics.dtw`, Sakoe–Chiba radius r) and
 * dtaidistance (`dtw.distance`, pure Python, `window = r + 1`), on seeded random series and real
 * SGSC household days (CC BY 3.0 AU, see test/fixtures/README.md), raw and L2-normalised. The
 * values come from test/fixtures/dtw/pairwise.json, written by scripts/make-dtw-fixtures.py
 * (which records the tools' commits); no Python runs here.
 * Every DTW code path of lpclust must meet the float64 values to 1e-12 relative: the naive
 * definition, dtwDistance, the block and one-to-many kernels (TypeScript and native), DBA's
 * BandedDtw (distance and warping path) and the tiled matrix writer (float64 and float32 matrices).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { dtwNaive } from '../../src/dtw/reference.js';
import { type KernelChoice, computeDtwMatrix, dtwBlock, dtwDistance, dtwToMany, loadDtwMatrix, loadNative } from '../../src/dtw/index.js';
import { BandedDtw } from '../../src/cluster/index.js';

interface PairwiseCase {
  name: string;
  normalization: 'none' | 'l2';
  n: number;
  length: number;
  series: number[][];
  pairs: [number, number][];
  /** Distances by radius key ("0", "1", "2", "4", "full"), aligned with `pairs`. */
  tslearn: Record<string, number[]>;
  dtaidistance: Record<string, number[]>;
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/dtw/pairwise.json', import.meta.url), 'utf8')) as {
  provenance: { radii: string[]; tslearn: { commit: string }; dtaidistance: { commit: string } };
  cases: PairwiseCase[];
};
const RADII = fixture.provenance.radii;
const radiusOf = (key: string): number => (key === 'full' ? Infinity : Number(key));
const native = loadNative();
const KERNELS: KernelChoice[] = native ? ['js', 'native'] : ['js'];
/** float64 agreement required of every path (relative; exact 0 must stay 0). */
const TOL64 = 1e-12;

function rel(got: number, want: number): number {
  if (got === want) return 0;
  return Math.abs(got - want) / Math.max(Math.abs(want), Number.MIN_VALUE);
}

/** Largest relative difference seen, per path and radius, printed at the end for the record. */
const worst = new Map<string, number>();
function check(pathName: string, key: string, got: number, want: number, where: string): void {
  const d = rel(got, want);
  const k = `${pathName} r=${key}`;
  worst.set(k, Math.max(worst.get(k) ?? 0, d));
  if (!(d <= (pathName.includes('float32') ? 1 : TOL64))) expect.fail(`${pathName} ${where} r=${key}: got ${got}, tslearn ${want} (relative ${d})`);
}

const flat = (c: PairwiseCase) => Float64Array.from(c.series.flat());

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'lpclust-dtwref-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  const lines = [...worst].map(([k, v]) => `  ${k}: ${v.toExponential(2)}`);
  console.log(`max relative difference to tslearn (tslearn ${fixture.provenance.tslearn.commit.slice(0, 12)}):\n${lines.join('\n')}`);
});

describe('fixture sanity', () => {
  it('covers raw and L2 random series (lengths 7, 24, 48) and real household days (48), every radius', () => {
    expect(RADII).toEqual(['0', '1', '2', '4', 'full']);
    const sets = ['random-normal-24', 'random-walk-48', 'random-integers-7', 'sgsc-households-48'];
    expect(fixture.cases.map((c) => c.name)).toEqual(sets.flatMap((s) => [`${s}/none`, `${s}/l2`]));
  });
  it('tslearn and dtaidistance (window = radius + 1) agree to 1e-12 on every pair', () => {
    for (const c of fixture.cases) {
      for (const key of RADII) {
        c.tslearn[key].forEach((v, p) => expect(rel(c.dtaidistance[key][p], v), `${c.name} r=${key} pair ${p}`).toBeLessThanOrEqual(TOL64));
      }
    }
  });
});

describe('lpclust DTW equals tslearn and dtaidistance (float64)', () => {
  for (const c of fixture.cases) {
    it(`${c.name}: naive, dtwDistance and DBA's BandedDtw (distance and warping path)`, () => {
      const L = c.length;
      for (const key of RADII) {
        const r = radiusOf(key);
        const banded = new BandedDtw(L, r === Infinity ? L : r);
        const data = flat(c);
        c.pairs.forEach(([i, j], p) => {
          const want = c.tslearn[key][p];
          const a = c.series[i];
          const b = c.series[j];
          check('dtwNaive', key, dtwNaive(a, b, r), want, `${c.name} (${i},${j})`);
          check('dtwDistance', key, dtwDistance(a, b, r), want, `${c.name} (${i},${j})`);
          check('BandedDtw path', key, banded.warpingPath(a, b).distance, want, `${c.name} (${i},${j})`);
          check('BandedDtw', key, Math.sqrt(banded.dist2(data, i * L, data, j * L)), want, `${c.name} (${i},${j})`);
        });
      }
    });
    it(`${c.name}: block and one-to-many kernels (${KERNELS.join(', ')})`, () => {
      const L = c.length;
      const data = flat(c);
      const n = c.n;
      for (const kernel of KERNELS) {
        for (const key of RADII) {
          const r = radiusOf(key);
          const block = new Float64Array(n * n);
          dtwBlock(data, L, { r0: 0, r1: n, c0: 0, c1: n }, r, block, { kernel, upper: true });
          const many = dtwToMany(data, data, L, r, { kernel });
          const block32 = new Float32Array(n * n);
          dtwBlock(Float32Array.from(data), L, { r0: 0, r1: n, c0: 0, c1: n }, r, block32, { kernel, upper: true });
          c.pairs.forEach(([i, j], p) => {
            const want = c.tslearn[key][p];
            check(`block ${kernel}`, key, block[i * n + j], want, `${c.name} (${i},${j})`);
            check(`one-to-many ${kernel}`, key, many[i * n + j], want, `${c.name} (${i},${j})`);
            check(`one-to-many ${kernel} (transposed)`, key, many[j * n + i], want, `${c.name} (${j},${i})`);
            check(`block ${kernel} float32`, key, block32[i * n + j], want, `${c.name} (${i},${j})`);
          });
        }
      }
    });
  }
});

describe('the tiled matrix writer equals tslearn', () => {
  // One matrix per real/random set and radius: raw and L2 rows of a set share a length, so they
  // go into one matrix (the raw × L2 cells are not in the fixture and are not read).
  const byLength = new Map<string, PairwiseCase[]>();
  for (const c of fixture.cases) {
    const set = c.name.split('/')[0];
    byLength.set(set, [...(byLength.get(set) ?? []), c]);
  }
  for (const [set, cases] of byLength) {
    it(`${set}: float64 matrices to 1e-12, float32 matrices to float32 precision`, async () => {
      const L = cases[0].length;
      const values = Float64Array.from(cases.flatMap((c) => c.series.flat()));
      for (const key of RADII) {
        const r = radiusOf(key);
        for (const dtype of ['float64', 'float32'] as const) {
          const res = await computeDtwMatrix({
            values,
            length: L,
            out: path.join(dir, `${set}-${key}-${dtype}.npy`),
            radius: r,
            dtype,
            workers: 1,
            normalization: 'none',
            progress: false,
            hashMatrix: false,
          });
          const m = await loadDtwMatrix(res.out);
          let offset = 0;
          for (const c of cases) {
            c.pairs.forEach(([i, j], p) => {
              const name = dtype === 'float64' ? 'matrix float64' : 'matrix float32';
              check(name, key, m.data[(offset + i) * m.n + offset + j], c.tslearn[key][p], `${c.name} (${i},${j})`);
              check(name, key, m.data[(offset + j) * m.n + offset + i], c.tslearn[key][p], `${c.name} (${j},${i})`);
            });
            offset += c.n;
          }
        }
      }
    });
  }
  it('float32 matrices and blocks stay within 2e-6 relative of tslearn on every fixture pair', () => {
    // Runs after the matrix tests (vitest keeps file order); every float32 value went through check().
    const f32 = [...worst].filter(([k]) => k.includes('float32'));
    expect(f32.length).toBeGreaterThan(0);
    for (const [k, v] of f32) expect(v, k).toBeLessThanOrEqual(2e-6);
  });
});
