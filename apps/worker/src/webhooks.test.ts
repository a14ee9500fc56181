import { connectRedis, enqueueDeliveries, newWebhookSecret } from '@dormant/core'
import {
  closeDb,
  createWebhookEndpoint,
  type Db,
  dispatchWebhookEvents,
  getWebhookEndpoint,
  listWebhookDeliveries,
  openDb,
  redeliver,
  rotateWebhookSecret,
} from '@dormant/db'
import { databaseEnv, startReceiver, startRedisServer, tempDatabase, uniquePrefix, waitFor } from '@dormant/testing'
import { expect } from 'vitest'
import { databaseLocation, loadWorkerConfig, type WorkerConfig } from './env.js'
import { silentLog, test } from './testing.js'
import { commitUserChange } from './webhook-test-support.js'
import { startWebhooks } from './webhooks.js'

const webhookConfig = (config: WorkerConfig): WorkerConfig => ({
  ...config,
  WEBHOOK_ALLOW_PRIVATE: true,
  WEBHOOK_DISPATCH_INTERVAL_MS: 200,
  WEBHOOK_TIMEOUT_MS: 2000,
})

const deliveriesOf = async (db: Db, endpointId: string) => (await listWebhookDeliveries(db, endpointId, 100)).deliveries

test('a receiver down, then up: the delivery arrives after retries, verified, once per webhook-id', async ({ env }) => {
  const secret = newWebhookSecret()
  const receiver = await startReceiver([secret])
  await receiver.stop()
  await dispatchWebhookEvents(env.db) // starts the cursor at the current end, as a first start would
  const endpoint = await createWebhookEndpoint(env.db, { url: receiver.url, events: ['user.updated'], secret })
  const webhooks = await startWebhooks(webhookConfig(env.config), { ...env, log: silentLog() })
  try {
    const event = await commitUserChange(env.db, env.redis, env.config.REDIS_PREFIX)
    await waitFor(async () => ((await deliveriesOf(env.db, endpoint.id))[0]?.attempts ?? 0) >= 2, {
      what: 'two failed attempts',
    })
    const failing = (await deliveriesOf(env.db, endpoint.id))[0]!
    expect(failing.status).toBe('pending')
    expect(failing.lastStatus).toBeNull()
    await receiver.restart()
    await waitFor(async () => (await deliveriesOf(env.db, endpoint.id))[0]?.status === 'delivered', {
      what: 'delivered',
      timeoutMs: 15_000,
    })
    const delivered = (await deliveriesOf(env.db, endpoint.id))[0]!
    expect(delivered.attempts).toBeGreaterThanOrEqual(3)
    expect(delivered.lastStatus).toBe(200)
    expect([...receiver.countById()]).toEqual([[delivered.id, 1]])
    expect(receiver.state.received[0]?.body).toMatchObject({ type: 'user.updated', id: event.id, data: event.data })
  } finally {
    await webhooks.stop()
    await receiver.stop()
  }
})

test('secret rotation: during the overlap either secret verifies; after it only the new one', async ({ env }) => {
  const oldSecret = newWebhookSecret()
  const newSecret = newWebhookSecret()
  const receiver = await startReceiver([oldSecret, newSecret])
  await dispatchWebhookEvents(env.db)
  const endpoint = await createWebhookEndpoint(env.db, {
    url: receiver.url,
    events: ['user.updated'],
    secret: oldSecret,
  })
  await rotateWebhookSecret(env.db, endpoint.id, newSecret, 24 * 3600_000)
  const webhooks = await startWebhooks(webhookConfig(env.config), { ...env, log: silentLog() })
  try {
    await commitUserChange(env.db, env.redis, env.config.REDIS_PREFIX)
    await waitFor(() => receiver.state.received.length === 1, { what: 'the first delivery' })
    expect(receiver.state.received[0]?.verifiedWith).toEqual([0, 1])

    // A rotation whose overlap has run out: only the newer secret signs.
    const [a, b] = [newWebhookSecret(), newWebhookSecret()]
    receiver.state.secrets.push(a, b)
    const later = await createWebhookEndpoint(env.db, { url: receiver.url, events: ['user.updated'], secret: a })
    await rotateWebhookSecret(env.db, later.id, b, 24 * 3600_000, Date.now() - 25 * 3600_000)
    await commitUserChange(env.db, env.redis, env.config.REDIS_PREFIX)
    await waitFor(() => receiver.state.received.length === 3, { what: 'the next deliveries' })
    const toLater = (await deliveriesOf(env.db, later.id))[0]!
    expect(receiver.state.received.find((r) => r.id === toLater.id)?.verifiedWith).toEqual([3])
  } finally {
    await webhooks.stop()
    await receiver.stop()
  }
})

