import { sql } from 'drizzle-orm'
import { bigint, boolean, index, integer, jsonb, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core'

/**
 * The PostgreSQL twin of `sqlite/schema.ts`: the same tables, column names, nullability and
 * indexes. Times stay integer milliseconds (bigint, read as numbers); JSON columns are jsonb,
 * except `events.data`, kept as the JSON text it was written as so a replay copies it as is.
 * `events.id` has no default: a trigger numbers events in commit order (custom migration).
 */
const ms = (name: string) => bigint(name, { mode: 'number' })

export const users = pgTable('users', {
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
  permissions: jsonb('permissions').$type<string[]>().notNull(),
  version: integer('version').notNull().default(1),
  createdAt: ms('created_at').notNull(),
  updatedAt: ms('updated_at').notNull(),
})

export const sessions = pgTable(
  'sessions',
  {
    id: text('id').primaryKey(),
    /** sha256 of the cookie's token: a stolen DB does not yield working cookies. */
    tokenHash: text('token_hash').notNull().unique(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: ms('created_at').notNull(),
    expiresAt: ms('expires_at').notNull(),
  },
  (t) => [index('sessions_user_idx').on(t.userId), index('sessions_expires_idx').on(t.expiresAt)],
)

export const hibernations = pgTable(
  'hibernations',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    status: text('status', { enum: ['scheduled', 'completed', 'cancelled'] }).notNull(),
    startedAt: ms('started_at').notNull(),
    endsAt: ms('ends_at').notNull(),
    finishedAt: ms('finished_at'),
  },
  (t) => [
    // At most one scheduled hibernation per user, enforced by the DB itself.
    uniqueIndex('hibernations_one_scheduled_idx').on(t.userId).where(sql`status = 'scheduled'`),
    index('hibernations_scheduled_idx').on(t.id).where(sql`status = 'scheduled'`),
  ],
)

export const transactions = pgTable(
  'transactions',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    type: text('type').notNull(),
    details: jsonb('details').$type<Record<string, unknown>>().notNull(),
    /** Unique: a hibernation completes into at most one history row. */
    hibernationId: text('hibernation_id').unique(),
    createdAt: ms('created_at').notNull(),
  },
  (t) => [index('transactions_user_idx').on(t.userId, t.createdAt)],
)

/** The transactional outbox. Ids come from the `events_assign_id` trigger, in commit order. */
export const events = pgTable(
  'events',
  {
    id: bigint('id', { mode: 'number' }).primaryKey(),
    userId: text('user_id').notNull(),
    type: text('type').notNull(),
    data: text('data').notNull(),
    createdAt: ms('created_at').notNull(),
  },
  (t) => [index('events_user_idx').on(t.userId, t.id), index('events_created_idx').on(t.createdAt)],
)

/** The pruner's own record that every event up to `lastId` existed at `at` (its clock). */
export const eventMarks = pgTable('event_marks', {
  at: ms('at').primaryKey(),
  lastId: bigint('last_id', { mode: 'number' }).notNull(),
})

/** Small key/value facts about the DB itself, such as how far events were pruned. */
export const meta = pgTable('meta', {
  key: text('key').primaryKey(),
  value: bigint('value', { mode: 'number' }).notNull(),
})

/** Sign-in attempts per key in fixed windows (see `sqlite/schema.ts`). */
export const loginFailures = pgTable('login_failures', {
  key: text('key').primaryKey(),
  count: integer('count').notNull(),
  pending: integer('pending').notNull().default(0),
  resetAt: ms('reset_at').notNull(),
})

/** A receiver of signed webhooks. */
export const webhookEndpoints = pgTable('webhook_endpoints', {
  id: text('id').primaryKey(),
  url: text('url').notNull(),
  events: jsonb('events').$type<string[]>().notNull(),
  secrets: jsonb('secrets').$type<{ secret: string; expiresAt: number | null }[]>().notNull(),
  enabled: boolean('enabled').notNull().default(true),
  disabledReason: text('disabled_reason'),
  createdAt: ms('created_at').notNull(),
})

/** One row per endpoint per matching event (see `sqlite/schema.ts`). */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: text('id').primaryKey(),
    endpointId: text('endpoint_id')
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    eventId: bigint('event_id', { mode: 'number' }).notNull(),
    eventType: text('event_type').notNull(),
    body: text('body').notNull(),
    status: text('status', { enum: ['pending', 'delivered', 'failed'] }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    lastStatus: integer('last_status'),
    lastError: text('last_error'),
    lastAttemptAt: ms('last_attempt_at'),
    latencyMs: integer('latency_ms'),
    nextAttemptAt: ms('next_attempt_at'),
    redeliveries: integer('redeliveries').notNull().default(0),
    retryFrom: ms('retry_from').notNull(),
    createdAt: ms('created_at').notNull(),
  },
  (t) => [
    uniqueIndex('webhook_deliveries_event_idx').on(t.endpointId, t.eventId),
    index('webhook_deliveries_pending_idx').on(t.id).where(sql`status = 'pending'`),
  ],
)
