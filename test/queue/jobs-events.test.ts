/**
 * The submitter's reaction to job events when the queue can no longer answer: when a worker
 * refuses every job (another lpclust version), many `failed` events arrive while the submitter
 * is already closing its queue after the first. Reading a job's state then fails; that must not
 * become an unhandled rejection (which ended the process with exit 1, "internal error", instead
 * of the refusal's own message and exit 4).
 */
import { EventEmitter } from 'node:events';
import type { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { SubmittedJobs } from '../../src/queue/jobs.js';

const words = { name: (t: number) => `tile ${t}`, unit: 'tile', kind: 'tile', failHint: 'run the same lpclust version everywhere' };
const url = { url: 'redis://127.0.0.1:1', masked: 'redis://127.0.0.1:1', tls: false };

describe('SubmittedJobs and failed events', () => {
  it('records the failure a job state confirms, and ignores a state that can no longer be read', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => {
      unhandled.push(e);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      let closed = false;
      const queue = { getJobState: async () => (closed ? Promise.reject(new Error('Connection is closed.')) : 'failed') } as unknown as Queue;
      const events = new EventEmitter() as unknown as QueueEvents;
      const jobs = new SubmittedJobs<number>(queue, events, new EventEmitter() as unknown as Redis, url, words, { retried: 0 });
      jobs.outstanding.set('a', 1);
      jobs.outstanding.set('b', 2);
      (events as unknown as EventEmitter).emit('failed', { jobId: 'a', failedReason: 'refuses a job of lpclust 0.1.0' });
      await new Promise((r) => setTimeout(r, 10));
      expect(jobs.failure?.message).toBe('a worker gave up on tile 1: refuses a job of lpclust 0.1.0');
      // The submitter closes the queue; the next refusal's state cannot be read.
      closed = true;
      (events as unknown as EventEmitter).emit('failed', { jobId: 'b', failedReason: 'refuses a job of lpclust 0.1.0' });
      await new Promise((r) => setTimeout(r, 10));
      expect(unhandled).toEqual([]);
      expect(jobs.failure?.message).toBe('a worker gave up on tile 1: refuses a job of lpclust 0.1.0');
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
