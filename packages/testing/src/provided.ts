import type {} from 'vitest'

declare module 'vitest' {
  export interface ProvidedContext {
    /** The private redis-server the global setup started for this test project. */
    redisUrl: string
  }
}
