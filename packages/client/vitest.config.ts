import { defineProject } from 'vitest/config'

export default defineProject({
  test: { name: 'client', testTimeout: 10_000 },
})
