/**
 * The silhouette plot: every sample's silhouette as a horizontal bar, grouped by cluster and sorted
 * within its cluster, with the mean silhouette as a dashed line.
 */
import { inputError } from '../errors.js';
import { drawAxes, sx, type Frame } from './axes.js';
import { checkClustering } from './centers.js';
import { clusterColor } from './palette.js';
import { niceTicks, px, svgDocument, text } from './svg.js';

/** The data of {@link silhouetteSvg}. */
export interface SilhouetteData {
  /** Silhouette of each sample, in [−1, 1]; length n. */
  silhouettes: ArrayLike<number>;
  /** Cluster of each sample, 0..k−1; length n. */
  labels: ArrayLike<number>;
  /** Number of clusters (default: largest label + 1). */
  k?: number;
  /** Title (default "Silhouette per day"). */
  title?: string;
  /** Which distance the silhouettes use, shown in the axis title (e.g. "Euclidean", "DTW"). */
  distance?: string;
}

/** Layout options of {@link silhouetteSvg}. */
export interface SilhouetteOptions {
  /** Figure width in px (default 720). */
  width?: number;
  /** Figure height in px (default 520). */
  height?: number;
}

/** The SVG of the silhouette plot; clusters from top (0) to bottom (k − 1). */
export function silhouetteSvg(data: SilhouetteData, options: SilhouetteOptions = {}): { svg: string; width: number; height: number; mean: number } {
  const n = data.silhouettes.length;
  if (n === 0) throw inputError('E_PLOT_INPUT', 'Expected at least one silhouette value but received none');
  const k = checkClustering(n, 1, data.labels, data.k);
  const groups: number[][] = Array.from({ length: k }, () => []);
  let sum = 0;
  let min = 0;
  let max = 0;
  for (let i = 0; i < n; i++) {
    const s = data.silhouettes[i];
    if (!Number.isFinite(s)) throw inputError('E_PLOT_INPUT', `Expected finite silhouettes but sample ${i + 1} has ${s}`);
    groups[data.labels[i]].push(s);
    sum += s;
    if (s < min) min = s;
    if (s > max) max = s;
  }
  const mean = sum / n;
  const width = Math.round(options.width ?? 720);
  const height = Math.round(options.height ?? 520);
  // The axis spans the data (at least −0.1..0.1), not always −1..1: typical silhouettes are small.
  const xt = niceTicks(Math.min(-0.1, min), Math.max(0.1, max), 6);
  const f: Frame = { x: 90, y: 72, w: width - 90 - 24, h: height - 62 - 52, xMin: xt.min, xMax: Math.min(1, xt.max), yMin: 0, yMax: 1 };
  const gap = Math.min(8, (f.h * 0.25) / Math.max(1, k - 1));
  const heights = groupHeights(groups.map((g) => g.length), f.h - 8 - gap * (k - 1), 14);

  let body = text(width / 2, 28, data.title ?? 'Silhouette per day', 'middle', 'font-size="18" font-weight="bold"');
  body += text(width / 2, 46, `${k} clusters, days sorted by silhouette within each; bar heights follow cluster sizes (at least 14 px)`, 'middle', 'font-size="12" fill="#555"');
  body += drawAxes(f, xt, { values: [], min: 0, max: 1, step: 1 }, { yLabels: false });
  const x0 = sx(f, 0);
  let y = f.y + 4;
  for (let c = 0; c < k; c++) {
    const g = Float64Array.from(groups[c]).sort().reverse();
    const top = y;
    const rowH = g.length > 0 ? heights[c] / g.length : 0;
    if (g.length > 0) {
      // One polygon per cluster: the outline of its bars (one vertex pair per sample).
      let pts = `${px(x0)},${px(top)}`;
      for (let t = 0; t < g.length; t++) {
        const xv = px(sx(f, g[t]));
        pts += ` ${xv},${px(top + t * rowH)} ${xv},${px(top + (t + 1) * rowH)}`;
      }
      pts += ` ${px(x0)},${px(top + g.length * rowH)}`;
      body += `<polygon class="cluster" data-cluster="${c}" data-size="${g.length}" points="${pts}" fill="${clusterColor(c)}" stroke="${clusterColor(c)}" stroke-width="0.5"/>\n`;
    }
    const h = heights[c];
    if (h >= 9) body += text(f.x - 8, top + h / 2 + 4, `Cluster ${c}`, 'end', 'font-size="11.5"');
    y += h + gap;
  }
  body += `<line x1="${px(x0)}" y1="${px(f.y)}" x2="${px(x0)}" y2="${px(f.y + f.h)}" stroke="#666" stroke-width="1"/>\n`;
  const xm = sx(f, mean);
  body += `<line class="mean" x1="${px(xm)}" y1="${px(f.y)}" x2="${px(xm)}" y2="${px(f.y + f.h)}" stroke="#c0392b" stroke-width="1.6" stroke-dasharray="6 4"/>\n`;
  body += text(xm, f.y - 5, `mean ${mean.toFixed(3)}`, 'middle', 'font-size="11.5" fill="#c0392b"');
  body += text(f.x + f.w / 2, height - 12, `silhouette${data.distance ? ` (${data.distance})` : ''}`, 'middle', 'font-size="13"');
  return { svg: svgDocument(width, height, body), width, height, mean };
}

/**
 * Heights (px) of the cluster groups: proportional to their sizes, but at least `minH` for a
 * non-empty cluster when that fits, so that small clusters stay visible and labelled.
 */
function groupHeights(sizes: number[], total: number, minH: number): number[] {
  const nonEmpty = sizes.filter((s) => s > 0).length;
  const floor = nonEmpty * minH <= total * 0.6 ? minH : 0;
  const heights = sizes.map(() => 0);
  let free = total;
  let rest = sizes.reduce((a, b) => a + b, 0);
  // Clusters whose proportional share is below the floor get the floor; the others share what is left.
  const fixed = new Set<number>();
  for (;;) {
    let changed = false;
    for (let c = 0; c < sizes.length; c++) {
      if (sizes[c] === 0 || fixed.has(c)) continue;
      if ((sizes[c] / rest) * free < floor) {
        fixed.add(c);
        free -= floor;
        rest -= sizes[c];
        changed = true;
      }
    }
    if (!changed) break;
  }
  for (let c = 0; c < sizes.length; c++) {
    if (sizes[c] === 0) continue;
    heights[c] = fixed.has(c) ? floor : (sizes[c] / rest) * free;
  }
  return heights;
}
