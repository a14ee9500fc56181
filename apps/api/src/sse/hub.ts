import type { DormantEvent, Logger, UserJson } from '@dormant/core'
import { type Db, latestEventId, readEvents } from '@dormant/db'
import type { SseConnection } from './connection.js'
import { eventFrame, frameOf, pingFrame } from './frames.js'

const PAGE = 1000
const WHEEL_SLOTS = 100

export type HubMetrics = { delivered(count: number): void; overflowed(): void }

/** The route's rule for `transaction.created`: the permission that guards the history. */
export const readsTransactions = (user: Pick<UserJson, 'role' | 'permissions'>) =>
  user.role === 'admin' || user.permissions.includes('transactions.read')

/**
 * The streams of this process and the order of fan-out. Events reach the hub from this
 * process's own commits, from Redis, and from a periodic look at the table's position
 * (for publishes that never happen); whichever way, they go out strictly in id order.
 * A jump in ids means another process's publish is late or lost: the missing range is
 * read from the events table, which is the order. Ids missing from the table were pruned:
 * the hub never moves past them without ending every stream that may have needed them.
 */
export class StreamHub {
  /** Highest event id fanned out by this process. */
  lastId: number
  private readonly byUser = new Map<string, Set<SseConnection>>()
  private readonly bySession = new Map<string, Set<SseConnection>>()
  private readonly everyone = new Set<SseConnection>()
  private readonly wheel: Set<SseConnection>[] = Array.from({ length: WHEEL_SLOTS }, () => new Set())
  private nextSlot = 0
  private tick = 0
  private timer: NodeJS.Timeout | undefined
  private watcher: NodeJS.Timeout | undefined
  size = 0

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    private readonly heartbeatMs: number,
    private readonly metrics: HubMetrics = { delivered() {}, overflowed() {} },
  ) {
    this.lastId = latestEventId(db)
  }

  add(conn: SseConnection) {
    const key = conn.scope === 'all' ? undefined : conn.scope.userId
    if (key === undefined) this.everyone.add(conn)
    else addTo(this.byUser, key, conn)
    addTo(this.bySession, conn.sessionId, conn)
    // Each stream gets its own heartbeat phase: no tick writes to every stream at once.
    conn.slot = this.nextSlot++ % WHEEL_SLOTS
    this.wheel[conn.slot]?.add(conn)
    this.size += 1
    this.startWheel()
  }

  remove(conn: SseConnection) {
    if (!this.wheel[conn.slot]?.delete(conn)) return
    if (conn.scope === 'all') this.everyone.delete(conn)
    else removeFrom(this.byUser, conn.scope.userId, conn)
    removeFrom(this.bySession, conn.sessionId, conn)
    this.size -= 1
    if (this.size === 0) this.stopWheel()
  }

  /** Fans out events in id order, filling any gap before them from the table. */
  offer(events: readonly DormantEvent[]) {
    for (const event of events.length > 1 ? [...events].sort((a, b) => a.id - b.id) : events) {
      if (event.id <= this.lastId) continue
      if (event.id > this.lastId + 1) {
        this.catchUp(event.id - 1)
        // The table does not reach this id: not an event of this database. Never jump to it.
        if (this.lastId < event.id - 1) {
          this.log.warn({ id: event.id, lastId: this.lastId }, 'ignoring an event beyond the events table')
          continue
        }
      }
      this.deliver(event)
    }
  }

  /**
   * Reads and fans out everything committed after `lastId` (up to `upTo`, and never past
   * the table's own position). Where ids are missing (pruned before this process read
   * them), the streams are ended first: their clients reconnect and get a `reset`.
   */
  catchUp(upTo = Number.MAX_SAFE_INTEGER) {
    const from = this.lastId
    const end = Math.min(upTo, latestEventId(this.db))
    while (this.lastId < end) {
      const page = readEvents(this.db, this.lastId, { upTo: end, limit: PAGE })
      for (const event of page) {
        if (event.id > this.lastId + 1) this.skipGap(event.id - 1)
        this.deliver(event)
      }
      if (page.length < PAGE) break
    }
    if (this.lastId < end) this.skipGap(end)
    if (this.lastId > from) this.log.debug({ from, to: this.lastId }, 'caught up from the events table')
  }

  /** Moves past ids this process can no longer read, ending every stream that may have needed them. */
  private skipGap(through: number) {
    this.log.warn(
      { from: this.lastId + 1, through, streams: this.size },
      'events were pruned before delivery; resetting streams',
    )
    for (const slot of this.wheel) for (const conn of [...slot]) if (conn.cursor < through) conn.end()
    this.lastId = through
  }

  /**
   * Looks at the table's position every `intervalMs` (one cheap statement, however many
   * streams): a commit whose publish never came (its process died, or is cut off from
   * Redis) is delivered within one interval, and so is a durable revocation.
   */
  watchTable(intervalMs: number) {
    clearInterval(this.watcher)
    this.watcher = setInterval(() => {
      try {
        if (latestEventId(this.db) > this.lastId) this.catchUp()
      } catch (err) {
        this.log.warn({ err }, 'events table check failed')
      }
    }, intervalMs)
    this.watcher.unref()
  }

  private deliver(event: DormantEvent) {
    this.lastId = event.id
    if (event.type === 'session.revoked') return this.closeSessions([event.data.sessionId])
    const own = this.byUser.get(event.userId)
    if (!own && this.everyone.size === 0) return
    if (own && event.type === 'user.updated') {
      // Permissions change on open streams with the event that announces them.
      const allowed = readsTransactions(event.data.user)
      for (const conn of own) conn.readsTransactions = allowed
    }
    const guarded = event.type === 'transaction.created'
    const frame = frameOf(event)
    let sent = 0
    for (const targets of [own, this.everyone]) {
      if (!targets) continue
      for (const conn of targets) {
        if (guarded && !conn.readsTransactions) continue
        if (conn.send(event.id, frame)) sent += 1
      }
    }
    this.metrics.delivered(sent)
  }

  /** A frame for admin streams only, outside the event order (no id: it is not replayed). */
  toAdmins(type: string, data: unknown) {
    if (this.everyone.size === 0) return
    const frame = eventFrame(type, data)
    for (const conn of this.everyone) conn.write(frame)
  }

  /** Ends the streams of revoked sessions. */
  closeSessions(sessionIds: readonly string[]) {
    for (const id of sessionIds) for (const conn of [...(this.bySession.get(id) ?? [])]) conn.end()
  }

  closeAll() {
    this.stopWheel()
    clearInterval(this.watcher)
    for (const slot of this.wheel) for (const conn of [...slot]) conn.end()
  }

  private startWheel() {
    if (this.timer) return
    const interval = Math.max(1, Math.floor(this.heartbeatMs / WHEEL_SLOTS))
    this.timer = setInterval(() => this.turn(), interval)
    this.timer.unref()
  }

  private stopWheel() {
    clearInterval(this.timer)
    this.timer = undefined
  }

  /** Visits one slot: pings its streams and ends the ones past their lifetime. */
  private turn() {
    const slot = this.wheel[this.tick++ % WHEEL_SLOTS]
    if (!slot?.size) return
    const now = Date.now()
    for (const conn of slot) {
      if (now >= conn.deadline) conn.end()
      else conn.write(pingFrame)
    }
  }

  stats() {
    return { connections: this.size, lastId: this.lastId }
  }
}

const addTo = <K, V>(map: Map<K, Set<V>>, key: K, value: V) => {
  const set = map.get(key)
  if (set) set.add(value)
  else map.set(key, new Set([value]))
}

const removeFrom = <K, V>(map: Map<K, Set<V>>, key: K, value: V) => {
  const set = map.get(key)
  if (!set) return
  set.delete(value)
  if (set.size === 0) map.delete(key)
}
