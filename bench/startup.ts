/**
 * Start-up benchmark (issue 16). Run from the repository root after building:
 *
 *   npm run build && node --import tsx bench/startup.ts [--runs 15] [--baseline /path/to/other/checkout]
 *
 * Times whole processes — `lpclust --version`, `lpclust --help`, and a no-op `lpclust runs` on an
 * empty tracking directory — against plain `node -e 0` measured in the same run (the baseline),
 * interleaved so that other load on a shared machine hits all alike. Prints the median wall time,
 * the ratio to `node -e 0`, and the peak RSS of each (measured in separate runs through a preload
 * that reports `process.resourceUsage().maxRSS` at exit, so the timed runs carry no probe).
 * `--baseline DIR` adds the same commands run with DIR's `bin/lpclust.js` (e.g. the main branch's
 * build before a change), for a before/after comparison in one run. `uptime` is printed alongside.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const RUNS = Number(opt('--runs') ?? 15);
const baseline = opt('--baseline');

const PROBE = `data:text/javascript,process.on('exit',()=>process.stderr.write('\\nMAXRSS '+process.resourceUsage().maxRSS+'\\n'))`;

interface Case {
  label: string;
  args: string[];
}

function uptime(): string {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return `load average ${os.loadavg().map((x) => x.toFixed(2)).join(', ')}`;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function main(): void {
  const tracking = mkdtempSync(path.join(os.tmpdir(), 'lpclust-bench-startup-'));
  const env = { ...process.env, NO_COLOR: '1', MLFLOW_TRACKING_URI: `file:${tracking}` };
  const cases: Case[] = [{ label: 'node -e 0 (baseline)', args: ['-e', '0'] }];
  const builds: Array<[string, string]> = [['this build', path.join(ROOT, 'bin', 'lpclust.js')]];
  if (baseline) builds.push([`baseline ${baseline}`, path.join(path.resolve(baseline), 'bin', 'lpclust.js')]);
  for (const [name, bin] of builds) {
    for (const a of [['--version'], ['--help'], ['runs']]) cases.push({ label: `${name}: lpclust ${a.join(' ')}`, args: [bin, ...a] });
  }
  console.log(`lpclust start-up bench — node ${process.version}, ${os.cpus()[0]?.model}, ${os.availableParallelism()} cores, ${RUNS} runs each, interleaved`);
  console.log(`uptime before: ${uptime()}`);
  console.log('note: the machine may be shared; the ratios to node -e 0 measured in the same run are the figures to compare.');
  try {
    const walls = cases.map(() => [] as number[]);
    const rss = cases.map(() => [] as number[]);
    for (let r = 0; r < RUNS; r++) {
      cases.forEach((c, i) => {
        const t0 = performance.now();
        const res = spawnSync(process.execPath, c.args, { env, cwd: tracking, encoding: 'utf8' });
        walls[i].push((performance.now() - t0) / 1000);
        if (res.status !== 0 && !c.args.includes('--help')) throw new Error(`${c.label} exited ${res.status}: ${res.stderr}`);
      });
    }
    for (let r = 0; r < Math.min(5, RUNS); r++) {
      cases.forEach((c, i) => {
        const res = spawnSync(process.execPath, ['--import', PROBE, ...c.args], { env, cwd: tracking, encoding: 'utf8' });
        const m = /MAXRSS (\d+)/.exec(res.stderr);
        if (m) rss[i].push(Number(m[1]) / 1024);
      });
    }
    const base = median(walls[0]);
    for (let i = 0; i < cases.length; i++) {
      const w = median(walls[i]);
      console.log(
        `${cases[i].label.padEnd(48)} median ${w.toFixed(3)} s (min ${Math.min(...walls[i]).toFixed(3)} s)  ×${(w / base).toFixed(2)} node -e 0  peak RSS ${median(rss[i]).toFixed(1)} MB`,
      );
    }
  } finally {
    rmSync(tracking, { recursive: true, force: true });
  }
  console.log(`uptime after: ${uptime()}`);
}

main();
