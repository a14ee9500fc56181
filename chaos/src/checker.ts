import type { Connection, DbEvent, DbState, Frame, History, Violation } from './history.js'

/** Slack on the revocation bound for the client's own observation of a close (loopback, one tick). */
export const REVOCATION_SLACK_MS = 500

type UserJson = { id?: string; version?: number }

/** An SSE id is opaque but may carry an epoch (`<epoch>:<n>`): the position is its last part. */
export const position = (id: string) => Number(id.slice(id.lastIndexOf(':') + 1))

const userOf = (frame: Frame): UserJson | undefined =>
  (frame.data as { user?: UserJson } | undefined)?.user ?? undefined

/**
 * Checks a whole recorded history against the database read at the end. Pure: the same
 * history and state always give the same violations, so it is unit-tested on hand-made ones.
 */
export const check = (history: History, db: DbState): Violation[] => {
  const events = new Map(db.events.map((e) => [e.id, e]))
  return [
    ...checkTimers(history, db),
    ...history.connections.flatMap((conn) => checkStream(history, conn, db, events)),
    ...checkFinalState(history, db),
    ...checkRevocations(history, events),
    ...history.rss
      .filter((r) => r.maxBytes > history.rssBoundBytes)
      .map(
        (r): Violation => ({
          kind: 'memory',
          detail: `${r.process} reached ${mb(r.maxBytes)} MB RSS (bound ${mb(history.rssBoundBytes)} MB)`,
        }),
      ),
  ]
}

const mb = (bytes: number) => Math.round(bytes / 1048576)

/** Due timers completed exactly once (one history row, one event, not early); cancels hold. */
const checkTimers = (history: History, db: DbState): Violation[] => {
  const out: Violation[] = []
  const completedEvents = new Map<string, number>()
  for (const e of db.events) {
    if (e.type !== 'hibernation.completed') continue
    const id = (e.data as { hibernationId?: string }).hibernationId ?? ''
    completedEvents.set(id, (completedEvents.get(id) ?? 0) + 1)
  }
  for (const h of db.hibernations) {
    const rows = db.historyRows.get(h.id) ?? 0
    const evs = completedEvents.get(h.id) ?? 0
    const v = (detail: string) => out.push({ kind: 'timers', detail: `hibernation ${h.id} of ${h.userId}: ${detail}` })
    if (h.status === 'scheduled' && h.endsAt <= history.quiescedAt) {
      v(`due ${history.quiescedAt - h.endsAt} ms before the end and never completed`)
    }
    if (h.status === 'completed') {
      if (rows !== 1) v(`completed with ${rows} history rows`)
      if (evs !== 1) v(`completed with ${evs} hibernation.completed events`)
      if (h.finishedAt !== null && h.finishedAt < h.endsAt) v(`completed ${h.endsAt - h.finishedAt} ms early`)
    } else if (rows !== 0 || evs !== 0) {
      v(`${h.status} yet has ${rows} history rows and ${evs} completion events`)
    }
  }
  const status = new Map(db.hibernations.map((h) => [h.id, h.status]))
  for (const c of history.cancels) {
    const s = status.get(c.hibernationId)
    if (s !== 'cancelled') {
      out.push({
        kind: 'timers',
        detail: `hibernation ${c.hibernationId} of ${c.userId}: cancel returned 200 but it ended ${s ?? 'missing'}`,
      })
    }
  }
  return out
}

/** The user's version as of event `afterId` (the last `user.updated` at or below it), if any. */
const versionAt = (db: DbState, userId: string, afterId: number) => {
  let version: number | undefined
  for (const e of db.events) {
    if (e.id > afterId) break
    if (e.userId === userId && e.type === 'user.updated') version = (e.data as { user: UserJson }).user.version
  }
  return version
}

