import { configDefaults, defineConfig } from 'vitest/config';

/**
 * Settings of both suites. Forks, not threads: several suites spawn the built CLI, start database
 * servers or load the native addon, and a crash in one of those must not take the runner down
 * with it.
 */
export const common = {
  pool: 'forks' as const,
  testTimeout: 60_000,
  hookTimeout: 120_000,
  reporters: ['default', './test/support/summary-reporter.ts'],
};

// The default suite (`npm test`): self-contained, it needs nothing beside the repository. The
// tests that need the real datasets are `*.data.test.ts`, run by `npm run test:data`
// (vitest.data.config.ts).
export default defineConfig({
  test: {
    ...common,
    include: ['test/**/*.test.ts'],
    exclude: [...configDefaults.exclude, 'test/**/*.data.test.ts'],
  },
});
