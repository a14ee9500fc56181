import { and, asc, desc, eq, gt, inArray, lt, lte, sql } from 'drizzle-orm'
import { newId } from '../ids.js'
import type { AttemptOutcome, WebhookEndpointJson } from '../sqlite/webhooks.js'
import { activeSecrets, deliveryJson } from '../sqlite/webhooks.js'
import { bytewise, type PgDb, type PgTx, write } from './client.js'
import { latestEventId } from './events.js'
import { events, meta, webhookDeliveries, webhookEndpoints } from './schema.js'

/** Meta key of the id of the last event turned into deliveries. */
const CURSOR = 'webhooks_dispatched_through'

type EndpointRow = typeof webhookEndpoints.$inferSelect
type DeliveryRow = typeof webhookDeliveries.$inferSelect

const endpointJson = (row: EndpointRow): WebhookEndpointJson => ({
  id: row.id,
  url: row.url,
  events: row.events,
  enabled: row.enabled,
  createdAt: new Date(row.createdAt).toISOString(),
  ...(row.disabledReason ? { disabledReason: row.disabledReason } : {}),
})

/** Starts the dispatch cursor at the newest committed event unless it exists (ON CONFLICT DO NOTHING). */
const startCursor = async (tx: PgTx) => {
  await tx
    .insert(meta)
    .values({ key: CURSOR, value: await latestEventId(tx) })
    .onConflictDoNothing()
}

/**
 * Adds an endpoint. The dispatch cursor is started here if no worker has started it yet, so an
 * endpoint added before any worker runs still gets every event committed after it.
 */
export const createWebhookEndpoint = (
  db: PgDb,
  input: { url: string; events: string[]; secret: string },
  now = Date.now(),
) =>
  write(db, async ({ tx }) => {
    await startCursor(tx)
    const [row] = await tx
      .insert(webhookEndpoints)
      .values({
        id: newId('whe'),
        url: input.url,
        events: input.events,
        secrets: [{ secret: input.secret, expiresAt: null }],
        createdAt: now,
      })
      .returning()
    if (!row) throw new Error('insert returned no endpoint')
    return endpointJson(row)
  })

export const listWebhookEndpoints = async (db: PgDb) =>
  (await db.select().from(webhookEndpoints).orderBy(asc(webhookEndpoints.createdAt))).map(endpointJson)

export const getWebhookEndpoint = async (db: PgDb, id: string) => {
  const [row] = await db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id))
  return row ? endpointJson(row) : null
}

/** Deletes the endpoint and its deliveries; their jobs find no row and end. */
export const deleteWebhookEndpoint = async (db: PgDb, id: string) =>
  (await db.delete(webhookEndpoints).where(eq(webhookEndpoints.id, id)).returning({ id: webhookEndpoints.id })).length >
  0

/**
 * Makes `secret` current; the previous current one keeps signing until `now + overlapMs`.
 * The row is read FOR UPDATE: two rotations at once take turns and neither loses the other's secret.
 */
export const rotateWebhookSecret = (db: PgDb, id: string, secret: string, overlapMs: number, now = Date.now()) =>
  write(db, async ({ tx }) => {
    const [row] = await tx.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id)).for('update')
    if (!row) return false
    const kept = row.secrets
      .filter((s) => s.expiresAt === null || s.expiresAt > now)
      .map((s) => ({ secret: s.secret, expiresAt: s.expiresAt === null ? now + overlapMs : s.expiresAt }))
    await tx
      .update(webhookEndpoints)
      .set({ secrets: [{ secret, expiresAt: null }, ...kept] })
      .where(eq(webhookEndpoints.id, id))
    return true
  })

export const disableWebhookEndpoint = async (db: PgDb, id: string, reason: string) => {
  await db.update(webhookEndpoints).set({ enabled: false, disabledReason: reason }).where(eq(webhookEndpoints.id, id))
}

/**
 * Turns committed events after the dispatch cursor into delivery rows and moves the cursor,
 * in one transaction. The cursor row is read FOR UPDATE, so a second dispatcher waits and
 * then starts from where the first left off; the unique (endpoint, event) key backs it up.
 * Ids commit in order, so the events read past the cursor are a prefix: none can appear
 * below them later. Returns the new rows, which need jobs.
 */
export const dispatchWebhookEvents = async (db: PgDb, limit = 1000, now = Date.now()) => {
  const none = { created: [] as DeliveryRow[], more: false }
  // Read first, without a lock: the periodic pass usually finds nothing new.
  const [seen] = await db.select({ value: meta.value }).from(meta).where(eq(meta.key, CURSOR))
  if (seen !== undefined && (await latestEventId(db)) <= seen.value) return none
  return write(db, async ({ tx }) => {
    const [cursor] = await tx.select({ value: meta.value }).from(meta).where(eq(meta.key, CURSOR)).for('update')
    if (cursor === undefined) {
      await startCursor(tx)
      return none
    }
    const batch = await tx.select().from(events).where(gt(events.id, cursor.value)).orderBy(asc(events.id)).limit(limit)
    const last = batch.at(-1)
    if (!last) return none
    const endpoints = await tx.select().from(webhookEndpoints).where(eq(webhookEndpoints.enabled, true))
    const rows: (typeof webhookDeliveries.$inferInsert)[] = []
    for (const event of batch) {
      for (const endpoint of endpoints) {
        if (!endpoint.events.includes(event.type) || event.createdAt < endpoint.createdAt) continue
        const body = `{"type":${JSON.stringify(event.type)},"id":${event.id},"timestamp":${JSON.stringify(new Date(event.createdAt).toISOString())},"data":${event.data}}`
        rows.push({
          id: newId('whd'),
          endpointId: endpoint.id,
          eventId: event.id,
          eventType: event.type,
          body,
          status: 'pending',
          nextAttemptAt: now,
          retryFrom: now,
          createdAt: now,
        })
      }
    }
    const inserted = rows.length
      ? await tx.insert(webhookDeliveries).values(rows).onConflictDoNothing().returning()
      : []
    // RETURNING's order is not promised: back to event order, endpoint order within an event.
    const order = new Map(rows.map((r, i) => [r.id, i]))
    const created = inserted.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0))
    await tx.update(meta).set({ value: last.id }).where(eq(meta.key, CURSOR))
    return { created, more: batch.length === limit }
  })
}

