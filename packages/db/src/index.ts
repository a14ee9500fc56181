import { openPostgresStore } from './postgres/store.js'
import { openSqliteStore } from './sqlite/store.js'
import type { Store } from './store.js'
import { databaseUnavailable } from './unavailable.js'

export {
  ACTIVATION_EFFECTS,
  type ActivationEffect,
  type PostgresActivationContext,
  type SqliteActivationContext,
} from './activation.js'
export { newId } from './ids.js'
export { PRUNE_BATCH } from './sqlite/events.js'
export type { CompletionOutcome } from './sqlite/hibernations.js'
export type { LoginLimit } from './sqlite/login-failures.js'
export type { Change, NewUser } from './sqlite/users.js'
export { normalizeEmail } from './sqlite/users.js'
export type { AttemptOutcome, WebhookEndpointJson } from './sqlite/webhooks.js'
export { activeSecrets, deliveryJson } from './sqlite/webhooks.js'
export type { Store } from './store.js'
export { databaseRejectedValue, databaseUnavailable } from './unavailable.js'

/** An open database: either backend, behind the same functions. */
export type Db = Store

/** `DATABASE_URL` (postgres://…) selects PostgreSQL; anything else is a SQLite file path. */
export const isPostgresUrl = (location: string) => /^postgres(ql)?:\/\//.test(location)

/**
 * Opens and migrates the database at `location`: a `postgres://` URL, or the path of a
 * SQLite file (created with its folder if needed; `:memory:` for a private one).
 */
export const openDb = async (location: string, options: OpenOptions = {}): Promise<Db> => {
  const until = Date.now() + (options.waitMs ?? 0)
  for (;;) {
    try {
      return isPostgresUrl(location) ? await openPostgresStore(location) : await openSqliteStore(location)
    } catch (err) {
      // A SQLite file that cannot be opened is a setting to fix, not a server to wait for.
      if (!isPostgresUrl(location) || !databaseUnavailable(err) || Date.now() >= until) throw err
      options.onWait?.(err)
      await new Promise((resolve) => setTimeout(resolve, OPEN_RETRY_MS))
    }
  }
}

export type OpenOptions = {
  /**
   * How long to keep trying while PostgreSQL cannot serve yet (restarting, refusing
   * connections, a connection ended mid-migration); 0 (the default) tries once. Other errors
   * (a wrong password, a missing database) and SQLite's are thrown at once.
   */
  waitMs?: number
  /** Told of each failed try before the next. */
  onWait?: (err: unknown) => void
}

const OPEN_RETRY_MS = 500

/** How long the API and the worker wait, starting, for a database that cannot serve yet. */
export const DB_START_WAIT_MS = 30_000

export const closeDb = (db: Db) => db.close()

// The data functions, called as `startHibernation(db, userId, ms)`: each hands over to the
// backend the database was opened with.
export const getUser = (db: Db, ...args: Parameters<Store['getUser']>) => db.getUser(...args)
export const createUser = (db: Db, ...args: Parameters<Store['createUser']>) => db.createUser(...args)
export const setPermissions = (db: Db, ...args: Parameters<Store['setPermissions']>) => db.setPermissions(...args)
export const listUsers = (db: Db, ...args: Parameters<Store['listUsers']>) => db.listUsers(...args)
export const countUsers = (db: Db, ...args: Parameters<Store['countUsers']>) => db.countUsers(...args)
export const findLoginByEmail = (db: Db, ...args: Parameters<Store['findLoginByEmail']>) => db.findLoginByEmail(...args)
export const createSession = (db: Db, ...args: Parameters<Store['createSession']>) => db.createSession(...args)
export const findSession = (db: Db, ...args: Parameters<Store['findSession']>) => db.findSession(...args)
export const revokeSession = (db: Db, ...args: Parameters<Store['revokeSession']>) => db.revokeSession(...args)
export const deleteExpiredSessions = (db: Db, ...args: Parameters<Store['deleteExpiredSessions']>) =>
  db.deleteExpiredSessions(...args)
export const listTransactions = (db: Db, ...args: Parameters<Store['listTransactions']>) => db.listTransactions(...args)
export const snapshot = (db: Db, ...args: Parameters<Store['snapshot']>) => db.snapshot(...args)
export const startHibernation = (db: Db, ...args: Parameters<Store['startHibernation']>) => db.startHibernation(...args)
export const cancelHibernation = (db: Db, ...args: Parameters<Store['cancelHibernation']>) =>
  db.cancelHibernation(...args)
export const completeHibernation = (db: Db, ...args: Parameters<Store['completeHibernation']>) =>
  db.completeHibernation(...args)
export const completeHibernations = (db: Db, ...args: Parameters<Store['completeHibernations']>) =>
  db.completeHibernations(...args)
export const listScheduledHibernations = (db: Db, ...args: Parameters<Store['listScheduledHibernations']>) =>
  db.listScheduledHibernations(...args)
