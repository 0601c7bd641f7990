// A clustering-pool worker that cannot work: with DYING_MODE "load" it throws while loading, with
// "exit" it exits with code 1 on its first task. Used by test/pipeline/cluster-pool.test.ts.
import { parentPort, workerData } from 'node:worker_threads';

if (workerData?.mode === 'load') throw new Error('cannot start');
parentPort.on('message', () => process.exit(1));
