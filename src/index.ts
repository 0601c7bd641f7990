/**
 * lpclust as a library: `import { ... } from 'lpclust'`. Importing has no side effects.
 */
export * from './errors.js';
export * from './config.js';
export * from './util/random.js';
export * from './util/mask.js';
export { Logger, log, LOG_LEVELS, type LogLevel } from './util/log.js';
export * from './util/progress.js';
export * from './io/atomic.js';
export * from './io/csv.js';
export * from './io/profiles.js';
export * from './io/npy.js';
export * from './io/labels.js';
export * from './harmonize/index.js';
export * from './profiles/index.js';
export * from './dtw/reference.js';
export * from './dtw/index.js';
export * from './tracking/index.js';
export * from './util/interrupt.js';
export * from './pipeline/types.js';
export * from './etl/index.js';
export * from './validate/index.js';
export * from './cluster/index.js';
export * from './plot/index.js';
export * from './model/index.js';
export * from './serve/index.js';
