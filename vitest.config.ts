import { defineConfig } from 'vitest/config';

// Forks, not threads: several suites spawn the built CLI, start database servers or load the
// native addon, and a crash in one of those must not take the runner down with it.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
