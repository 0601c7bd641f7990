/**
 * The labels CSV contract (design.md): header `id,date,cluster`, one row per profile in the order
 * of the data it labels, clusters numbered from 0 (by decreasing size when lpclust writes them).
 */
import { inputError } from '../errors.js';
import { writeLinesAtomic } from './atomic.js';
import { csvField, readLines, splitCsvLine } from './csv.js';

/** A labelling of profiles. */
export interface LabelTable {
  /** Meter id of each row; length n. */
  ids: string[];
  /** Date `YYYY-MM-DD` of each row; length n. */
  dates: string[];
  /** Cluster of each row, 0..k-1; length n. */
  labels: Int32Array;
  /** Number of rows. */
  n: number;
  /** Number of clusters: largest label + 1. */
  k: number;
  /** 1-based line number of each row in the file it was read from (for error messages). */
  lines?: Int32Array;
}

/**
 * Read a labels CSV.
 * @throws LpclustError naming the file and line for a wrong header, a wrong field count or a
 *   cluster that is not a non-negative integer
 */
export async function readLabels(file: string): Promise<LabelTable> {
  let header = false;
  const ids: string[] = [];
  const dates: string[] = [];
  const labels: number[] = [];
  const lines: number[] = [];
  let k = 0;
  for await (const { line, lineNo } of readLines(file)) {
    if (!header) {
      const h = splitCsvLine(line);
      if (h.length !== 3 || h[0] !== 'id' || h[1] !== 'date' || h[2] !== 'cluster') {
        throw inputError('E_LABELS_HEADER', `${file}:${lineNo}: expected the header "id,date,cluster" but found "${line.slice(0, 80)}"`, {
          hint: 'give a labels.csv as written by `lpclust cluster`',
          where: { file, line: lineNo },
        });
      }
      header = true;
      continue;
    }
    if (line === '') continue;
    const f = splitCsvLine(line);
    if (f.length !== 3) {
      throw inputError('E_LABELS_ROW', `${file}:${lineNo}: expected 3 fields (id,date,cluster) but found ${f.length}`, { where: { file, line: lineNo } });
    }
    const c = Number(f[2]);
    if (f[2] === '' || !Number.isInteger(c) || c < 0 || c > 0x7fffffff) {
      throw inputError('E_LABELS_CLUSTER', `${file}:${lineNo}: expected a cluster number 0, 1, 2, ... for meter ${f[0]} on ${f[1]} but found "${f[2]}"`, {
        where: { file, line: lineNo, meter: f[0], date: f[1], field: 'cluster' },
      });
    }
    if (c + 1 > k) k = c + 1;
    ids.push(f[0]);
    dates.push(f[1]);
    labels.push(c);
    lines.push(lineNo);
  }
  if (!header) throw inputError('E_LABELS_EMPTY', `${file} is empty: expected a header "id,date,cluster"`, { where: { file } });
  return { ids, dates, labels: Int32Array.from(labels), n: ids.length, k, lines: Int32Array.from(lines) };
}

/**
 * Write a labels CSV atomically.
 * @param ids meter id of each row; length n
 * @param dates date of each row; length n
 * @param labels cluster of each row; length n
 */
export async function writeLabels(file: string, ids: readonly string[], dates: readonly string[], labels: ArrayLike<number>): Promise<void> {
  if (ids.length !== labels.length || dates.length !== labels.length) {
    throw inputError('E_LABELS_SHAPE', `Expected as many ids (${ids.length}) and dates (${dates.length}) as labels (${labels.length})`);
  }
  await writeLinesAtomic(file, 'id,date,cluster', labels.length, (i) => `${csvField(ids[i])},${dates[i]},${labels[i]}`);
}

/**
 * Check that a labelling is of exactly the rows of a data table, in the same order.
 * @param data the profiles (ids and dates per row)
 * @param labels the labels table
 * @param files names of the two files, for the message
 * @throws LpclustError `E_LABELS_MISMATCH` naming the first row that differs (or the counts)
 */
