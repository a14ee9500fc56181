import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'worker',
    globalSetup: ['../../packages/testing/src/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
})
