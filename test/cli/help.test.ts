/**
 * What a newcomer reads first: every command and sub-command has `--help` with examples, each
 * option states its default at most once, and the examples use only files a fresh clone has
 * (the bundled data/ paths exist; nothing beside the repository such as ../shared).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BIN, ensureBuilt, REPO } from '../tracking/helpers.js';

function help(cmd: string[]): string {
  return execFileSync(process.execPath, [BIN, ...cmd, '--help'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', COLUMNS: '100' } });
}

/** The sub-command names listed under "Commands:" of a help text (without `help`). */
function subcommands(text: string): string[] {
  const at = text.indexOf('\nCommands:\n');
  if (at < 0) return [];
  const names: string[] = [];
  for (const line of text.slice(at + 11).split('\n')) {
    if (line.trim() === '') break;
    const m = /^ {2}([a-z][a-z-]*)\b/.exec(line);
    if (m && m[1] !== 'help') names.push(m[1]);
  }
  return names;
}

describe('--help of every command', () => {
  beforeAll(() => ensureBuilt());

  it('has examples, one default per option, and examples that a fresh clone can run', () => {
    const seen: string[] = [];
    const walk = (cmd: string[]): void => {
      const text = help(cmd);
      for (const sub of subcommands(text)) walk([...cmd, sub]);
      if (cmd.length === 0) return; // the top level lists the commands
      seen.push(cmd.join(' '));
      expect(text, `lpclust ${cmd.join(' ')} --help`).toMatch(/^Examples( \(.*\))?:$/m);
      // Option entries: a line starting "  -" and its wrapped continuation lines.
      const options = text.slice(text.indexOf('Options:'), text.indexOf('\n\n', text.indexOf('Options:')));
      for (const entry of options.split(/\n(?= {2}-)/)) {
        expect((entry.match(/\(default:/g) ?? []).length, `lpclust ${cmd.join(' ')}: ${entry.trim().split('\n')[0]}`).toBeLessThanOrEqual(1);
      }
      const examples = text.slice(text.search(/^Examples/m));
      expect(examples, `lpclust ${cmd.join(' ')}`).not.toMatch(/\.\.\/shared/);
      for (const m of examples.matchAll(/(?<![\w/.])data\/[\w./-]+/g)) {
        expect(fs.existsSync(path.join(REPO, m[0])), `lpclust ${cmd.join(' ')} --help names ${m[0]}`).toBe(true);
      }
    };
    walk([]);
    expect(seen).toEqual(expect.arrayContaining(['etl', 'etl generic', 'etl sql', 'runs', 'runs show', 'pipeline', 'cluster']));
  });
});
