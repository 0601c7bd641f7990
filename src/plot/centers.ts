/**
 * The cluster centres chart: a grid of small multiples, one panel per cluster (largest first), each
 * with its member profiles — faint lines, or a 10–90 % quantile band and the median when members
 * are many — and the cluster centre as a dashed line.
 */
import { inputError } from '../errors.js';
import { drawAxes, sx, sy, type Frame } from './axes.js';
import { clusterColor } from './palette.js';
import { esc, groupThousands, niceTicks, px, svgDocument, text, VIEWER_WIDTH, type Ticks } from './svg.js';
import { roundedShares } from './pie.js';

/** The data of {@link clusterCentersSvg}. */
export interface ClusterCentersData {
  /** Profiles, n × L row-major (normally the normalised rows the clustering saw). */
  X: Float32Array | Float64Array;
  /** Slots per profile. */
  L: number;
  /** Cluster of each profile, 0..k−1; length n. */
  labels: ArrayLike<number>;
  /** Centres, k × L row-major; omitted = the member means. */
  centres?: Float64Array;
  /** Number of clusters (default: from `centres`, else the largest label + 1). */
  k?: number;
  /** Slot labels `HH:MM` (length L) placing the points on the hour axis; default L equal slots from 00:00. */
  slots?: readonly string[];
  /** Figure title (default "Cluster profiles"). */
  title?: string;
  /** y axis title (default "normalised energy"). */
  yLabel?: string;
}

/** Layout options of {@link clusterCentersSvg}. */
export interface ClusterCentersOptions {
  /** Panels per row (default: ⌈√k⌉, at most 3, so that the figure fits {@link VIEWER_WIDTH}). */
  columns?: number;
  /** Figure width in px (default: columns × 300 + margins, at most {@link VIEWER_WIDTH}). */
  width?: number;
  /** Figure height in px (default: rows × 210 + margins). */
  height?: number;
  /**
   * How members are drawn: `lines` (one faint line per member), `band` (10–90 % quantile band and
   * median) or `auto` (default): per panel, a band when the cluster has more than
   * `bandThreshold` members, lines otherwise; the largest line panels become bands while more
   * than `maxLines` lines would be drawn.
   */
  mode?: 'auto' | 'lines' | 'band';
  /** See `mode` (default 200 members). */
  bandThreshold?: number;
  /** See `mode` (default 1500 lines in the whole figure): bounds the rendering time. */
  maxLines?: number;
}

/** Per-cluster summary computed for drawing. */
interface ClusterDraw {
  c: number;
  members: number[];
  centre: Float64Array;
  band?: { lo: Float64Array; mid: Float64Array; hi: Float64Array };
  yMin: number;
  yMax: number;
}

/** Hour of the day (0–24) of each slot. */
export function slotHours(L: number, slots?: readonly string[]): Float64Array {
  const h = new Float64Array(L);
  for (let j = 0; j < L; j++) {
    const m = slots?.[j] !== undefined ? /^(\d{1,2}):(\d{2})/.exec(slots[j]) : null;
    h[j] = m ? Number(m[1]) + Number(m[2]) / 60 : (24 * j) / L;
  }
  return h;
}

/** Check shapes and labels; returns k. */
export function checkClustering(n: number, L: number, labels: ArrayLike<number>, k?: number, centres?: Float64Array): number {
  if (!Number.isInteger(L) || L < 1) throw inputError('E_PLOT_INPUT', `Expected a positive slot count L but received ${L}`);
  if (labels.length !== n) throw inputError('E_PLOT_INPUT', `Expected ${n} labels (one per profile) but received ${labels.length}`);
  let maxLabel = -1;
  for (let i = 0; i < n; i++) {
    const c = labels[i];
    if (!Number.isInteger(c) || c < 0) throw inputError('E_PLOT_INPUT', `Expected cluster labels 0, 1, 2, ... but profile ${i + 1} has label ${c}`);
    if (c > maxLabel) maxLabel = c;
  }
  const kk = k ?? (centres ? centres.length / L : maxLabel + 1);
  if (!Number.isInteger(kk) || kk < 1) throw inputError('E_PLOT_INPUT', `Expected at least one cluster but found k = ${kk}`);
  if (maxLabel >= kk) throw inputError('E_PLOT_INPUT', `label ${maxLabel} is out of range for k = ${kk} clusters`);
  if (centres && centres.length !== kk * L) {
    throw inputError('E_PLOT_INPUT', `Expected ${kk} × ${L} centre values but received ${centres.length}`);
  }
  return kk;
}

