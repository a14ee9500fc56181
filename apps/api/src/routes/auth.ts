import type { DormantEvent } from '@dormant/core'
import { createSession, findLoginByEmail, getUser, revokeSession } from '@dormant/db'
import { getConnInfo } from '@hono/node-server/conninfo'
import { createRoute, z } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { DUMMY_HASH, verifyPassword } from '../auth/passwords.js'
import { clearSessionCookie, loadSession, requireSession, setSessionCookie } from '../auth/session.js'
import { hashToken, newSessionToken } from '../auth/tokens.js'
import type { AppEnv } from '../context.js'
import { announce, type Deps } from '../deps.js'
import { AppError } from '../errors.js'
import { router } from '../router.js'
import { authErrors, errors, json, jsonBody, UserResponse } from '../schemas.js'

const LoginBody = z
  .strictObject({ email: z.string().min(1).max(320), password: z.string().min(1).max(1024) })
  .openapi('LoginRequest')

const login = createRoute({
  method: 'post',
  path: '/login',
  tags: ['auth'],
  summary: 'Sign in; sets the session cookie',
  request: { body: jsonBody(LoginBody) },
  responses: {
    200: json(UserResponse, 'Signed in'),
    400: errors[400],
    401: authErrors[401],
    429: errors[429],
  },
})

const logout = createRoute({
  method: 'post',
  path: '/logout',
  tags: ['auth'],
  summary: 'Revoke the session and end its streams',
  responses: { 204: { description: 'Signed out' }, 401: authErrors[401] },
})

/**
 * The address sign-in failures are counted against. Behind `hops` trusted proxies
 * (`TRUST_PROXY_HOPS`), each of which appends the address it received from to
 * `X-Forwarded-For`, it is the entry `hops` from the right: entries further left were sent by
 * the client and prove nothing. Without trusted proxies, the socket's peer.
 */
export const clientAddress = (c: Context<AppEnv>, hops: number) => {
  if (hops > 0) {
    const forwarded = (c.req.header('x-forwarded-for') ?? '').split(',').map((a) => a.trim())
    const address = forwarded.length >= hops ? forwarded[forwarded.length - hops] : undefined
    if (address) return address
  }
  try {
    return getConnInfo(c).remote.address ?? 'unknown'
  } catch {
    return 'unknown'
  }
}

/**
 * Revokes sessions and ends their open streams in every API process. The revocations
 * commit before any stream is ended, so a stream that reconnects at once is refused.
 */
const endSessions = async (c: Context<AppEnv>, deps: Deps, sessionIds: string[]) => {
  const events: DormantEvent[] = []
  for (const id of sessionIds) {
    const event = await revokeSession(deps.db, id)
    if (event) events.push(event)
  }
  // The events end the streams in every process that reads them (from the bus or the
  // table); the bus message is the fast path for processes that predate them.
  deps.hub.closeSessions(sessionIds)
  announce(deps, events)
  deps.publisher
    .sessionsRevoked(sessionIds)
    .catch((err) => c.var.log.warn({ err }, 'could not announce the revoked session'))
}

export const authRoutes = (deps: Deps) =>
  router()
    .openapi(login, async (c) => {
      const { email, password } = c.req.valid('json')
      const attempt = { account: email.trim().toLowerCase(), address: clientAddress(c, deps.config.TRUST_PROXY_HOPS) }
      const wait = await deps.limiters.login.reserve(attempt)
      if (wait > 0) {
        c.header('Retry-After', String(wait))
        throw new AppError('rate_limited', 'too many failed sign-ins; try again later', { retryAfterSeconds: wait })
      }
      let user: Awaited<ReturnType<typeof getUser>> | null = null
      try {
        const found = await findLoginByEmail(deps.db, email)
        // Always run scrypt, so response time does not tell whether the email exists.
        const ok = await verifyPassword(password, found?.passwordHash ?? DUMMY_HASH)
        user = ok && found ? await getUser(deps.db, found.id) : null
      } finally {
        // An error during the check counts as a failure: the reservation is never left hanging.
        if (user) await deps.limiters.login.succeeded(attempt)
        else await deps.limiters.login.failed(attempt)
      }
      if (!user) throw new AppError('invalid_credentials', 'wrong email or password')
      // Rotation: a login always issues a new token and retires the one the browser had.
      const previous = await loadSession(c, deps)
      if (previous) await endSessions(c, deps, [previous.sessionId])
      const token = newSessionToken()
      await createSession(deps.db, { userId: user.id, tokenHash: hashToken(token), ttlMs: deps.config.SESSION_TTL_MS })
      setSessionCookie(c, token, deps)
      c.var.log.info({ userId: user.id }, 'signed in')
      return c.json({ user }, 200)
    })
    .openapi({ ...logout, middleware: [requireSession(deps)] as const }, async (c) => {
      await endSessions(c, deps, [c.var.session.sessionId])
      clearSessionCookie(c, deps)
      return c.body(null, 204)
    })
