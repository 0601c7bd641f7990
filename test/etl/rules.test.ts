/**
 * The rules file: validation with clear messages, merging per meter, and the shipped
 * data/rules.yaml encoding the whole appendix of reference-pipeline.md.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRules, parseRules, rulesFor } from '../../src/etl/rules.js';
import { REPO } from '../tracking/helpers.js';

const at = (s: string) => Date.parse(s);

describe('rules file', () => {
  it('merges entries in order: scalars override, scale steps concatenate, per-source start and excludes', () => {
    const r = parseRules(
      {
        version: 1,
        sources: {
          oldmongo: {
            start: '2019-01-01T00:00:00Z',
            excludeMeters: ['X9'],
            rules: [
              { meters: ['A', 'B'], scale: [{ factor: 1000, before: '2019-05-14T10:00:00Z' }], dropBefore: '2019-04-29T13:00:00Z' },
              { meters: ['B'], dropBefore: '2019-04-30T13:00:00Z', scale: [{ factor: 2, below: 3e8 }] },
              { meters: ['*'], zeroFillHours: [0, 1] },
            ],
          },
        },
        harmonize: { excludeMeters: ['X1'] },
      },
      'mem.yaml',
    );
    const b = rulesFor(r, 'oldmongo', 'B');
    expect(b.dropBefore).toBe(at('2019-04-30T13:00:00Z'));
    expect(b.scale).toEqual([{ factor: 1000, before: at('2019-05-14T10:00:00Z') }, { factor: 2, below: 3e8 }]);
    expect(b.zeroFillHours).toEqual([0, 1]);
    expect(rulesFor(r, 'oldmongo', 'A').dropBefore).toBe(at('2019-04-29T13:00:00Z'));
    expect(rulesFor(r, 'oldmongo', 'C').dropBefore).toBe(at('2019-01-01T00:00:00Z'));
    expect(rulesFor(r, 'oldmongo', 'X9').exclude).toBe(true);
    expect(rulesFor(r, 'sql', 'A')).toEqual({});
    expect(r.harmonize.excludeMeters).toEqual(['X1']);
  });

  it('names the offending key of an invalid file', () => {
    expect(() => parseRules({ sources: { oldmongo: { rules: [{ meters: ['A'], scale: [{ factor: 'x' }] }] } } }, 'r.yaml')).toThrow(/r\.yaml: at `sources\.oldmongo\.rules\[0\]\.scale\[0\]\.factor` expected a number/);
    expect(() => parseRules({ sources: { oldmongo: { rules: [{ meters: ['A'], dropBefore: 'yesterday' }] } } }, 'r.yaml')).toThrow(/dropBefore` expected an ISO 8601 time/);
    expect(() => parseRules({ sources: { oldmongo: { rules: [{ meters: ['A'], scale: [{ factor: 2, divide: 2 }] }] } } }, 'r.yaml')).toThrow(/exactly one of factor/);
    expect(() => parseRules({ sources: { mongo: {} } }, 'r.yaml')).toThrow(/sources\.mongo` expected a source name/);
    expect(() => parseRules({ sources: { sql: { rules: [{ meters: ['A'], zeroFillHours: [25] }] } } }, 'r.yaml')).toThrow(/zeroFillHours/);
    expect(() => parseRules({ sources: { sql: { rules: [{ meters: ['A'], dropbefore: 1 }] } } }, 'r.yaml')).toThrow(/dropbefore/);
  });

  it('reports a missing file and bad YAML', async () => {
    await expect(loadRules('/nonexistent/rules.yaml')).rejects.toThrow(/cannot read rules file .*no such file/);
  });

  it('the shipped data/rules.yaml encodes the whole appendix, and gives the synthetic sample meter the fleet rule', async () => {
    const r = await loadRules(path.join(REPO, 'data', 'rules.yaml'));
    expect(r.bogusYears).toEqual([1970, 2040]);
    // SYN0001 (data/oldmongo, synthetic) has the fleet's two register unit changes.
    const simple = ['SYN0001', 'BBB6004', 'BBB6017', 'BBB6020', 'BBB6025', 'BBB6065', 'BBB6100', 'BBB6103', 'BBB6105', 'BBB6133', 'BBB6140', 'BBB6170', 'BBB6173', 'BBB6197', 'BBB6168', 'BBB6169', 'BBB6171', 'BBB6177', 'BBB6178', 'BBB6179', 'BBB6180', 'BBB6186', 'BBB6191', 'BBB6198'];
    for (const m of simple) {
      const x = rulesFor(r, 'oldmongo', m);
      expect(x.scale, m).toEqual([{ factor: 1000, before: at('2019-05-14T10:00:00Z') }]);
      expect(x.dropBefore, m).toBe(at(m === 'BBB6020' || m === 'BBB6025' ? '2019-04-30T13:00:00Z' : '2019-04-29T13:00:00Z'));
      expect(x.dropAfter, m).toBe(at('2023-04-29T13:00:00Z'));
      expect(x.dropRegisterBelow, m).toBe(1000);
    }
    const f = (m: string) => rulesFor(r, 'oldmongo', m).scale!.map((s) => [+s.factor.toPrecision(12), s.before ?? s.after ?? s.above ?? s.below, s.registers ?? 'all', s.after !== undefined ? 'after' : '']);
    expect(f('BBB6036')).toEqual([
      [+(1 / 60000).toPrecision(12), at('2019-05-30T11:00:00Z'), 'all', ''],
      [1000, at('2019-05-14T10:00:00Z'), 'all', ''],
      [10, at('2019-05-30T10:45:00Z'), 'all', 'after'],
    ]);
    expect(f('BBB6029')).toEqual([
      [+(1 / 60000).toPrecision(12), at('2019-05-24T13:00:00Z'), 'ini', ''],
      [+(1 / 60000).toPrecision(12), at('2019-05-24T12:45:00Z'), 'end', ''],
      [1000, at('2019-05-14T10:00:00Z'), 'all', ''],
    ]);
    expect(f('BBB6055')).toEqual([
      [+(1 / 30000).toPrecision(12), at('2019-05-29T13:15:00Z'), 'all', ''],
      [1000, at('2019-05-14T10:00:00Z'), 'all', ''],
    ]);
    for (const m of ['BBB6063', 'BBB6064']) {
      expect(f(m)).toEqual([
        [2, at('2019-05-30T15:00:00Z'), 'ini', ''],
        [2, at('2019-05-30T14:45:00Z'), 'end', ''],
        [1000, at('2019-05-14T10:00:00Z'), 'all', ''],
      ]);
    }
    expect(f('BBB6030')).toEqual([
      [+(1 / 30).toPrecision(12), 8e9, 'all', ''],
      [0.001, 2.88354648e11, 'all', ''],
    ]);
    expect(rulesFor(r, 'oldmongo', 'BBB6030').scale!.map((s) => [s.above, s.divisor])).toEqual([[8e9, 30], [2.88354648e11, 1000]]);
    expect(rulesFor(r, 'oldmongo', 'BBB6036').scale![0].divisor).toBe(60000);
    expect(f('BBB6052')).toEqual([
      [1000, at('2019-05-14T10:00:00Z'), 'all', ''],
      [2, 3e8, 'all', ''],
    ]);
    expect(rulesFor(r, 'oldmongo', 'BBB6052').scale![1].below).toBe(3e8);
    const night = [0, 1, 2, 3, 4, 5, 6, 7, 18, 19, 20, 21, 22, 23];
    const day = [6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19];
    for (const src of ['sql', 'newmongo'] as const) {
      expect(rulesFor(r, src, 'BBB6017').zeroFillHours).toEqual(night);
      expect(rulesFor(r, src, 'BBB6052').zeroFillHours).toEqual(night);
      expect(rulesFor(r, src, 'BBB6100').zeroFillHours).toEqual(day);
    }
    expect(rulesFor(r, 'sql', 'SYN0001').dropBefore).toBe(at('2021-09-01T00:00:00Z'));
    expect(r.harmonize.excludeMeters).toEqual(['BBB6179', 'BBB6169']);
  });
});
