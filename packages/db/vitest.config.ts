import { configDefaults, defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'db',
    globalSetup: ['../../packages/testing/src/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // The PostgreSQL backend's own tests (its trigger, migration lock, races) run with the
    // suite on PostgreSQL only; the backend-neutral tests in src/ run on both.
    exclude: [...configDefaults.exclude, ...(process.env.DORMANT_TEST_DB === 'postgres' ? [] : ['src/postgres/**'])],
  },
})
