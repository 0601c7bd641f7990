/**
 * `lpclust cluster`: cluster daily profiles with one model of the old pipeline (k-means, DTW
 * k-means, k-medoids, agglomerative, SOM), write labels and centres, validate, and track the run.
 */
import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import { NORMALIZATIONS, type Normalization } from '../../profiles/normalize.js';
import { INITS, METRICS, MODELS, type InitName, type ModelName, type MetricName } from '../../cluster/fit.js';
import { defaultsHelp, metricsHelp } from '../../cluster/registry.js';
import { LINKAGES, type Linkage } from '../../cluster/agglomerative.js';
import type { KMedoidsMethod } from '../../cluster/kmedoids.js';
import { capWorkers, contextFor } from '../context.js';
import { addScaleOptions, scaleFlags } from '../scale-options.js';
import { DEFAULT_MIN_CLUSTER_SHARE, parseMinClusterShare, parseSelect, SCORES } from '../../validate/metrics.js';

interface ClusterFlags {
  in: string;
  registerModel?: string;
  model: string;
  metric: string;
  k: string;
  kRange: string;
  select?: string;
  minClusterShare: string;
  dtw?: string;
  radius: string;
  linkage?: string;
  init?: string;
  kmedoidsMethod: string;
  nInit?: string;
  maxIter?: string;
  seed: string;
  normalize: string;
  outDir?: string;
  workers?: string;
  scale?: string;
  memoryBudget?: string;
  sampleSize?: string;
  queue?: string;
  sharedDir: string;
  queueRows: string;
}

function choice<T extends string>(raw: string, allowed: readonly T[], flag: string): T {
  if (!(allowed as readonly string[]).includes(raw)) throw usageError('E_USAGE_VALUE', `Expected ${allowed.join('|')} for \`${flag}\` but received \`${raw}\``);
  return raw as T;
}

function integer(raw: string, flag: string, min: number, what: string): number {
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(v) || v < min) throw usageError('E_USAGE_VALUE', `Expected ${what} for \`${flag}\` but received \`${raw}\``);
  return v;
}

function kRange(raw: string): [number, number] {
  const m = /^\s*(\d+)\s*\.\.\s*(\d+)\s*$/.exec(raw);
  const a = m ? Number(m[1]) : NaN;
  const b = m ? Number(m[2]) : NaN;
  if (!m || a < 2 || b < a) throw usageError('E_USAGE_VALUE', `Expected a range a..b with 2 ≤ a ≤ b for \`--k-range\` but received \`${raw}\``);
  return [a, b];
}

