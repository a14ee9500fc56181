import { sql } from 'drizzle-orm'
import { index, integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core'

export const users = sqliteTable('users', {
  id: text('id').primaryKey(),
  email: text('email').notNull().unique(),
  name: text('name').notNull(),
  passwordHash: text('password_hash').notNull(),
  role: text('role', { enum: ['user', 'admin'] })
    .notNull()
    .default('user'),
  status: text('status', { enum: ['active', 'hibernating'] })
    .notNull()
    .default('active'),
  goal: integer('goal').notNull().default(0),
  permissions: text('permissions', { mode: 'json' }).$type<string[]>().notNull(),
  version: integer('version').notNull().default(1),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
})

export const sessions = sqliteTable(
  'sessions',
  {
    id: text('id').primaryKey(),
    /** sha256 of the cookie's token: a stolen DB does not yield working cookies. */
    tokenHash: text('token_hash').notNull().unique(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
  },
  (t) => [index('sessions_user_idx').on(t.userId), index('sessions_expires_idx').on(t.expiresAt)],
)

export const hibernations = sqliteTable(
  'hibernations',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    status: text('status', { enum: ['scheduled', 'completed', 'cancelled'] }).notNull(),
    startedAt: integer('started_at').notNull(),
    endsAt: integer('ends_at').notNull(),
    finishedAt: integer('finished_at'),
  },
  (t) => [
    // At most one scheduled hibernation per user, enforced by the DB itself.
    uniqueIndex('hibernations_one_scheduled_idx').on(t.userId).where(sql`status = 'scheduled'`),
    index('hibernations_scheduled_idx').on(t.id).where(sql`status = 'scheduled'`),
  ],
)

export const transactions = sqliteTable(
  'transactions',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    type: text('type').notNull(),
    details: text('details', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    /** Unique: a hibernation completes into at most one history row. */
    hibernationId: text('hibernation_id').unique(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('transactions_user_idx').on(t.userId, t.createdAt)],
)

/** The transactional outbox: ids are assigned under SQLite's write lock, so they commit in order. */
export const events = sqliteTable(
  'events',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    userId: text('user_id').notNull(),
    type: text('type').notNull(),
    data: text('data').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('events_user_idx').on(t.userId, t.id), index('events_created_idx').on(t.createdAt)],
)

/**
 * The pruner's own record that every event up to `lastId` existed at `at` (its clock).
 * Retention cuts on these ids, never on `events.created_at`, which several hosts' clocks stamp.
 */
export const eventMarks = sqliteTable('event_marks', {
  at: integer('at').primaryKey(),
  lastId: integer('last_id').notNull(),
})

/** Small key/value facts about the DB itself, such as how far events were pruned. */
export const meta = sqliteTable('meta', {
  key: text('key').primaryKey(),
  value: integer('value').notNull(),
})

/**
 * Sign-in attempts per key (an account or a client address) in fixed windows. In the DB
 * rather than in process memory, so every API process counts against one limit. `count`
 * is failures plus attempts whose password check is still running (`pending`): an attempt
 * is reserved here before its check, so a burst cannot run more checks than the limit.
 */
export const loginFailures = sqliteTable('login_failures', {
  key: text('key').primaryKey(),
  count: integer('count').notNull(),
  pending: integer('pending').notNull().default(0),
  resetAt: integer('reset_at').notNull(),
})

/** A receiver of signed webhooks. `secrets` holds the current one and, during a rotation, the old one until it expires. */
export const webhookEndpoints = sqliteTable('webhook_endpoints', {
  id: text('id').primaryKey(),
  url: text('url').notNull(),
  events: text('events', { mode: 'json' }).$type<string[]>().notNull(),
  secrets: text('secrets', { mode: 'json' }).$type<{ secret: string; expiresAt: number | null }[]>().notNull(),
  enabled: integer('enabled', { mode: 'boolean' }).notNull().default(true),
  disabledReason: text('disabled_reason'),
  createdAt: integer('created_at').notNull(),
})

/**
 * One row per endpoint per matching event (unique, so dispatching twice writes nothing twice).
 * Its id is the `webhook-id` the receiver dedupes on, and the BullMQ job id.
 */
export const webhookDeliveries = sqliteTable(
  'webhook_deliveries',
  {
    id: text('id').primaryKey(),
    endpointId: text('endpoint_id')
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    eventId: integer('event_id').notNull(),
    eventType: text('event_type').notNull(),
    /** The request body, fixed at dispatch: every attempt sends the same bytes, even after events are pruned. */
    body: text('body').notNull(),
    status: text('status', { enum: ['pending', 'delivered', 'failed'] }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    lastStatus: integer('last_status'),
    lastError: text('last_error'),
    lastAttemptAt: integer('last_attempt_at'),
    latencyMs: integer('latency_ms'),
    nextAttemptAt: integer('next_attempt_at'),
    /** Manual redeliveries so far; part of the job id, so a redelivery never collides with the previous job. */
    redeliveries: integer('redeliveries').notNull().default(0),
    /** Start of the retry window (creation, or the last manual redelivery). */
    retryFrom: integer('retry_from').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [
    uniqueIndex('webhook_deliveries_event_idx').on(t.endpointId, t.eventId),
    index('webhook_deliveries_pending_idx').on(t.id).where(sql`status = 'pending'`),
  ],
)
