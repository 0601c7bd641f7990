/**
 * Offline inputs of the new Mongo source (`lpclust etl newmongo --export FILE`):
 * - `mongoexport` output, JSON lines (one document per line, the default) or a JSON array
 *   (`--jsonArray`, possibly all on one line), relaxed or canonical Extended JSON;
 * - the raw CSV the old `load_newmongo` wrote (pandas `DataFrame(find()).to_csv`: an unnamed index
 *   column, `_id`, then the document keys as columns; empty cell = missing) — and the raw CSV that
 *   lpclust's own `load_newmongo` run logs, which has the same shape.
 *
 * The format is recognised from the content (first non-blank character `[` or `{` = JSON), not
 * the extension. The file is streamed; documents are turned into typed records as they arrive.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { inputError } from '../errors.js';
import { splitCsvLine } from '../io/csv.js';
import { lineBatches } from './series.js';
import { throwIfInterrupted } from '../util/interrupt.js';
import { type DayDocumentCollector, timeKeyOffset } from './newmongo-doc.js';

/** The recognised format of an export file. */
export type ExportFormat = 'json' | 'csv';

/** Open check with a clear message for a missing file or a directory. */
async function checkFile(file: string): Promise<void> {
  try {
    const s = await stat(file);
    if (!s.isFile()) throw inputError('E_INPUT_MISSING', `cannot read ${file}: not a file (expected a mongoexport .json/.jsonl or a raw CSV)`, { where: { file } });
  } catch (e) {
    if (e instanceof Error && e.name === 'LpclustError') throw e;
    throw inputError('E_INPUT_MISSING', `cannot read ${file}: no such file`, { where: { file }, hint: 'check the --export path', cause: e });
  }
}

/** Sniff the format from the first non-blank character; null for an empty file. */
export async function sniffExportFormat(file: string): Promise<ExportFormat | null> {
  await checkFile(file);
  const stream = createReadStream(file, { encoding: 'utf8', start: 0, end: 65_535 });
  let head = '';
  for await (const chunk of stream) head += chunk as string;
  const t = head.replace(/^\uFEFF/, '').trimStart();
  if (t === '') return null;
  return t[0] === '[' || t[0] === '{' ? 'json' : 'csv';
}

/**
 * Stream the top-level objects of a JSON-lines file or a JSON array, calling `onDoc` with each
 * parsed object and the line it starts on. Objects are cut out by brace matching (aware of strings
 * and escapes) so a one-line `--jsonArray` export of any size is never parsed as a whole.
 * @throws LpclustError E_INPUT_JSON naming the line for malformed JSON (unless `skipBad`).
 */
export async function streamJsonDocuments(
  file: string,
  onDoc: (doc: Record<string, unknown>, line: number) => void,
  onBad: (message: string, line: number) => void,
): Promise<void> {
  const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 });
  let line = 1;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let broken = false;
  let atLineStart = true;
  let objStartLine = 0;
  let parts: string[] = [];
  let arrayOpen = false;
  let sawTop = false;
  let first = true;
  const finish = (text: string): void => {
    if (broken) {
      onBad(`${file}:${objStartLine}: malformed JSON document (a text value runs past the end of its line)`, objStartLine);
      return;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      onBad(`${file}:${objStartLine}: malformed JSON document: ${(e as Error).message}`, objStartLine);
      return;
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) onBad(`${file}:${objStartLine}: expected a JSON object (a document)`, objStartLine);
    else onDoc(doc as Record<string, unknown>, objStartLine);
  };
  for await (const chunkAny of stream) {
    throwIfInterrupted();
    let chunk = chunkAny as string;
    if (first) {
      chunk = chunk.replace(/^\uFEFF/, '');
      first = false;
    }
    let segStart = depth > 0 ? 0 : -1; // start index in this chunk of the current object's text
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      const lineStart = atLineStart;
      atLineStart = c === 10;
      if (c === 10) {
        line++;
        // JSON text values cannot hold a raw newline: the document is broken.
        if (inString) {
          inString = false;
          escaped = false;
          broken = true;
        }
      }
      if (depth > 0) {
        // JSON lines (not an array): a '{' starting a line while a document is still open means
        // that document was cut short; report it and resynchronise on the new one. (Pretty
        // printed exports indent nested objects, so this never splits a valid document.)
        if (c === 123 && lineStart && !arrayOpen && !inString) {
          parts = [];
          onBad(`${file}:${objStartLine}: malformed JSON document (unbalanced braces before line ${line})`, objStartLine);
          depth = 1;
          broken = false;
          objStartLine = line;
          segStart = i;
          continue;
        }
        if (inString) {
          if (escaped) escaped = false;
          else if (c === 92) escaped = true; // backslash
          else if (c === 34) inString = false;
          continue;
        }
        if (c === 34) inString = true;
        else if (c === 123 || c === 91) depth++;
        else if (c === 125 || c === 93) {
          depth--;
          if (depth === 0) {
            parts.push(chunk.slice(segStart, i + 1));
            const text = parts.join('');
            parts = [];
            segStart = -1;
            finish(text);
            broken = false;
          }
        }
        continue;
      }
      // Between documents: whitespace, one opening '[', commas, one closing ']'.
      if (c === 32 || c === 9 || c === 10 || c === 13) continue;
      if (c === 123) {
        depth = 1;
        inString = false;
        escaped = false;
        broken = false;
        objStartLine = line;
        segStart = i;
        sawTop = true;
        continue;
      }
      if (c === 91 && !arrayOpen && !sawTop) {
        arrayOpen = true;
        sawTop = true;
        continue;
      }
      if (c === 44 || (c === 93 && arrayOpen)) continue;
      throw inputError('E_INPUT_JSON', `${file}:${line}: expected a JSON document ({...}) but found "${chunk[i]}"`, { where: { file, line } });
    }
    if (depth > 0 && segStart >= 0) parts.push(chunk.slice(segStart));
  }
  if (depth > 0) onBad(`${file}:${objStartLine}: the last JSON document is cut off (unbalanced braces at end of file)`, objStartLine);
}

