import type { DormantEvent, EventType } from '@dormant/core'
import { and, asc, count, eq, gt, lt, lte, max, sql } from 'drizzle-orm'
import { PRUNE_BATCH } from '../sqlite/events.js'
import { type PgDb, type PgTx, write } from './client.js'
import { eventMarks, events, meta } from './schema.js'

type Query = PgDb | PgTx
type Row = typeof events.$inferSelect

const toEvent = (row: Row) =>
  ({
    id: row.id,
    userId: row.userId,
    type: row.type,
    data: JSON.parse(row.data),
    createdAt: row.createdAt,
  }) as DormantEvent

type ReadOptions = { userId?: string; upTo?: number; limit?: number }

/**
 * Rows with id in (afterId, upTo], in id order. Ids commit in order (the append lock), so
 * whatever this sees is a prefix: no id below the highest one read can still appear.
 */
const readRows = (db: PgDb, afterId: number, options: ReadOptions) => {
  const conditions = [gt(events.id, afterId)]
  if (options.userId !== undefined) conditions.push(eq(events.userId, options.userId))
  if (options.upTo !== undefined) conditions.push(lte(events.id, options.upTo))
  return db
    .select()
    .from(events)
    .where(and(...conditions))
    .orderBy(asc(events.id))
    .limit(options.limit ?? 10_000)
}

export const readEvents = async (db: PgDb, afterId: number, options: ReadOptions = {}): Promise<DormantEvent[]> =>
  (await readRows(db, afterId, options)).map(toEvent)

/** The same rows with `data` left as the JSON text it is stored as. */
export const readEventsJson = async (
  db: PgDb,
  afterId: number,
  options: ReadOptions = {},
): Promise<{ id: number; type: EventType; data: string }[]> =>
  (await readRows(db, afterId, options)).map((row) => ({ id: row.id, type: row.type as EventType, data: row.data }))

/** How many events (afterId, upTo] holds (for one user), counting no further than `limit`. */
export const countEvents = async (
  db: PgDb,
  afterId: number,
  options: { userId?: string; upTo: number; limit: number },
) => {
  const conditions = [gt(events.id, afterId), lte(events.id, options.upTo)]
  if (options.userId !== undefined) conditions.push(eq(events.userId, options.userId))
  const capped = db
    .select({ id: events.id })
    .from(events)
    .where(and(...conditions))
    .limit(options.limit)
    .as('capped')
  return (await db.select({ n: count() }).from(capped))[0]?.n ?? 0
}

export const PRUNED_THROUGH = 'events_pruned_through'

/**
 * The newest COMMITTED position: max(id) of the visible rows, never the sequence's
 * last_value (an open transaction may hold that id, and may yet roll back). Never below
 * what pruning removed, so it does not go back to 0 when pruning empties the table.
 */
export const latestEventId = async (q: Query): Promise<number> => {
  const { rows } = await q.execute<{ id: number }>(sql`select greatest(
    coalesce((select max(${events.id}) from ${events}), 0),
    coalesce((select ${meta.value} from ${meta} where ${meta.key} = ${PRUNED_THROUGH}), 0)
  )::float8 as id`)
  return rows[0]?.id ?? 0
}

/** Events with an id at or below this were deleted: a client behind it needs a reset. */
export const eventsPrunedThrough = async (q: Query): Promise<number> =>
  (await q.select({ value: meta.value }).from(meta).where(eq(meta.key, PRUNED_THROUGH)))[0]?.value ?? 0

/** Records, on the pruner's clock, that every event up to the latest committed id existed at `now`. */
export const markEvents = async (db: PgDb, now = Date.now()) => {
  await db
    .insert(eventMarks)
    .values({ at: now, lastId: await latestEventId(db) })
    .onConflictDoNothing()
}

/** The highest id marked at or before `before`; 0 when no mark is that old. */
export const eventCutAt = async (db: PgDb, before: number): Promise<number> =>
  Number(
    (
      await db
        .select({ id: max(eventMarks.lastId) })
        .from(eventMarks)
        .where(lte(eventMarks.at, before))
    )[0]?.id ?? 0,
  )

/** Serialises pruners: `eventsPrunedThrough` is read, then moved (a row that may not exist yet to lock). */
const PRUNE_LOCK = 4672823917202003n

/**
 * Deletes up to `limit` of the oldest events with id at or below `cut`, in one short
 * transaction, and moves `eventsPrunedThrough` with them. Returns how many were deleted.
 * A transaction-scoped advisory lock makes two pruners take turns on the read-then-write.
 */
export const pruneEventsBatch = (db: PgDb, cut: number, limit = PRUNE_BATCH): Promise<number> =>
  write(db, async ({ tx }) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${PRUNE_LOCK})`)
    const done = await eventsPrunedThrough(tx)
    if (cut <= done) return 0
    // The limit-th oldest id at or below the cut; fewer left means the cut itself.
    const [nth] = await tx
      .select({ id: events.id })
      .from(events)
      .where(lte(events.id, cut))
      .orderBy(asc(events.id))
      .limit(1)
      .offset(limit - 1)
    const through = nth?.id ?? cut
    const deleted = await tx.delete(events).where(lte(events.id, through)).returning({ id: events.id })
    await tx
      .insert(meta)
      .values({ key: PRUNED_THROUGH, value: through })
      .onConflictDoUpdate({ target: meta.key, set: { value: through } })
    return deleted.length
  })

/** Drops the marks older than the newest one at or before `before`: that one is the next cut's floor. */
export const trimEventMarks = async (db: PgDb, before: number) => {
  const [row] = await db
    .select({ at: max(eventMarks.at) })
    .from(eventMarks)
    .where(lte(eventMarks.at, before))
  if (row?.at !== null && row?.at !== undefined) await db.delete(eventMarks).where(lt(eventMarks.at, Number(row.at)))
}

/** Marks the events now, then deletes those marked at or before `before`, batch after batch. */
export const pruneEvents = async (db: PgDb, before: number, now = Date.now()): Promise<number> => {
  await markEvents(db, now)
  const cut = await eventCutAt(db, before)
  let removed = 0
  for (let n = await pruneEventsBatch(db, cut); n > 0; n = await pruneEventsBatch(db, cut)) removed += n
  await trimEventMarks(db, before)
  return removed
}
