/**
 * Drift scores, quantiles and the day window of `lpclust assign` against the reference tools:
 * SciPy's jensenshannon(p, q, base=2), numpy's percentile (default linear method), and the PSI
 * formula Σ (a − e) ln(a / e) as computed by numpy (values printed by SciPy 1.17 / numpy 2.4).
 */
import { describe, expect, it } from 'vitest';
import { jsDistance, psi } from '../../src/assign/drift.js';
import { quantile, trainingReference } from '../../src/model/reference.js';
import { dayNumber, dayTimestamp, resolveWindow, yesterday } from '../../src/assign/window.js';
import { ZoneMapper } from '../../src/etl/time.js';
import { isLpclustError } from '../../src/errors.js';

describe('drift scores', () => {
  it('Jensen–Shannon distance equals scipy.spatial.distance.jensenshannon(p, q, base=2)', () => {
    expect(jsDistance([0.5, 0.3, 0.2], [0.1, 0.6, 0.3])).toBeCloseTo(0.38603432433827223, 14);
    expect(jsDistance([0.5, 0.5, 0], [0, 0.2, 0.8])).toBeCloseTo(0.8354087628231339, 14);
    // Counts are normalised as SciPy does.
    expect(jsDistance([3, 1, 0, 6], [2, 2, 2, 2])).toBeCloseTo(0.4518336495775292, 14);
    expect(jsDistance([1, 0], [0, 1])).toBeCloseTo(1, 14);
    expect(jsDistance([0.2, 0.8], [2, 8])).toBe(0);
  });

  it('PSI equals Σ (a − e) ln(a / e), zero shares floored at 1e-4', () => {
    expect(psi([0.5, 0.3, 0.2], [0.1, 0.6, 0.3])).toBeCloseTo(0.8922658299524402, 13);
    expect(psi([0.5, 0.5, 0], [0, 0.2, 0.8])).toBeCloseTo(11.721490832798736, 11);
    expect(psi([0.25, 0.75], [1, 3])).toBe(0);
    expect(() => psi([1, 2], [1, 2, 3])).toThrow(RangeError);
  });
});

describe('training reference', () => {
  it('quantiles equal numpy.percentile (linear)', () => {
    const x = [0.3, 1.7, 0.2, 5.5, 2.25, 0.9, 4.1, 3.3, 0.05, 2.0, 1.1];
    expect(quantile(x, 0.5)).toBeCloseTo(1.7, 14);
    expect(quantile(x, 0.9)).toBeCloseTo(4.1, 14);
    expect(quantile(x, 0.95)).toBeCloseTo(4.8, 14);
    expect(quantile(x, 0.99)).toBeCloseTo(5.36, 14);
  });

  it('shares and distance quantiles of the predicted training rows', () => {
    const ref = trainingReference({ labels: Int32Array.from([0, 0, 1, 2, 0]), distance: Float64Array.from([1, 2, 3, 4, 5]), margin: new Float64Array(5) }, 4, 'Europe/Rome');
    expect(ref.cluster_shares).toEqual([0.6, 0.2, 0.2, 0]);
    expect(ref.distance.p50).toBe(3);
    expect(ref.distance.p99).toBeCloseTo(4.96, 14);
    expect(ref.distance.max).toBe(5);
    expect(ref.timezone).toBe('Europe/Rome');
  });
});

describe('the day window and the metric step', () => {
  it('step = days since 1970-01-01; timestamp = local midnight', () => {
    expect(dayNumber('1970-01-01')).toBe(0);
    expect(dayNumber('2013-07-30') - dayNumber('2013-07-29')).toBe(1);
    expect(dayNumber('2014-01-01') - dayNumber('2013-12-31')).toBe(1);
    expect(dayTimestamp('2013-07-30', new ZoneMapper('UTC'))).toBe(Date.UTC(2013, 6, 30));
    // Rome is UTC+2 in summer: local midnight is 22:00 UTC the day before.
    expect(dayTimestamp('2013-07-30', new ZoneMapper('Europe/Rome'))).toBe(Date.UTC(2013, 6, 29, 22));
  });

  it('--days N --until D, --since/--until, the default until = yesterday in the zone', () => {
    const utc = new ZoneMapper('UTC');
    expect(resolveWindow({ days: 2, until: '2013-07-30' }, utc, 0)).toEqual({ since: '2013-07-29', until: '2013-07-30' });
    expect(resolveWindow({ since: '2013-07-01', until: '2013-07-30' }, utc, 0)).toEqual({ since: '2013-07-01', until: '2013-07-30' });
    // 23:30 UTC on 2026-03-10 is already 2026-03-11 in Sydney: yesterday there is the 10th.
    const now = Date.UTC(2026, 2, 10, 23, 30);
    expect(yesterday(utc, now)).toBe('2026-03-09');
    expect(yesterday(new ZoneMapper('Australia/Sydney'), now)).toBe('2026-03-10');
    expect(resolveWindow({}, utc, now)).toEqual({ since: '2026-03-09', until: '2026-03-09' });
    for (const bad of [{ days: 2, since: '2013-07-01' }, { since: '2013-07-31', until: '2013-07-30' }]) {
      try {
        resolveWindow(bad, utc, now);
        expect.unreachable();
      } catch (e) {
        expect(isLpclustError(e) && e.kind).toBe('usage');
      }
    }
  });
});
