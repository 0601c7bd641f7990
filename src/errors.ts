/**
 * Typed errors of lpclust. The library throws only `LpclustError`s for anything a user can cause
 * or fix; the CLI alone turns them into a one-line message and an exit code.
 */

/** What kind of failure an error is; decides the CLI exit code. */
export type ErrorKind = 'usage' | 'input' | 'external' | 'interrupted' | 'internal';

/** Exit codes of the CLI, by error kind. 0 is success. */
export const EXIT_CODES: Readonly<Record<ErrorKind, number>> = {
  internal: 1,
  usage: 2,
  input: 3,
  external: 4,
  interrupted: 130,
};

/** Options of an {@link LpclustError}. */
export interface LpclustErrorOptions {
  /** How the user can fix it, shown after the message. */
  hint?: string;
  /** The underlying error, kept for `--log-level debug`. */
  cause?: unknown;
  /** Where it happened, for programs that read errors: file, line, meter, date... */
  where?: { file?: string; line?: number; field?: string; meter?: string; date?: string };
  /**
   * The option the error is about, by its library name (`radius`, `onBadRow`, `memoryBudget`).
   * The message and hint name it in backticks (`` `onBadRow` skip ``); the CLI shows the flag
   * instead (`` `--on-bad-row` skip ``), so library code never spells CLI flags.
   */
  option?: string;
}

/**
 * An error a user can understand and act on.
 *
 * `code` is stable (tests and scripts may match it), e.g. `E_INPUT_COLUMN`, `E_USAGE_OPTION`.
 * The message names the file, line, meter or date concerned, what was expected and what was found.
 */
export class LpclustError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  readonly hint?: string;
  readonly where?: LpclustErrorOptions['where'];
  readonly option?: string;

  constructor(kind: ErrorKind, code: string, message: string, options: LpclustErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LpclustError';
    this.kind = kind;
    this.code = code;
    this.hint = options.hint;
    this.where = options.where;
    this.option = options.option;
  }

  /** The CLI exit code for this error. */
  get exitCode(): number {
    return EXIT_CODES[this.kind];
  }
}

/** A wrong command line or option value. */
export function usageError(code: string, message: string, options?: LpclustErrorOptions): LpclustError {
  return new LpclustError('usage', code, message, options);
}

/** Bad input data: files, rows, values. */
export function inputError(code: string, message: string, options?: LpclustErrorOptions): LpclustError {
  return new LpclustError('input', code, message, options);
}

/** A database, server or file system outside lpclust failed. */
export function externalError(code: string, message: string, options?: LpclustErrorOptions): LpclustError {
  return new LpclustError('external', code, message, options);
}

/** The work was stopped by a signal (Ctrl-C, SIGTERM). */
export class InterruptedError extends LpclustError {
  readonly signal: NodeJS.Signals;
  constructor(signal: NodeJS.Signals) {
    super('interrupted', 'E_INTERRUPTED', `interrupted by ${signal}`);
    this.signal = signal;
  }
}

/** True when `e` is an {@link LpclustError} (also across module copies). */
export function isLpclustError(e: unknown): e is LpclustError {
  return e instanceof LpclustError || (e instanceof Error && e.name === 'LpclustError' && 'kind' in e);
}
