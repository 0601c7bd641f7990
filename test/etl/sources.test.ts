/**
 * The source registry (src/etl/sources.ts): one contract over every registered source — its flags
 * and keys agree, it resolves to a reader of its own name that reads the bundled sample into clean
 * days, its inputs can be digested — and the lists elsewhere are the registry's.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CLEAN_OPTIONS } from '../../src/etl/types.js';
import { cleanSource } from '../../src/etl/run.js';
import { readMeterDescription } from '../../src/etl/meters.js';
import { RULE_SOURCES } from '../../src/etl/rules.js';
import { PRECEDENCE, precedenceFor, SOURCE_FLAGS, SOURCE_NAMES, SOURCES, sourceNaming, type ResolveContext, type SourceName } from '../../src/etl/sources.js';
import { HARMONIZE_SOURCES, SOURCE_PRECEDENCE } from '../../src/harmonize/harmonize.js';
import { PIPELINE_SOURCES } from '../../src/pipeline/pipeline.js';

/**
 * A configuration of each source reading meters of data/meters.csv (the bundled sample, or a file
 * the function writes): a new source adds its own here, and the contract below runs over it.
 */
const SAMPLE: Record<SourceName, () => Record<string, unknown>> = {
  oldmongo: () => ({ input: path.resolve('data/oldmongo') }),
  sql: () => ({ input: path.resolve('data/sql') }),
  newmongo: () => ({ export: path.resolve('data/newmongo/newmongo.jsonl') }),
  generic: () => ({ input: path.resolve('data/oldmongo/SYN0001.csv'), idCol: 'id', timeCol: 'timestamp', valueCol: 'Active_Energy_+_Total_end', cumulative: true }),
};

const ctx: ResolveContext = {
  env: (name) => {
    throw new Error(`no environment variable in this test (${name})`);
  },
  timezone: 'UTC',
};

describe('the source registry', () => {
  it('is the one list of sources: pipeline, harmonize and rules read it', () => {
    expect(Object.keys(SAMPLE).sort()).toEqual([...SOURCE_NAMES].sort());
    expect(PIPELINE_SOURCES).toEqual(SOURCE_NAMES);
    expect(HARMONIZE_SOURCES).toEqual(SOURCE_NAMES);
    expect(RULE_SOURCES).toEqual(SOURCE_NAMES);
    expect([...PRECEDENCE].sort()).toEqual([...SOURCE_NAMES].sort());
    // The reference pipeline's precedence, as logged; an added source comes after it when given.
    expect(SOURCE_PRECEDENCE).toEqual(['newmongo', 'sql', 'oldmongo']);
    expect(precedenceFor(['generic', 'sql'])).toEqual(['newmongo', 'sql', 'oldmongo', 'generic']);
    const flags = SOURCE_FLAGS.map((f) => f.flags.split(' ')[0]);
    expect(new Set(flags).size).toBe(flags.length);
  });

  for (const name of SOURCE_NAMES) {
    it(`${name}: flags set its keys, it resolves to its own reader, and reads the sample into clean days`, async () => {
      const spec = SOURCES[name];
      expect(spec.name).toBe(name);
      const keys = Object.keys(spec.keys);
      for (const f of spec.flags) expect(keys).toContain(f.key);
      expect(spec.flags[0].attr).toBe(name);
      for (const v of Object.values(spec.keys)) if (v.envKey) expect(keys).toContain(v.envKey);
      expect(sourceNaming(name).etlRun).toBe(`etl_${name}`);
      const r = await (spec.resolve as (c: unknown, x: ResolveContext) => ReturnType<typeof spec.resolve>)(SAMPLE[name](), ctx);
      expect(r).not.toBeNull();
      expect(r!.reader!.source).toBe(name);
      expect(Object.keys(r!.params).length).toBeGreaterThan(0);
      for (const p of Object.values(r!.inputs ?? {})) expect(path.isAbsolute(p)).toBe(true);
      const meters = await readMeterDescription('data/meters.csv');
      const { table } = await cleanSource(r!.reader!, { clean: { ...DEFAULT_CLEAN_OPTIONS, ...r!.cleanDefaults }, meters, onBadRow: 'error' });
      expect(table.n).toBeGreaterThan(10);
      // Nothing configured: not a source of the run.
      expect(await (spec.resolve as (c: unknown, x: ResolveContext) => ReturnType<typeof spec.resolve>)({}, ctx)).toBeNull();
    });
  }
});
