/**
 * Redis connections for the job queue (BullMQ). `redis://[user:password@]host[:port][/db]` and
 * `rediss://…` (TLS) are accepted; the password is registered as a secret, so every log line, error
 * and param shows the URL masked (util/mask.ts), never the password.
 */
import type { Redis, RedisOptions } from 'ioredis';
import { externalError, usageError } from '../errors.js';
import { maskUri, registerUriPassword } from '../util/mask.js';

/** The checked form of a `--queue` URL. */
export interface QueueUrl {
  /** As given (holds the password: never print it, use `masked`). */
  url: string;
  /** For messages: the password replaced by `***`. */
  masked: string;
  tls: boolean;
}

/**
 * Check a `--queue` URL: redis:// or rediss://, with a host. The password, if any, becomes a
 * registered secret.
 * @throws LpclustError E_USAGE_VALUE
 */
export function parseQueueUrl(raw: string, flag = '--queue'): QueueUrl {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw usageError('E_USAGE_VALUE', `Expected a Redis URL for \`${flag}\` (redis://host:6379/0 or rediss://… for TLS) but received \`${maskUri(raw)}\``);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw usageError('E_USAGE_VALUE', `Expected a redis:// or rediss:// URL for \`${flag}\` but received \`${maskUri(raw)}\``, { hint: 'e.g. redis://localhost:6379/0, or rediss://:password@host:6380/0 for TLS' });
  }
  if (!u.hostname) throw usageError('E_USAGE_VALUE', `\`${flag}\` ${maskUri(raw)} names no host`);
  registerUriPassword(raw);
  return { url: raw, masked: maskUri(raw), tls: u.protocol === 'rediss:' };
}

/** Options of {@link openRedis}. */
export interface OpenRedisOptions {
  /** Seconds to wait for the first answer before failing (default 10). */
  connectSeconds?: number;
}

/**
 * Open a connection BullMQ can use (`maxRetriesPerRequest: null`: commands wait through a Redis
 * restart instead of failing) and wait for Redis to answer.
 * @throws LpclustError E_QUEUE_UNREACHABLE (exit 4) naming the masked URL
 */
export async function openRedis(q: QueueUrl, options: OpenRedisOptions = {}): Promise<Redis> {
  const { Redis: RedisClient } = await import('ioredis');
  const opts: RedisOptions = {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    lazyConnect: true,
    // Reconnect forever, at most every 2 s: a restarted Redis is picked up within seconds.
    retryStrategy: (times) => Math.min(2000, 100 * times),
    ...(q.tls ? { tls: {} } : {}),
  };
  const client = new RedisClient(q.url, opts);
  let lastError: Error | null = null;
  client.on('error', (e: Error) => {
    lastError = e;
  });
  const seconds = options.connectSeconds ?? 10;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.connect().then(() => client.ping()),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('no answer')), seconds * 1000);
      }),
    ]);
  } catch (e) {
    client.disconnect();
    const why = (lastError ?? (e as Error)).message;
    throw unreachable(q, `${why} (after ${seconds} s)`);
  } finally {
    clearTimeout(timer);
  }
  return client;
}

/** The error for a Redis that does not answer. */
export function unreachable(q: QueueUrl, why: string): Error {
  return externalError('E_QUEUE_UNREACHABLE', `the job queue at ${q.masked} does not answer: ${maskUri(why)}`, {
    hint: 'check that redis-server runs there and that the URL, password and TLS (rediss://) are right',
  });
}

/**
 * A second connection like `c` (the event stream needs its own). Its errors are not printed: a lost
 * connection shows as the first one's (the submitter's "does not answer" handling), and ioredis
 * would otherwise print each as an unhandled error event with a stack trace.
 */
export function duplicateQuietly(c: Redis): Redis {
  const d = c.duplicate();
  d.on('error', () => undefined);
  return d;
}
