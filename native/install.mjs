// Builds the native DTW addon during `npm install` / `npm ci` with the node-gyp that npm bundles.
// A failed build must not fail the install: lpclust then runs on its TypeScript kernel, and says
// so once at run time (see src/dtw/native.ts). Nothing is downloaded: headers come from nodedir.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

if (process.env.LPCLUST_SKIP_NATIVE === '1') {
  console.warn('lpclust: LPCLUST_SKIP_NATIVE=1, native DTW kernel not built (TypeScript kernel will be used)');
  process.exit(0);
}
// npm tells lifecycle scripts where its own node-gyp is; otherwise use one on PATH.
const gyp = process.env.npm_config_node_gyp;
const [cmd, args] = gyp && existsSync(gyp) ? [process.execPath, [gyp, 'rebuild']] : ['node-gyp', ['rebuild']];
const res = spawnSync(cmd, args, { stdio: 'inherit', shell: process.platform === 'win32' && cmd === 'node-gyp' });
if (res.status !== 0) {
  const why = res.error ? res.error.message : `exit code ${res.status}`;
  console.warn(
    `lpclust: building the native DTW kernel failed (${why}); lpclust will use its TypeScript kernel (slower). ` +
      'To build it later: install python3, make and a C++ compiler, then run `npm rebuild lpclust` (or `npx node-gyp rebuild` here).',
  );
}
process.exit(0);
