import type { DormantEvent, Logger } from '@dormant/core'
import { type Db, latestEventId, readEvents } from '@dormant/db'
import type { SseConnection } from './connection.js'
import { eventFrame, frameOf, pingFrame } from './frames.js'

const PAGE = 1000
const WHEEL_SLOTS = 100

export type HubMetrics = { delivered(count: number): void; overflowed(): void }

/**
 * The streams of this process and the order of fan-out. Events reach the hub from this
 * process's own commits and from Redis; either way they go out strictly in id order.
 * A jump in ids means another process's publish is late or lost: the missing range is
 * read from the events table, which is the order.
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
      if (event.id > this.lastId + 1) this.catchUp(event.id - 1)
      this.deliver(event)
    }
  }

  /** Reads and fans out everything committed after `lastId` (up to `upTo`). */
  catchUp(upTo = Number.MAX_SAFE_INTEGER) {
    const from = this.lastId
    while (this.lastId < upTo) {
      const page = readEvents(this.db, this.lastId, { upTo, limit: PAGE })
      for (const event of page) this.deliver(event)
      if (page.length < PAGE) break
    }
    if (this.lastId > from) this.log.debug({ from, to: this.lastId }, 'caught up from the events table')
    // Ids below upTo that are not in the table were pruned or never committed.
    if (upTo !== Number.MAX_SAFE_INTEGER && this.lastId < upTo) this.lastId = upTo
  }

  private deliver(event: DormantEvent) {
    this.lastId = event.id
    const own = this.byUser.get(event.userId)
    if (!own && this.everyone.size === 0) return
    const frame = frameOf(event)
    let sent = 0
    for (const targets of [own, this.everyone]) {
      if (!targets) continue
      for (const conn of targets) {
        if (event.id <= conn.cursor) continue
        conn.cursor = event.id
        conn.write(frame)
        sent += 1
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
