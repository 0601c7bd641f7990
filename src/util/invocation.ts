/**
 * What this process was invoked as, set once by the CLI (`src/cli/main.ts`) and read by the
 * tracking layer for the run tags the MLflow UI shows. Empty when lpclust is used as a library.
 * Kept free of imports: the CLI loads it at start-up.
 */
export const invocation: {
  /** The lpclust command being run (`pipeline`, `cluster`…), when the command line names one. */
  command?: string;
} = {};
