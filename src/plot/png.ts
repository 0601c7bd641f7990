/**
 * SVG → PNG with resvg (a Rust rasteriser shipped as a prebuilt binary inside its npm package).
 * The DejaVu Sans TTF files come from the `dejavu-fonts-ttf` package and are passed explicitly, with
 * system fonts off, so a PNG looks the same on every machine, including one with no fonts at all.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { Resvg } from '@resvg/resvg-js';
import { externalError } from '../errors.js';
import { FONT_FAMILY } from './svg.js';

const require = createRequire(import.meta.url);
let cachedFonts: string[] | undefined;

/** Paths of the TTF files given to the rasteriser (DejaVu Sans regular and bold). */
export function fontFiles(): string[] {
  if (cachedFonts) return cachedFonts;
  const names = ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf'];
  const files: string[] = [];
  for (const name of names) {
    let file: string | undefined;
    try {
      file = require.resolve(`dejavu-fonts-ttf/ttf/${name}`);
    } catch {
      file = undefined;
    }
    if (!file || !existsSync(file)) {
      throw externalError('E_PLOT_FONT', `the chart font ${name} was not found in the dejavu-fonts-ttf package`, {
        hint: 'reinstall the dependencies with `npm ci`',
      });
    }
    files.push(file);
  }
  cachedFonts = files;
  return files;
}

/**
 * Rasterise an SVG document. The PNG is `scale` times the SVG's width and height (rounded).
 * @param scale zoom factor, e.g. 1 for the screen copy, 3 for a high-resolution copy
 */
export function svgToPng(svg: string, scale = 1): Buffer {
  if (!(scale > 0) || !Number.isFinite(scale)) throw new RangeError(`Expected a positive scale but received ${scale}`);
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: '#ffffff',
    font: {
      loadSystemFonts: false,
      fontFiles: fontFiles(),
      defaultFontFamily: FONT_FAMILY,
      sansSerifFamily: FONT_FAMILY,
    },
  });
  return resvg.render().asPng();
}
