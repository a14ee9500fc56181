import { defineProject } from 'vitest/config'

/** The campaign's own logic (the checker, the PRNG): plain unit tests, no processes. */
export default defineProject({
  test: { name: 'chaos', include: ['src/**/*.test.ts'] },
})
