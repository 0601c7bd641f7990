/**
 * The logger: human-readable lines on stderr, filtered by level, secrets masked. Results never go
 * here (they go to stdout).
 */
import { maskSecrets } from './mask.js';

/** Log levels, quietest first. */
export type LogLevel = 'silent' | 'error' | 'warn' | 'info' | 'debug';

/** All levels, for option parsing. */
export const LOG_LEVELS: readonly LogLevel[] = ['silent', 'error', 'warn', 'info', 'debug'];

const RANK: Record<LogLevel, number> = { silent: 0, error: 1, warn: 2, info: 3, debug: 4 };

/** A sink for log lines (stderr by default; tests capture it). */
export type LogSink = (line: string) => void;

/**
 * Hooks around every line logged (set by a live progress bar on stderr: it clears its line before
 * a log line and draws itself again after it).
 */
export const logLineHooks: { before?: () => void; after?: () => void } = {};

/** A leveled logger. */
export class Logger {
  level: LogLevel;
  private readonly sink: LogSink;

  constructor(level: LogLevel = 'info', sink: LogSink = (line) => process.stderr.write(line + '\n')) {
    this.level = level;
    this.sink = sink;
  }

  /** True when messages of `level` are shown. */
  enabled(level: LogLevel): boolean {
    return level !== 'silent' && RANK[level] <= RANK[this.level];
  }

  error(msg: string): void {
    this.emit('error', msg);
  }
  warn(msg: string): void {
    this.emit('warn', msg);
  }
  info(msg: string): void {
    this.emit('info', msg);
  }
  debug(msg: string): void {
    this.emit('debug', msg);
  }

  private emit(level: LogLevel, msg: string): void {
    if (!this.enabled(level)) return;
    const prefix = level === 'info' ? '' : `${level}: `;
    logLineHooks.before?.();
    this.sink(maskSecrets(prefix + msg));
    logLineHooks.after?.();
  }
}

/**
 * Level of the process-wide logger until someone sets it: warnings and errors only, so that the
 * library is quiet when embedded. The CLI sets the level from the `logLevel` setting (flag,
 * `LPCLUST_LOG_LEVEL`, `.env`, config file; default `info`) — that table is the only reader of the
 * variable.
 */
export const LIBRARY_LOG_LEVEL: LogLevel = 'warn';

/** The process-wide logger; the CLI sets its level from `--log-level`/`--quiet`, a library user sets `log.level`. */
export const log = new Logger(LIBRARY_LOG_LEVEL);