export const scheduledAmong = (db: Db, ...args: Parameters<Store['scheduledAmong']>) => db.scheduledAmong(...args)
export const readEvents = (db: Db, ...args: Parameters<Store['readEvents']>) => db.readEvents(...args)
export const readEventsJson = (db: Db, ...args: Parameters<Store['readEventsJson']>) => db.readEventsJson(...args)
export const countEvents = (db: Db, ...args: Parameters<Store['countEvents']>) => db.countEvents(...args)
export const latestEventId = (db: Db, ...args: Parameters<Store['latestEventId']>) => db.latestEventId(...args)
export const eventsPrunedThrough = (db: Db, ...args: Parameters<Store['eventsPrunedThrough']>) =>
  db.eventsPrunedThrough(...args)
export const markEvents = (db: Db, ...args: Parameters<Store['markEvents']>) => db.markEvents(...args)
export const eventCutAt = (db: Db, ...args: Parameters<Store['eventCutAt']>) => db.eventCutAt(...args)
export const pruneEventsBatch = (db: Db, ...args: Parameters<Store['pruneEventsBatch']>) => db.pruneEventsBatch(...args)
export const trimEventMarks = (db: Db, ...args: Parameters<Store['trimEventMarks']>) => db.trimEventMarks(...args)
export const pruneEvents = (db: Db, ...args: Parameters<Store['pruneEvents']>) => db.pruneEvents(...args)
export const streamEpoch = (db: Db, ...args: Parameters<Store['streamEpoch']>) => db.streamEpoch(...args)
export const newStreamEpoch = (db: Db, ...args: Parameters<Store['newStreamEpoch']>) => db.newStreamEpoch(...args)
export const position = (db: Db, ...args: Parameters<Store['position']>) => db.position(...args)
export const findLoginFailures = (db: Db, ...args: Parameters<Store['findLoginFailures']>) =>
  db.findLoginFailures(...args)
export const reserveLoginAttempt = (db: Db, ...args: Parameters<Store['reserveLoginAttempt']>) =>
  db.reserveLoginAttempt(...args)
export const keepLoginAttempt = (db: Db, ...args: Parameters<Store['keepLoginAttempt']>) => db.keepLoginAttempt(...args)
export const releaseLoginAttempt = (db: Db, ...args: Parameters<Store['releaseLoginAttempt']>) =>
  db.releaseLoginAttempt(...args)
export const forgiveLoginFailures = (db: Db, ...args: Parameters<Store['forgiveLoginFailures']>) =>
  db.forgiveLoginFailures(...args)
export const pruneLoginFailures = (db: Db, ...args: Parameters<Store['pruneLoginFailures']>) =>
  db.pruneLoginFailures(...args)
export const createWebhookEndpoint = (db: Db, ...args: Parameters<Store['createWebhookEndpoint']>) =>
  db.createWebhookEndpoint(...args)
export const listWebhookEndpoints = (db: Db, ...args: Parameters<Store['listWebhookEndpoints']>) =>
  db.listWebhookEndpoints(...args)
export const getWebhookEndpoint = (db: Db, ...args: Parameters<Store['getWebhookEndpoint']>) =>
  db.getWebhookEndpoint(...args)
export const deleteWebhookEndpoint = (db: Db, ...args: Parameters<Store['deleteWebhookEndpoint']>) =>
  db.deleteWebhookEndpoint(...args)
export const rotateWebhookSecret = (db: Db, ...args: Parameters<Store['rotateWebhookSecret']>) =>
  db.rotateWebhookSecret(...args)
export const disableWebhookEndpoint = (db: Db, ...args: Parameters<Store['disableWebhookEndpoint']>) =>
  db.disableWebhookEndpoint(...args)
export const dispatchWebhookEvents = (db: Db, ...args: Parameters<Store['dispatchWebhookEvents']>) =>
  db.dispatchWebhookEvents(...args)
export const deliveryForAttempt = (db: Db, ...args: Parameters<Store['deliveryForAttempt']>) =>
  db.deliveryForAttempt(...args)
export const recordAttempt = (db: Db, ...args: Parameters<Store['recordAttempt']>) => db.recordAttempt(...args)
export const redeliver = (db: Db, ...args: Parameters<Store['redeliver']>) => db.redeliver(...args)
export const listWebhookDeliveries = (db: Db, ...args: Parameters<Store['listWebhookDeliveries']>) =>
  db.listWebhookDeliveries(...args)
export const listPendingDeliveries = (db: Db, ...args: Parameters<Store['listPendingDeliveries']>) =>
  db.listPendingDeliveries(...args)
export const pendingAmong = (db: Db, ...args: Parameters<Store['pendingAmong']>) => db.pendingAmong(...args)
export const webhookDeliveryStats = (db: Db, ...args: Parameters<Store['webhookDeliveryStats']>) =>
  db.webhookDeliveryStats(...args)
export const deploymentId = (db: Db, ...args: Parameters<Store['deploymentId']>) => db.deploymentId(...args)
export const takeLease = (db: Db, ...args: Parameters<Store['takeLease']>) => db.takeLease(...args)
export const ping = (db: Db, ...args: Parameters<Store['ping']>) => db.ping(...args)
