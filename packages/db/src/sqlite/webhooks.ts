import type { WebhookDeliveryJson } from '@dormant/core'
import { and, asc, desc, eq, gt, inArray, lt, lte, sql } from 'drizzle-orm'
import { newId } from '../ids.js'
import type { SqliteDb as Db } from './client.js'
import { write } from './client.js'
import { latestEventId } from './events.js'
import { events, meta, webhookDeliveries, webhookEndpoints } from './schema.js'

/** Meta key of the id of the last event turned into deliveries. */
const CURSOR = 'webhooks_dispatched_through'

type EndpointRow = typeof webhookEndpoints.$inferSelect
type DeliveryRow = typeof webhookDeliveries.$inferSelect

export type WebhookEndpointJson = {
  id: string
  url: string
  events: string[]
  enabled: boolean
  createdAt: string
  disabledReason?: string
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())

const endpointJson = (row: EndpointRow): WebhookEndpointJson => ({
  id: row.id,
  url: row.url,
  events: row.events,
  enabled: row.enabled,
  createdAt: new Date(row.createdAt).toISOString(),
  ...(row.disabledReason ? { disabledReason: row.disabledReason } : {}),
})

export const deliveryJson = (row: DeliveryRow): WebhookDeliveryJson => ({
  id: row.id,
  endpointId: row.endpointId,
  eventId: row.eventId,
  eventType: row.eventType,
  status: row.status,
  attempts: row.attempts,
  lastStatus: row.lastStatus,
  lastAttemptAt: iso(row.lastAttemptAt),
  latencyMs: row.latencyMs,
  lastError: row.lastError,
  nextAttemptAt: iso(row.nextAttemptAt),
  createdAt: new Date(row.createdAt).toISOString(),
})

/**
 * Adds an endpoint. The dispatch cursor is started here if no worker has started it yet, so an
 * endpoint added before any worker runs still gets every event committed after it.
 */
export const createWebhookEndpoint = (
  db: Db,
  input: { url: string; events: string[]; secret: string },
  now = Date.now(),
): WebhookEndpointJson =>
  write(db, (tx) => {
    tx.insert(meta)
      .values({ key: CURSOR, value: latestEventId(db) })
      .onConflictDoNothing()
      .run()
    const row = tx
      .insert(webhookEndpoints)
      .values({
        id: newId('whe'),
        url: input.url,
        events: input.events,
        secrets: [{ secret: input.secret, expiresAt: null }],
        createdAt: now,
      })
      .returning()
      .get()
    return endpointJson(row)
  })

export const listWebhookEndpoints = (db: Db) =>
  db.select().from(webhookEndpoints).orderBy(asc(webhookEndpoints.createdAt)).all().map(endpointJson)

export const getWebhookEndpoint = (db: Db, id: string) => {
  const row = db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id)).get()
  return row ? endpointJson(row) : null
}

/** Deletes the endpoint and its deliveries; their jobs find no row and end. */
export const deleteWebhookEndpoint = (db: Db, id: string) =>
  db.delete(webhookEndpoints).where(eq(webhookEndpoints.id, id)).run().changes > 0

/** The secrets that sign now: the current one and any rotated-out one still inside its overlap. */
export const activeSecrets = (row: Pick<EndpointRow, 'secrets'>, now = Date.now()) =>
  row.secrets.filter((s) => s.expiresAt === null || s.expiresAt > now).map((s) => s.secret)

/** Makes `secret` current; the previous current one keeps signing until `now + overlapMs`. */
export const rotateWebhookSecret = (db: Db, id: string, secret: string, overlapMs: number, now = Date.now()) =>
  write(db, (tx) => {
    const row = tx.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id)).get()
    if (!row) return false
    const kept = row.secrets
      .filter((s) => s.expiresAt === null || s.expiresAt > now)
      .map((s) => ({ secret: s.secret, expiresAt: s.expiresAt === null ? now + overlapMs : s.expiresAt }))
    tx.update(webhookEndpoints)
      .set({ secrets: [{ secret, expiresAt: null }, ...kept] })
      .where(eq(webhookEndpoints.id, id))
      .run()
    return true
  })

export const disableWebhookEndpoint = (db: Db, id: string, reason: string): void => {
  db.update(webhookEndpoints).set({ enabled: false, disabledReason: reason }).where(eq(webhookEndpoints.id, id)).run()
}

/**
 * Turns committed events after the dispatch cursor into delivery rows, one per matching
 * enabled endpoint, and moves the cursor, in one write transaction: a crash leaves both or
 * neither, and the unique (endpoint, event) key makes a second dispatcher's attempt a no-op.
 * Without a cursor (no endpoint yet, no worker before) it starts at the newest event.
 * Returns the new rows, which need jobs.
 */
