/**
 * Helper thread of the k-means restarts (kmeans-restarts.ts): each message is the shared layout of
 * one fit; the helper takes restarts from its counter until none is left.
 */
import { parentPort } from 'node:worker_threads';
import { helpWithRestarts, type SharedRestarts } from './kmeans-restarts.js';

parentPort?.on('message', (job: SharedRestarts) => helpWithRestarts(job));
