import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The failover run has a command of its own (npm run test:failover, test/failover/vitest.config.ts).
    exclude: [...configDefaults.exclude, 'test/failover/**'],
    // Integration tests start real processes with the real model; on a small machine they
    // are more reliable one file at a time.
    fileParallelism: false,
    testTimeout: 90_000,
    hookTimeout: 90_000,
    pool: 'forks',
  },
});