test('an endpoint gets only the event types it subscribed to', async ({ env }) => {
  const secret = newWebhookSecret()
  const receiver = await startReceiver([secret])
  await dispatchWebhookEvents(env.db)
  const wanted = await createWebhookEndpoint(env.db, { url: receiver.url, events: ['user.updated'], secret })
  const other = await createWebhookEndpoint(env.db, { url: receiver.url, events: ['hibernation.completed'], secret })
  const webhooks = await startWebhooks(webhookConfig(env.config), { ...env, log: silentLog() })
  try {
    await commitUserChange(env.db, env.redis, env.config.REDIS_PREFIX)
    await waitFor(() => receiver.state.received.length === 1, { what: 'one delivery' })
    expect(await deliveriesOf(env.db, other.id)).toEqual([])
    expect(await deliveriesOf(env.db, wanted.id)).toHaveLength(1)
  } finally {
    await webhooks.stop()
    await receiver.stop()
  }
})

test('past the retry window a delivery fails and its endpoint is disabled; a redelivery keeps the webhook-id', async ({
  env,
}) => {
  const secret = newWebhookSecret()
  const receiver = await startReceiver([secret])
  receiver.state.status = 500
  await dispatchWebhookEvents(env.db)
  const endpoint = await createWebhookEndpoint(env.db, { url: receiver.url, events: ['user.updated'], secret })
  const config = { ...webhookConfig(env.config), WEBHOOK_RETRY_WINDOW_MS: 1000 }
  const webhooks = await startWebhooks(config, { ...env, log: silentLog() })
  try {
    await commitUserChange(env.db, env.redis, env.config.REDIS_PREFIX)
    await waitFor(async () => (await deliveriesOf(env.db, endpoint.id))[0]?.status === 'failed', { what: 'failed' })
    const failed = (await deliveriesOf(env.db, endpoint.id))[0]!
    expect(failed.lastStatus).toBe(500)
    expect(await getWebhookEndpoint(env.db, endpoint.id)).toMatchObject({
      enabled: false,
      disabledReason: expect.any(String),
    })

    receiver.state.status = 200
    const again = await redeliver(env.db, endpoint.id, failed.id)
    expect(again).not.toBeNull()
    await enqueueDeliveries(webhooks.queue, [{ id: failed.id, redeliveries: again!.redeliveries, nextAttemptAt: 0 }])
    await waitFor(async () => (await deliveriesOf(env.db, endpoint.id))[0]?.status === 'delivered', {
      what: 'redelivered',
    })
    expect((await getWebhookEndpoint(env.db, endpoint.id))?.enabled).toBe(true)
    expect([...receiver.countById()]).toEqual([[failed.id, 1]])
  } finally {
    await webhooks.stop()
    await receiver.stop()
  }
})

test('Redis FLUSHALL with a delivery pending: the reconciler re-creates its job and it arrives', async () => {
  const redisServer = await startRedisServer()
  const secret = newWebhookSecret()
  const receiver = await startReceiver([secret])
  await receiver.stop()
  const config = loadWorkerConfig({
    REDIS_URL: redisServer.url,
    REDIS_PREFIX: uniquePrefix(),
    ...databaseEnv(await tempDatabase()),
    WEBHOOK_ALLOW_PRIVATE: 'true',
    RECONCILE_INTERVAL_MS: '300',
  })
  const db = await openDb(databaseLocation(config))
  const redis = connectRedis(config.REDIS_URL)
  await dispatchWebhookEvents(db)
  const endpoint = await createWebhookEndpoint(db, { url: receiver.url, events: ['user.updated'], secret })
  const webhooks = await startWebhooks(config, { db, redis, log: silentLog() })
  try {
    await commitUserChange(db, redis, config.REDIS_PREFIX)
    await waitFor(async () => ((await deliveriesOf(db, endpoint.id))[0]?.attempts ?? 0) >= 1, {
      what: 'a failed attempt',
    })
    await redis.flushall()
    expect(await redis.dbsize()).toBe(0)
    await receiver.restart()
    await waitFor(async () => (await deliveriesOf(db, endpoint.id))[0]?.status === 'delivered', {
      what: 'delivered',
      timeoutMs: 15_000,
    })
    expect([...receiver.countById()]).toEqual([[(await deliveriesOf(db, endpoint.id))[0]!.id, 1]])
  } finally {
    await webhooks.stop()
    await receiver.stop()
    await redis.quit()
    await closeDb(db)
    await redisServer.destroy()
  }
})
