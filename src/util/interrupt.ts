/**
 * Cooperative interruption: the CLI records SIGINT/SIGTERM here, and long loops in the library
 * (DTW tiles, ETL meters, clustering restarts) call {@link throwIfInterrupted} between units of
 * work, so that the run ends KILLED and no half-written output is left.
 */
import { InterruptedError } from '../errors.js';

let received: NodeJS.Signals | null = null;

/** Record a received signal (called by the CLI's handler). */
export function markInterrupted(signal: NodeJS.Signals): void {
  received = signal;
}

/** The signal received, if any. */
export function interruptSignal(): NodeJS.Signals | null {
  return received;
}

/** Throw an {@link InterruptedError} if a signal was received. */
export function throwIfInterrupted(): void {
  if (received) throw new InterruptedError(received);
}
