/**
 * Prints one closing line "N passed, N failed, N skipped" after vitest's own report, so that any
 * tool reading the end of the log sees the counts in a plain, standard form.
 */
import type { Reporter, File, Task } from 'vitest';

function count(tasks: Task[], acc: { passed: number; failed: number; skipped: number }): void {
  for (const t of tasks) {
    if (t.type === 'suite') {
      count(t.tasks, acc);
      continue;
    }
    const state = t.result?.state;
    if (t.mode === 'skip' || t.mode === 'todo') acc.skipped++;
    else if (state === 'pass') acc.passed++;
    else if (state === 'fail') acc.failed++;
    else acc.skipped++;
  }
}

export default class SummaryReporter implements Reporter {
  onFinished(files: File[] = []): void {
    const acc = { passed: 0, failed: 0, skipped: 0 };
    let failedFiles = 0;
    for (const f of files) {
      if (f.result?.state === 'fail' && f.tasks.length === 0) failedFiles++;
      count(f.tasks, acc);
    }
    acc.failed += failedFiles;
    process.stdout.write(`\n${acc.passed} passed, ${acc.failed} failed, ${acc.skipped} skipped\n`);
  }
}
