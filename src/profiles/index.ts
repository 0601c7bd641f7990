/**
 * Daily load profiles as every stage after harmonize sees them: row normalisation and the digest
 * that ties a DTW matrix or a model to the exact data it came from. A neutral module, so that
 * `dtw`, `cluster`, `validate` and `model` need not import the harmonize stage.
 */
export * from './normalize.js';