export function assertLabelsMatch(
  data: { ids: readonly string[]; dates: readonly string[]; n: number },
  labels: LabelTable,
  files: { data: string; labels: string },
): void {
  const m = Math.min(data.n, labels.n);
  for (let i = 0; i < m; i++) {
    if (data.ids[i] !== labels.ids[i] || data.dates[i] !== labels.dates[i]) {
      const line = labels.lines?.[i] ?? i + 2;
      throw inputError(
        'E_LABELS_MISMATCH',
        `${files.labels}:${line}: row ${i + 1} labels meter ${labels.ids[i]} on ${labels.dates[i]} but row ${i + 1} of ${files.data} is meter ${data.ids[i]} on ${data.dates[i]}`,
        { hint: 'give the labels written for this data file (same rows, same order)', where: { file: files.labels, line, meter: labels.ids[i], date: labels.dates[i] } },
      );
    }
  }
  if (data.n !== labels.n) {
    throw inputError('E_LABELS_MISMATCH', `${files.labels} has ${labels.n} rows but ${files.data} has ${data.n} profiles`, {
      hint: 'give the labels written for this data file (same rows, same order)',
      where: { file: files.labels },
    });
  }
}

/** Cluster centres as `lpclust cluster` writes them (`centres.csv`: `cluster,size,<slots>`). */
export interface CentreTable {
  /** Slot labels `HH:MM`; length L. */
  slots: string[];
  /** Centres, k × L row-major, in the model's (normalised) space. */
  centres: Float64Array;
  /** Size of each cluster as the file states it; length k. */
  sizes: Int32Array;
  /** Number of clusters (rows 0..k-1, in order). */
  k: number;
}

/**
 * Read a centres CSV (`cluster,size,<slot>...`, clusters 0..k-1 in order, one row each).
 * @throws LpclustError naming the file and line for a wrong header, a cluster out of order, a
 *   wrong field count or a value that is not a finite number
 */
export async function readCentres(file: string): Promise<CentreTable> {
  let slots: string[] | undefined;
  const values: number[] = [];
  const sizes: number[] = [];
  for await (const { line, lineNo } of readLines(file)) {
    const f = splitCsvLine(line);
    if (slots === undefined) {
      if (f[0] !== 'cluster' || f[1] !== 'size' || f.length < 3) {
        throw inputError('E_CENTRES_HEADER', `${file}:${lineNo}: expected the header "cluster,size,00:00,..." but found "${line.slice(0, 80)}"`, {
          hint: 'give a centres.csv as written by `lpclust cluster`',
          where: { file, line: lineNo },
        });
      }
      slots = f.slice(2);
      continue;
    }
    if (line === '') continue;
    const k = sizes.length;
    if (f.length !== slots.length + 2) {
      throw inputError('E_CENTRES_ROW', `${file}:${lineNo}: expected ${slots.length + 2} fields but found ${f.length}`, { where: { file, line: lineNo } });
    }
    if (f[0] !== String(k)) {
      throw inputError('E_CENTRES_ROW', `${file}:${lineNo}: expected cluster ${k} (clusters 0, 1, 2, ... in order) but found "${f[0]}"`, { where: { file, line: lineNo } });
    }
    const size = Number(f[1]);
    if (!Number.isInteger(size) || size < 0) {
      throw inputError('E_CENTRES_ROW', `${file}:${lineNo}: expected a cluster size 0, 1, 2, ... but found "${f[1]}"`, { where: { file, line: lineNo, field: 'size' } });
    }
    sizes.push(size);
    for (let t = 0; t < slots.length; t++) {
      const v = f[t + 2] === '' ? NaN : Number(f[t + 2]);
      if (!Number.isFinite(v)) {
        throw inputError('E_CENTRES_ROW', `${file}:${lineNo}: expected a finite number in column ${slots[t]} of cluster ${k} but found "${f[t + 2]}"`, {
          where: { file, line: lineNo, field: slots[t] },
        });
      }
      values.push(v);
    }
  }
  if (slots === undefined) throw inputError('E_CENTRES_EMPTY', `${file} is empty: expected a header "cluster,size,00:00,..."`, { where: { file } });
  return { slots, centres: Float64Array.from(values), sizes: Int32Array.from(sizes), k: sizes.length };
}
