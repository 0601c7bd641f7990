/**
 * The ETL library: sources → cleaning core → clean daily profiles. See `clean.ts` for the cleaning
 * steps and the DST policy, `rules.ts` for the rules file format.
 */
export * from './types.js';
export * from './time.js';
export * from './clean.js';
export * from './rules.js';
export * from './meters.js';
export * from './series.js';
export * from './run.js';
export * from './oldmongo.js';
export * from './generic.js';
export * from './sql.js';
export * from './newmongo.js';
export * from './sources.js';
