import { defineConfig } from 'vitest/config';

// Tests import workspace packages by their `source` export condition, so no build is needed for unit tests;
// end-to-end tests (test/) run the built CLI in bin/ and need `make build` first (make test does it).
export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
