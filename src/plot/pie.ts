/**
 * The cluster sizes pie chart, with a legend giving each cluster's size and share.
 */
import { inputError } from '../errors.js';
import { clusterColor } from './palette.js';
import { groupThousands, px, svgDocument, text } from './svg.js';

/** The data of {@link clusterPieSvg}. */
export interface ClusterPieData {
  /** Size of each cluster (index = cluster number); at least one positive. */
  sizes: ArrayLike<number>;
  /** Title (default "Cluster sizes"). */
  title?: string;
}

/** Layout options of {@link clusterPieSvg}. */
export interface ClusterPieOptions {
  /** Figure width in px (default 720). */
  width?: number;
  /** Figure height in px (default 440, more when the legend needs it). */
  height?: number;
}

/** Cluster sizes from labels: counts[c] = members of cluster c (length k). */
export function countLabels(labels: ArrayLike<number>, k?: number): number[] {
  let kk = k ?? 0;
  if (k === undefined) for (let i = 0; i < labels.length; i++) kk = Math.max(kk, labels[i] + 1);
  const sizes = new Array<number>(kk).fill(0);
  for (let i = 0; i < labels.length; i++) sizes[labels[i]]++;
  return sizes;
}

/**
 * Percentages of `sizes` rounded to `decimals` places so that they add up to exactly 100 (the
 * largest-remainder method: round every share down, then give the missing units to the shares
 * that lost the most, ties to the lower index). Plain rounding shows e.g. 33.3 + 33.3 + 33.3.
 * @returns one percentage per size, as numbers with at most `decimals` places
 */
export function roundedShares(sizes: ArrayLike<number>, decimals = 1): number[] {
  const unit = 10 ** decimals;
  let total = 0;
  for (let c = 0; c < sizes.length; c++) total += sizes[c];
  if (!(total > 0)) return Array.from({ length: sizes.length }, () => 0);
  const exact = Array.from({ length: sizes.length }, (_, c) => (sizes[c] / total) * 100 * unit);
  const units = exact.map(Math.floor);
  let missing = 100 * unit - units.reduce((a, b) => a + b, 0);
  const byRemainder = exact.map((x, c) => ({ c, r: x - units[c] })).sort((a, b) => b.r - a.r || a.c - b.c);
  for (let i = 0; missing > 0 && i < byRemainder.length; i++, missing--) units[byRemainder[i].c]++;
  return units.map((u) => u / unit);
}

/** The SVG of the pie chart: slices clockwise from 12 o'clock, largest first. */
export function clusterPieSvg(data: ClusterPieData, options: ClusterPieOptions = {}): { svg: string; width: number; height: number } {
  const k = data.sizes.length;
  let total = 0;
  for (let c = 0; c < k; c++) {
    const s = data.sizes[c];
    if (!(s >= 0) || !Number.isFinite(s)) throw inputError('E_PLOT_INPUT', `Expected cluster sizes ≥ 0 but cluster ${c} has ${s}`);
    total += s;
  }
  if (!(total > 0)) throw inputError('E_PLOT_INPUT', 'Expected at least one non-empty cluster for the pie chart');
  const order = Array.from({ length: k }, (_, c) => c).sort((a, b) => data.sizes[b] - data.sizes[a] || a - b);
  const rowH = 21;
  // One rounding for the slices and the legend, adding up to 100 %.
  const shares = roundedShares(data.sizes, 1);
  const width = Math.round(options.width ?? 720);
  const height = Math.round(options.height ?? Math.max(440, 90 + k * rowH));
  const r = Math.min(width * 0.3, (height - 90) / 2);
  const cx = 30 + r;
  const cy = 58 + (height - 58 - 20) / 2;

  let body = text(width / 2, 30, data.title ?? 'Cluster sizes', 'middle', 'font-size="18" font-weight="bold"');
  body += text(width / 2, 48, `${groupThousands(total)} days in ${k} clusters`, 'middle', 'font-size="12" fill="#555"');
  let angle = 0;
  const labels: string[] = [];
  for (const c of order) {
    const s = data.sizes[c];
    if (s === 0) continue;
    const frac = s / total;
    const a0 = angle;
    const a1 = angle + frac * 2 * Math.PI;
    angle = a1;
    const colour = clusterColor(c);
    if (frac > 0.999999) {
      body += `<circle class="slice" data-cluster="${c}" cx="${px(cx)}" cy="${px(cy)}" r="${px(r)}" fill="${colour}" stroke="#fff" stroke-width="1.5"/>\n`;
    } else {
      const x0 = cx + r * Math.sin(a0);
      const y0 = cy - r * Math.cos(a0);
      const x1 = cx + r * Math.sin(a1);
      const y1 = cy - r * Math.cos(a1);
      const large = a1 - a0 > Math.PI ? 1 : 0;
      body += `<path class="slice" data-cluster="${c}" d="M${px(cx)},${px(cy)} L${px(x0)},${px(y0)} A${px(r)},${px(r)} 0 ${large} 1 ${px(x1)},${px(y1)} Z" fill="${colour}" stroke="#fff" stroke-width="1.5"/>\n`;
    }
    // Percentages inside slices wide enough to hold them; the legend has them all.
    if (a1 - a0 > 0.28) {
      const mid = (a0 + a1) / 2;
      const lx = cx + r * 0.68 * Math.sin(mid);
      const ly = cy - r * 0.68 * Math.cos(mid);
      labels.push(text(lx, ly + 4, `${shares[c].toFixed(1)} %`, 'middle', `font-size="12" font-weight="bold" fill="${textOn(colour)}"`));
    }
  }
  body += labels.join('');
  const lx = cx + r + 40;
  let ly = cy - (Math.min(k, order.length) * rowH) / 2 + 10;
  body += `<g font-size="12.5">\n`;
  for (const c of order) {
    const s = data.sizes[c];
    body += `<rect x="${px(lx)}" y="${px(ly - 10)}" width="12" height="12" fill="${clusterColor(c)}"/>\n`;
    body += text(lx + 19, ly, `Cluster ${c}`, 'start');
    body += text(lx + 150, ly, groupThousands(s), 'end');
    body += text(lx + 220, ly, `${shares[c].toFixed(1)} %`, 'end', 'fill="#555"');
    ly += rowH;
  }
  body += `</g>\n`;
  return { svg: svgDocument(width, height, body), width, height };
}

/** Black or white, whichever reads better on `hex`. */
export function textOn(hex: string): string {
  const v = parseInt(hex.slice(1), 16);
  const lum = 0.299 * ((v >> 16) & 255) + 0.587 * ((v >> 8) & 255) + 0.114 * (v & 255);
  return lum > 150 ? '#111111' : '#ffffff';
}