export const dispatchWebhookEvents = (db: Db, limit = 1000, now = Date.now()) => {
  // Read first, without the write lock: the periodic pass usually finds nothing new.
  const seen = db.select({ value: meta.value }).from(meta).where(eq(meta.key, CURSOR)).get()?.value
  if (seen !== undefined && latestEventId(db) <= seen) return { created: [] as DeliveryRow[], more: false }
  return write(db, (tx) => {
    const cursor = tx.select({ value: meta.value }).from(meta).where(eq(meta.key, CURSOR)).get()?.value
    const setCursor = (value: number) =>
      tx.insert(meta).values({ key: CURSOR, value }).onConflictDoUpdate({ target: meta.key, set: { value } }).run()
    if (cursor === undefined) {
      setCursor(latestEventId(db))
      return { created: [] as DeliveryRow[], more: false }
    }
    const batch = tx.select().from(events).where(gt(events.id, cursor)).orderBy(asc(events.id)).limit(limit).all()
    const last = batch[batch.length - 1]
    if (!last) return { created: [] as DeliveryRow[], more: false }
    const endpoints = tx.select().from(webhookEndpoints).where(eq(webhookEndpoints.enabled, true)).all()
    const created: DeliveryRow[] = []
    for (const event of batch) {
      for (const endpoint of endpoints) {
        if (!endpoint.events.includes(event.type) || event.createdAt < endpoint.createdAt) continue
        const body = `{"type":${JSON.stringify(event.type)},"id":${event.id},"timestamp":${JSON.stringify(new Date(event.createdAt).toISOString())},"data":${event.data}}`
        const row = tx
          .insert(webhookDeliveries)
          .values({
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
          .onConflictDoNothing()
          .returning()
          .get()
        if (row) created.push(row)
      }
    }
    setCursor(last.id)
    return { created, more: batch.length === limit }
  })
}

/** A delivery with what its attempt needs: the endpoint's URL and signing secrets. */
export const deliveryForAttempt = (db: Db, id: string, now = Date.now()) => {
  const found = db
    .select()
    .from(webhookDeliveries)
    .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
    .where(eq(webhookDeliveries.id, id))
    .get()
  if (!found) return null
  const { webhook_deliveries: delivery, webhook_endpoints: endpoint } = found
  return { delivery, endpoint: { ...endpoint, activeSecrets: activeSecrets(endpoint, now) } }
}

export type AttemptOutcome =
  | { status: 'delivered'; httpStatus: number; latencyMs: number }
  | { status: 'pending'; httpStatus: number | null; error: string; latencyMs: number | null; nextAttemptAt: number }
  | { status: 'failed'; httpStatus: number | null; error: string; latencyMs: number | null }

/** Records an attempt's result; a delivery that is no longer pending is left alone (returns null). */
export const recordAttempt = (db: Db, id: string, outcome: AttemptOutcome, now = Date.now()): DeliveryRow | null =>
  db
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
    .get() ?? null

/**
 * Sends a delivery again (same row, same webhook-id) with a fresh retry window. An admin who
 * redelivers has looked at the endpoint, so a disabled one is enabled again.
 */
export const redeliver = (db: Db, endpointId: string, id: string, now = Date.now()) =>
  write(db, (tx) => {
    const row = tx
      .update(webhookDeliveries)
      .set({
        status: 'pending',
        nextAttemptAt: now,
        retryFrom: now,
        redeliveries: sql`${webhookDeliveries.redeliveries} + 1`,
      })
      .where(and(eq(webhookDeliveries.id, id), eq(webhookDeliveries.endpointId, endpointId)))
      .returning()
      .get()
    if (!row) return null
    tx.update(webhookEndpoints)
      .set({ enabled: true, disabledReason: null })
      .where(eq(webhookEndpoints.id, endpointId))
      .run()
    return row
  })

/** A page of an endpoint's deliveries, newest event first; the cursor is the last event id. */
export const listWebhookDeliveries = (db: Db, endpointId: string, limit: number, cursor?: number) => {
  const conditions = [eq(webhookDeliveries.endpointId, endpointId)]
  if (cursor !== undefined) conditions.push(lt(webhookDeliveries.eventId, cursor))
  const rows = db
    .select()
    .from(webhookDeliveries)
    .where(and(...conditions))
    .orderBy(desc(webhookDeliveries.eventId))
    .limit(limit + 1)
    .all()
  const page = rows.slice(0, limit)
  const last = page[page.length - 1]
  return {
    deliveries: page.map(deliveryJson),
    nextCursor: rows.length > limit && last ? String(last.eventId) : null,
  }
}

/** Pending deliveries of enabled endpoints in id order after `after`, for the reconciler. */
export const listPendingDeliveries = (db: Db, after: string, limit: number) =>
  db
    .select({
      id: webhookDeliveries.id,
      redeliveries: webhookDeliveries.redeliveries,
      nextAttemptAt: webhookDeliveries.nextAttemptAt,
    })
    .from(webhookDeliveries)
    .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
    .where(
      and(eq(webhookDeliveries.status, 'pending'), gt(webhookDeliveries.id, after), eq(webhookEndpoints.enabled, true)),
    )
    .orderBy(asc(webhookDeliveries.id))
    .limit(limit)
    .all()
    .map((d) => ({ id: d.id, redeliveries: d.redeliveries, nextAttemptAt: d.nextAttemptAt ?? 0 }))

export const pendingAmong = (db: Db, ids: string[]) =>
  new Set(
    ids.length
      ? db
          .select({ id: webhookDeliveries.id })
          .from(webhookDeliveries)
          .where(and(inArray(webhookDeliveries.id, ids), eq(webhookDeliveries.status, 'pending')))
          .all()
          .map((r) => r.id)
      : [],
  )

/** Deliveries by status, and the oldest due-but-unsent attempt (how far the workers are behind). */
export const webhookDeliveryStats = (db: Db, now = Date.now()) => {
  const byStatus = { pending: 0, delivered: 0, failed: 0 }
  for (const row of db
    .select({ status: webhookDeliveries.status, n: sql<number>`count(*)` })
    .from(webhookDeliveries)
    .groupBy(webhookDeliveries.status)
    .all())
    byStatus[row.status] = row.n
  const oldestDue = db
    .select({ at: sql<number | null>`min(${webhookDeliveries.nextAttemptAt})` })
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.status, 'pending'), lte(webhookDeliveries.nextAttemptAt, now)))
    .get()?.at
  return { byStatus, dueLagMs: oldestDue ? now - oldestDue : 0 }
}
