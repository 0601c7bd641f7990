#!/usr/bin/env node
// Thin launcher: everything lives in the compiled library (dist/), built by `npm ci` (prepare).
import { main } from '../dist/cli/main.js';

main(process.argv).then((code) => {
  process.exitCode = code;
});
