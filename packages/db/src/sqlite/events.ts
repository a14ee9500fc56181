import type { DormantEvent, EventPayloads, EventType } from '@dormant/core'
import { and, asc, count, eq, gt, lt, lte, max, sql } from 'drizzle-orm'
import type { SqliteDb as Db, Tx } from './client.js'
import { write } from './client.js'
import { eventMarks, events, meta } from './schema.js'

type Row = typeof events.$inferSelect

const toEvent = (row: Row) =>
  ({
    id: row.id,
    userId: row.userId,
    type: row.type,
    data: JSON.parse(row.data),
    createdAt: row.createdAt,
  }) as DormantEvent

/** Appends an event inside the caller's transaction; it becomes visible when that commits. */
export const appendEvent = <T extends EventType>(
  tx: Tx,
  userId: string,
  type: T,
  data: EventPayloads[T],
  now: number,
) => {
  const row = tx
    .insert(events)
    .values({ userId, type, data: JSON.stringify(data), createdAt: now })
    .returning()
    .get()
  return toEvent(row)
}

type ReadOptions = { userId?: string; upTo?: number; limit?: number }

/** Rows with id in (afterId, upTo], in id order; for one user when `userId` is given. */
const readRows = (db: Db, afterId: number, options: ReadOptions) => {
  const conditions = [gt(events.id, afterId)]
  if (options.userId !== undefined) conditions.push(eq(events.userId, options.userId))
  if (options.upTo !== undefined) conditions.push(lte(events.id, options.upTo))
  return db
    .select()
    .from(events)
    .where(and(...conditions))
    .orderBy(asc(events.id))
    .limit(options.limit ?? 10_000)
    .all()
}

/** Events with id in (afterId, upTo], in id order; for one user when `userId` is given. */
export const readEvents = (db: Db, afterId: number, options: ReadOptions = {}): DormantEvent[] =>
  readRows(db, afterId, options).map(toEvent)

/**
 * The same rows with `data` left as the JSON text it is stored as: a replay writes it into
 * frames as it is, without parsing and serialising every event again.
 */
export const readEventsJson = (
  db: Db,
  afterId: number,
  options: ReadOptions = {},
): { id: number; type: EventType; data: string }[] =>
  readRows(db, afterId, options).map((row) => ({ id: row.id, type: row.type as EventType, data: row.data }))

/** How many events (afterId, upTo] holds (for one user), counting no further than `limit`. */
export const countEvents = (db: Db, afterId: number, options: { userId?: string; upTo: number; limit: number }) => {
  const conditions = [gt(events.id, afterId), lte(events.id, options.upTo)]
  if (options.userId !== undefined) conditions.push(eq(events.userId, options.userId))
  const capped = db
    .select({ id: events.id })
    .from(events)
    .where(and(...conditions))
    .limit(options.limit)
    .as('capped')
  return db.select({ n: count() }).from(capped).get()?.n ?? 0
}

export const latestEventId = (db: Db): number =>
  db.get<{ id: number | null }>(sql`select max(seq) as id from sqlite_sequence where name = 'events'`)?.id ?? 0

const PRUNED_THROUGH = 'events_pruned_through'

/** Rows deleted per transaction: each is a few milliseconds, so other writers never wait long. */
export const PRUNE_BATCH = 1000

/** Events with an id at or below this were deleted: a client behind it needs a reset. */
export const eventsPrunedThrough = (db: Db): number =>
  db.select({ value: meta.value }).from(meta).where(eq(meta.key, PRUNED_THROUGH)).get()?.value ?? 0

/**
 * Records, on the pruner's clock, that every event up to the latest id existed at `now`.
 * Ids only grow and a committed id is never handed out again, so "older than T" becomes
 * "id at or below the newest mark taken at or before T", whatever clocks stamped createdAt.
 */
export const markEvents = (db: Db, now = Date.now()): void => {
  db.insert(eventMarks)
    .values({ at: now, lastId: latestEventId(db) })
    .onConflictDoNothing()
    .run()
}

/** The highest id marked at or before `before`; 0 when no mark is that old. */
export const eventCutAt = (db: Db, before: number): number =>
  db
    .select({ id: max(eventMarks.lastId) })
    .from(eventMarks)
    .where(lte(eventMarks.at, before))
    .get()?.id ?? 0

/**
 * Deletes up to `limit` of the oldest events with id at or below `cut`, in one short
 * transaction, and moves `eventsPrunedThrough` with them. Returns how many were deleted.
 */
export const pruneEventsBatch = (db: Db, cut: number, limit = PRUNE_BATCH): number =>
  write(db, (tx) => {
    const done = tx.select({ value: meta.value }).from(meta).where(eq(meta.key, PRUNED_THROUGH)).get()?.value ?? 0
    if (cut <= done) return 0
    // The limit-th oldest id at or below the cut; fewer left means the cut itself.
    const nth = tx
      .select({ id: events.id })
      .from(events)
      .where(lte(events.id, cut))
      .orderBy(asc(events.id))
      .limit(1)
      .offset(limit - 1)
      .get()?.id
    const through = nth ?? cut
    const { changes } = tx.delete(events).where(lte(events.id, through)).run()
    tx.insert(meta)
      .values({ key: PRUNED_THROUGH, value: through })
      .onConflictDoUpdate({ target: meta.key, set: { value: through } })
      .run()
    return changes
  })

/** Drops the marks older than the newest one at or before `before`: that one is the next cut's floor. */
export const trimEventMarks = (db: Db, before: number) => {
  const floor = db
    .select({ at: max(eventMarks.at) })
    .from(eventMarks)
    .where(lte(eventMarks.at, before))
    .get()?.at
  if (floor !== null && floor !== undefined) db.delete(eventMarks).where(lt(eventMarks.at, floor)).run()
}

/**
 * Marks the events now, then deletes those marked at or before `before`, batch after batch,
 * all in this call: for tools and tests. The worker's housekeeping runs the same steps and
 * yields between batches. Returns how many were deleted.
 */
export const pruneEvents = (db: Db, before: number, now = Date.now()): number => {
  markEvents(db, now)
  const cut = eventCutAt(db, before)
  let removed = 0
  for (let n = pruneEventsBatch(db, cut); n > 0; n = pruneEventsBatch(db, cut)) removed += n
  trimEventMarks(db, before)
  return removed
}
