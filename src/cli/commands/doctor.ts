/**
 * `lpclust doctor`: what this installation runs on — Node version, whether the native DTW kernel
 * loaded (and why not), its instruction set, the worker count, and the tracking URI in effect
 * (secrets masked). Not tracked: it only reads.
 */
import type { Command } from 'commander';
import os from 'node:os';
import { nativeStatus } from '../../dtw/native.js';
import { lpclustVersion } from '../../dtw/matrix.js';
import { maskUri } from '../../util/mask.js';
import { contextFor } from '../context.js';

/** Everything `lpclust doctor` reports. */
export interface DoctorReport {
  lpclustVersion: string;
  node: string;
  platform: string;
  cpu: string;
  cores: number;
  /** Default worker threads of `lpclust dtw` (available cores). */
  workers: number;
  native: { loaded: boolean; isa: string | null; tried: string[]; reason: string | null; hint: string | null };
  /** DTW kernel `--kernel auto` uses. */
  dtwKernel: string;
  trackingUri: string;
  trackingUriSource: string;
  experimentName: string;
}

/** Gather the report (no side effects besides loading the addon). */
export function doctorReport(trackingUri: string, trackingUriSource: string, experimentName: string): DoctorReport {
  const st = nativeStatus();
  const cores = os.availableParallelism();
  return {
    lpclustVersion: lpclustVersion(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores,
    workers: cores,
    native: { loaded: st.loaded, isa: st.isa ?? null, tried: st.tried, reason: st.reason ?? null, hint: st.hint ?? null },
    dtwKernel: st.loaded ? `native (${st.isa})` : 'js (TypeScript fallback)',
    trackingUri: maskUri(trackingUri),
    trackingUriSource,
    experimentName,
  };
}

/** Register `lpclust doctor`. */
export function register(program: Command): void {
  program
    .command('doctor')
    .description('show the Node version, the native DTW kernel status and instruction set, the worker count and the tracking URI in effect')
    .addHelpText('after', '\nExamples:\n  lpclust doctor\n  lpclust doctor --json\n  lpclust --tracking-uri http://mlflow:5000 doctor')
    .action((_flags: unknown, cmd: Command) => {
      const ctx = contextFor(cmd);
      const r = doctorReport(ctx.globals.trackingUri, ctx.resolved.trackingUri.from, ctx.globals.experimentName);
      const lines = [
        `lpclust ${r.lpclustVersion}`,
        `node        ${r.node} (${r.platform})`,
        `cpu         ${r.cpu}, ${r.cores} core(s) available`,
        r.native.loaded
          ? `native DTW  loaded, instruction set ${r.native.isa}`
          : `native DTW  NOT loaded: ${r.native.reason}\n            fix: ${r.native.hint}`,
        `dtw kernel  ${r.dtwKernel}, ${r.workers} worker thread(s) by default`,
        `tracking    ${r.trackingUri} (from ${r.trackingUriSource}), experiment ${r.experimentName}`,
      ];
      ctx.print(r, lines.join('\n'));
    });
}
