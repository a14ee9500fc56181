import { defineProject } from 'vitest/config'

/** The campaign's own logic (the checker, the PRNG, the proxy) and its PostgreSQL restart (needs the local server); no Dormant processes. */
export default defineProject({
  test: { name: 'chaos', include: ['src/**/*.test.ts'] },
})
