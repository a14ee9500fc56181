import { countEvents, eventsPrunedThrough, getUser, latestEventId } from '@dormant/db'
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response'
import type { Context } from 'hono'
import { Hono } from 'hono'
import { requireAdmin, requireSession } from '../auth/session.js'
import type { AppEnv } from '../context.js'
import type { Deps } from '../deps.js'
import { AppError } from '../errors.js'
import { SseConnection } from '../sse/connection.js'
import { eventFrame, retryFrame } from '../sse/frames.js'
import { readsTransactions } from '../sse/hub.js'
import { replay } from '../sse/replay.js'

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
 * The snapshot, its position and registering with the hub happen synchronously, so no live
 * event can slip between them. A replay then runs in small pages (`sse/replay.ts`); live
 * events meanwhile are held by the connection and sent after the replay, none twice.
 */
const openStream = (c: Context<AppEnv>, deps: Deps, scope: { userId: string } | 'all') => {
  const res = c.env?.outgoing
  if (!res) throw new AppError('internal', 'streams need the Node server')
  const lastEventId = parseLastEventId(c)
  const { session } = c.var
  const { hub, db } = deps
  // One read snapshot for both: the hub first delivers what the table has beyond it, so the
  // opening state is exactly the state after `position` and the next live event is the next
  // version (reading the user alone could see commits the hub has not delivered yet).
  const { user, position } = db.$client.transaction(() => {
    hub.catchUp()
    return { user: getUser(db, session.user.id) ?? session.user, position: hub.lastId }
  })()
  const userId = scope === 'all' ? undefined : scope.userId

  res.writeHead(200, HEADERS)
  res.flushHeaders()
  res.socket?.setNoDelay(true)
  let opening = retryFrame()
  let replayFrom: number | undefined
  if (lastEventId === undefined) {
    opening += eventFrame('snapshot', { user }, position)
  } else if (
    lastEventId < eventsPrunedThrough(db) ||
    lastEventId > latestEventId(db) ||
    countEvents(db, lastEventId, { userId, upTo: position, limit: deps.config.SSE_REPLAY_CAP + 1 }) >
      deps.config.SSE_REPLAY_CAP
  ) {
    // Events after lastEventId are gone, never existed here, or are more than the cap:
    // a fresh state instead, never a silent gap.
    opening += eventFrame('snapshot', { user, reset: true }, position)
  } else {
    opening += eventFrame('snapshot', { user })
    replayFrom = lastEventId
  }

  const label = scope === 'all' ? 'admin' : 'user'
  // Closures below outlive the request: they capture plain values, not the Hono context
  // (which would keep the request, its child logger and the session alive per stream).
  const { log } = deps
  const { sessionId } = session
  const { requestId } = c.var
  const conn = new SseConnection(res, scope, session.sessionId, {
    // A replaying stream starts at the client's position; the replay moves it up.
    cursor: replayFrom ?? position,
    lifetimeMs: deps.config.SSE_MAX_LIFETIME_MS,
    notAfter: session.expiresAt,
    bufferLimit: deps.config.SSE_BUFFER_LIMIT_BYTES,
    readsTransactions: readsTransactions(user),
    replaying: replayFrom !== undefined,
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
  conn.writeOpening(opening)
  if (replayFrom !== undefined) {
    replay(db, conn, { after: replayFrom, upTo: position, userId }).catch((err) => {
      log.error({ err, sessionId, requestId }, 'replay failed; closing the stream')
      conn.destroy()
    })
  }
  return RESPONSE_ALREADY_SENT
}

export const eventsRoutes = (deps: Deps) =>
  new Hono<AppEnv>()
    .get('/api/events', requireSession(deps), (c) => openStream(c, deps, { userId: c.var.session.user.id }))
    .get('/api/admin/events', requireAdmin(deps), (c) => openStream(c, deps, 'all'))