/** Register `lpclust cluster`. */
export function register(program: Command): void {
  const cmd = program
    .command('cluster')
    .description('cluster profiles (kmeans, kmedoids, agglomerative, som; Euclidean or DTW), write labels and centres, validate, track the run')
    .requiredOption('--in <csv>', 'harmonized profiles CSV (id,date,HH:MM...)')
    .option('--model <name>', `model: ${MODELS.join('|')}`, 'kmeans')
    .option('--metric <name>', `distance: ${metricsHelp()}`, 'euclidean')
    .option('-k, --k <k>', 'number of clusters; 0 chooses k over --k-range (best --select among the k passing --min-cluster-share)', '12')
    .option('--k-range <a..b>', 'k range searched with -k 0', '3..29')
    .option('--select <score>', `with -k 0: the score choosing k, with its direction (default: the silhouette of --metric); one of ${SCORES.map((s) => `"${s.key}"`).join(', ')}`)
    .option('--min-cluster-share <share>', `with -k 0: a k is only ranked when every cluster holds at least this share of the days (0 = off)`, String(DEFAULT_MIN_CLUSTER_SHARE))
    .option('--dtw <npy>', 'DTW matrix of the same profiles (from `lpclust dtw`), checked against its sidecar; with --metric dtw it is computed once into the output directory when omitted; with euclidean it adds Silhouette DTW')
    .option('--radius <r>', 'Sakoe–Chiba radius of DTW, in slots', '1')
    .option('--linkage <name>', `agglomerative linkage: ${LINKAGES.join('|')} (default ward; average with --metric dtw)`)
    .option('--init <name>', `initialisation: ${INITS.join('|')} (kmeans: random|k-means++; kmedoids: all, k-means++ = k-medoids++) (default random)`)
    .option('--kmedoids-method <name>', 'k-medoids swap method: fasterpam (PAM-quality swaps) | alternate (Voronoi iteration)', 'fasterpam')
    .option('--n-init <n>', `restarts keeping the best (default ${defaultsHelp('nInit')})`)
    .option('--max-iter <n>', `iteration cap (default ${defaultsHelp('maxIter')})`)
    .option('--seed <n>', 'random seed', '0')
    .option('--normalize <method>', `row normalisation before clustering: ${NORMALIZATIONS.join('|')}`, 'l2')
    .option('--out-dir <dir>', 'base output directory; this run writes to <dir>/<run id>/ (default lpclust-out/cluster), as pipeline and sweep do')
    .option('--workers <n>', 'worker threads for the DTW matrix (when it must be computed), the Euclidean silhouette and sampled k-medoids (default: all cores)')
    .option('--queue <url>', 'hand the heavy DTW work to `lpclust worker` processes on this Redis job queue (redis://… or rediss://…): with --scale sampled, the scoring of candidate medoids and the assignment of every profile, by row ranges; in exact mode, the DTW matrix, by tiles')
    .option('--shared-dir <dir>', 'with --queue: a directory this machine and every worker see (profiles in, results out)', '.')
    .option('--queue-rows <n>', 'with --queue: profiles per assignment job (does not change any result)', '32768')
    .option('--register-model <name>', 'register the model of this run as a new version of this registered model (created when missing); lpclust models shows it, predict --model models:/<name>@<alias> loads it');
  addScaleOptions(cmd)
    .addHelpText(
      'after',
      `
Writes labels.csv (id,date,cluster; 0 = largest cluster), centres.csv (cluster,size,slots...),
medoids.csv (DTW models), linkage.npy (agglomerative, SciPy format) and model/ (for
\`lpclust predict\`) into <out-dir>/<run id>/, a new folder for every run, and logs an MLflow run
named like "kmeans dtw k=12" with the validation metrics (as \`lpclust validate\`).

Examples:
  lpclust cluster --in harmonized.csv --model kmeans -k 12
  lpclust cluster --in harmonized.csv --model kmeans --metric dtw -k 12 --dtw dtw.npy
  lpclust cluster --in harmonized.csv --model kmedoids --metric dtw -k 8 --init build --dtw dtw.npy
  lpclust cluster --in harmonized.csv --model agglomerative --metric dtw --linkage average -k 6 --dtw dtw.npy
  lpclust cluster --in harmonized.csv --model kmeans -k 0 --k-range 3..12 --json
  lpclust cluster --in year.csv --model kmedoids --metric dtw -k 12 --scale sampled
  lpclust cluster --in /mnt/shared/year.csv --model kmedoids --metric dtw -k 12 --scale sampled --queue redis://queue:6379/0 --shared-dir /mnt/shared`,
    )
    .action(async (flags: ClusterFlags, cmd: Command) => {
      const { runClusterStage } = await import('../../pipeline/cluster.js');
      const model = choice<ModelName>(flags.model, MODELS, '--model');
      const metric = choice<MetricName>(flags.metric, METRICS, '--metric');
      const k = integer(flags.k, '-k', 0, 'an integer k ≥ 2, or 0 to choose k');
      if (k === 1) throw usageError('E_USAGE_K', 'Expected an integer k ≥ 2, or 0 to choose k, for `-k` but received `1`');
      const normalize = choice<Normalization>(flags.normalize, NORMALIZATIONS, '--normalize');
      const { parseQueueUrl } = await import('../../queue/connection.js');
      const queue = flags.queue === undefined ? undefined : parseQueueUrl(flags.queue);
      const queueRows = integer(flags.queueRows, '--queue-rows', 1, 'a positive integer');
      const ctx = contextFor(cmd);
      const store = await ctx.openStore();
      const { checkRegistration, registerRunModel, registeredJson, registrationLine } = await import('../../model/register.js');
      // Checked before the run starts: a bad name or a store without a registry should not cost a run.
      if (flags.registerModel !== undefined) checkRegistration(store, String(flags.registerModel));
      const res = await runClusterStage(
        {
          in: flags.in,
          model,
          metric,
          k,
          kRange: kRange(flags.kRange),
          minClusterShare: parseMinClusterShare(flags.minClusterShare),
          ...(flags.select !== undefined ? { select: parseSelect(flags.select).key } : {}),
          radius: integer(flags.radius, '--radius', 0, 'a non-negative integer'),
          seed: integer(flags.seed, '--seed', 0, 'a non-negative integer'),
          normalize,
          kmedoidsMethod: choice<KMedoidsMethod>(flags.kmedoidsMethod, ['fasterpam', 'alternate'], '--kmedoids-method'),
          ...(flags.dtw !== undefined ? { dtw: flags.dtw } : {}),
          ...(flags.linkage !== undefined ? { linkage: choice<Linkage>(flags.linkage, LINKAGES, '--linkage') } : {}),
          ...(flags.init !== undefined ? { init: choice<InitName>(flags.init, INITS, '--init') } : {}),
          ...(flags.nInit !== undefined ? { nInit: integer(flags.nInit, '--n-init', 1, 'a positive integer') } : {}),
          ...(flags.maxIter !== undefined ? { maxIter: integer(flags.maxIter, '--max-iter', 1, 'a positive integer') } : {}),
          ...(flags.outDir !== undefined ? { outBase: flags.outDir } : {}),
          ...(flags.workers !== undefined ? { workers: capWorkers(integer(flags.workers, '--workers', 1, 'a positive integer'))! } : {}),
          ...scaleFlags(flags),
          ...(queue ? { queue, sharedDir: flags.sharedDir, queueRows } : {}),
        },
        { store, experimentName: ctx.globals.experimentName },
      );
      const registered = flags.registerModel !== undefined ? await registerRunModel(store, res.runId, flags.registerModel) : undefined;
      const o = res.outputs;
      const width = Math.max(...Object.keys(res.metrics).map((m) => m.length));
      const lines = [`cluster run ${res.runId}: ${model} ${metric}, ${o.n} profiles in ${o.k} clusters → ${o.outDir}`];
      // Sizes are on one line below, not one line per cluster.
      for (const [name, v] of Object.entries(res.metrics)) if (!name.startsWith('cluster_size/')) lines.push(`  ${name.padEnd(width)}  ${Number.isInteger(v) ? v : v.toFixed(6)}`);
      lines.push(`  ${'Cluster sizes'.padEnd(width)}  ${o.clusterSizes.join(' ')}`);
      if (registered) lines.push(registrationLine(registered));
      ctx.print(
        {
          runId: res.runId,
          ...(registered ? { registered: registeredJson(registered) } : {}),
          metrics: res.metrics,
          k: o.k,
          n: o.n,
          clusterSizes: o.clusterSizes,
          outDir: o.outDir,
          labels: o.labelsFile,
          centres: o.centresFile,
          ...(o.medoidsFile ? { medoids: o.medoidsFile } : {}),
          ...(o.linkageFile ? { linkage: o.linkageFile } : {}),
          ...(o.dtwFile ? { dtw: o.dtwFile } : {}),
          ...(o.kScores ? { kScores: o.kScores } : {}),
        },
        lines.join('\n'),
      );
    });
}
