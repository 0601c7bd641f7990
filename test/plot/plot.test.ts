import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  clusterCentersSvg,
  clusterColor,
  clusterPieSvg,
  countLabels,
  metricVsKSvg,
  niceTicks,
  renderClusterCenters,
  renderClusterPie,
  renderClusterPlots,
  renderMetricVsK,
  renderSilhouette,
  roundedShares,
  silhouetteSvg,
  VIEWER_WIDTH,
  slotHours,
  CLUSTER_PALETTE,
} from '../../src/plot/index.js';
import { tickLabel } from '../../src/plot/svg.js';
import { Random } from '../../src/util/random.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'lpclust-plot-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** PNG width and height from the IHDR chunk, after checking the signature. */
function pngSize(file: string): { width: number; height: number } {
  const b = readFileSync(file);
  expect([...b.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  expect(b.subarray(12, 16).toString('latin1')).toBe('IHDR');
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

/**
 * A strict well-formedness check of the XML the charts write: balanced tags, quoted attributes,
 * no raw `<` or stray `&` in text, one root element. Returns the root element's name.
 */
function parseXml(xml: string): string {
  const stack: string[] = [];
  let root = '';
  let i = 0;
  const entity = /^&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const textPart = lt < 0 ? xml.slice(i) : xml.slice(i, lt);
    for (let a = textPart.indexOf('&'); a >= 0; a = textPart.indexOf('&', a + 1)) {
      if (!entity.test(textPart.slice(a))) throw new Error(`stray & at ${i + a}`);
    }
    if (stack.length === 0 && textPart.trim() !== '') throw new Error(`text outside the root at ${i}`);
    if (lt < 0) break;
    if (xml.startsWith('<!--', lt)) {
      i = xml.indexOf('-->', lt) + 3;
      continue;
    }
    const gt = xml.indexOf('>', lt);
    if (gt < 0) throw new Error(`unclosed tag at ${lt}`);
    const tag = xml.slice(lt + 1, gt);
    if (tag.startsWith('/')) {
      const name = tag.slice(1).trim();
      if (stack.pop() !== name) throw new Error(`mismatched </${name}> at ${lt}`);
    } else {
      const selfClosing = tag.endsWith('/');
      const body = selfClosing ? tag.slice(0, -1) : tag;
      const m = /^([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*$/.exec(body);
      if (!m) throw new Error(`malformed tag <${tag.slice(0, 60)}> at ${lt}`);
      if (stack.length === 0) {
        if (root) throw new Error('two root elements');
        root = m[1];
      }
      if (!selfClosing) stack.push(m[1]);
    }
    i = gt + 1;
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack.at(-1)}>`);
  return root;
}

function count(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

/** Clustered synthetic profiles: cluster c has a peak at hour 3c, sizes 3, 9, 5, ... as given. */
function clustered(sizes: number[], L = 24, seed = 0): { X: Float64Array; labels: Int32Array } {
  const rng = new Random(seed);
  const n = sizes.reduce((a, b) => a + b, 0);
  const X = new Float64Array(n * L);
  const labels = new Int32Array(n);
  let i = 0;
  sizes.forEach((size, c) => {
    for (let t = 0; t < size; t++, i++) {
      labels[i] = c;
      for (let j = 0; j < L; j++) X[i * L + j] = Math.exp(-(((24 * j) / L - 3 * c) ** 2) / 4) + 0.05 * rng.normal();
    }
  });
  return { X, labels };
}

/** The fill of the element of `cls` with data-cluster = c (the panel's swatch for the centres chart). */
function fillOf(svg: string, marker: RegExp): string {
  const m = marker.exec(svg);
  if (!m) throw new Error(`not found: ${marker}`);
  return m[1];
}

describe('palette', () => {
  it('gives 20 distinct colours, then more distinct ones, deterministically', () => {
    const first = Array.from({ length: 40 }, (_, c) => clusterColor(c));
    expect(new Set(first).size).toBe(40);
    expect(first.slice(0, 20)).toEqual(CLUSTER_PALETTE);
    for (const c of first) expect(c).toMatch(/^#[0-9a-f]{6}$/);
    expect(clusterColor(25)).toBe(clusterColor(25));
  });
});

describe('axis helpers', () => {
  it('chooses round ticks covering the range', () => {
    expect(niceTicks(0, 1, 5).values.map((v) => tickLabel(v, 0.2))).toEqual(['0.0', '0.2', '0.4', '0.6', '0.8', '1.0']);
    expect(niceTicks(-0.37, 0.92, 5).step).toBe(0.5);
    const t = niceTicks(-0.37, 0.92, 6);
    expect(t.min).toBeLessThanOrEqual(-0.37);
    expect(t.max).toBeGreaterThanOrEqual(0.92);
    expect(t.step).toBe(0.25);
    expect(tickLabel(-0.25, 0.25)).toBe('\u22120.25');
    expect(tickLabel(0.6000000000000001, 0.2)).toBe('0.6');
    expect(niceTicks(5, 5).values.length).toBeGreaterThan(1);
  });
  it('places slots on the hour axis from their labels', () => {
    expect([...slotHours(4, ['00:00', '00:15', '06:30', '23:45'])]).toEqual([0, 0.25, 6.5, 23.75]);
    expect([...slotHours(2)]).toEqual([0, 12]);
  });
});

describe('cluster centres chart', () => {
  it('draws one panel per cluster, largest first, as well-formed SVG', () => {
    const { X, labels } = clustered([3, 9, 5, 1]);
    const { svg, order } = clusterCentersSvg({ X, L: 24, labels });
    expect(parseXml(svg)).toBe('svg');
    expect(count(svg, '<g class="panel"')).toBe(4);
    expect(order).toEqual([1, 2, 0, 3]);
    const panelOrder = [...svg.matchAll(/<g class="panel" data-cluster="(\d+)" data-size="(\d+)"/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(panelOrder).toEqual([[1, 9], [2, 5], [0, 3], [3, 1]]);
    expect(svg).toContain('Cluster 1 · 9 days (50.0 %)');
    expect(count(svg, 'class="centre"')).toBe(4);
    expect(svg).toContain('class="members"');
    expect(svg).not.toContain('class="band"');
  });

  it('draws a large cluster as a quantile band with a median and a small one as lines', () => {
    const { X, labels } = clustered([250, 40]);
    const { svg } = clusterCentersSvg({ X, L: 24, labels }, { bandThreshold: 200 });
    expect(parseXml(svg)).toBe('svg');
    expect(count(svg, 'class="band"')).toBe(1);
    expect(count(svg, 'class="median"')).toBe(1);
    expect(count(svg, 'class="members"')).toBe(1);
    expect(clusterCentersSvg({ X, L: 24, labels }, { mode: 'lines' }).svg).not.toContain('class="band"');
    expect(count(clusterCentersSvg({ X, L: 24, labels }, { mode: 'band' }).svg, 'class="band"')).toBe(2);
    // Over the line budget the largest line panels become bands too.
    expect(count(clusterCentersSvg({ X, L: 24, labels }, { bandThreshold: 1000, maxLines: 100 }).svg, 'class="band"')).toBe(1);
  });

  it('shows an empty cluster and escapes titles', () => {
    const { X, labels } = clustered([4, 0, 2]);
    const { svg } = clusterCentersSvg({ X, L: 24, labels, k: 3, title: 'A & B <test>' });
    expect(parseXml(svg)).toBe('svg');
    expect(svg).toContain('empty cluster');
    expect(svg).toContain('A &amp; B &lt;test&gt;');
  });

  it('refuses labels that do not fit the data', () => {
    const { X } = clustered([2, 2]);
    expect(() => clusterCentersSvg({ X, L: 24, labels: [0, 1, 2] })).toThrow(/Expected 4 labels/);
    expect(() => clusterCentersSvg({ X, L: 24, labels: [0, 1, -1, 0] })).toThrow(/label -1/);
    expect(() => clusterCentersSvg({ X, L: 24, labels: [0, 1, 1, 0], k: 2, centres: new Float64Array(24 * 3) })).toThrow(/Expected 2 × 24 centre values/);
  });

  it('writes PNG (and a high-resolution copy) of the requested size and an SVG', async () => {
    const { X, labels } = clustered([6, 4, 3]);
    const files = await renderClusterCenters({ X, L: 24, labels }, { outDir: dir, basename: 'clusterCenters', hiResScale: 2 }, { width: 900, height: 400 });
    expect(pngSize(files.png!)).toEqual({ width: 900, height: 400 });
    expect(pngSize(files.pngHiRes!)).toEqual({ width: 1800, height: 800 });
    expect(files.pngHiRes).toBe(path.join(dir, 'clusterCenters_hires.png'));
    const svg = readFileSync(files.svg!, 'utf8');
    expect(parseXml(svg)).toBe('svg');
    expect(svg).toMatch(/<svg [^>]*width="900" height="400"/);
  });

  it('renders text with the shipped font (a PNG with text differs from one without)', async () => {
    const { X, labels } = clustered([3, 3]);
    const a = await renderClusterCenters({ X, L: 24, labels, title: 'T' }, { outDir: dir, basename: 'fontA', formats: ['png'], hiResScale: 0 });
    const b = await renderClusterCenters({ X, L: 24, labels, title: 'A much longer title' }, { outDir: dir, basename: 'fontB', formats: ['png'], hiResScale: 0 });
    expect(readFileSync(a.png!).equals(readFileSync(b.png!))).toBe(false);
    expect(a.svg).toBeUndefined();
  });
});

describe('pie, silhouette and metric charts', () => {
  it('uses the same colour for a cluster in every chart', () => {
    const sizes = [3, 9, 5, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1];
    const { X, labels } = clustered(sizes);
    const centres = clusterCentersSvg({ X, L: 24, labels }).svg;
    const pie = clusterPieSvg({ sizes: countLabels(labels) }).svg;
    const sil = silhouetteSvg({ silhouettes: Array.from(labels, (c, i) => ((i * 7919) % 100) / 100 - 0.2 + c * 0), labels }).svg;
    for (let c = 0; c < sizes.length; c++) {
      const expected = clusterColor(c);
      const panel = new RegExp(`<g class="panel" data-cluster="${c}"[^>]*>\\n<rect [^>]*fill="(#[0-9a-f]{6})"`);
      expect(fillOf(centres, panel)).toBe(expected);
      expect(fillOf(pie, new RegExp(`class="slice" data-cluster="${c}"[^>]* fill="(#[0-9a-f]{6})"`))).toBe(expected);
      expect(fillOf(sil, new RegExp(`class="cluster" data-cluster="${c}"[^>]* fill="(#[0-9a-f]{6})"`))).toBe(expected);
    }
  });

  it('rounds the shown shares by largest remainder so that they add up to 100 %, in the pie and the centres chart alike', () => {
    // Plain rounding shows 33.3 + 33.3 + 33.3 = 99.9 and 16.7 × 6 = 100.2.
    expect(roundedShares([1, 1, 1])).toEqual([33.4, 33.3, 33.3]);
    expect(roundedShares([1, 1, 1, 1, 1, 1]).reduce((a, b) => a + b, 0)).toBeCloseTo(100, 9);
    expect(roundedShares([600, 10, 9])).toEqual([96.9, 1.6, 1.5]);
    expect(roundedShares([2, 1], 0)).toEqual([67, 33]);
    expect(roundedShares([0, 0])).toEqual([0, 0]);
    const rng = new Random(4);
    for (let t = 0; t < 200; t++) {
      const sizes = Array.from({ length: 2 + (rng.nextUint32() % 28) }, () => rng.nextUint32() % 500);
      if (sizes.every((x) => x === 0)) continue;
      const shares = roundedShares(sizes);
      expect(Math.round(shares.reduce((a, b) => a + b, 0) * 10)).toBe(1000);
      // Each share is its exact value rounded down or up by one unit.
      const total = sizes.reduce((a, b) => a + b, 0);
      shares.forEach((v, c) => expect(Math.abs(v - (100 * sizes[c]) / total)).toBeLessThan(0.1 + 1e-9));
    }
    const { svg } = clusterPieSvg({ sizes: [1, 1, 1] });
    const shown = [...svg.matchAll(/>(\d+\.\d) %</g)].map((m) => Number(m[1]));
    // Three slice labels and three legend rows, the same rounding.
    expect(shown.slice(0, 3).reduce((a, b) => a + b, 0)).toBeCloseTo(100, 9);
    expect(shown.slice(3).sort()).toEqual([33.3, 33.3, 33.4]);
    const { X, labels } = clustered([1, 1, 1]);
    expect(clusterCentersSvg({ X, L: 24, labels }).svg).toContain('(33.4 %)');
  });

  it('sizes the default centres chart for the MLflow artifact viewer: at most 800 px wide, more clusters add rows', () => {
    expect(VIEWER_WIDTH).toBe(800);
    for (const k of [2, 3, 4, 6, 12, 29]) {
      const { X, labels } = clustered(Array.from({ length: k }, () => 3));
      const { width } = clusterCentersSvg({ X, L: 24, labels });
      expect(width, `k = ${k}`).toBeLessThanOrEqual(VIEWER_WIDTH);
      expect(width, `k = ${k}`).toBeGreaterThanOrEqual(380);
    }
  });

  it('pie: one slice per non-empty cluster, a full circle for one cluster', async () => {
    const { svg } = clusterPieSvg({ sizes: [5, 0, 3] });
    expect(parseXml(svg)).toBe('svg');
    expect(count(svg, 'class="slice"')).toBe(2);
    expect(clusterPieSvg({ sizes: [7] }).svg).toContain('<circle class="slice"');
    expect(() => clusterPieSvg({ sizes: [0, 0] })).toThrow(/non-empty/);
    const files = await renderClusterPie({ labels: [0, 0, 1, 2, 2, 2] }, { outDir: dir, basename: 'clusterPie' }, { width: 640, height: 420 });
    expect(pngSize(files.png!)).toEqual({ width: 640, height: 420 });
    expect(files.pngHiRes).toBeUndefined();
  });

  it('silhouette: one group per non-empty cluster, sorted within cluster, with the mean', async () => {
    const labels = [0, 1, 0, 1, 0, 2];
    const s = [0.5, 0.1, -0.2, 0.3, 0.9, 0.4];
    const { svg, mean } = silhouetteSvg({ silhouettes: s, labels, distance: 'DTW' });
    expect(parseXml(svg)).toBe('svg');
    expect(mean).toBeCloseTo(2.0 / 6, 12);
    expect(count(svg, 'class="cluster"')).toBe(3);
    // Cluster 0's bars run from the largest (0.9) to the smallest (−0.2): x decreases down the polygon.
    const pts = /class="cluster" data-cluster="0"[^>]*points="([^"]+)"/.exec(svg)![1].split(' ').map((p) => Number(p.split(',')[0]));
    const bars = pts.slice(1, -1).filter((_, i) => i % 2 === 0);
    expect(bars).toEqual([...bars].sort((a, b) => b - a));
    expect(svg).toContain('silhouette (DTW)');
    expect(() => silhouetteSvg({ silhouettes: [NaN], labels: [0] })).toThrow(/finite/);
    const files = await renderSilhouette({ silhouettes: s, labels }, { outDir: dir, basename: 'silhouette' }, { width: 500, height: 300 });
    expect(pngSize(files.png!)).toEqual({ width: 500, height: 300 });
  });

  it('metric against k: one line per series, gaps at missing values, the best point ringed', async () => {
    const data = {
      metric: 'Silhouette Score',
      series: [
        { name: 'kmeans', points: [3, 4, 5, 6].map((k) => ({ k, value: 1 / k })) },
        { name: 'som', points: [{ k: 3, value: 0.2 }, { k: 4, value: NaN }, { k: 5, value: 0.25 }] },
      ],
      best: { series: 'kmeans', k: 3 },
    };
    const { svg } = metricVsKSvg(data);
    expect(parseXml(svg)).toBe('svg');
    expect(count(svg, '<g class="series"')).toBe(2);
    expect(count(svg, 'class="best"')).toBe(1);
    const somPath = /data-name="som">\n<path d="([^"]+)"/.exec(svg)![1];
    expect(count(somPath, 'M')).toBe(2);
    const files = await renderMetricVsK(data, { outDir: dir, basename: 'metric', scale: 2 }, { width: 600, height: 350 });
    expect(pngSize(files.png!)).toEqual({ width: 1200, height: 700 });
    await expect(renderMetricVsK(data, { outDir: dir, basename: '../escape' })).rejects.toThrow(/file name/);
  });
});

describe('renderClusterPlots', () => {
  it('writes the standard plots of a clustering run and lists them', async () => {
    const { X, labels } = clustered([5, 3, 2]);
    const out = path.join(dir, 'run-plots');
    const r = await renderClusterPlots({ X, L: 24, labels, silhouettes: Array.from(labels, () => 0.3), silhouetteDistance: 'DTW' }, out);
    expect(r.files.map((f) => path.basename(f)).sort()).toEqual(
      ['clusterCenters.png', 'clusterCenters.svg', 'clusterCenters_hires.png', 'clusterPie.png', 'clusterPie.svg', 'silhouette.png', 'silhouette.svg'],
    );
    const base = pngSize(r.clusterCenters.png!);
    expect(pngSize(r.clusterCenters.pngHiRes!)).toEqual({ width: base.width * 3, height: base.height * 3 });
    const noSil = await renderClusterPlots({ X, L: 24, labels }, path.join(dir, 'run-plots-2'));
    expect(noSil.silhouette).toBeUndefined();
    expect(noSil.files.length).toBe(5);
  });
});
