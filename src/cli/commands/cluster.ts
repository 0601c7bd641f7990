/**
 * `lpclust cluster`: cluster daily profiles with one model of the old pipeline (k-means, DTW
 * k-means, k-medoids, agglomerative, SOM), write labels and centres, validate, and track the run.
 */
import type { Command } from 'commander';
import type { Normalization } from '../../profiles/normalize.js';
import type { InitName, MetricName, ModelName } from '../../cluster/fit.js';
import type { Linkage } from '../../cluster/agglomerative.js';
import type { KMedoidsMethod } from '../../cluster/kmedoids.js';
import type { ScaleChoice } from '../../cluster/scale-choice.js';
import { capWorkers, contextFor } from '../context.js';
import { addOptions, isSet, resolvedOptions } from '../options.js';

/** The options of `lpclust cluster`, parsed (src/cli/options.ts). */
interface ClusterFlags {
  in: string;
  registerModel?: string;
  model: ModelName;
  metric: MetricName;
  k: number;
  kRange: [number, number];
  select?: string;
  minClusterShare: number;
  dtw?: string;
  radius: number;
  linkage?: Linkage;
  init?: InitName;
  kmedoidsMethod: KMedoidsMethod;
  nInit?: number;
  maxIter?: number;
  seed: number;
  normalize: Normalization;
  outDir: string;
  workers?: number;
  scale: ScaleChoice;
  memoryBudget?: number;
  sampleSize?: number;
  queue?: string;
  sharedDir: string;
  queueRows: number;
}

/** Register `lpclust cluster`. */
export function register(program: Command): void {
  const cmd = program
    .command('cluster')
    .description('cluster profiles (kmeans, kmedoids, agglomerative, som; Euclidean or DTW), write labels and centres, validate, track the run');
  addOptions(cmd, 'cluster')
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
      const { model, metric, k, normalize } = flags;
      const { parseQueueUrl } = await import('../../queue/connection.js');
      const queue = flags.queue === undefined ? undefined : parseQueueUrl(flags.queue);
      const queueRows = flags.queueRows;
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
          kRange: flags.kRange,
          minClusterShare: flags.minClusterShare,
          ...(flags.select !== undefined ? { select: flags.select } : {}),
          radius: flags.radius,
          seed: flags.seed,
          normalize,
          kmedoidsMethod: flags.kmedoidsMethod,
          ...(flags.dtw !== undefined ? { dtw: flags.dtw } : {}),
          ...(flags.linkage !== undefined ? { linkage: flags.linkage } : {}),
          ...(flags.init !== undefined ? { init: flags.init } : {}),
          ...(flags.nInit !== undefined ? { nInit: flags.nInit } : {}),
          ...(flags.maxIter !== undefined ? { maxIter: flags.maxIter } : {}),
          // The library's own default folder is the table's default: pass it only when set.
          ...(isSet(cmd, 'outDir') ? { outBase: flags.outDir } : {}),
          ...(flags.workers !== undefined ? { workers: capWorkers(flags.workers, resolvedOptions(cmd).workers?.from)! } : {}),
          scale: flags.scale,
          ...(flags.memoryBudget !== undefined ? { memoryBudget: flags.memoryBudget } : {}),
          ...(flags.sampleSize !== undefined ? { sampleSize: flags.sampleSize } : {}),
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
