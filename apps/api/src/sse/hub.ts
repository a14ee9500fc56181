import type { DormantEvent, Logger, UserJson } from '@dormant/core'
import { type Db, eventsPrunedThrough, position, readEvents, snapshot } from '@dormant/db'
import type { SseConnection } from './connection.js'
import { eventFrame, frameOf, pingFrame } from './frames.js'
import { nextTurn } from './turns.js'

const PAGE = 1000
const WHEEL_SLOTS = 100

export type HubMetrics = { delivered(count: number): void; overflowed(): void }

/** What a new stream opens with: its user and the position that state is at, in the hub's epoch. */
export type Opening = { user: UserJson | null; position: number; epoch: string }

/** The route's rule for `transaction.created`: the permission that guards the history. */
export const readsTransactions = (user: Pick<UserJson, 'role' | 'permissions'>) =>
  user.role === 'admin' || user.permissions.includes('transactions.read')

/**
 * The streams of this process and the order of fan-out. Events reach the hub from this
 * process's own commits, from Redis, and from a periodic look at the table's position
 * (for publishes that never happen); whichever way, they go out strictly in position order.
 *
 * Every delivery runs in one queue, one task at a time: the data layer is async, and an
 * offer fanned out while a catch-up awaits its page would overtake the events on that page.
 * A jump in positions is filled by reading everything above the last one delivered and
 * moving only as far as what was read: on PostgreSQL a rolled-back transaction leaves a
 * hole that no event will ever fill, so the hub never waits for a particular id. A missing
 * id at or below `eventsPrunedThrough` was pruned: the hub moves past it only after ending
 * every stream that may have needed it (their clients reconnect and get a `reset`).
 */
export class StreamHub {
  /** Highest event position fanned out by this process. */
  lastId = 0
  /** The epoch of the database's positions (`streamEpoch`): SSE ids are `<epoch>:<position>`. */
  epoch = ''
  private started = false
  private queue: Promise<unknown> = Promise.resolve()
  /** A catch-up queued and not yet begun: later requests for one share it. */
  private nextCatchUp: Promise<void> | undefined
  private checking = false
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
  ) {}

  /**
   * Runs `task` once every task queued before it has finished: deliveries never interleave.
   * The first task reads where the table stands (again, while that fails).
   */
  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(async () => {
      if (!this.started) {
        ;({ id: this.lastId, epoch: this.epoch } = await position(this.db))
        this.started = true
      }
      return task()
    })
    this.queue = run.catch(() => {})
    return run
  }

  /** The same, for callers that do not wait for it: a failure is logged, and the next task retries the read. */
  private background(what: string, task: () => Promise<void>) {
    return this.enqueue(task).catch((err) => this.log.warn({ err }, `${what} failed`))
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

  /** Fans out events in position order, reading the table first when there is a jump before them. */
  offer(events: readonly DormantEvent[]) {
    const sorted = events.length > 1 ? [...events].sort((a, b) => a.id - b.id) : events
    return this.background('offer', async () => {
      for (const event of sorted) {
        if (event.id <= this.lastId) continue
        if (event.id === this.lastId + 1) {
          this.deliver(event)
          continue
        }
        // A publish is late or lost, or a rollback left a hole: the table says which.
        await this.readTable()
        // Its commit came before its publish, so the read saw it, unless it is not an event of this database.
        if (this.lastId < event.id) {
          this.log.warn({ id: event.id, lastId: this.lastId }, 'ignoring an event beyond the events table')
        }
      }
    })
  }

  /**
   * Reads and fans out everything committed above `lastId`; `upTo` is a position known to be
   * committed (a bus notice), to skip the read when the hub is already there.
   */
  catchUp(upTo?: number) {
    if (upTo !== undefined && this.started && upTo <= this.lastId) return Promise.resolve()
    this.nextCatchUp ??= this.background('catch-up', async () => {
      this.nextCatchUp = undefined
      await this.readTable()
    })
    return this.nextCatchUp
  }

  /**
   * The opening of a stream that is already registered (and holding what the hub sends it):
   * once the hub delivered what the table has, the user and the table's position are read
   * in one transaction, so the state is exactly the one at `position` and the stream's next
   * event is the next version (the hub being behind the table sent older versions after a
   * fresh snapshot; found by the chaos campaign). The read itself is outside the queue:
   * streams opening together share one catch-up and do not hold up deliveries, and the
   * stream drops whatever the hub sends it at or below `position`.
   */
  async opening(userId: string): Promise<Opening> {
    await this.catchUp()
    // The catch-up logs its failures: without the table's epoch there is no id to give.
    if (!this.started) throw new Error('the events table could not be read')
    const { user, position } = await snapshot(this.db, userId)
    return { user, position, epoch: this.epoch }
  }

  /** Pages through the table above `lastId`, taking turns with the rest of the process. */
  private async readTable() {
    const from = this.lastId
    for (;;) {
      const page = await readEvents(this.db, this.lastId, { limit: PAGE })
      const first = page[0]
      if (!first || first.id > this.lastId + 1) await this.skipPruned(first?.id ?? Number.POSITIVE_INFINITY)
      for (const event of page) this.deliver(event)
      if (page.length < PAGE) break
      await nextTurn()
    }
    if (this.lastId > from) this.log.debug({ from, to: this.lastId }, 'caught up from the events table')
  }

  /**
   * Ids missing before `next` are holes no event will fill (rollbacks), unless they were
   * pruned before this process read them: then the streams that may have needed them end
   * first, and the hub moves past the pruned ones (never past what the table still has).
   */
  private async skipPruned(next: number) {
    const pruned = await eventsPrunedThrough(this.db)
    if (pruned <= this.lastId) return
    const through = Math.min(pruned, next - 1)
    this.log.warn(
      { from: this.lastId + 1, through, streams: this.size },
      'events were pruned before delivery; resetting streams',
    )
    for (const slot of this.wheel) for (const conn of [...slot]) if (conn.opened && conn.cursor < through) conn.end()
    this.lastId = through
  }

  /**
   * Looks at the table's position and epoch every `intervalMs` (one cheap statement, however
   * many streams): a commit whose publish never came (its process died, or is cut off from
   * Redis) is delivered within one interval, and so is a durable revocation.
   */
  watchTable(intervalMs: number) {
    clearInterval(this.watcher)
    this.watcher = setInterval(() => void this.check(), intervalMs)
    this.watcher.unref()
  }

  /**
   * One look at the table. A new epoch means the database was restored or failed over: its
   * positions may name other events than the ones streams have, so every stream ends and
   * its client reconnects to a `reset`.
   */
  async check() {
    if (this.checking) return
    this.checking = true
    try {
      await this.background('events table check', async () => {
        const { id: latest, epoch } = await position(this.db)
        if (epoch !== this.epoch) {
          this.log.warn(
            { from: this.epoch, to: epoch, streams: this.size },
            'the event epoch changed; ending every stream',
          )
          this.epoch = epoch
          this.lastId = latest
          for (const slot of this.wheel) for (const conn of [...slot]) conn.end()
        } else if (latest > this.lastId) await this.readTable()
      })
    } finally {
      this.checking = false
    }
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
    const frame = frameOf(event, this.epoch)
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
