/**
 * Prints one closing line "N passed, N failed, N skipped" after vitest's own report, so that any
 * tool reading the end of the log sees the counts in a plain, standard form. With
 * LPCLUST_TEST_SUMMARY set to a file, also appends "N N N" (passed, failed, skipped) to it: `.ci/run`
 * runs two suites and closes its log with their sum.
 */
import { appendFileSync } from 'node:fs';
import type { Reporter, TestModule } from 'vitest/node';

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown> = []): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const mod of testModules) {
      let failedHere = 0;
      for (const t of mod.children.allTests()) {
        const state = t.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failedHere++;
        else skipped++;
      }
      // A file that failed to load, or whose beforeAll threw (its tests then show as skipped), has
      // no failed test but must count as a failure.
      if (failedHere === 0 && mod.state() === 'failed') failedHere = 1;
      failed += failedHere;
    }
    failed += unhandledErrors.length;
    process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
    const file = process.env.LPCLUST_TEST_SUMMARY;
    if (file) appendFileSync(file, `${passed} ${failed} ${skipped}\n`);
  }
}
