/**
 * The meter description CSV: `id,Contractual power (kW),Production (kW),Type`, one row per meter.
 * Empty power = unknown. Header names are matched case-insensitively on their leading word
 * (`id`, `contractual`, `production`, `type`) so small spelling differences are accepted.
 */
import { inputError } from '../errors.js';
import { readLines, splitCsvLine } from '../io/csv.js';
import type { MeterInfo } from './types.js';

/**
 * Read a meter description CSV into a map by meter id.
 * @throws LpclustError E_INPUT_MISSING (no file), E_INPUT_HEADER (missing column), E_INPUT_NUMBER
 *   (unparsable power, naming line and column), E_INPUT_DUPLICATE (a meter listed twice),
 *   E_INPUT_EMPTY (no meter).
 */
export async function readMeterDescription(file: string): Promise<Map<string, MeterInfo>> {
  const out = new Map<string, MeterInfo>();
  let cols: { id: number; power: number; prod: number; type: number } | undefined;
  let header: string[] = [];
  for await (const { line, lineNo } of readLines(file)) {
    if (cols === undefined) {
      header = splitCsvLine(line).map((h) => h.trim());
      const find = (re: RegExp) => header.findIndex((h) => re.test(h));
      cols = { id: find(/^id$/i), power: find(/^contractual/i), prod: find(/^production/i), type: find(/^type$/i) };
      const missing = [cols.id < 0 ? 'id' : '', cols.power < 0 ? 'Contractual power (kW)' : '', cols.prod < 0 ? 'Production (kW)' : ''].filter(Boolean);
      if (missing.length > 0) {
        throw inputError('E_INPUT_HEADER', `${file}:${lineNo}: expected the columns id, Contractual power (kW), Production (kW), Type but column ${missing.join(', ')} is missing (header "${line.slice(0, 100)}")`, {
          where: { file, line: lineNo, field: missing[0] },
        });
      }
      continue;
    }
    if (line.trim() === '') continue;
    const f = splitCsvLine(line);
    const id = (f[cols.id] ?? '').trim();
    if (id === '') {
      throw inputError('E_INPUT_ROW', `${file}:${lineNo}: expected a meter id in column id but found an empty cell`, { where: { file, line: lineNo, field: 'id' } });
    }
    const num = (col: number): number | null => {
      const cell = (f[col] ?? '').trim();
      if (cell === '') return null;
      const v = Number(cell);
      if (!Number.isFinite(v) || v < 0) {
        throw inputError('E_INPUT_NUMBER', `${file}:${lineNo}: expected a non-negative number of kW in column "${header[col]}" for meter ${id} but found "${cell}"`, {
          where: { file, line: lineNo, field: header[col], meter: id },
        });
      }
      return v;
    };
    if (out.has(id)) {
      throw inputError('E_INPUT_DUPLICATE', `${file}:${lineNo}: meter ${id} is listed twice`, { where: { file, line: lineNo, meter: id } });
    }
    out.set(id, { id, contractualPowerKw: num(cols.power), productionKw: num(cols.prod), type: cols.type >= 0 ? (f[cols.type] ?? '').trim() : '' });
  }
  if (cols === undefined || out.size === 0) {
    throw inputError('E_INPUT_EMPTY', `${file} lists no meter: expected a header "id,Contractual power (kW),Production (kW),Type" and one row per meter`, { where: { file } });
  }
  return out;
}
