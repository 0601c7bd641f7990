/**
 * SIGINT/SIGTERM handling for the CLI: the first signal asks the work to stop (long loops poll
 * `throwIfInterrupted` (util/interrupt.ts)) and ends every open run KILLED; temporary files are removed; a second
 * signal exits at once.
 */
import { rmSync } from 'node:fs';
import { pendingTempFiles } from '../io/atomic.js';
import { endActiveRunsSync, activeRunList } from '../tracking/run.js';
import { interruptSignal, markInterrupted } from '../util/interrupt.js';

/** How long the work may take to notice the signal and unwind after every run is ended (ms). */
const UNWIND_TIMEOUT_MS = 2000;

/** How long a remote store gets to end runs KILLED before the process exits anyway (ms). */
const ASYNC_END_TIMEOUT_MS = 8000;

/** Install the handlers; returns a function that removes them. */
export function installSignalHandlers(): () => void {
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interruptSignal()) {
      // Second signal: give up waiting for the work to notice.
      exitAfterSignal(signal);
    }
    markInterrupted(signal);
    const pending = endActiveRunsSync('KILLED');
    removeTempFiles();
    if (pending.length > 0) {
      // Stores that cannot end a run synchronously (REST) get a moment to do it asynchronously,
      // but a server that does not answer must not keep the process alive for minutes of retries.
      const ended = Promise.allSettled(pending.map((r) => r.end('KILLED')));
      const timeout = new Promise((resolve) => setTimeout(resolve, ASYNC_END_TIMEOUT_MS));
      void Promise.race([ended, timeout]).then(() => exitAfterSignal(signal));
    } else {
      // Every run is ended: let the work unwind through its own error handling (it stops at its
      // next throwIfInterrupted); if it does not within 2 s, exit.
      setTimeout(() => exitAfterSignal(signal), UNWIND_TIMEOUT_MS).unref();
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

/** Remove the temporary files (and staged folders) of unfinished atomic writes (outputs and tracking stores share one registry, io/atomic.ts). */
function removeTempFiles(): void {
  for (const f of pendingTempFiles()) {
    try {
      rmSync(f, { force: true, recursive: true });
    } catch {
      // Best effort: the process is about to stop.
    }
  }
}

function exitAfterSignal(signal: NodeJS.Signals): void {
  // Runs started after the signal (before the work noticed it) must not stay RUNNING either.
  endActiveRunsSync('KILLED');
  if (activeRunList().length > 0) process.stderr.write(`lpclust: ${activeRunList().length} run(s) could not be marked KILLED before exiting\n`);
  removeTempFiles();
  process.stderr.write(`lpclust: interrupted by ${signal}\n`);
  process.exit(signal === 'SIGINT' ? 130 : 143);
}
