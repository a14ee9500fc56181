import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type { DormantEvent, EventPayloads, EventType } from '@dormant/core'
import { type AnyColumn, sql } from 'drizzle-orm'
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres'
import { migrate } from 'drizzle-orm/node-postgres/migrator'
import pg from 'pg'
import * as schema from './schema.js'

export type PgDb = NodePgDatabase<typeof schema> & { $client: pg.Pool }
/** Drizzle inside a transaction; reads and writes of a data function accept either. */
export type PgTx = Parameters<Parameters<PgDb['transaction']>[0]>[0]

/** Per process: more connections only queue on the append lock (docs/deploy.md). */
const POOL_SIZE = 10

/** Taken by the `events_assign_id` trigger (migration 0001) for every event appended. */
export const EVENTS_APPEND_LOCK = 4672823917202001n
/** Held for the whole migration, so processes starting together migrate once. */
export const MIGRATION_LOCK = 4672823917202002n

const MIGRATIONS = join(
  dirname(createRequire(import.meta.url).resolve('@dormant/db/package.json')),
  'drizzle',
  'postgres',
)

/**
 * A client that vanishes or pauses inside a transaction would keep holding whatever it
 * locked, the append lock included, until TCP gives up (2 h): the server ends such a
 * session after 10 s instead; and a statement waiting on a lock (the append lock included)
 * gives up after 5 s, so a stuck holder yields errors, not an unbounded queue
 * (docs/architecture.md). Session settings, not `SET LOCAL`: one round trip less per transaction.
 */
const SESSION_OPTIONS = '-c idle_in_transaction_session_timeout=10000 -c lock_timeout=5000'

/** Opens a pool on `url` and applies pending migrations, once across every process starting together. */
export const openPostgres = async (url: string): Promise<PgDb> => {
  await migrateOnce(url)
  const pool = new pg.Pool({ connectionString: url, max: POOL_SIZE, options: SESSION_OPTIONS })
  // An idle pooled connection the server dropped would otherwise crash the process.
  pool.on('error', () => {})
  return drizzle({ client: pool, schema }) as PgDb
}

/**
 * drizzle's migrator is not safe to run twice at once (both see a migration missing and both
 * apply it; the loser fails on "already exists"). A session advisory lock on a dedicated
 * connection makes the others wait, then find every migration recorded.
 */
const migrateOnce = async (url: string) => {
  const client = new pg.Client({ connectionString: url })
  // A connection the server ends (a restart, pg_terminate_backend) fails the query under way,
  // which the caller sees; unheard, the client's own 'error' event would end the process.
  client.on('error', () => {})
  await client.connect()
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK])
    await migrate(drizzle({ client }), { migrationsFolder: MIGRATIONS })
  } finally {
    await client.end() // ends the session, which releases the lock even after a failure
  }
}

export const closePostgres = (db: PgDb) => db.$client.end()

/** A write transaction, and the events it records, appended at its end. */
export type Write = {
  tx: PgTx
  /**
   * Records an event; it is inserted at the end of the transaction and its `id` filled in
   * then. Read the event's id only after `write` returns.
   */
  record: <T extends EventType>(userId: string, type: T, data: EventPayloads[T], now: number) => DormantEvent
}

/**
 * Runs `fn` in one READ COMMITTED transaction, then inserts every event it recorded in ONE
 * multi-row INSERT as the transaction's last statement. The insert takes the append lock,
 * which every other appender then waits on until COMMIT: nothing may run after it
 * (docs/architecture.md), and taking it last also means no appender ever holds it while
 * waiting for a row lock, which could deadlock.
 */
export const write = <T>(db: PgDb, fn: (w: Write) => Promise<T>): Promise<T> =>
  db.transaction(async (tx) => {
    const pending: DormantEvent[] = []
    const record: Write['record'] = (userId, type, data, now) => {
      const event = { id: 0, userId, type, data, createdAt: now } as DormantEvent
      pending.push(event)
      return event
    }
    const result = await fn({ tx, record })
    if (pending.length > 0) {
      const rows = await tx
        .insert(schema.events)
        .values(
          pending.map((e) => ({
            // DEFAULT (null): the trigger assigns the id, in commit order.
            id: sql`default`,
            userId: e.userId,
            type: e.type,
            data: JSON.stringify(e.data),
            createdAt: e.createdAt,
          })),
        )
        .returning({ id: schema.events.id })
      // The trigger numbers rows in the order they are inserted, which is the VALUES order.
      const ids = rows.map((r) => r.id).sort((a, b) => a - b)
      pending.forEach((event, i) => {
        event.id = ids[i] as number
      })
    }
    return result
  })

/**
 * Text compared and ordered bytewise, as SQLite does, whatever the database's collation:
 * pages by email or id come in the same order on both backends.
 */
export const bytewise = (column: AnyColumn) => sql`${column} collate "C"`
