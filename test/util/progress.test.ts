/**
 * The progress bar: on a terminal it shows at once (count and ETA), its clock moves while a long
 * unit of work runs, log lines do not tear it, a nested bar takes over; quiet draws nothing.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Logger, logLineHooks } from '../../src/util/log.js';
import { Progress } from '../../src/util/progress.js';

function fakeTty(): { stream: NodeJS.WriteStream; text: () => string } {
  const chunks: string[] = [];
  const stream = { isTTY: true, write: (s: string) => {
      chunks.push(s);
      return true;
    } } as unknown as NodeJS.WriteStream;
  return { stream, text: () => chunks.join('') };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('Progress', () => {
  it('draws at once with a count, redraws every second while nothing finishes, and ends with a newline', () => {
    vi.useFakeTimers();
    const t = fakeTty();
    const p = new Progress({ label: 'sync', total: 438, unit: 'runs', stream: t.stream, quiet: false });
    expect(t.text()).toContain('sync [------------------------]   0.0% 0/438 runs 0.0s elapsed, ETA ?');
    vi.advanceTimersByTime(3000);
    expect(t.text()).toContain('3.0s elapsed');
    p.update(219, 'half');
    vi.advanceTimersByTime(1000);
    expect(t.text()).toMatch(/50\.0% 219\/438 runs 4\.0s elapsed, ETA 4\.0s half/);
    p.done();
    expect(t.text().endsWith('\n')).toBe(true);
    const after = t.text().length;
    vi.advanceTimersByTime(5000);
    expect(t.text().length).toBe(after);
  });

  it('a log line clears the bar and the bar comes back after it; a nested bar draws alone', () => {
    vi.useFakeTimers();
    const t = fakeTty();
    const lines: string[] = [];
    const logger = new Logger('info', (l) => t.stream.write(`${l}\n`) && lines.push(l) > 0);
    const outer = new Progress({ label: 'cluster', total: 4, unit: 'steps', stream: t.stream, quiet: false });
    logger.info('hello');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the ESC of the terminal's erase-line sequence is what is checked
    expect(t.text()).toMatch(/\r\x1b\[Khello\n.*cluster \[/s);
    const inner = new Progress({ label: 'dtw matrix', total: 1e9, unit: 'cells', stream: t.stream, quiet: false });
    const mark = t.text().length;
    vi.advanceTimersByTime(2000);
    expect(t.text().slice(mark)).toContain('dtw matrix');
    expect(t.text().slice(mark)).not.toContain('cluster [');
    inner.done();
    outer.done();
    expect(logLineHooks.before).toBeUndefined();
  });

  it('quiet (--quiet, --json) and a failed step draw nothing more', () => {
    vi.useFakeTimers();
    const t = fakeTty();
    const q = new Progress({ label: 'x', total: 10, stream: t.stream, quiet: true });
    q.update(5);
    vi.advanceTimersByTime(2000);
    q.done();
    expect(t.text()).toBe('');
    const a = new Progress({ label: 'y', total: 10, stream: t.stream, quiet: false });
    a.abandon();
    expect(t.text().endsWith('\r\x1b[K')).toBe(true);
    expect(t.text()).not.toContain('100.0%');
  });
});
