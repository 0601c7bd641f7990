/**
 * Real `lpclust` processes for the job-queue tests: start the CLI (submitter or worker) against a
 * FileStore in a test folder, wait for a condition, stop workers with SIGTERM, and make a copy of
 * this lpclust that says it is another version (the version-skew tests).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** The CLI of this checkout (runs dist/: build first). */
export const BIN = path.resolve('bin/lpclust.js');

/** What a finished process printed. */
export interface Done {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** A started CLI process; `done` resolves when it exits. */
export interface Started {
  proc: ChildProcess;
  done: Promise<Done>;
  stderr: () => string;
}

/**
 * Start `lpclust <args>` in `cwd` with the FileStore `<cwd>/mlruns` and no LPCLUST_TRACKING_URI
 * from the caller.
 */
export function startCli(cwd: string, args: string[], env: Record<string, string> = {}, bin = BIN): Started {
  const proc = spawn(process.execPath, [bin, '--tracking-uri', `file:${path.join(cwd, 'mlruns')}`, ...args], { cwd, env: { ...process.env, LPCLUST_TRACKING_URI: '', ...env } });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Done>((resolve) => proc.on('exit', (status) => resolve({ status, stdout, stderr })));
  return { proc, done, stderr: () => stderr };
}

/** SIGTERM every process of `procs` still running (emptying the list) and wait for them to exit. */
export async function stopProcs(procs: ChildProcess[]): Promise<void> {
  await Promise.all(
    procs.splice(0).map(
      (p) =>
        new Promise<void>((resolve) => {
          if (p.exitCode !== null || p.signalCode !== null) return resolve();
          p.once('exit', () => resolve());
          p.kill('SIGTERM');
        }),
    ),
  );
}

/** Poll `test` until it holds, or throw after `ms`. */
export async function until(what: string, test: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A copy of this lpclust (dist/, bin/, node_modules and build/ linked) in `dir` whose package.json
 * says `version`; returns its CLI and this checkout's version.
 */
export function skewedCopy(dir: string, version: string): { bin: string; mine: string } {
  mkdirSync(dir);
  cpSync(path.resolve('dist'), path.join(dir, 'dist'), { recursive: true });
  cpSync(path.resolve('bin'), path.join(dir, 'bin'), { recursive: true });
  symlinkSync(path.resolve('node_modules'), path.join(dir, 'node_modules'));
  if (existsSync(path.resolve('build'))) symlinkSync(path.resolve('build'), path.join(dir, 'build'));
  const meta = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ ...meta, version }));
  return { bin: path.join(dir, 'bin', 'lpclust.js'), mine: meta.version };
}
