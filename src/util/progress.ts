/**
 * Progress and ETA on stderr for long steps: a live bar when stderr is a terminal, a plain line
 * every few seconds otherwise, nothing when quiet. Results never go here.
 */
import { logLineHooks } from './log.js';

/** Options of a {@link Progress}. */
export interface ProgressOptions {
  /** What is being done, e.g. "dtw matrix". */
  label: string;
  /** Total units of work (cells, rows, pairs...). */
  total: number;
  /** Unit name shown with rates, e.g. "cells". */
  unit?: string;
  /** Print nothing at all. */
  quiet?: boolean;
  /** Stream to draw on (default stderr). */
  stream?: NodeJS.WriteStream;
  /** Seconds between plain log lines when not a terminal (default 10). */
  logEverySeconds?: number;
}

/** Global switch set by the CLI from `--quiet`, `--log-level silent` and `--json`. */
export const progressDefaults = { quiet: false };

/** Live bars on the terminal, innermost last: only the innermost draws (a DTW matrix inside a clustering stage). */
const liveBars: Progress[] = [];

/** A progress reporter. Call {@link tick} or {@link update} as work is done, then {@link done}. */
export class Progress {
  private readonly opts: Required<Omit<ProgressOptions, 'stream'>> & { stream: NodeJS.WriteStream };
  private readonly start = Date.now();
  private doneUnits = 0;
  private lastDraw = 0;
  private finished = false;
  private detail = '';
  private timer: NodeJS.Timeout | undefined;

  constructor(options: ProgressOptions) {
    this.opts = {
      unit: 'items',
      quiet: progressDefaults.quiet,
      logEverySeconds: 10,
      stream: process.stderr,
      ...options,
    };
    // On a terminal the bar shows from the start and its clock keeps moving while a long unit of
    // work (a DTW tile, a clustering fit) runs, so that a slow step never looks like a hang.
    if (!this.opts.quiet && this.opts.stream.isTTY === true) {
      const outer = liveBars[liveBars.length - 1];
      if (outer) outer.opts.stream.write('\n');
      liveBars.push(this);
      this.draw(true);
      this.lastDraw = Date.now();
      this.timer = setInterval(() => {
        if (!this.finished && liveBars[liveBars.length - 1] === this) this.draw(true);
      }, 1000);
      this.timer.unref();
      const stream = this.opts.stream;
      logLineHooks.before = () => stream.write('\r\x1b[K');
      logLineHooks.after = () => {
        const top = liveBars[liveBars.length - 1];
        if (top && !top.finished) top.draw(true);
      };
    }
  }

  /** Add `n` units done. */
  tick(n = 1): void {
    this.update(this.doneUnits + n);
  }

  /** Set the units done so far, and optionally what is being done now (shown after the bar). */
  update(done: number, detail?: string): void {
    this.doneUnits = done;
    if (detail !== undefined) this.detail = detail;
    if (this.opts.quiet || this.finished) return;
    const now = Date.now();
    const tty = this.opts.stream.isTTY === true;
    const every = tty ? 100 : this.opts.logEverySeconds * 1000;
    if (now - this.lastDraw < every) return;
    if (!tty && now - this.start < every) return;
    this.lastDraw = now;
    this.draw(tty);
  }

  /** Finish: draw the final state (terminal) or one summary line. */
  done(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer) {
      clearInterval(this.timer);
      const i = liveBars.indexOf(this);
      if (i >= 0) liveBars.splice(i, 1);
      if (liveBars.length === 0) {
        logLineHooks.before = undefined;
        logLineHooks.after = undefined;
      }
    }
    if (this.opts.quiet) return;
    const tty = this.opts.stream.isTTY === true;
    if (tty) {
      this.doneUnits = Math.max(this.doneUnits, this.opts.total);
      this.draw(true);
      this.opts.stream.write('\n');
    } else if (Date.now() - this.start >= this.opts.logEverySeconds * 1000) {
      this.opts.stream.write(`${this.opts.label}: done in ${formatSeconds((Date.now() - this.start) / 1000)}\n`);
    }
  }

  /** Stop drawing without a final line (the step failed; the error message follows). */
  abandon(): void {
    if (this.finished) return;
    const live = this.timer !== undefined;
    this.opts.quiet = true;
    this.done();
    if (live) this.opts.stream.write('\r\x1b[K');
  }

  private draw(tty: boolean): void {
    const { total, label, unit } = this.opts;
    const elapsed = (Date.now() - this.start) / 1000;
    const frac = total > 0 ? Math.min(1, this.doneUnits / total) : 0;
    const rate = elapsed > 0 ? this.doneUnits / elapsed : 0;
    const eta = rate > 0 ? (total - this.doneUnits) / rate : NaN;
    const pct = (frac * 100).toFixed(1).padStart(5);
    // Small totals (runs, steps) are counted; large ones (cells, pairs) get a rate.
    const count = total <= 100_000 ? `${this.doneUnits}/${total} ${unit}` : `${formatRate(rate)} ${unit}/s`;
    const tail = `${pct}% ${count} ${formatSeconds(elapsed)} elapsed, ETA ${Number.isFinite(eta) && this.doneUnits > 0 ? formatSeconds(eta) : '?'}${this.detail ? ` ${this.detail}` : ''}`;
    if (tty) {
      const width = 24;
      const filled = Math.round(frac * width);
      this.opts.stream.write(`\r${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${tail}\x1b[K`);
    } else {
      this.opts.stream.write(`${label}: ${tail}\n`);
    }
  }
}

/** 3723 → "1h02m03s". */
export function formatSeconds(s: number): string {
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)}s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m${String(sec).padStart(2, '0')}s` : `${m}m${String(sec).padStart(2, '0')}s`;
}

function formatRate(r: number): string {
  if (r >= 1e9) return `${(r / 1e9).toFixed(2)}G`;
  if (r >= 1e6) return `${(r / 1e6).toFixed(2)}M`;
  if (r >= 1e3) return `${(r / 1e3).toFixed(1)}k`;
  return r.toFixed(0);
}
