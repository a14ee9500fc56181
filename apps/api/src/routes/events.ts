import { countEvents, eventsPrunedThrough } from '@dormant/db'
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response'
import type { Context } from 'hono'
import { Hono } from 'hono'
import { requireAdmin, requireSession } from '../auth/session.js'
import type { AppEnv } from '../context.js'
import type { Deps } from '../deps.js'
import { AppError } from '../errors.js'
import { SseConnection } from '../sse/connection.js'
import { eventFrame, retryFrame, streamId } from '../sse/frames.js'
import { type Opening, readsTransactions } from '../sse/hub.js'
import { replay } from '../sse/replay.js'

const HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no',
  Connection: 'keep-alive',
}

/** Where a client says it is: `<epoch>:<n>`, or a bare `<n>` (taken as the current epoch). */
type Cursor = { epoch?: string; n: number }

/** The client's `Last-Event-ID` (or `?lastEventId=`); 'unknown' for one no server of ours wrote. */
const parseCursor = (raw: string | undefined): Cursor | 'unknown' | undefined => {
  if (raw === undefined || raw === '') return undefined
  const match = /^(?:([0-9a-z]{1,16}):)?(\d{1,15})$/.exec(raw)
  if (!match) return 'unknown'
  return { epoch: match[1], n: Number(match[2]) }
}

/**
 * Whether the client can resume from `cursor` by replay. Otherwise it gets a fresh state
 * (`reset`), never a silent gap: its events are gone (pruned), never existed here (another
 * epoch: a restored or failed-over database; a position above the table's), or are more
 * than the replay cap.
 */
const canReplay = async (deps: Deps, cursor: Cursor | 'unknown', opening: Opening, userId: string | undefined) => {
  if (cursor === 'unknown') return false
  if (cursor.epoch !== undefined && cursor.epoch !== opening.epoch) return false
  if (cursor.n > opening.position || cursor.n < (await eventsPrunedThrough(deps.db))) return false
  const cap = deps.config.SSE_REPLAY_CAP
  return (await countEvents(deps.db, cursor.n, { userId, upTo: opening.position, limit: cap + 1 })) <= cap
}

/**
 * Opens a stream on the Node response itself: Hono routed and authenticated the request,
 * but web-stream plumbing would cost about five times the memory per idle stream.
 *
 * The stream registers with the hub at once, holding what the hub sends it, then gets its
 * opening state and position from the hub (`StreamHub.opening`). A replay then runs in
 * small pages (`sse/replay.ts`); what was held goes out after it, filtered by the stream's
 * position: nothing twice, nothing lost.
 */
const openStream = async (c: Context<AppEnv>, deps: Deps, scope: { userId: string } | 'all') => {
  const res = c.env?.outgoing
  if (!res) throw new AppError('internal', 'streams need the Node server')
  const cursor = parseCursor(c.req.header('last-event-id') ?? c.req.query('lastEventId'))
  const { session } = c.var
  const { hub, db } = deps
  const userId = scope === 'all' ? undefined : scope.userId
  const label = scope === 'all' ? 'admin' : 'user'
  // Closures below outlive the request: they capture plain values, not the Hono context
  // (which would keep the request, its child logger and the session alive per stream).
  const { log } = deps
  const { sessionId } = session
  const { requestId } = c.var
  const conn = new SseConnection(res, scope, session.sessionId, {
    lifetimeMs: deps.config.SSE_MAX_LIFETIME_MS,
    notAfter: session.expiresAt,
    bufferLimit: deps.config.SSE_BUFFER_LIMIT_BYTES,
    readsTransactions: readsTransactions(session.user),
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
  res.writeHead(200, HEADERS)
  res.flushHeaders()
  res.socket?.setNoDelay(true)

  try {
    const opening = await hub.opening(session.user.id)
    const user = opening.user ?? session.user
    conn.readsTransactions = readsTransactions(user)
    const resumes = cursor !== undefined && (await canReplay(deps, cursor, opening, userId))
    // A replaying stream starts at the client's position; the replay moves it up.
    const from = resumes && cursor !== 'unknown' ? cursor.n : opening.position
    let frames = retryFrame()
    if (resumes) frames += eventFrame('snapshot', { user })
    else {
      const reset = cursor === undefined ? {} : { reset: true }
      frames += eventFrame('snapshot', { user, ...reset }, streamId(opening.epoch, opening.position))
    }
    conn.writeOpening(frames)
    conn.open(from)
    await replay(db, conn, { after: from, upTo: opening.position, epoch: opening.epoch, userId })
  } catch (err) {
    log.error({ err, sessionId, requestId }, 'stream opening failed; closing the stream')
    conn.destroy()
  }
  return RESPONSE_ALREADY_SENT
}

export const eventsRoutes = (deps: Deps) =>
  new Hono<AppEnv>()
    .get('/api/events', requireSession(deps), (c) => openStream(c, deps, { userId: c.var.session.user.id }))
    .get('/api/admin/events', requireAdmin(deps), (c) => openStream(c, deps, 'all'))
