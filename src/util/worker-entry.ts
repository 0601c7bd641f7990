/**
 * Where a worker thread's entry module is: the compiled `.js` beside the caller in dist/, or, when
 * the caller runs from its TypeScript source (tests, `tsx`), the `.ts` file loaded through tsx.
 */

/** What `new Worker(script, { eval })` needs. */
export interface WorkerEntry {
  script: URL | string;
  eval: boolean;
  /** `workerData` to start it with. */
  workerData?: unknown;
}

/**
 * @param callerUrl `import.meta.url` of the module starting the worker
 * @param basename the worker module's file name without extension, in the caller's folder
 */
export function workerEntry(callerUrl: string, basename: string): WorkerEntry {
  if (callerUrl.endsWith('.ts')) {
    // Node 20 does not apply `--import` loaders to a worker's entry module: register tsx first.
    // tsx is resolved here, not by the eval'd worker: that one resolves from the working
    // directory, which need not be the project's.
    const url = new URL(`./${basename}.ts`, callerUrl).href;
    const tsx = import.meta.resolve('tsx/esm/api');
    return { script: `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(url)}); })`, eval: true };
  }
  return { script: new URL(`./${basename}.js`, callerUrl), eval: false };
}
