/**
 * Minimal SVG writing: escaping, compact coordinates, axis ticks. The charts build SVG text
 * directly, which keeps full control of the layout and stays fast for tens of thousands of lines.
 */

/** The font every chart uses; {@link ./png.ts} ships it to the rasteriser, so PNG text never depends on system fonts. */
export const FONT_FAMILY = 'DejaVu Sans';

/**
 * Widest default figure, in px (the PNG at scale 1). MLflow's run page shows a PNG artifact at its
 * own pixel size beside the artifact tree, so a wider one is cut or scrolls sideways: with a
 * 1280–1440 px browser window the preview pane has roughly 800–950 px. 800 fits both; the SVG stays
 * scalable and the centres chart also has a 3× `_hires.png` for print and zoom.
 */
export const VIEWER_WIDTH = 800;

/** Escape text for SVG element content and attribute values. */
export function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A coordinate rounded to 0.01 px (keeps files small; invisible at any zoom we render). */
export function px(v: number): string {
  const r = Math.round(v * 100) / 100;
  return Object.is(r, -0) ? '0' : String(r);
}

/** Ticks of an axis: round values covering [min, max]. */
export interface Ticks {
  /** Tick values, ascending. */
  values: number[];
  /** Axis range after widening to the outer ticks. */
  min: number;
  max: number;
  /** Distance between ticks. */
  step: number;
}

/**
 * About `count` round ticks (1, 2, 2.5, 5 × 10^n) covering [min, max]; the range is widened to the
 * outer ticks. A zero-width range is widened around its value.
 */
export function niceTicks(min: number, max: number, count = 5): Ticks {
  if (!Number.isFinite(min) || !Number.isFinite(max)) {
    min = 0;
    max = 1;
  }
  if (max < min) [min, max] = [max, min];
  if (max - min < 1e-12) {
    const pad = Math.abs(min) > 0 ? Math.abs(min) * 0.1 : 1;
    min -= pad;
    max += pad;
  }
  const raw = (max - min) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10) * mag;
  const lo = Math.floor(min / step + 1e-9) * step;
  const hi = Math.ceil(max / step - 1e-9) * step;
  const values: number[] = [];
  for (let v = lo; v <= hi + step * 1e-6; v += step) values.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return { values, min: lo, max: hi, step };
}

/** Text of a tick value with as many decimals as the step needs. */
export function tickLabel(v: number, step: number): string {
  const e = Math.floor(Math.log10(step) + 1e-9);
  let decimals = Math.max(0, -e);
  if (Math.abs(step / 10 ** e - 2.5) < 1e-9) decimals += 1;
  const s = v.toFixed(Math.min(decimals, 8));
  return s.startsWith('-') && Number(s) !== 0 ? '\u2212' + s.slice(1) : s.replace(/^-/, '');
}

/** Thousands separated by a thin space (readable in every locale). */
export function groupThousands(n: number): string {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, '\u2009');
}

/** A complete SVG document of `width` × `height` px with a white background. */
export function svgDocument(width: number, height: number, body: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
    `font-family="${FONT_FAMILY}, sans-serif" font-size="12" fill="#222">\n` +
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>\n${body}</svg>\n`
  );
}

/** A text element; `anchor` start|middle|end; `extra` is added verbatim to the attributes. */
export function text(x: number, y: number, content: string, anchor: 'start' | 'middle' | 'end' = 'start', extra = ''): string {
  return `<text x="${px(x)}" y="${px(y)}" text-anchor="${anchor}"${extra ? ' ' + extra : ''}>${esc(content)}</text>\n`;
}
