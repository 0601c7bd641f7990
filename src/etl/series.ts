/**
 * Helpers for sources: a growable one-meter series builder and a fast streaming line reader
 * (plain or gzip files) used on the ETL hot paths.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { inputError } from '../errors.js';
import type { RawSeries, SeriesKind } from './types.js';

/**
 * Accumulates one meter's records in growable typed arrays, then hands them out as a
 * {@link RawSeries} (no copy: the arrays may be longer than `n`).
 */
export class SeriesBuilder {
  readonly meter: string;
  readonly kind: SeriesKind;
  readonly file?: string;
  private t: Float64Array;
  private imp: Float64Array;
  private exp: Float64Array | null;
  private lines: Int32Array;
  /** Records pushed so far. */
  n = 0;

  /**
   * @param withExport true when the series has an export channel
   * @param capacity initial capacity in records (grows by doubling)
   */
  constructor(meter: string, kind: SeriesKind, withExport: boolean, file?: string, capacity = 4096) {
    this.meter = meter;
    this.kind = kind;
    this.file = file;
    this.t = new Float64Array(capacity);
    this.imp = new Float64Array(capacity);
    this.exp = withExport ? new Float64Array(capacity) : null;
    this.lines = new Int32Array(capacity);
  }

  /** Append one record (ms UTC, import Wh, export Wh or 0 when no export channel, source line). */
  push(t: number, imp: number, exp: number, line: number): void {
    if (this.n === this.t.length) this.grow();
    const i = this.n++;
    this.t[i] = t;
    this.imp[i] = imp;
    if (this.exp !== null) this.exp[i] = exp;
    this.lines[i] = line;
  }

  private grow(): void {
    const cap = this.t.length * 2;
    const g = (a: Float64Array) => {
      const b = new Float64Array(cap);
      b.set(a);
      return b;
    };
    this.t = g(this.t);
    this.imp = g(this.imp);
    if (this.exp !== null) this.exp = g(this.exp);
    const l = new Int32Array(cap);
    l.set(this.lines);
    this.lines = l;
  }

  /** The series (shares the builder's arrays; do not push afterwards). */
  build(): RawSeries {
    return { meter: this.meter, kind: this.kind, t: this.t, imp: this.imp, exp: this.exp, n: this.n, lines: this.lines, file: this.file };
  }
}

/**
 * Stream the lines of a text file, plain or gzip (detected by the `.gz` suffix or the gzip magic
 * bytes), in batches of lines (CR and a leading BOM removed). `firstLineNo` is the 1-based line
 * number of `lines[0]`. Faster than `readline` on large inputs; memory is one batch.
 * @throws LpclustError E_INPUT_MISSING when the file cannot be read.
 */
export async function* lineBatches(file: string): AsyncGenerator<{ lines: string[]; firstLineNo: number }> {
  try {
    const st = await stat(file);
    if (!st.isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw inputError('E_INPUT_MISSING', `cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (e as Error).message}`, {
      hint: 'check the path',
      where: { file },
      cause: e,
    });
  }
  const gz = file.endsWith('.gz') || (await isGzip(file));
  const raw = createReadStream(file, { highWaterMark: 1 << 20 });
  const stream = gz ? raw.pipe(createGunzip()) : raw;
  stream.setEncoding('utf8');
  let rest = '';
  let lineNo = 0;
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      const text = rest + chunk;
      const lines = text.split('\n');
      rest = lines.pop()!;
      const first = lineNo + 1;
      for (let i = 0; i < lines.length; i++) {
        const l = lines[i];
        if (l.length > 0 && l.charCodeAt(l.length - 1) === 13) lines[i] = l.slice(0, -1);
      }
      if (lineNo === 0 && lines.length > 0 && lines[0].charCodeAt(0) === 0xfeff) lines[0] = lines[0].slice(1);
      lineNo += lines.length;
      if (lines.length > 0) yield { lines, firstLineNo: first };
    }
  } catch (e) {
    if ((e as { kind?: string }).kind !== undefined) throw e;
    throw inputError('E_INPUT_READ', `cannot read ${file}: ${(e as Error).message}`, { where: { file }, cause: e });
  } finally {
    raw.destroy();
  }
  if (rest.length > 0) {
    if (rest.endsWith('\r')) rest = rest.slice(0, -1);
    if (lineNo === 0 && rest.charCodeAt(0) === 0xfeff) rest = rest.slice(1);
    yield { lines: [rest], firstLineNo: lineNo + 1 };
  }
}

async function isGzip(file: string): Promise<boolean> {
  const s = createReadStream(file, { start: 0, end: 1 });
  const bufs: Buffer[] = [];
  for await (const b of s) bufs.push(b as Buffer);
  const b = Buffer.concat(bufs);
  return b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
}
