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

/** The process-wide logger; the CLI sets its level from `--log-level`/`--quiet`. */
export const log = new Logger(process.env.LPCLUST_LOG_LEVEL && (LOG_LEVELS as readonly string[]).includes(process.env.LPCLUST_LOG_LEVEL) ? (process.env.LPCLUST_LOG_LEVEL as LogLevel) : 'warn');