/**
 * Rearrange `a[from..to]` (inclusive) so that `a[k]` holds the value a sorted copy would hold there,
 * with nothing larger before it and nothing smaller after it (Hoare's selection, median-of-three
 * pivot). O(m) on average instead of the O(m log m) of a sort: the band of a cluster of 10⁵ days
 * takes 72 selections instead of 24 sorts. Falls back to sorting a range that refuses to shrink.
 */
export function selectInPlace(a: Float32Array | Float64Array, k: number, from: number, to: number): void {
  let lo = from;
  let hi = to;
  for (let round = 0; hi > lo; round++) {
    if (round > 64) {
      a.subarray(lo, hi + 1).sort();
      return;
    }
    const mid = (lo + hi) >>> 1;
    const x = a[lo];
    const y = a[mid];
    const z = a[hi];
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    // [lo, j] ≤ pivot ≤ [i, hi], and what lies between equals the pivot.
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
}

/**
 * Quantiles of `a` (any order; it is rearranged) by linear interpolation between order statistics,
 * as on a sorted copy (NumPy's default): exactly the values sorting gives, found by selection.
 * @param qs quantiles in [0, 1], ascending
 */
export function quantilesInPlace(a: Float32Array | Float64Array, qs: readonly number[]): number[] {
  const n = a.length;
  const out: number[] = [];
  // Everything before `done` is final: the order statistics up to done − 1 are in place.
  let done = 0;
  for (const q of qs) {
    const pos = (n - 1) * q;
    const lo = Math.floor(pos);
    if (lo >= done) {
      selectInPlace(a, lo, done, n - 1);
      done = lo + 1;
    }
    // The next order statistic is the smallest of what follows (all ≥ a[lo]).
    let next = a[lo];
    if (lo + 1 < n) {
      next = a[lo + 1];
      for (let t = lo + 2; t < n; t++) if (a[t] < next) next = a[t];
    }
    out.push(a[lo] + (next - a[lo]) * (pos - lo));
  }
  return out;
}

/**
 * Which panels draw a quantile band instead of member lines. In `auto` mode each panel decides by
 * its own size (a cluster of 3 days reads best as 3 lines even when another holds 5,000), and
 * then the largest line panels switch to bands until at most `maxLines` lines are left, which
 * bounds the rendering time.
 */
function bandPanels(members: number[][], options: ClusterCentersOptions): boolean[] {
  const mode = options.mode ?? 'auto';
  if (mode !== 'auto') return members.map(() => mode === 'band');
  const threshold = options.bandThreshold ?? 200;
  const useBand = members.map((m) => m.length > threshold);
  let lines = members.reduce((sum, m, c) => sum + (useBand[c] ? 0 : m.length), 0);
  const bySize = members.map((_m, c) => c).sort((a, b) => members[b].length - members[a].length);
  for (const c of bySize) {
    if (lines <= (options.maxLines ?? 1500)) break;
    if (useBand[c]) continue;
    useBand[c] = true;
    lines -= members[c].length;
  }
  return useBand;
}

function summarise(data: ClusterCentersData, k: number, options: ClusterCentersOptions): ClusterDraw[] {
  const { X, L, labels } = data;
  const n = X.length / L;
  const members: number[][] = Array.from({ length: k }, () => []);
  for (let i = 0; i < n; i++) members[labels[i]].push(i);
  const useBand = bandPanels(members, options);
  const out: ClusterDraw[] = [];
  for (let c = 0; c < k; c++) {
    const m = members[c];
    const band = useBand[c];
    let centre: Float64Array;
    if (data.centres) centre = data.centres.slice(c * L, c * L + L);
    else {
      centre = new Float64Array(L);
      for (const i of m) for (let j = 0; j < L; j++) centre[j] += X[i * L + j];
      if (m.length > 0) for (let j = 0; j < L; j++) centre[j] /= m.length;
    }
    let yMin = Infinity;
    let yMax = -Infinity;
    for (let j = 0; j < L; j++) {
      yMin = Math.min(yMin, centre[j]);
      yMax = Math.max(yMax, centre[j]);
    }
    const d: ClusterDraw = { c, members: m, centre, yMin, yMax };
    if (band && m.length > 0) {
      const lo = new Float64Array(L);
      const mid = new Float64Array(L);
      const hi = new Float64Array(L);
      // Members' values slot by slot (slot-major), gathered in one pass over their rows: reading
      // one slot of every row at a time would touch a different cache line per value. In the
      // profiles' own type: float32 ones (sampled mode) give the same order statistics at half the size.
      const M = m.length;
      const cols = X instanceof Float32Array ? new Float32Array(M * L) : new Float64Array(M * L);
      for (let t = 0; t < M; t++) {
        const row = m[t] * L;
        for (let j = 0; j < L; j++) cols[j * M + t] = X[row + j];
      }
      for (let j = 0; j < L; j++) {
        [lo[j], mid[j], hi[j]] = quantilesInPlace(cols.subarray(j * M, (j + 1) * M), [0.1, 0.5, 0.9]);
        d.yMin = Math.min(d.yMin, lo[j]);
        d.yMax = Math.max(d.yMax, hi[j]);
      }
      d.band = { lo, mid, hi };
    } else {
      for (const i of m) {
        for (let j = 0; j < L; j++) {
          const v = X[i * L + j];
          if (v < d.yMin) d.yMin = v;
          if (v > d.yMax) d.yMax = v;
        }
      }
    }
    out.push(d);
  }
  // Largest first; ties by cluster number, so the order is stable.
  out.sort((a, b) => b.members.length - a.members.length || a.c - b.c);
  return out;
}

function polyline(f: Frame, hours: Float64Array, values: Float32Array | Float64Array, offset: number, L: number): string {
  let s = '';
  for (let j = 0; j < L; j++) s += (j ? ' ' : '') + px(sx(f, hours[j])) + ',' + px(sy(f, values[offset + j]));
  return s;
}

/**
 * The SVG of the cluster centres chart.
 * @returns the SVG text, its size in px, and the cluster order of the panels (largest first)
 */
export function clusterCentersSvg(
  data: ClusterCentersData,
  options: ClusterCentersOptions = {},
): { svg: string; width: number; height: number; order: number[] } {
  const { X, L } = data;
  const n = X.length / L;
  if (!Number.isInteger(n)) throw inputError('E_PLOT_INPUT', `Expected X to hold n × ${L} values but it holds ${X.length}`);
  const k = checkClustering(n, L, data.labels, data.k, data.centres);
  const clusters = summarise(data, k, options);
  const hours = slotHours(L, data.slots);

  const cols = Math.max(1, Math.min(k, options.columns ?? Math.min(3, Math.ceil(Math.sqrt(k)))));
  const rows = Math.ceil(k / cols);
  const marginLeft = 64;
  const marginRight = 16;
  const marginTop = 62;
  const marginBottom = 46;
  // Panels of 300 px, narrowed so that the figure fits the MLflow artifact viewer; more clusters
  // add rows (the viewer scrolls down, not sideways).
  const width = Math.round(options.width ?? marginLeft + marginRight + cols * Math.min(300, (VIEWER_WIDTH - marginLeft - marginRight) / cols));
  const height = Math.round(options.height ?? marginTop + marginBottom + rows * 210);
  const cellW = (width - marginLeft - marginRight) / cols;
  const cellH = (height - marginTop - marginBottom) / rows;

  let yMin = Infinity;
  let yMax = -Infinity;
  for (const d of clusters) {
    if (d.yMin < yMin) yMin = d.yMin;
    if (d.yMax > yMax) yMax = d.yMax;
  }
  const yt: Ticks = niceTicks(yMin, yMax, Math.max(3, Math.round(cellH / 45)));
  const xt: Ticks = { values: [0, 6, 12, 18, 24], min: 0, max: 24, step: 6 };
  if (cellW > 360) xt.values = [0, 3, 6, 9, 12, 15, 18, 21, 24];

  let body = '';
  body += text(width / 2, 26, data.title ?? 'Cluster profiles', 'middle', 'font-size="18" font-weight="bold"');
  body += legend(width / 2, 46, clusters);
  body += text(18, marginTop + (height - marginTop - marginBottom) / 2, data.yLabel ?? 'normalised energy', 'middle',
    `font-size="13" transform="rotate(-90 18 ${px(marginTop + (height - marginTop - marginBottom) / 2)})"`);
  body += text(marginLeft + (width - marginLeft - marginRight) / 2, height - 10, 'hour of the day', 'middle', 'font-size="13"');

  // The same rounded shares as the pie chart (they add up to 100 %).
  const sizes = new Array<number>(k).fill(0);
  for (const d of clusters) sizes[d.c] = d.members.length;
  const shares = roundedShares(sizes, 1);
  clusters.forEach((d, p) => {
    const r = Math.floor(p / cols);
    const cIdx = p % cols;
    const padLeft = cIdx === 0 ? 0 : 16;
    const f: Frame = {
      x: marginLeft + cIdx * cellW + padLeft,
      y: marginTop + r * cellH + 22,
      w: cellW - padLeft - 12,
      h: cellH - 22 - 22,
      xMin: 0,
      xMax: 24,
      yMin: yt.min,
      yMax: yt.max,
    };
    const colour = clusterColor(d.c);
    const count = d.members.length;
    body += `<g class="panel" data-cluster="${d.c}" data-size="${count}">\n`;
    body += `<rect x="${px(f.x)}" y="${px(f.y - 16)}" width="10" height="10" fill="${colour}"/>\n`;
    body += text(f.x + 15, f.y - 7, `Cluster ${d.c} · ${groupThousands(count)} ${count === 1 ? 'day' : 'days'} (${shares[d.c].toFixed(1)} %)`, 'start', 'font-size="12.5" font-weight="bold"');
    body += drawAxes(f, xt, yt, { yLabels: cIdx === 0, fontSize: 11 });
    body += `<clipPath id="clip${p}"><rect x="${px(f.x)}" y="${px(f.y)}" width="${px(f.w)}" height="${px(f.h)}"/></clipPath>\n`;
    body += `<g clip-path="url(#clip${p})">\n`;
    if (d.band) {
      let pts = polyline(f, hours, d.band.hi, 0, L);
      for (let j = L - 1; j >= 0; j--) pts += ' ' + px(sx(f, hours[j])) + ',' + px(sy(f, d.band.lo[j]));
      // Light palette colours need a denser fill to show against white.
      const fillOpacity = luminance(colour) > 170 ? 0.55 : 0.3;
      body += `<polygon class="band" points="${pts}" fill="${colour}" fill-opacity="${fillOpacity}" stroke="${colour}" stroke-opacity="0.8" stroke-width="0.8"/>\n`;
      // The median is drawn darker than its band so that it stays visible on light palette colours.
      body += `<polyline class="median" points="${polyline(f, hours, d.band.mid, 0, L)}" fill="none" stroke="${shade(colour, luminance(colour) > 170 ? 0.45 : 0.15)}" stroke-width="2.4"/>\n`;
    } else if (count > 0) {
      // Overlapping members should darken, yet thousands of separate elements rasterise slowly:
      // members are spread over up to 8 paths, so overlaps across paths still accumulate.
      const groups = Math.min(8, count);
      // Light palette colours need more opacity to show against white.
      const boost = luminance(colour) > 170 ? 1.8 : 1;
      const opacity = Math.max(0.08, Math.min(0.6, (boost * 0.6) / Math.sqrt(count / groups)));
      const paths: string[] = Array.from({ length: groups }, () => '');
      d.members.forEach((i, t) => {
        paths[t % groups] += 'M' + polyline(f, hours, X, i * L, L).replace(/ /g, 'L');
      });
      body += `<g class="members" fill="none" stroke="${colour}" stroke-opacity="${opacity.toFixed(3)}" stroke-width="1" stroke-linejoin="round">\n`;
      for (const p of paths) body += `<path d="${p}"/>\n`;
      body += `</g>\n`;
    }
    if (count > 0) {
      const pts = polyline(f, hours, d.centre, 0, L);
      // A white halo keeps the centre readable over dense member lines.
      if (!d.band) body += `<polyline points="${pts}" fill="none" stroke="#ffffff" stroke-width="3.6" stroke-opacity="0.9"/>\n`;
      body += `<polyline class="centre" points="${pts}" fill="none" stroke="#111111" stroke-width="1.7" stroke-dasharray="6 4"/>\n`;
    } else {
      body += text(f.x + f.w / 2, f.y + f.h / 2, 'empty cluster', 'middle', 'fill="#888"');
    }
    body += `</g>\n</g>\n`;
  });
  return { svg: svgDocument(width, height, body), width, height, order: clusters.map((d) => d.c) };
}

/** `hex` mixed with black by `amount` (0 = unchanged, 1 = black). */
function shade(hex: string, amount: number): string {
  const v = parseInt(hex.slice(1), 16);
  const ch = (x: number) => Math.round(x * (1 - amount)).toString(16).padStart(2, '0');
  return `#${ch((v >> 16) & 255)}${ch((v >> 8) & 255)}${ch(v & 255)}`;
}

function luminance(hex: string): number {
  const v = parseInt(hex.slice(1), 16);
  return 0.299 * ((v >> 16) & 255) + 0.587 * ((v >> 8) & 255) + 0.114 * (v & 255);
}

function legend(cx: number, y: number, clusters: ClusterDraw[]): string {
  const anyBand = clusters.some((d) => d.band);
  const anyLines = clusters.some((d) => !d.band && d.members.length > 0);
  const items: string[] = [];
  if (anyLines) items.push('faint lines: member days');
  if (anyBand) items.push('band: 10–90 % of member days, solid line: their median');
  items.push('dashed: cluster centre');
  return text(cx, y, items.join('  ·  '), 'middle', `font-size="12" fill="#555"`) + `<desc>${esc('panels ordered by cluster size')}</desc>\n`;
}
