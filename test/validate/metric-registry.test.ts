/**
 * The metric registry (validate/metrics.ts): one entry per score with its key, name, direction and
 * whether it needs DTW distances; the defaults, headline order and directions the sweep, choose-k
 * and the summaries read come from it; a registered score with `compute` is logged by
 * computeValidation after the built-in ones, in exact and in sampled mode.
 */
import { describe, expect, it } from 'vitest';
import { Random } from '../../src/util/random.js';
import { computeValidation } from '../../src/validate/index.js';
import { SCORES, SCORE_KEYS, HEADLINE_SCORES, defaultScore, directionOf, keySlug, parseSelect, type ScoreDef } from '../../src/validate/metrics.js';

describe('metric registry', () => {
  it('names every score once, its name derived from its key, and parses --select by key or name', () => {
    expect(new Set(SCORES.map((s) => s.key)).size).toBe(SCORES.length);
    expect(new Set(SCORES.map((s) => s.name)).size).toBe(SCORES.length);
    for (const s of SCORES) {
      expect(s.name).toMatch(/^[a-z0-9_]+$/);
      expect(s.name.endsWith(keySlug(s.key))).toBe(true);
      expect(parseSelect(s.name)).toBe(s);
      expect(['higher', 'lower']).toContain(s.better);
      expect(parseSelect(s.key)).toBe(s);
      expect(directionOf(s.key)).toBe(s.better);
    }
    expect(parseSelect('silhouette_dtw').key).toBe(SCORE_KEYS.silhouetteDtw);
    expect(parseSelect('fit_inertia').key).toBe('fit/inertia');
    expect(directionOf('cluster_size/0')).toBeUndefined();
  });

  it('says the defaults, the headline order and which scores need DTW', () => {
    expect(defaultScore(true).key).toBe('Silhouette DTW');
    expect(defaultScore(false).key).toBe('Silhouette Score');
    expect(HEADLINE_SCORES).toEqual(['Silhouette Score', 'Silhouette DTW', 'DB Index', 'Calinski-Harabasz']);
    expect(SCORES.filter((s) => s.needsDtw).map((s) => s.key)).toEqual(['Silhouette DTW']);
    expect(directionOf('DB Index')).toBe('lower');
  });

  it('computeValidation logs a registered score that computes itself, after the built-in ones (exact and sampled)', () => {
    const rng = new Random(1);
    const L = 6;
    const n = 40;
    const X = Float64Array.from({ length: n * L }, (_, i) => (Math.floor(i / L) % 2) * 3 + rng.normal());
    const labels = Int32Array.from({ length: n }, (_, i) => i % 2);
    const extra: ScoreDef = { key: 'Largest Cluster Share', name: 'largest_cluster_share', better: 'lower', about: 'test', compute: (v) => Math.max(...[0, 1].map((c) => Array.from(v.labels).filter((l) => l === c).length)) / v.labels.length };
    const scores = [...SCORES, extra];
    for (const sampled of [undefined, { size: 30, seed: 0 }]) {
      const plain = computeValidation({ X, L, labels, k: 2, ...(sampled ? { sampled } : {}) });
      const withExtra = computeValidation({ X, L, labels, k: 2, scores, ...(sampled ? { sampled } : {}) });
      expect(withExtra.metrics['Largest Cluster Share']).toBe(0.5);
      expect(plain.metrics['Largest Cluster Share']).toBeUndefined();
      // The built-in keys keep their order (validation/metrics.json is written in it); the registered one comes last.
      expect(Object.keys(withExtra.metrics)).toEqual([...Object.keys(plain.metrics), 'Largest Cluster Share']);
      expect(Object.keys(plain.metrics).slice(0, 4)).toEqual(['DB Index', 'Silhouette Score', sampled ? 'Silhouette Score_sample_size' : 'Calinski-Harabasz', sampled ? 'Silhouette Score_ci95' : 'Inertia']);
    }
  });
});
