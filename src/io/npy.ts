/**
 * NumPy `.npy` files, format version 1.0, little-endian, C order, so that Python users can
 * `np.load` what lpclust writes. Only `<f4` and `<f8` are needed.
 */
import { promises as fsp } from 'node:fs';
import { inputError } from '../errors.js';

/** Element types lpclust reads and writes. */
export type NpyDtype = 'float32' | 'float64';

const DESCR: Record<NpyDtype, string> = { float32: '<f4', float64: '<f8' };
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Bytes per element of a dtype. */
export function dtypeBytes(dtype: NpyDtype): number {
  return dtype === 'float32' ? 4 : 8;
}

/**
 * The complete header (magic, version 1.0, length, dict, padding) for an array; its length is a
 * multiple of 64 so the data that follows is aligned.
 */
export function encodeNpyHeader(dtype: NpyDtype, shape: readonly number[]): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '${DESCR[dtype]}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const unpadded = 10 + dict.length + 1;
  const total = Math.ceil(unpadded / 64) * 64;
  if (total - 10 > 0xffff) throw new RangeError('npy header too long for format 1.0');
  const out = new Uint8Array(total);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  out[8] = (total - 10) & 0xff;
  out[9] = (total - 10) >> 8;
  const text = dict + ' '.repeat(total - unpadded) + '\n';
  for (let i = 0; i < text.length; i++) out[10 + i] = text.charCodeAt(i);
  return out;
}

/** What a `.npy` header says. */
export interface NpyHeader {
  dtype: NpyDtype;
  shape: number[];
  /** Byte offset of the first element. */
  dataOffset: number;
}

/** Parse a `.npy` header from the first bytes of a file (at least the whole header). */
export function parseNpyHeader(bytes: Uint8Array, file = '<buffer>'): NpyHeader {
  const bad = (why: string): Error =>
    inputError('E_NPY', `${file} is not a .npy file lpclust can read: ${why}`, {
      hint: 'expected a NumPy .npy file with dtype float32 or float64, little-endian, C order',
      where: { file },
    });
  for (let i = 0; i < 6; i++) if (bytes[i] !== MAGIC[i]) throw bad('wrong magic bytes');
  const major = bytes[6];
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = bytes[8] | (bytes[9] << 8);
    start = 10;
  } else if (major === 2 || major === 3) {
    headerLen = (bytes[8] | (bytes[9] << 8) | (bytes[10] << 16)) + bytes[11] * 0x1000000;
    start = 12;
  } else {
    throw bad(`unknown format version ${major}`);
  }
  if (bytes.length < start + headerLen) throw bad('truncated header');
  const text = Buffer.from(bytes.subarray(start, start + headerLen)).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(text)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw bad('unreadable header');
  if (fortran === 'True') throw bad('Fortran order');
  const dtype = descr === '<f4' ? 'float32' : descr === '<f8' ? 'float64' : undefined;
  if (dtype === undefined) throw bad(`dtype ${descr}`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  return { dtype, shape, dataOffset: start + headerLen };
}

/** Read a header from a file. */
export async function readNpyHeader(file: string): Promise<NpyHeader> {
  const fh = await openOrFail(file);
  try {
    const buf = new Uint8Array(4096);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return parseNpyHeader(buf.subarray(0, bytesRead), file);
  } finally {
    await fh.close();
  }
}

/** Read a whole `.npy` array into memory. */
export async function readNpy(file: string): Promise<{ header: NpyHeader; data: Float32Array | Float64Array }> {
  const header = await readNpyHeader(file);
  const count = header.shape.reduce((a, b) => a * b, 1);
  const bytes = count * dtypeBytes(header.dtype);
  const fh = await openOrFail(file);
  try {
    const { size } = await fh.stat();
    if (size !== header.dataOffset + bytes) {
      throw inputError('E_NPY', `${file} is truncated or padded: expected ${header.dataOffset + bytes} bytes for shape (${header.shape.join(', ')}) but found ${size}`, {
        where: { file },
      });
    }
    const data = header.dtype === 'float32' ? new Float32Array(count) : new Float64Array(count);
    const view = new Uint8Array(data.buffer);
    let off = 0;
    while (off < bytes) {
      const { bytesRead } = await fh.read(view, off, Math.min(bytes - off, 1 << 28), header.dataOffset + off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    return { header, data };
  } finally {
    await fh.close();
  }
}

async function openOrFail(file: string): Promise<fsp.FileHandle> {
  try {
    return await fsp.open(file, 'r');
  } catch (e) {
    throw inputError('E_INPUT_MISSING', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`, {
      where: { file },
      cause: e,
    });
  }
}