/** One connection: increasing ids, real events of this user only, consecutive versions. */
const checkStream = (history: History, conn: Connection, db: DbState, events: Map<number, DbEvent>): Violation[] => {
  const out: Violation[] = []
  const at = (f: Frame, what: string) =>
    `stream ${conn.id} (${conn.client}, via ${conn.via}) frame ${f.id ?? '-'}: ${what}`
  const never = new Set(history.neverReadTransactions)
  let lastPos = -1
  let version: number | undefined
  // A snapshot that carries an id is read from the database, which can be ahead of the
  // process's position (its id): events up to its version may follow it once more.
  let snapshotAhead: number | undefined
  for (const f of conn.frames) {
    if (f.id !== undefined) {
      const pos = position(f.id)
      if (pos <= lastPos) out.push({ kind: 'order', detail: at(f, `id after ${lastPos}: not increasing`) })
      lastPos = Math.max(lastPos, pos)
    }
    const user = userOf(f)
    if (user?.id !== undefined && user.id !== conn.userId) {
      out.push({ kind: 'isolation', detail: at(f, `carries user ${user.id} on ${conn.userId}'s stream`) })
    }
    if (f.event === 'snapshot') {
      const reset = (f.data as { reset?: boolean }).reset === true
      // A replay snapshot shows the state now, ahead of the replay: the baseline is the
      // version as of Last-Event-ID, which the database tells.
      // Only the opening snapshot of a replay precedes it; any later one is the state now.
      const current = conn.lastEventId === undefined || reset || f !== conn.frames[0]
      version = current ? user?.version : versionAt(db, conn.userId, position(conn.lastEventId ?? '0'))
      snapshotAhead = current && f.id !== undefined ? user?.version : undefined
      continue
    }
    if (f.id === undefined) continue
    const row = events.get(position(f.id))
    if (!row) {
      out.push({ kind: 'order', detail: at(f, `${f.event} that the events table does not hold`) })
      continue
    }
    if (row.userId !== conn.userId) {
      out.push({ kind: 'isolation', detail: at(f, `event of user ${row.userId} on ${conn.userId}'s stream`) })
    }
    if (row.type !== f.event) out.push({ kind: 'order', detail: at(f, `sent as ${f.event}, committed as ${row.type}`) })
    if (f.event === 'transaction.created' && never.has(conn.userId)) {
      out.push({ kind: 'isolation', detail: at(f, 'transaction.created to a user without transactions.read') })
    }
    if (f.event !== 'user.updated' || user?.version === undefined) continue
    const committed = (row.data as { user?: UserJson }).user?.version
    if (committed !== user.version) {
      out.push({ kind: 'order', detail: at(f, `carries version ${user.version}, committed as ${committed}`) })
    }
    if (snapshotAhead !== undefined && user.version <= snapshotAhead) {
      // The same state again is harmless; an older one makes the client show stale state.
      if (user.version < snapshotAhead) {
        out.push({ kind: 'order', detail: at(f, `version ${user.version} after a snapshot at ${snapshotAhead}`) })
      }
      continue
    }
    snapshotAhead = undefined
    if (version !== undefined && user.version !== version + 1) {
      const what =
        user.version <= version
          ? `version ${user.version} after ${version} (stale or repeated)`
          : `version ${user.version} after ${version} (versions in between missing)`
      out.push({ kind: 'order', detail: at(f, what) })
    }
    version = user.version
  }
  return out
}

/** After quiescence every live client shows its user's final version within the deadline. */
const checkFinalState = (history: History, db: DbState): Violation[] => {
  const deadline = history.quiescedAt + history.finalDeadlineMs
  return history.finalClients.flatMap(({ client, userId }): Violation[] => {
    const expected = db.versions.get(userId)
    let seen: number | undefined
    for (const conn of history.connections) {
      if (conn.client !== client) continue
      for (const f of conn.frames) {
        const v = userOf(f)?.version
        if (f.at <= deadline && v !== undefined) seen = Math.max(seen ?? v, v)
      }
    }
    if (expected === undefined || seen === expected) return []
    return [
      {
        kind: 'final-state',
        detail: `${client} (user ${userId}) showed version ${seen ?? 'none'} ${history.finalDeadlineMs} ms after quiescence; the database has ${expected}`,
      },
    ]
  })
}

/** A revoked session's streams deliver nothing committed past the bound, and end within it. */
const checkRevocations = (history: History, events: Map<number, DbEvent>): Violation[] => {
  const bound = 2 * history.heartbeatMs
  const out: Violation[] = []
  for (const r of history.revocations) {
    for (const conn of history.connections) {
      if (conn.cookie !== r.cookie || conn.status !== 200) continue
      const where = `stream ${conn.id} (${conn.client}, via ${conn.via}) of a session revoked at ${r.returnedAt}`
      if (conn.openedAt > r.returnedAt) {
        out.push({ kind: 'revocation', detail: `${where}: opened after the revocation` })
        continue
      }
      const late = conn.frames
        .map((f) => (f.id === undefined || f.event === 'snapshot' ? undefined : events.get(position(f.id))))
        .filter((row): row is DbEvent => row !== undefined && row.createdAt > r.returnedAt + bound)
      if (late.length) {
        const first = late[0] as DbEvent
        const last = late.at(-1) as DbEvent
        out.push({
          kind: 'revocation',
          detail: `${where}: delivered ${late.length} events committed past the bound (${first.createdAt - r.returnedAt}–${last.createdAt - r.returnedAt} ms after it; ids ${first.id}–${last.id})`,
        })
      }
      // A stalled client does not read, so it cannot see the server's close: only its frames count.
      if (conn.stalled) continue
      const closed = conn.closedAt ?? Number.POSITIVE_INFINITY
      const end = conn.closedBy === 'client' && closed > r.returnedAt ? Number.POSITIVE_INFINITY : closed
      if (end > r.returnedAt + bound + REVOCATION_SLACK_MS) {
        const open =
          end === Number.POSITIVE_INFINITY ? 'not ended by the server' : `ended ${end - r.returnedAt} ms after it`
        out.push({ kind: 'revocation', detail: `${where}: ${open} (bound ${bound} ms)` })
      }
    }
  }
  return out
}
