/**
 * Run benchmarks one after another: `npm run bench` runs them all (quick settings where a
 * benchmark has them), `npm run bench -- dtw etl` only the named ones. Each benchmark prints its
 * own figures and ratios against a baseline measured in the same run. Builds dist/ first (the
 * DTW and serve benchmarks start worker threads or processes from the compiled library).
 */
import { spawnSync } from 'node:child_process';

/** Benchmark name → arguments after `node`. */
const BENCHES: Record<string, string[]> = {
  dtw: ['--import', 'tsx', 'bench/dtw.ts', '--skip-memory'],
  etl: ['--import', 'tsx', 'bench/etl.ts'],
  validate: ['--import', 'tsx', 'bench/validate.ts'],
  'cluster-kmeans': ['--import', 'tsx', 'bench/cluster-kmeans.ts'],
  'cluster-kmedoids': ['--max-old-space-size=8192', '--import', 'tsx', 'bench/cluster-kmedoids.ts'],
  'cluster-linkage': ['--import', 'tsx', 'bench/cluster-linkage.ts'],
  'cluster-dba': ['--import', 'tsx', 'bench/cluster-dba.ts'],
  plot: ['--import', 'tsx', 'bench/plot.ts'],
  serve: ['--import', 'tsx', 'bench/serve.ts'],
  pipeline: ['--import', 'tsx', 'bench/pipeline.ts', '--profiles', '5000', '--k', '3..4'],
  distributed: ['--import', 'tsx', 'bench/distributed.ts', '--n', '4000'],
};

const wanted = process.argv.slice(2);
const unknown = wanted.filter((n) => !(n in BENCHES));
if (unknown.length > 0) {
  process.stderr.write(`unknown benchmark ${unknown.join(', ')}; known: ${Object.keys(BENCHES).join(', ')}\n`);
  process.exit(2);
}
const build = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
let failed = 0;
for (const name of wanted.length > 0 ? wanted : Object.keys(BENCHES)) {
  process.stdout.write(`\n=== bench ${name}\n`);
  const r = spawnSync(process.execPath, BENCHES[name], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed > 0 ? 1 : 0);
