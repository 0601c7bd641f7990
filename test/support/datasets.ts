/**
 * Where the real datasets are, for the data suite (`npm run test:data`, files `*.data.test.ts`):
 * `LPCLUST_DATASETS` (relative to the working directory), else `../shared/datasets` beside the
 * repository. Most of those datasets state no licence, so they are not in the repository; a test
 * that needs one must FAIL, never skip, when the folder is missing — a skipped parity check looks
 * like a passed one.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The datasets folder (absolute), whether or not it exists. */
export function datasetsDir(): string {
  const env = process.env.LPCLUST_DATASETS;
  return env !== undefined && env !== '' ? path.resolve(env) : path.resolve(REPO, '..', 'shared', 'datasets');
}

/**
 * Absolute path of `parts` under the datasets folder; throws a message naming the folder, where it
 * came from and how to point the suite elsewhere when the file is missing.
 */
export function dataset(...parts: string[]): string {
  const dir = datasetsDir();
  const file = path.join(dir, ...parts);
  if (!fs.existsSync(file)) {
    const from = process.env.LPCLUST_DATASETS ? `LPCLUST_DATASETS=${process.env.LPCLUST_DATASETS}` : 'the default ../shared/datasets (LPCLUST_DATASETS is not set)';
    throw new Error(
      `the data suite needs ${path.join(...parts)} under ${dir} (${from}), which is missing. ` +
        'Set LPCLUST_DATASETS to the folder holding the real datasets (ucr-ItalyPowerDemand, inergy-uc7, sgsc-50-households), ' +
        'or run only the self-contained suite with `npm test`.',
    );
  }
  return file;
}
