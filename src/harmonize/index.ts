/**
 * The harmonize stage library: join clean profile tables (resolution check, excluded meters,
 * incomplete rows, cross-source duplicates), row normalisation and the dataset digest.
 */
export * from './normalize.js';
export * from './harmonize.js';
