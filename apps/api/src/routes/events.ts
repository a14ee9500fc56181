import { eventsPrunedThrough, getUser, latestEventId, readEvents } from '@dormant/db'
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response'
import type { Context } from 'hono'
import { Hono } from 'hono'
import { requireAdmin, requireSession } from '../auth/session.js'
import type { AppEnv } from '../context.js'
import type { Deps } from '../deps.js'
import { AppError } from '../errors.js'
import { SseConnection } from '../sse/connection.js'
import { eventFrame, frameOf, retryFrame } from '../sse/frames.js'

const REPLAY_PAGE = 1000

const HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no',
  Connection: 'keep-alive',
}

const parseLastEventId = (c: Context<AppEnv>) => {
  const raw = c.req.header('last-event-id') ?? c.req.query('lastEventId')
  if (raw === undefined || raw === '') return undefined
  if (!/^\d{1,15}$/.test(raw)) throw new AppError('validation_failed', 'Last-Event-ID must be a non-negative integer')
  return Number(raw)
}

/**
 * Opens a stream on the Node response itself: Hono routed and authenticated the request,
 * but web-stream plumbing would cost about five times the memory per idle stream.
 *
 * Everything from reading the replay to registering with the hub runs synchronously, so no
 * live event can slip between them: the stream's cursor is exactly the hub's position.
 */
const openStream = (c: Context<AppEnv>, deps: Deps, scope: { userId: string } | 'all') => {
  const res = c.env?.outgoing
  if (!res) throw new AppError('internal', 'streams need the Node server')
  const lastEventId = parseLastEventId(c)
  const { session } = c.var
  const { hub, db } = deps
  const user = getUser(db, session.user.id) ?? session.user
  const position = hub.lastId

  res.writeHead(200, HEADERS)
  res.flushHeaders()
  res.socket?.setNoDelay(true)
  let out = retryFrame()
  let cursor = position
  if (lastEventId === undefined) {
    out += eventFrame('snapshot', { user }, position)
  } else if (lastEventId < eventsPrunedThrough(db) || lastEventId > latestEventId(db)) {
    // Events after lastEventId are gone (or never existed here): never a silent gap.
    out += eventFrame('snapshot', { user, reset: true }, position)
  } else {
    out += eventFrame('snapshot', { user })
    const userId = scope === 'all' ? undefined : scope.userId
    for (let after = lastEventId; after < position; ) {
      const page = readEvents(db, after, { userId, upTo: position, limit: REPLAY_PAGE })
      for (const event of page) out += frameOf(event)
      if (page.length < REPLAY_PAGE) break
      after = page.at(-1)?.id ?? position
    }
    cursor = Math.max(position, lastEventId)
  }

  const label = scope === 'all' ? 'admin' : 'user'
  // Closures below outlive the request: they capture plain values, not the Hono context
  // (which would keep the request, its child logger and the session alive per stream).
  const { log } = deps
  const { sessionId } = session
  const { requestId } = c.var
  const conn = new SseConnection(res, scope, session.sessionId, {
    cursor,
    lifetimeMs: deps.config.SSE_MAX_LIFETIME_MS,
    notAfter: session.expiresAt,
    bufferLimit: deps.config.SSE_BUFFER_LIMIT_BYTES,
    onOverflow: () => {
      deps.metrics.sseOverflows.inc()
      log.info({ sessionId, requestId }, 'stream closed: client not reading')
    },
  })
  hub.add(conn)
  deps.metrics.sseConnections.inc({ scope: label })
  res.on('close', () => {
    conn.closed = true
    hub.remove(conn)
    deps.metrics.sseConnections.dec({ scope: label })
  })
  conn.writeOpening(out)
  return RESPONSE_ALREADY_SENT
}

export const eventsRoutes = (deps: Deps) =>
  new Hono<AppEnv>()
    .get('/api/events', requireSession(deps), (c) => openStream(c, deps, { userId: c.var.session.user.id }))
    .get('/api/admin/events', requireAdmin(deps), (c) => openStream(c, deps, 'all'))
