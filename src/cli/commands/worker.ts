/**
 * `lpclust worker`: a process that takes jobs from the Redis job queue (BullMQ) and computes them
 * on this machine — DTW matrix tiles of `lpclust dtw --queue …`, sweep configurations of
 * `lpclust sweep --queue …`, row ranges of the large-N assignments of `lpclust cluster --scale
 * sampled --queue …` — until Ctrl-C or SIGTERM.
 */
import type { Command } from 'commander';
import { availableParallelism } from 'node:os';
import { capWorkers, contextFor } from '../context.js';
import { addOptions, resolvedOptions } from '../options.js';

interface WorkerFlags {
  queue: string;
  sharedDir?: string;
  threads?: number;
  lockDuration: number;
}

/** Register `lpclust worker`. */
export function register(program: Command): void {
  const cmd = program
    .command('worker')
    .description('take jobs (DTW tiles of `lpclust dtw --queue`, configurations of `lpclust sweep --queue`, row ranges of sampled-mode assignments of `lpclust cluster --queue`) from a Redis job queue and compute them here, until stopped');
  addOptions(cmd, 'worker')
    .addHelpText(
      'after',
      `
Run one on every machine; each takes jobs as it is free, so faster machines take more. A worker
killed mid-job (kill -9, a lost machine) has its job taken again by another once the lock
expires. Assignment jobs (\`cluster --scale sampled --queue\`) are row ranges of the profiles,
which a worker reads once per dataset from the shared directory. A job from another lpclust
version is refused, and the submitter shows why. Ctrl-C or SIGTERM finishes the jobs in hand
and exits. Sweep configurations are logged as nested runs to this worker's tracking store
(--tracking-uri, MLFLOW_TRACKING_URI and its credentials from this machine's environment; jobs
carry none): point it at the submitter's.

Examples:
  lpclust worker --queue redis://localhost:6379/0
  lpclust worker --queue rediss://:$REDIS_PASSWORD@queue.example.org:6380/0 --shared-dir /mnt/shared --threads 16`,
    )
    .action(async (flags: WorkerFlags, cmd: Command) => {
      const { parseQueueUrl } = await import('../../queue/connection.js');
      const { processTileJobs } = await import('../../queue/dtw.js');
      const { startSweepWorker } = await import('../../queue/sweep.js');
      const { startAssignWorker } = await import('../../queue/assign.js');
      const { interruptSignal } = await import('../../util/interrupt.js');
      const queue = parseQueueUrl(flags.queue);
      const threads = capWorkers(flags.threads, resolvedOptions(cmd).threads?.from) ?? availableParallelism();
      const lockMs = flags.lockDuration;
      const ctx = contextFor(cmd);
      // Sweep configurations are logged as nested runs into this worker's own tracking store
      // (--tracking-uri / MLFLOW_TRACKING_URI and its credentials): it must be the submitter's.
      const store = await ctx.openStore();
      const sweeps = await startSweepWorker({ queue, sharedDir: flags.sharedDir, threads, store, lockMs });
      let res: { tiles: number };
      let assigns: Awaited<ReturnType<typeof startAssignWorker>> | undefined;
      try {
        assigns = await startAssignWorker({ queue, sharedDir: flags.sharedDir, threads, lockMs });
        res = await processTileJobs({ queue, sharedDir: flags.sharedDir, threads, lockMs, shouldStop: () => interruptSignal() !== null });
      } finally {
        await assigns?.close();
        await sweeps.close();
      }
      const rows = assigns.jobs();
      ctx.print({ tiles: res.tiles, configurations: sweeps.configs(), assignmentJobs: rows }, `worker stopped after ${res.tiles} tile(s), ${sweeps.configs()} sweep configuration(s) and ${rows} assignment job(s)`);
    });
}
