/**
 * Charts of lpclust, rendered headlessly: data in, SVG and PNG files out (no tracking, no CLI).
 *
 * Each `render*` function writes `<outDir>/<basename>.svg` and `<outDir>/<basename>.png` (and, when
 * asked, a high-resolution `<basename>_hires.png`) atomically and returns their paths; the `*Svg`
 * functions return the SVG text only. One palette ({@link clusterColor}) colours cluster c the same
 * in every chart.
 */
import path from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { usageError } from '../errors.js';
import { clusterCentersSvg, type ClusterCentersData, type ClusterCentersOptions } from './centers.js';
import { clusterPieSvg, countLabels, type ClusterPieOptions } from './pie.js';
import { silhouetteSvg, type SilhouetteData, type SilhouetteOptions } from './silhouette.js';
import { metricVsKSvg, type MetricVsKData, type MetricVsKOptions } from './metric-k.js';
import { svgToPng } from './png.js';

export * from './palette.js';
export { FONT_FAMILY, niceTicks, type Ticks } from './svg.js';
export { fontFiles, svgToPng } from './png.js';
export { roundedShares } from './pie.js';
export { groupThousands, VIEWER_WIDTH } from './svg.js';
export * from './centers.js';
export * from './pie.js';
export * from './silhouette.js';
export * from './metric-k.js';

/** Where and how a chart is written. */
export interface RenderTarget {
  /** Output directory (created when missing). */
  outDir: string;
  /** File name without extension, e.g. `clusterCenters`. */
  basename: string;
  /** Formats to write (default both). */
  formats?: ReadonlyArray<'svg' | 'png'>;
  /** PNG zoom: the PNG is `scale` × the SVG size in px (default 1). */
  scale?: number;
  /** Also write `<basename>_hires.png` at this zoom (default: 3 for the centres chart, none for the others; 0 = none). */
  hiResScale?: number;
}

/** The files a render wrote (absent when that format was not asked for) and the SVG size in px. */
export interface RenderedFiles {
  svg?: string;
  png?: string;
  pngHiRes?: string;
  width: number;
  height: number;
}

async function writeChart(svg: string, width: number, height: number, target: RenderTarget, defaultHiRes: number): Promise<RenderedFiles> {
  const formats = target.formats ?? ['svg', 'png'];
  const scale = target.scale ?? 1;
  const hiRes = target.hiResScale ?? defaultHiRes;
  if (!(scale > 0)) throw usageError('E_PLOT_SCALE', `Expected a positive PNG scale but received ${scale}`);
  if (!(hiRes >= 0)) throw usageError('E_PLOT_SCALE', `Expected a high-resolution scale ≥ 0 but received ${hiRes}`);
  if (!/^[\w.-]+$/.test(target.basename)) {
    throw usageError('E_PLOT_NAME', `Expected a chart file name of letters, digits, '.', '_' or '-' but received "${target.basename}"`);
  }
  const out: RenderedFiles = { width, height };
  const base = path.join(target.outDir, target.basename);
  if (formats.includes('svg')) {
    out.svg = `${base}.svg`;
    await writeFileAtomic(out.svg, svg);
  }
  if (formats.includes('png')) {
    out.png = `${base}.png`;
    await writeFileAtomic(out.png, svgToPng(svg, scale));
    if (hiRes > 0) {
      out.pngHiRes = `${base}_hires.png`;
      await writeFileAtomic(out.pngHiRes, svgToPng(svg, hiRes));
    }
  }
  return out;
}

/**
 * Write the cluster centres chart (`clusterCenters.svg`, `.png` and `_hires.png` at 3× by default).
 * @example renderClusterCenters({ X, L: 24, labels, centres, slots }, { outDir: 'plots', basename: 'clusterCenters' })
 */
export async function renderClusterCenters(
  data: ClusterCentersData,
  target: RenderTarget,
  options: ClusterCentersOptions = {},
): Promise<RenderedFiles & { order: number[] }> {
  const { svg, width, height, order } = clusterCentersSvg(data, options);
  return { ...(await writeChart(svg, width, height, target, 3)), order };
}

/**
 * Write the cluster sizes pie chart from labels (n, 0..k−1) or from sizes (length k).
 */
export async function renderClusterPie(
  data: { labels: ArrayLike<number>; k?: number; title?: string } | { sizes: ArrayLike<number>; title?: string },
  target: RenderTarget,
  options: ClusterPieOptions = {},
): Promise<RenderedFiles> {
  const sizes = 'sizes' in data ? data.sizes : countLabels(data.labels, data.k);
  const { svg, width, height } = clusterPieSvg({ sizes, title: data.title }, options);
  return writeChart(svg, width, height, target, 0);
}

/** Write the silhouette plot (per-sample silhouettes grouped by cluster). */
export async function renderSilhouette(data: SilhouetteData, target: RenderTarget, options: SilhouetteOptions = {}): Promise<RenderedFiles> {
  const { svg, width, height } = silhouetteSvg(data, options);
  return writeChart(svg, width, height, target, 0);
}

/** Write a chart of a metric against k (one line per series). */
export async function renderMetricVsK(data: MetricVsKData, target: RenderTarget, options: MetricVsKOptions = {}): Promise<RenderedFiles> {
  const { svg, width, height } = metricVsKSvg(data, options);
  return writeChart(svg, width, height, target, 0);
}

/** The data of {@link renderClusterPlots}: a clustering, and optionally its per-sample silhouettes. */
export interface ClusterPlotsData extends ClusterCentersData {
  /** Silhouette of each profile (length n); adds `silhouette.svg/.png`. */
  silhouettes?: ArrayLike<number>;
  /** Distance the silhouettes use, for the axis title (e.g. "Euclidean", "DTW"). */
  silhouetteDistance?: string;
  /**
   * Labels of the rows `silhouettes` belong to, when they are a sample of the days (large n:
   * `--scale sampled`); default `labels`.
   */
  silhouetteLabels?: ArrayLike<number>;
  /** Title of the silhouette plot (say when it shows a sample). */
  silhouetteTitle?: string;
}

/** What {@link renderClusterPlots} wrote. */
export interface ClusterPlotsFiles {
  clusterCenters: RenderedFiles & { order: number[] };
  clusterPie: RenderedFiles;
  silhouette?: RenderedFiles;
  /** Every file written, for logging them as artifacts. */
  files: string[];
}

/**
 * The standard plots of a clustering run in `outDir`: `clusterCenters.svg/.png/_hires.png`,
 * `clusterPie.svg/.png`, and `silhouette.svg/.png` when silhouettes are given.
 */
export async function renderClusterPlots(data: ClusterPlotsData, outDir: string, options: ClusterCentersOptions = {}): Promise<ClusterPlotsFiles> {
  const clusterCenters = await renderClusterCenters(data, { outDir, basename: 'clusterCenters' }, options);
  const k = clusterCenters.order.length;
  const clusterPie = await renderClusterPie({ labels: data.labels, k }, { outDir, basename: 'clusterPie' });
  const silhouette = data.silhouettes
    ? await renderSilhouette(
        { silhouettes: data.silhouettes, labels: data.silhouetteLabels ?? data.labels, k, distance: data.silhouetteDistance, ...(data.silhouetteTitle ? { title: data.silhouetteTitle } : {}) },
        { outDir, basename: 'silhouette' },
      )
    : undefined;
  const files: string[] = [];
  for (const r of [clusterCenters, clusterPie, silhouette]) {
    if (!r) continue;
    for (const f of [r.svg, r.png, r.pngHiRes]) if (f) files.push(f);
  }
  return { clusterCenters, clusterPie, silhouette, files };
}
