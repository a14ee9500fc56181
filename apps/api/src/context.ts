import type { Logger, UserJson } from '@dormant/core'
import type { HttpBindings } from '@hono/node-server'

export type Session = { sessionId: string; expiresAt: number; user: UserJson }

export type AppEnv = {
  Bindings: HttpBindings
  Variables: { requestId: string; log: Logger; session: Session }
}
