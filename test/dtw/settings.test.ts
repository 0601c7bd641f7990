import { describe, expect, it } from 'vitest';
import { LpclustError } from '../../src/errors.js';
import {
  DEFAULT_DTW_SETTINGS,
  DEFAULT_RADIUS,
  NO_BAND,
  checkRadius,
  dtwSettings,
  dtwSettingsFromJson,
  dtwSettingsJson,
  dtwSettingsParams,
  effectiveRadius,
  parseRadius,
  radiusFromJson,
  radiusFromParam,
  radiusJson,
  radiusParam,
} from '../../src/dtw/settings.js';

function usageCode(f: () => unknown): { code: string; message: string } {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(LpclustError);
    return { code: (e as LpclustError).code, message: (e as LpclustError).message };
  }
  throw new Error('expected an error');
}

describe('DTW settings: the radius', () => {
  it('defaults to 1 slot (the old pipeline) and full DTW is Infinity', () => {
    expect(DEFAULT_RADIUS).toBe(1);
    expect(NO_BAND).toBe(Infinity);
    expect(DEFAULT_DTW_SETTINGS).toEqual({ radius: 1, dtype: 'float32', normalization: 'l2' });
    expect(dtwSettings()).toEqual({ radius: 1, dtype: 'float32', normalization: 'l2' });
    expect(dtwSettings({ radius: undefined, dtype: 'float64' })).toEqual({ radius: 1, dtype: 'float64', normalization: 'l2' });
  });

  it('parses decimal integers ≥ 0 and none', () => {
    expect(parseRadius('0', '--radius')).toBe(0);
    expect(parseRadius('4', '--radius')).toBe(4);
    expect(parseRadius(' 12 ', '--radius')).toBe(12);
    expect(parseRadius('007', '--radius')).toBe(7);
    expect(parseRadius('none', '--radius')).toBe(Infinity);
  });

  it.each(['0x10', '1e1', '1.0', '-1', '', ' ', 'Infinity', 'NaN', '1_0', '+1', 'None', '99999999999999999999'])('refuses %j with E_USAGE_VALUE naming the option, the form and the value', (raw) => {
    const { code, message } = usageCode(() => parseRadius(raw, '--radius'));
    expect(code).toBe('E_USAGE_VALUE');
    expect(message).toContain('`--radius`');
    expect(message).toContain('non-negative integer');
    expect(message).toContain('`none`');
    expect(message).toContain(`\`${raw}\``);
  });

  it('names the option as the caller wrote it', () => {
    expect(usageCode(() => parseRadius('x', 'radius')).message).toContain('`radius`');
  });

  it('checks a radius given to the library', () => {
    expect(checkRadius(0)).toBe(0);
    expect(checkRadius(Infinity)).toBe(Infinity);
    for (const bad of [-1, 1.5, NaN, -Infinity]) expect(usageCode(() => checkRadius(bad)).code).toBe('E_USAGE_RADIUS');
  });

  it('keeps the stored forms lpclust has always written: params none, JSON null', () => {
    expect(radiusParam(3)).toBe(3);
    expect(radiusParam(Infinity)).toBe('none');
    expect(radiusJson(3)).toBe(3);
    expect(radiusJson(Infinity)).toBeNull();
    expect(JSON.stringify({ radius: radiusJson(Infinity) })).toBe('{"radius":null}');
    expect(radiusFromJson(null)).toBe(Infinity);
    expect(radiusFromJson(0)).toBe(0);
    expect(radiusFromParam('none')).toBe(Infinity);
    expect(radiusFromParam('2')).toBe(2);
    expect(radiusFromParam(5)).toBe(5);
    expect(radiusFromParam(undefined)).toBe(DEFAULT_RADIUS);
    for (const r of [0, 1, 7, Infinity]) {
      expect(radiusFromParam(String(radiusParam(r)))).toBe(r);
      expect(radiusFromJson(radiusJson(r))).toBe(r);
    }
  });

  it('clamps to [0, L − 1] once: no band and any radius ≥ L − 1 are full DTW', () => {
    expect(effectiveRadius(1, 24)).toBe(1);
    expect(effectiveRadius(0, 24)).toBe(0);
    expect(effectiveRadius(23, 24)).toBe(23);
    expect(effectiveRadius(100, 24)).toBe(23);
    expect(effectiveRadius(Infinity, 24)).toBe(23);
    expect(effectiveRadius(Infinity, 1)).toBe(0);
  });
});

describe('DTW settings value: JSON and params', () => {
  it('round-trips the sidecar form and logs the dtw_ params harmonize and validate log', () => {
    const s = dtwSettings({ radius: Infinity, dtype: 'float64', normalization: 'zscore' });
    expect(dtwSettingsJson(s)).toEqual({ radius: null, dtype: 'float64', normalization: 'zscore' });
    expect(dtwSettingsFromJson(dtwSettingsJson(s))).toEqual(s);
    expect(dtwSettingsParams(s, 'dtw_')).toEqual({ dtw_radius: 'none', dtw_dtype: 'float64', dtw_normalization: 'zscore' });
    expect(dtwSettingsParams(dtwSettings())).toEqual({ radius: 1, dtype: 'float32', normalization: 'l2' });
  });

  it('reads a sidecar-shaped object (extra fields ignored)', () => {
    const sidecar = { format: 'lpclust-dtw-matrix', radius: 2, dtype: 'float32' as const, normalization: 'l2' as const, rows: 3 };
    expect(dtwSettingsFromJson(sidecar)).toEqual({ radius: 2, dtype: 'float32', normalization: 'l2' });
  });
});
