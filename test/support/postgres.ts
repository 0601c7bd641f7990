/**
 * A real, throw-away PostgreSQL server for the SQL-source tests.
 *
 * `startPostgres()` runs Debian's `initdb` + `pg_ctl` (from `/usr/lib/postgresql/<version>/bin`)
 * in a fresh temporary directory, listening on a free TCP port of 127.0.0.1 with its unix socket
 * inside that directory, with password (SCRAM) authentication for TCP so that tests exercise a
 * URI holding a password. `stop()` shuts it down and deletes the directory.
 *
 * PostgreSQL refuses to run as root, so when the tests run as root the server commands are run as
 * the unprivileged `postgres` account (created by the Debian package) through `runuser`.
 *
 * When no PostgreSQL binaries are installed this throws: the SQL tests must fail, not skip, so a
 * CI machine without the package (see `.ci/run`) is noticed.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A running test server. */
export interface PgServer {
  /** `postgres://lpclust:<password>@127.0.0.1:<port>/postgres` */
  url: string;
  /** The superuser's password (part of `url`). */
  password: string;
  /** TCP port on 127.0.0.1. */
  port: number;
  /** Temporary directory holding the cluster, the socket and the server log. */
  dir: string;
  /** Stop the server (immediate shutdown) and delete its directory. Safe to call twice. */
  stop(): Promise<void>;
}

/** The newest installed PostgreSQL `bin` directory, or an explanatory error. */
export function findPostgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')) && existsSync(join(root, v, 'bin', 'pg_ctl')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) {
    throw new Error(
      'PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (initdb, pg_ctl). ' +
        'Install Debian\'s "postgresql" package (apt-get install postgresql; .ci/run does it) — the SQL tests need a real server.',
    );
  }
  return join(root, versions[0]!, 'bin');
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
async function freePort(): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Run a server binary, as `postgres` through runuser when we are root. */
async function runServerCommand(bin: string, args: string[], asUser: boolean): Promise<void> {
  const [file, argv] = asUser ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  try {
    await run(file, argv, { timeout: 60_000 });
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${[file, ...argv].join(' ')} failed: ${err.stderr || err.stdout || err.message}`);
  }
}

/** Look up the uid/gid of the `postgres` account. */
async function postgresIds(): Promise<{ uid: number; gid: number }> {
  try {
    const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
    const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
    return { uid, gid };
  } catch {
    throw new Error('running as root but there is no "postgres" account to run the PostgreSQL server as (install Debian\'s "postgresql" package)');
  }
}

/**
 * Start a fresh PostgreSQL server in a temporary directory.
 * Takes a few seconds (initdb). Call `stop()` in `afterAll`.
 */
export async function startPostgres(): Promise<PgServer> {
  const bin = findPostgresBin();
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const dir = await mkdtemp(join(tmpdir(), 'lpclust-pg-'));
  const data = join(dir, 'data');
  const password = `pw-${Math.random().toString(36).slice(2, 10)}`;
  const pwfile = join(dir, 'pwfile');
  await writeFile(pwfile, password + '\n', { mode: 0o600 });
  if (asRoot) {
    const { uid, gid } = await postgresIds();
    await chown(dir, uid, gid);
    await chown(pwfile, uid, gid);
  }
  await chmod(dir, 0o700);
  let started = false;
  const stop = async (): Promise<void> => {
    if (started) {
      started = false;
      await runServerCommand(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop'], asRoot).catch(() => undefined);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await runServerCommand(
      join(bin, 'initdb'),
      ['-D', data, '-U', 'lpclust', '--pwfile', pwfile, '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--no-locale', '--no-sync'],
      asRoot,
    );
    // A port can be taken between probing and binding: retry a few times.
    let port = 0;
    let lastError: unknown;
    for (let attempt = 0; attempt < 5 && !started; attempt++) {
      port = await freePort();
      const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`;
      try {
        await runServerCommand(join(bin, 'pg_ctl'), ['-D', data, '-o', opts, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start'], asRoot);
        started = true;
      } catch (e) {
        lastError = e;
      }
    }
    if (!started) throw lastError;
    return { url: `postgres://lpclust:${password}@127.0.0.1:${port}/postgres`, password, port, dir, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
