/**
 * A real, throw-away Redis server for the job-queue tests.
 *
 * `startRedis()` runs Debian's `redis-server` on a free port of 127.0.0.1, in a fresh temporary
 * directory, with its append-only file on (`--appendonly yes`, fsync every write) so that a
 * restart mid-run (`restart()`) finds the queue as it was. With `password` it requires it.
 * With `tls` it listens with TLS only (`rediss://`), on a self-signed certificate for 127.0.0.1
 * made with `openssl` in that directory (`caFile`: give it to clients as NODE_EXTRA_CA_CERTS).
 * `stop()` shuts it down and deletes the directory.
 *
 * When `redis-server` is not installed this throws: the queue tests must fail, not skip, so a CI
 * machine without the package (see `.ci/run`) is noticed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A running test server. */
export interface RedisServer {
  /** `redis://[:password@]127.0.0.1:<port>/0` (`rediss://` with TLS) */
  url: string;
  /** With TLS: the certificate clients must trust. */
  caFile?: string;
  port: number;
  /** Temporary directory holding the append-only file and the log. */
  dir: string;
  /** Stop (SIGTERM: Redis flushes its append-only file) and start again on the same port and directory. */
  restart(downMs?: number): Promise<void>;
  /** Stop the server and delete its directory. Safe to call twice. */
  stop(): Promise<void>;
}

/** The redis-server binary, or an explanatory error. */
export function findRedisServer(): string {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error('redis-server not found on PATH. Install Debian\'s "redis-server" package (apt-get install redis-server; .ci/run does it) — the job-queue tests need a real server.');
  }
  return 'redis-server';
}

async function freePort(): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on the port (or rejects after `ms`). */
async function waitForPort(port: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port }, () => {
        s.end();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`redis-server did not listen on 127.0.0.1:${port} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Start a Redis server (see the module comment). */
export async function startRedis(options: { password?: string; tls?: boolean } = {}): Promise<RedisServer> {
  const bin = findRedisServer();
  const dir = mkdtempSync(join(tmpdir(), 'lpclust-redis-'));
  const port = await freePort();
  let caFile: string | undefined;
  const listen = ['--port', String(port)];
  if (options.tls) {
    caFile = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', caFile, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl could not make a test certificate: ${r.error?.message ?? r.stderr}`);
    listen.splice(0, 2, '--port', '0', '--tls-port', String(port), '--tls-cert-file', caFile, '--tls-key-file', key, '--tls-ca-cert-file', caFile, '--tls-auth-clients', 'no');
  }
  const args = [...listen, '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--logfile', join(dir, 'redis.log')];
  if (options.password) args.push('--requirepass', options.password);
  let proc: ChildProcess | null = null;
  const start = async (): Promise<void> => {
    proc = spawn(bin, args, { stdio: 'ignore' });
    await waitForPort(port, 10_000);
  };
  const halt = async (): Promise<void> => {
    const p = proc;
    proc = null;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGTERM');
    });
  };
  await start();
  return {
    url: `${options.tls ? 'rediss' : 'redis'}://${options.password ? `:${encodeURIComponent(options.password)}@` : ''}127.0.0.1:${port}/0`,
    ...(caFile ? { caFile } : {}),
    port,
    dir,
    async restart(downMs = 500) {
      await halt();
      await new Promise((r) => setTimeout(r, downMs));
      await start();
    },
    async stop() {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
