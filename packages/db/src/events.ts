import type { DormantEvent, EventPayloads, EventType } from '@dormant/core'
import { and, asc, count, eq, gt, lt, lte, max, sql } from 'drizzle-orm'
import type { Db, Tx } from './client.js'
import { write } from './client.js'
import { events, meta } from './schema.js'

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

/** Events with an id at or below this were deleted: a client behind it needs a reset. */
export const eventsPrunedThrough = (db: Db): number =>
  db.select({ value: meta.value }).from(meta).where(eq(meta.key, PRUNED_THROUGH)).get()?.value ?? 0

/** Deletes events created before `before`; returns how many. */
export const pruneEvents = (db: Db, before: number): number =>
  write(db, (tx) => {
    const last = tx
      .select({ id: max(events.id) })
      .from(events)
      .where(lt(events.createdAt, before))
      .get()?.id
    if (!last) return 0
    const { changes } = tx.delete(events).where(lte(events.id, last)).run()
    tx.insert(meta)
      .values({ key: PRUNED_THROUGH, value: last })
      .onConflictDoUpdate({ target: meta.key, set: { value: last } })
      .run()
    return changes
  })
