import type { Store } from '../store.js'
import { closePostgres, openPostgres, type PgDb } from './client.js'
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
import {
  findLoginFailures,
  forgiveLoginFailures,
  keepLoginAttempt,
  pruneLoginFailures,
  releaseLoginAttempt,
  reserveLoginAttempt,
} from './login-failures.js'
import { deploymentId, newStreamEpoch, ping, position, streamEpoch, takeLease } from './meta.js'
import {
  countUsers,
  createSession,
  createUser,
  deleteExpiredSessions,
  findLoginByEmail,
  findSession,
  getUser,
  listTransactions,
  listUsers,
  revokeSession,
  setPermissions,
  snapshot,
} from './users.js'
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

/** Every data function of the PostgreSQL backend, taking the pool first: the same list as SQLITE_FUNCTIONS. */
export const POSTGRES_FUNCTIONS = {
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
  startHibernation,
  cancelHibernation,
  completeHibernation,
  completeHibernations,
  listScheduledHibernations,
  scheduledAmong,
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
  position,
  newStreamEpoch,
  findLoginFailures,
  reserveLoginAttempt,
  keepLoginAttempt,
  releaseLoginAttempt,
  forgiveLoginFailures,
  pruneLoginFailures,
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
  deploymentId,
  takeLease,
  ping,
}

type Functions = typeof POSTGRES_FUNCTIONS
type Bound = {
  [K in keyof Functions]: Functions[K] extends (db: PgDb, ...args: infer A) => infer R ? (...args: A) => R : never
}

/** Opens (and migrates) the database at `url`; the result is checked against Store as a whole. */
export const openPostgresStore = async (url: string): Promise<Store & { pg: PgDb }> => {
  const db = await openPostgres(url)
  const bound = Object.fromEntries(
    Object.entries(POSTGRES_FUNCTIONS).map(([name, fn]) => [
      name,
      (...args: unknown[]) => (fn as (db: PgDb, ...args: unknown[]) => unknown)(db, ...args),
    ]),
  ) as Bound
  const store: Store & { pg: PgDb } = { ...bound, dialect: 'postgres', pg: db, close: () => closePostgres(db) }
  return store
}