/** A delivery with what its attempt needs: the endpoint's URL and signing secrets. */
export const deliveryForAttempt = async (db: PgDb, id: string, now = Date.now()) => {
  const [found] = await db
    .select()
    .from(webhookDeliveries)
    .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
    .where(eq(webhookDeliveries.id, id))
  if (!found) return null
  const { webhook_deliveries: delivery, webhook_endpoints: endpoint } = found
  return { delivery, endpoint: { ...endpoint, activeSecrets: activeSecrets(endpoint, now) } }
}

/** Records an attempt's result; a conditional UPDATE leaves a delivery no longer pending alone (returns null). */
export const recordAttempt = async (db: PgDb, id: string, outcome: AttemptOutcome, now = Date.now()) =>
  (
    await db
      .update(webhookDeliveries)
      .set({
        status: outcome.status,
        attempts: sql`${webhookDeliveries.attempts} + 1`,
        lastStatus: outcome.httpStatus,
        lastError: outcome.status === 'delivered' ? null : outcome.error,
        lastAttemptAt: now,
        latencyMs: outcome.latencyMs,
        nextAttemptAt: outcome.status === 'pending' ? outcome.nextAttemptAt : null,
      })
      .where(and(eq(webhookDeliveries.id, id), eq(webhookDeliveries.status, 'pending')))
      .returning()
  )[0] ?? null

/**
 * Sends a delivery again (same row, same webhook-id) with a fresh retry window, and enables
 * its endpoint. Both are single UPDATEs in one transaction: a redelivery counted twice at
 * once bumps `redeliveries` twice, each job id distinct.
 */
export const redeliver = (db: PgDb, endpointId: string, id: string, now = Date.now()) =>
  write(db, async ({ tx }) => {
    const [row] = await tx
      .update(webhookDeliveries)
      .set({
        status: 'pending',
        nextAttemptAt: now,
        retryFrom: now,
        redeliveries: sql`${webhookDeliveries.redeliveries} + 1`,
      })
      .where(and(eq(webhookDeliveries.id, id), eq(webhookDeliveries.endpointId, endpointId)))
      .returning()
    if (!row) return null
    await tx
      .update(webhookEndpoints)
      .set({ enabled: true, disabledReason: null })
      .where(eq(webhookEndpoints.id, endpointId))
    return row
  })

/** A page of an endpoint's deliveries, newest event first; the cursor is the last event id. */
export const listWebhookDeliveries = async (db: PgDb, endpointId: string, limit: number, cursor?: number) => {
  const conditions = [eq(webhookDeliveries.endpointId, endpointId)]
  if (cursor !== undefined) conditions.push(lt(webhookDeliveries.eventId, cursor))
  const rows = await db
    .select()
    .from(webhookDeliveries)
    .where(and(...conditions))
    .orderBy(desc(webhookDeliveries.eventId))
    .limit(limit + 1)
  const page = rows.slice(0, limit)
  const last = page.at(-1)
  return {
    deliveries: page.map(deliveryJson),
    nextCursor: rows.length > limit && last ? String(last.eventId) : null,
  }
}

/** Pending deliveries of enabled endpoints in id order (bytewise) after `after`, for the reconciler. */
export const listPendingDeliveries = async (db: PgDb, after: string, limit: number) =>
  (
    await db
      .select({
        id: webhookDeliveries.id,
        redeliveries: webhookDeliveries.redeliveries,
        nextAttemptAt: webhookDeliveries.nextAttemptAt,
      })
      .from(webhookDeliveries)
      .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
      .where(
        and(
          eq(webhookDeliveries.status, 'pending'),
          sql`${bytewise(webhookDeliveries.id)} > ${after}`,
          eq(webhookEndpoints.enabled, true),
        ),
      )
      .orderBy(bytewise(webhookDeliveries.id))
      .limit(limit)
  ).map((d) => ({ id: d.id, redeliveries: d.redeliveries, nextAttemptAt: d.nextAttemptAt ?? 0 }))

export const pendingAmong = async (db: PgDb, ids: string[]) =>
  new Set(
    ids.length
      ? (
          await db
            .select({ id: webhookDeliveries.id })
            .from(webhookDeliveries)
            .where(and(inArray(webhookDeliveries.id, ids), eq(webhookDeliveries.status, 'pending')))
        ).map((r) => r.id)
      : [],
  )

/** Deliveries by status, and the oldest due-but-unsent attempt (how far the workers are behind). */
export const webhookDeliveryStats = async (db: PgDb, now = Date.now()) => {
  const byStatus = { pending: 0, delivered: 0, failed: 0 }
  const counts = await db
    .select({ status: webhookDeliveries.status, n: sql<number>`count(*)::int` })
    .from(webhookDeliveries)
    .groupBy(webhookDeliveries.status)
  for (const row of counts) byStatus[row.status] = row.n
  const [oldest] = await db
    .select({ at: sql<number | null>`min(${webhookDeliveries.nextAttemptAt})::float8` })
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.status, 'pending'), lte(webhookDeliveries.nextAttemptAt, now)))
  return { byStatus, dueLagMs: oldest?.at ? now - oldest.at : 0 }
}
