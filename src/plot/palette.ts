/**
 * Colours. A cluster has the same colour in every chart: all charts take it from
 * {@link clusterColor}, keyed by the cluster number (clusters are numbered by decreasing size, so
 * cluster 0, the largest, is always the first colour).
 */

/** The first 20 cluster colours: 10 saturated hues, then their light variants (the common "tab20" order). */
export const CLUSTER_PALETTE: readonly string[] = [
  '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf',
  '#aec7e8', '#ffbb78', '#98df8a', '#ff9896', '#c5b0d5', '#c49c94', '#f7b6d2', '#c7c7c7', '#dbdb8d', '#9edae5',
];

/**
 * The colour of cluster `c` (0-based) as `#rrggbb`. Beyond the 20 palette colours, hues step by the
 * golden angle so that neighbouring cluster numbers stay distinguishable.
 */
export function clusterColor(c: number): string {
  if (!Number.isInteger(c) || c < 0) return '#555555';
  if (c < CLUSTER_PALETTE.length) return CLUSTER_PALETTE[c];
  const hue = (c * 137.508) % 360;
  const light = c % 2 === 0 ? 0.45 : 0.62;
  return hslToHex(hue, 0.6, light);
}

/** Colours of the series of a line chart (models, metrics); distinct from the cluster colours' meaning. */
export const SERIES_PALETTE: readonly string[] = [
  '#1b9e77', '#d95f02', '#7570b3', '#e7298a', '#66a61e', '#e6ab02', '#a6761d', '#666666',
];

/** The colour of series `i` of a line chart. */
export function seriesColor(i: number): string {
  if (i < SERIES_PALETTE.length) return SERIES_PALETTE[i];
  return hslToHex((i * 137.508) % 360, 0.55, 0.4);
}

function hslToHex(h: number, s: number, l: number): string {
  const a = s * Math.min(l, 1 - l);
  const f = (n: number) => {
    const k = (n + h / 30) % 12;
    const v = l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1));
    return Math.round(v * 255).toString(16).padStart(2, '0');
  };
  return `#${f(0)}${f(8)}${f(4)}`;
}
