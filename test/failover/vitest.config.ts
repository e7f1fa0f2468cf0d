import { defineConfig } from 'vitest/config';

// The failover run (npm run test:failover): real Redis processes killed and restarted for minutes,
// so it is not part of the default run's files (vitest.config.ts leaves test/failover out).
export default defineConfig({
  test: {
    include: ['test/failover/**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
