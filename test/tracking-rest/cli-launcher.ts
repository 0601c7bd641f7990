/** Runs the CLI from the TypeScript sources (spawned with `node --import tsx`), as bin/lpclust.js runs dist/. */
import { main } from '../../src/cli/main.js';

void main(process.argv).then((code) => {
  process.exitCode = code;
});
