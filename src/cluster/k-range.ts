/**
 * The default ranges of k, written once. A module of its own with no imports, so the CLI's option
 * table can read them without loading the clustering code (start-up time).
 */

/** The k tried by `cluster`/`pipeline` with `-k 0` (choose k), inclusive. */
export const DEFAULT_K_RANGE: readonly [number, number] = [3, 29];

/** The k swept by `lpclust sweep`, inclusive. */
export const DEFAULT_SWEEP_K_RANGE: readonly [number, number] = [3, 20];
