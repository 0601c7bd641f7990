/**
 * A plotting frame (a data rectangle on the page) and its axes: ticks, grid lines, tick labels.
 */
import { px, text, tickLabel, type Ticks } from './svg.js';

/** A data rectangle: page position and size in px, and the data ranges it maps. */
export interface Frame {
  x: number;
  y: number;
  w: number;
  h: number;
  xMin: number;
  xMax: number;
  yMin: number;
  yMax: number;
}

/** Page x of data value `v`. */
export function sx(f: Frame, v: number): number {
  return f.x + ((v - f.xMin) / (f.xMax - f.xMin || 1)) * f.w;
}

/** Page y of data value `v` (data grows upwards). */
export function sy(f: Frame, v: number): number {
  return f.y + f.h - ((v - f.yMin) / (f.yMax - f.yMin || 1)) * f.h;
}

/** What {@link drawAxes} draws. */
export interface AxesStyle {
  /** Label the x ticks (false on inner panels of a grid). */
  xLabels?: boolean;
  /** Label the y ticks. */
  yLabels?: boolean;
  /** Tick label text (default from the tick step). */
  xFormat?: (v: number) => string;
  yFormat?: (v: number) => string;
  /** Tick label size in px (default 11). */
  fontSize?: number;
}

/** Grid lines, frame and tick labels of a frame. Drawn under the data. */
export function drawAxes(f: Frame, xt: Ticks, yt: Ticks, style: AxesStyle = {}): string {
  const fs = style.fontSize ?? 11;
  const xFormat = style.xFormat ?? ((v: number) => tickLabel(v, xt.step));
  const yFormat = style.yFormat ?? ((v: number) => tickLabel(v, yt.step));
  let out = `<g stroke="#e4e4e4" stroke-width="1">`;
  for (const v of xt.values) if (v >= f.xMin && v <= f.xMax) out += `<line x1="${px(sx(f, v))}" y1="${px(f.y)}" x2="${px(sx(f, v))}" y2="${px(f.y + f.h)}"/>`;
  for (const v of yt.values) if (v >= f.yMin && v <= f.yMax) out += `<line x1="${px(f.x)}" y1="${px(sy(f, v))}" x2="${px(f.x + f.w)}" y2="${px(sy(f, v))}"/>`;
  out += `</g>\n<rect x="${px(f.x)}" y="${px(f.y)}" width="${px(f.w)}" height="${px(f.h)}" fill="none" stroke="#9a9a9a" stroke-width="1"/>\n`;
  out += `<g font-size="${fs}" fill="#444">\n`;
  if (style.xLabels !== false) {
    for (const v of xt.values) if (v >= f.xMin && v <= f.xMax) out += text(sx(f, v), f.y + f.h + fs + 3, xFormat(v), 'middle');
  }
  if (style.yLabels !== false) {
    for (const v of yt.values) if (v >= f.yMin && v <= f.yMax) out += text(f.x - 5, sy(f, v) + fs * 0.35, yFormat(v), 'end');
  }
  out += `</g>\n`;
  return out;
}