/**
 * Read the raw CSV the old loader wrote: a header naming the columns (`id`, `date`,
 * `energy_type` required; `HH:MM:SS` columns hold values; other columns such as the unnamed index
 * and `_id` are ignored), then one row per document.
 * @throws LpclustError E_INPUT_HEADER (missing columns), E_INPUT_COLUMNS (wrong field count).
 */
export async function streamRawCsvDocuments(file: string, collector: DayDocumentCollector, skipBad: boolean): Promise<void> {
  let header: string[] | null = null;
  let timeCols: Array<[number, string]> = [];
  let idCol = -1;
  let dateCol = -1;
  let typeCol = -1;
  for await (const { lines, firstLineNo } of lineBatches(file)) {
    throwIfInterrupted();
    for (let k = 0; k < lines.length; k++) {
      const line = lines[k]!;
      const lineNo = firstLineNo + k;
      if (line.trim() === '') continue;
      const f = splitCsvLine(line);
      if (header === null) {
        header = f.map((h) => h.trim());
        idCol = header.indexOf('id');
        dateCol = header.indexOf('date');
        typeCol = header.indexOf('energy_type');
        const missing = [idCol < 0 ? 'id' : '', dateCol < 0 ? 'date' : '', typeCol < 0 ? 'energy_type' : ''].filter(Boolean);
        if (missing.length > 0) {
          throw inputError('E_INPUT_HEADER', `${file}:${lineNo}: expected a header with columns id, date, energy_type and HH:MM:SS time columns, but ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing (found: ${header.slice(0, 8).join(',')}${header.length > 8 ? ',...' : ''})`, {
            where: { file, line: lineNo, field: missing[0] },
          });
        }
        timeCols = header.flatMap((h, i): Array<[number, string]> => (timeKeyOffset(h) >= 0 ? [[i, h]] : []));
        if (timeCols.length === 0) {
          throw inputError('E_INPUT_HEADER', `${file}:${lineNo}: expected HH:MM:SS time columns (00:00:00, 00:15:00, ...) in the header but found none`, { where: { file, line: lineNo } });
        }
        continue;
      }
      if (f.length !== header.length) {
        if (skipBad) {
          collector.counts.documents++;
          collector.counts.badDocuments++;
          continue;
        }
        throw inputError('E_INPUT_COLUMNS', `${file}:${lineNo}: expected ${header.length} comma-separated fields (as in the header) but found ${f.length}`, {
          where: { file, line: lineNo },
          option: 'onBadRow', hint: 'fix the row, or pass `onBadRow` skip to skip and count bad rows',
        });
      }
      const doc: Record<string, unknown> = { id: f[idCol], date: f[dateCol], energy_type: f[typeCol] };
      for (const [i, key] of timeCols) {
        const v = f[i]!;
        doc[key] = v.trim() === '' ? null : v.trim();
      }
      collector.add(doc, file, lineNo, `${file}:${lineNo}`);
    }
  }
  if (header === null) throw inputError('E_INPUT_EMPTY', `${file}: empty file (expected a header line)`, { where: { file } });
}

/**
 * Read a whole export file into the collector (JSON or raw CSV, sniffed).
 * @returns the format found.
 * @throws LpclustError E_INPUT_MISSING, E_INPUT_EMPTY (no document at all), and the parse errors.
 */
export async function readNewMongoExport(file: string, collector: DayDocumentCollector, skipBad: boolean): Promise<ExportFormat> {
  const format = await sniffExportFormat(file);
  if (format === null) throw inputError('E_INPUT_EMPTY', `${file}: empty file (expected mongoexport JSON documents or a raw CSV)`, { where: { file } });
  if (format === 'json') {
    await streamJsonDocuments(
      file,
      (doc, line) => collector.add(doc, file, line, `${file}:${line}`),
      (message, line) => {
        if (skipBad) {
          collector.counts.documents++;
          collector.counts.badDocuments++;
          return;
        }
        throw inputError('E_INPUT_JSON', message, { where: { file, line }, option: 'onBadRow', hint: 'fix the document, or pass `onBadRow` skip to skip and count bad documents' });
      },
    );
  } else {
    await streamRawCsvDocuments(file, collector, skipBad);
  }
  if (collector.counts.documents === 0) throw inputError('E_INPUT_EMPTY', `${file}: no documents`, { where: { file } });
  return format;
}
