import { randomInt } from 'node:crypto'
import type Database from 'better-sqlite3'
import { eq } from 'drizzle-orm'
import type { Store } from '../store.js'
import { closeSqlite, openSqlite, type SqliteDb } from './client.js'
import { deploymentId } from './deployment.js'
import {
  countEvents,
  eventCutAt,
  eventsPrunedThrough,
  latestEventId,
  markEvents,
  pruneEvents,
  pruneEventsBatch,
  readEvents,
  readEventsJson,
  trimEventMarks,
} from './events.js'
import {
  cancelHibernation,
  completeHibernation,
  completeHibernations,
  listScheduledHibernations,
  scheduledAmong,
  startHibernation,
} from './hibernations.js'
import { takeLease } from './leases.js'
import {
  findLoginFailures,
  forgiveLoginFailures,
  keepLoginAttempt,
  pruneLoginFailures,
  releaseLoginAttempt,
  reserveLoginAttempt,
} from './login-failures.js'
import { meta } from './schema.js'
import { createSession, deleteExpiredSessions, findSession, revokeSession } from './sessions.js'
import { readUser } from './statements.js'
import { listTransactions } from './transactions.js'
import { countUsers, createUser, findLoginByEmail, getUser, listUsers, setPermissions } from './users.js'
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  deliveryForAttempt,
  disableWebhookEndpoint,
  dispatchWebhookEvents,
  getWebhookEndpoint,
  listPendingDeliveries,
  listWebhookDeliveries,
  listWebhookEndpoints,
  pendingAmong,
  recordAttempt,
  redeliver,
  rotateWebhookSecret,
  webhookDeliveryStats,
} from './webhooks.js'

/** A user and the table's position, read in one transaction: nothing committed between them. */
const snapshot = (db: SqliteDb, userId: string) =>
  db.$client.transaction(() => ({ user: readUser(db, userId), position: latestEventId(db) }))()

const ping = (db: SqliteDb) => db.$client.prepare('select 1 as ok').get() !== undefined

const EPOCH = 'stream_epoch'

/**
 * The epoch of event ids, drawn once and kept in the file. Restoring the file from a backup
 * restores this with it: `npm run db:new-epoch` after a restore draws a new one, so ids
 * handed out after the backup was taken can never name other events (docs/deploy.md).
 */
const streamEpoch = (db: SqliteDb) => {
  db.insert(meta)
    .values({ key: EPOCH, value: randomInt(1, 2 ** 48 - 1) })
    .onConflictDoNothing()
    .run()
  const row = db.select({ value: meta.value }).from(meta).where(eq(meta.key, EPOCH)).get()
  if (!row) throw new Error('stream epoch missing after insert')
  return row.value.toString(36)
}

/**
 * The table's position (`latestEventId`) and the epoch in one statement: what every API
 * process checks every `EVENTS_CHECK_MS`.
 */
const position = (db: SqliteDb) => {
  const row = positionStatement(db).get()
  if (!row || row.epoch === null) return { id: row?.id ?? 0, epoch: streamEpoch(db) }
  return { id: row.id, epoch: row.epoch.toString(36) }
}

const positionStatements = new WeakMap<SqliteDb, Database.Statement<[], { id: number; epoch: number | null }>>()
const positionStatement = (db: SqliteDb) => {
  let statement = positionStatements.get(db)
  if (!statement) {
    statement = db.$client.prepare(
      `select coalesce((select seq from sqlite_sequence where name = 'events'), 0) as id,
              (select value from meta where key = '${EPOCH}') as epoch`,
    )
    positionStatements.set(db, statement)
  }
  return statement
}

const newStreamEpoch = (db: SqliteDb) => {
  db.insert(meta)
    .values({ key: EPOCH, value: randomInt(1, 2 ** 48 - 1) })
    .onConflictDoUpdate({ target: meta.key, set: { value: randomInt(1, 2 ** 48 - 1) } })
    .run()
  return streamEpoch(db)
}

/**
 * Every data function of the SQLite backend, taking the connection first. The Store type is
 * derived from this list: the PostgreSQL backend implements the same signatures, async.
 */
export const SQLITE_FUNCTIONS = {
  // users and sessions
  getUser,
  createUser,
  setPermissions,
  listUsers,
  countUsers,
  findLoginByEmail,
  createSession,
  findSession,
  revokeSession,
  deleteExpiredSessions,
  listTransactions,
  snapshot,
  // hibernations
  startHibernation,
  cancelHibernation,
  completeHibernation,
  completeHibernations,
  listScheduledHibernations,
  scheduledAmong,
  // events
  readEvents,
  readEventsJson,
  countEvents,
  latestEventId,
  eventsPrunedThrough,
  markEvents,
  eventCutAt,
  pruneEventsBatch,
  trimEventMarks,
  pruneEvents,
  streamEpoch,
  newStreamEpoch,
  position,
  // login limits
  findLoginFailures,
  reserveLoginAttempt,
  keepLoginAttempt,
  releaseLoginAttempt,
  forgiveLoginFailures,
  pruneLoginFailures,
  // webhooks
  createWebhookEndpoint,
  listWebhookEndpoints,
  getWebhookEndpoint,
  deleteWebhookEndpoint,
  rotateWebhookSecret,
  disableWebhookEndpoint,
  dispatchWebhookEvents,
  deliveryForAttempt,
  recordAttempt,
  redeliver,
  listWebhookDeliveries,
  listPendingDeliveries,
  pendingAmong,
  webhookDeliveryStats,
  // deployment and leases
  deploymentId,
  takeLease,
  ping,
}

export const openSqliteStore = (path: string): Store & { sqlite: SqliteDb } => {
  const db = openSqlite(path)
  const store = Object.fromEntries(
    Object.entries(SQLITE_FUNCTIONS).map(([name, fn]) => [
      name,
      // biome-ignore lint/suspicious/noExplicitAny: each entry keeps its own signature through the Store type
      async (...args: unknown[]) => (fn as (db: SqliteDb, ...args: any[]) => unknown)(db, ...args),
    ]),
  ) as unknown as Omit<Store, 'dialect' | 'close'>
  return {
    ...store,
    dialect: 'sqlite',
    sqlite: db,
    close: async () => {
      closeSqlite(db)
    },
  }
}
