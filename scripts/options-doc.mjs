#!/usr/bin/env node
// Write the README's option reference from the CLI's option table (src/cli/options.ts), between
// its markers. Run after `npm run build`: `npm run docs:options`; `--check` only says whether the
// README is up to date (exit 1 when not), as test/cli/options.test.ts does.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const { withOptionsReference } = await import(new URL('../dist/cli/options-doc.js', import.meta.url).href);
const { loadModelCatalogue } = await import(new URL('../dist/cli/options.js', import.meta.url).href);
await loadModelCatalogue(); // the model options' choices and help come from the model registry
const file = `${root}README.md`;
const readme = readFileSync(file, 'utf8');
const next = withOptionsReference(readme);
if (process.argv.includes('--check')) {
  if (next !== readme) {
    process.stderr.write('README.md: the option reference differs from src/cli/options.ts; run npm run build && npm run docs:options\n');
    process.exit(1);
  }
} else if (next !== readme) {
  writeFileSync(file, next);
  process.stdout.write('README.md: option reference updated\n');
}
