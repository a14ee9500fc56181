import { defineProject } from 'vitest/config'

/** Cross-process, fault and browser tests: real processes and signals, one file at a time. */
export default defineProject({
  test: {
    name: 'system',
    globalSetup: ['../packages/testing/src/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
})
