import { configDefaults, defineConfig } from 'vitest/config';
import { common } from './vitest.config';

// The data suite (`npm run test:data`): the tests that need the real datasets, which are not in
// the repository (folder from LPCLUST_DATASETS, default ../shared/datasets; see
// test/support/datasets.ts). They fail, never skip, when the folder is missing.
export default defineConfig({
  test: {
    ...common,
    include: ['test/**/*.data.test.ts'],
    exclude: [...configDefaults.exclude],
  },
});
