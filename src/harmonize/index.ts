/**
 * The harmonize stage library: join clean profile tables (resolution check, excluded meters,
 * incomplete rows, cross-source duplicates). Row normalisation and the dataset digest live in
 * `profiles/`.
 */
export * from './harmonize.js';
