/** Synthetic daily load profiles for the clustering benchmarks (seeded; L2-normalised rows). */
import { Random } from '../src/util/random.js';
import type { Rows } from '../src/cluster/index.js';

/**
 * n profiles of L slots: a mixture of 15 archetypes (morning/evening peaks at varying hours and
 * heights, flat base load) with noise, shifted by up to ±1 slot, non-negative, L2-normalised.
 */
export function syntheticProfiles(n: number, L: number, seed: number): Rows {
  const rng = new Random(seed);
  const arche: Float64Array[] = [];
  for (let a = 0; a < 15; a++) {
    const p = new Float64Array(L);
    const base = 0.2 + rng.next();
    const m = rng.next() * L * 0.4 + L * 0.2;
    const e = rng.next() * L * 0.3 + L * 0.6;
    const hm = rng.next() * 2;
    const he = rng.next() * 3;
    for (let t = 0; t < L; t++) p[t] = base + hm * Math.exp(-((t - m) ** 2) / 4) + he * Math.exp(-((t - e) ** 2) / 6);
    arche.push(p);
  }
  const data = new Float64Array(n * L);
  for (let i = 0; i < n; i++) {
    const p = arche[rng.int(15)];
    const shift = rng.int(3) - 1;
    const scale = 0.5 + rng.next();
    let ss = 0;
    for (let t = 0; t < L; t++) {
      const src = Math.min(L - 1, Math.max(0, t + shift));
      const v = Math.max(0.01, p[src] * scale + rng.normal() * 0.25);
      data[i * L + t] = v;
      ss += v * v;
    }
    const norm = Math.sqrt(ss);
    for (let t = 0; t < L; t++) data[i * L + t] /= norm;
  }
  return { data, n, dim: L };
}
