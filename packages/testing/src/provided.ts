import type {} from 'vitest'

declare module 'vitest' {
  export interface ProvidedContext {
    /** The private redis-server the global setup started for this test project. */
    redisUrl: string
    /** Names this project's PostgreSQL test databases, so its teardown drops them all. */
    runId: string
  }
}
