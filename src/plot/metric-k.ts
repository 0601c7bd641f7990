/**
 * A metric against the number of clusters k, one line per series (a model, a metric variant or a
 * seed), for choosing k and for sweeps.
 */
import { inputError } from '../errors.js';
import { drawAxes, sx, sy, type Frame } from './axes.js';
import { seriesColor } from './palette.js';
import { esc, niceTicks, px, svgDocument, text, type Ticks } from './svg.js';

/** One line of the chart. Points with a non-finite value leave a gap. */
export interface MetricSeries {
  name: string;
  points: ReadonlyArray<{ k: number; value: number }>;
}

/** The data of {@link metricVsKSvg}. */
export interface MetricVsKData {
  /** Metric name, the y axis title (e.g. "Silhouette Score"). */
  metric: string;
  series: readonly MetricSeries[];
  /** Title (default "<metric> against k"). */
  title?: string;
  /** A point to ring (e.g. the selected configuration). */
  best?: { series: string; k: number };
  /** Which way is better, said on the y axis title (e.g. "DB Index (lower is better)"). */
  better?: 'higher' | 'lower';
}

/** Layout options of {@link metricVsKSvg}. */
export interface MetricVsKOptions {
  /** Figure width in px (default 760). */
  width?: number;
  /** Figure height in px (default 440). */
  height?: number;
}

/** The SVG of a metric-against-k line chart. */
export function metricVsKSvg(data: MetricVsKData, options: MetricVsKOptions = {}): { svg: string; width: number; height: number } {
  if (data.series.length === 0) throw inputError('E_PLOT_INPUT', `Expected at least one series for ${data.metric} but received none`);
  let kMin = Infinity;
  let kMax = -Infinity;
  let vMin = Infinity;
  let vMax = -Infinity;
  for (const s of data.series) {
    for (const p of s.points) {
      if (!Number.isFinite(p.k)) throw inputError('E_PLOT_INPUT', `series ${s.name}: expected a finite k but found ${p.k}`);
      kMin = Math.min(kMin, p.k);
      kMax = Math.max(kMax, p.k);
      if (Number.isFinite(p.value)) {
        vMin = Math.min(vMin, p.value);
        vMax = Math.max(vMax, p.value);
      }
    }
  }
  if (!Number.isFinite(kMin)) throw inputError('E_PLOT_INPUT', `Expected points for ${data.metric} but every series is empty`);
  const width = Math.round(options.width ?? 760);
  const height = Math.round(options.height ?? 440);
  const legendW = Math.min(220, 40 + 7.2 * Math.max(...data.series.map((s) => s.name.length)));
  const f0 = { x: 76, y: 58, w: width - 76 - 24 - legendW, h: height - 58 - 56 };
  const kStep = Math.max(1, Math.ceil((kMax - kMin) / Math.max(2, Math.floor(f0.w / 40))));
  const xt: Ticks = { values: [], min: kMin - 0.5, max: kMax + 0.5, step: kStep };
  for (let v = Math.ceil(kMin / kStep) * kStep; v <= kMax; v += kStep) xt.values.push(v);
  if (xt.values.length === 0) xt.values.push(kMin);
  const pad = Number.isFinite(vMin) ? (vMax - vMin) * 0.06 : 0;
  const yt = niceTicks(vMin - pad, vMax + pad, 6);
  const f: Frame = { ...f0, xMin: xt.min, xMax: xt.max, yMin: yt.min, yMax: yt.max };

  let body = text(width / 2, 28, data.title ?? `${data.metric} against k`, 'middle', 'font-size="18" font-weight="bold"');
  body += drawAxes(f, xt, yt, { xFormat: (v) => String(v) });
  body += text(f.x + f.w / 2, height - 14, 'number of clusters k', 'middle', 'font-size="13"');
  body += text(20, f.y + f.h / 2, data.better ? `${data.metric} (${data.better} is better)` : data.metric, 'middle', `font-size="13" transform="rotate(-90 20 ${px(f.y + f.h / 2)})"`);
  data.series.forEach((s, i) => {
    const colour = seriesColor(i);
    const pts = [...s.points].sort((a, b) => a.k - b.k);
    let d = '';
    let pen = false;
    for (const p of pts) {
      if (!Number.isFinite(p.value)) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${px(sx(f, p.k))},${px(sy(f, p.value))}`;
      pen = true;
    }
    body += `<g class="series" data-name="${esc(s.name)}">\n<path d="${d}" fill="none" stroke="${colour}" stroke-width="2"/>\n`;
    for (const p of pts) {
      if (Number.isFinite(p.value)) body += `<circle cx="${px(sx(f, p.k))}" cy="${px(sy(f, p.value))}" r="3.2" fill="${colour}"/>\n`;
    }
    body += `</g>\n`;
    const ly = f.y + 12 + i * 20;
    body += `<line x1="${px(f.x + f.w + 16)}" y1="${px(ly - 4)}" x2="${px(f.x + f.w + 38)}" y2="${px(ly - 4)}" stroke="${colour}" stroke-width="2.5"/>\n`;
    body += text(f.x + f.w + 44, ly, s.name, 'start', 'font-size="12"');
  });
  if (data.best) {
    const s = data.series.find((x) => x.name === data.best!.series);
    const p = s?.points.find((q) => q.k === data.best!.k && Number.isFinite(q.value));
    if (p) {
      body += `<circle class="best" cx="${px(sx(f, p.k))}" cy="${px(sy(f, p.value))}" r="8" fill="none" stroke="#111" stroke-width="1.8"/>\n`;
      const right = sx(f, p.k) < f.x + f.w * 0.7;
      body += text(sx(f, p.k) + (right ? 12 : -12), sy(f, p.value) - 10, `best: ${s!.name}, k = ${p.k}`, right ? 'start' : 'end', 'font-size="11.5" font-weight="bold"');
    }
  }
  return { svg: svgDocument(width, height, body), width, height };
}
