#!/usr/bin/env node
// Thin launcher: everything lives in the compiled library (dist/), built by `npm ci` (prepare).
// A bare `--version` is answered here, from package.json, without loading the CLI (commander and
// the command table): it is what scripts and shell completions call most, and start-up is most of
// its cost. The CLI prints the same line (src/cli/main.ts reads the same field).
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  process.stdout.write(`${JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version}\n`);
} else {
  const { main } = await import('../dist/cli/main.js');
  process.exitCode = await main(process.argv);
}
