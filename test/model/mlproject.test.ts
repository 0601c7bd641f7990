/**
 * MLproject is valid YAML whose entry points run `node bin/lpclust.js <command>` with options the
 * CLI program really has, and whose {placeholders} are exactly the declared parameters.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import YAML from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';

interface EntryPoint {
  parameters?: Record<string, { type: string; default?: unknown }>;
  command: string;
}

const REQUIRED = ['pipeline', 'etl_oldmongo', 'etl_sql', 'etl_newmongo', 'harmonization', 'clustering', 'sweep'];

describe('MLproject', () => {
  const doc = YAML.parse(readFileSync('MLproject', 'utf8')) as { name: string; entry_points: Record<string, EntryPoint> };
  let program: Command;
  beforeAll(async () => {
    program = await buildProgram();
  });

  it('is valid YAML with the stage entry points', () => {
    expect(doc.name).toBe('lpclust');
    for (const e of REQUIRED) expect(Object.keys(doc.entry_points)).toContain(e);
  });

  for (const [name, ep] of Object.entries(doc.entry_points)) {
    it(`entry point ${name}: command and options exist, placeholders = parameters`, () => {
      const words = ep.command.trim().split(/\s+/);
      expect(words.slice(0, 2)).toEqual(['node', 'bin/lpclust.js']);
      // Walk the sub-commands (e.g. `etl oldmongo`).
      let cmd: Command = program;
      let i = 2;
      for (; i < words.length && !words[i].startsWith('-'); i++) {
        const sub = cmd.commands.find((c) => c.name() === words[i]);
        expect(sub, `${name}: no command ${words.slice(2, i + 1).join(' ')}`).toBeDefined();
        cmd = sub!;
      }
      expect(cmd).not.toBe(program);
      const flags = new Set(cmd.options.flatMap((o) => [o.long, o.short]).filter(Boolean));
      const used = words.slice(i).filter((w) => w.startsWith('-'));
      expect(used.length).toBeGreaterThan(0);
      for (const f of used) expect(flags.has(f), `${name}: ${cmd.name()} has no option ${f}`).toBe(true);
      // Every option is followed by a placeholder, every placeholder is a parameter and vice versa.
      const placeholders = [...ep.command.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      expect(new Set(placeholders)).toEqual(new Set(Object.keys(ep.parameters ?? {})));
      for (const p of Object.values(ep.parameters ?? {})) expect(['string', 'float', 'path', 'uri']).toContain(p.type);
      // Required options of the command are all given.
      for (const o of cmd.options.filter((x) => x.mandatory)) expect(used, `${name}: missing ${o.long}`).toContain(o.long);
    });
  }
});
