/**
 * Minimal, fast CSV reading for lpclust's inputs: comma-separated, optional double quotes
 * (RFC 4180 escaping, no newlines inside quoted fields), streamed line by line so memory does not
 * grow with the file.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { inputError } from '../errors.js';

/**
 * Split one CSV line into fields.
 * @param line one line without its newline
 * @param sep separator character (default `,`)
 */
export function splitCsvLine(line: string, sep = ','): string[] {
  if (line.indexOf('"') < 0) return line.split(sep);
  const out: string[] = [];
  let i = 0;
  const n = line.length;
  while (i <= n) {
    if (line[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) {
          v += line.slice(i);
          i = n;
          break;
        }
        v += line.slice(i, q);
        if (line[q + 1] === '"') {
          v += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      out.push(v);
      if (line[i] === sep) i++;
      else i = n + 1;
    } else {
      const c = line.indexOf(sep, i);
      if (c < 0) {
        out.push(line.slice(i));
        i = n + 1;
      } else {
        out.push(line.slice(i, c));
        i = c + 1;
      }
    }
  }
  return out;
}

/** Quote a field if it holds a separator, quote or newline. */
export function csvField(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/**
 * Iterate the lines of a text file with their 1-based line numbers (CRLF tolerated, BOM removed).
 * @throws LpclustError E_INPUT_MISSING when the file cannot be opened.
 */
export async function* readLines(file: string): AsyncGenerator<{ line: string; lineNo: number }> {
  const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 });
  const opened = new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', reject);
  });
  try {
    await opened;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw inputError('E_INPUT_MISSING', `cannot read ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`, {
      hint: 'check the path',
      where: { file },
      cause: e,
    });
  }
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  let lineNo = 0;
  for await (let line of rl) {
    lineNo++;
    if (lineNo === 1 && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    if (line.endsWith('\r')) line = line.slice(0, -1);
    yield { line, lineNo };
  }
}

/**
 * Call `onLine` for every line of a text file with its 1-based line number: the same lines as
 * {@link readLines} (`\r\n`, `\n` and a lone `\r` end a line; the BOM is removed), read in chunks
 * of `chunkChars` and handed over synchronously, without a promise per line: what readers of
 * 10⁶-row files use. Memory holds one chunk and the line it splits, never the whole file.
 * @throws LpclustError E_INPUT_MISSING when the file cannot be opened; whatever `onLine` throws.
 */
export async function forEachLine(file: string, onLine: (line: string, lineNo: number) => void, options: { chunkChars?: number } = {}): Promise<void> {
  const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: options.chunkChars ?? 1 << 20 });
  let lineNo = 0;
  // A piece that holds no `\r`, or only a final one (CRLF split by `\n`), is one line; any other `\r` splits it.
  const emit = (piece: string): void => {
    const end = piece.length > 0 && piece.charCodeAt(piece.length - 1) === 13 ? piece.length - 1 : piece.length;
    const cr = piece.indexOf('\r');
    if (cr < 0 || cr === end) {
      lineNo++;
      onLine(end === piece.length ? piece : piece.slice(0, end), lineNo);
      return;
    }
    for (const part of piece.slice(0, end).split('\r')) {
      lineNo++;
      onLine(part, lineNo);
    }
  };
  let partial = '';
  let first = true;
  try {
    for await (const chunk of stream) {
      let text = partial + (chunk as string);
      if (first) {
        first = false;
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      }
      let start = 0;
      for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', start)) {
        emit(text.slice(start, i));
        start = i + 1;
      }
      partial = text.slice(start);
    }
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (lineNo > 0 || !err.code) throw e;
    throw inputError('E_INPUT_MISSING', `cannot read ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`, { hint: 'check the path', where: { file }, cause: e });
  } finally {
    stream.destroy();
  }
  if (partial !== '') emit(partial);
}
