import { newWebhookSecret } from '@dormant/core'
import {
  closeDb,
  createUser,
  createWebhookEndpoint,
  dispatchWebhookEvents,
  listWebhookDeliveries,
  openDb,
} from '@dormant/db'
import { startReceiver, waitFor } from '@dormant/testing'
import { afterAll, expect, inject, test } from 'vitest'
import { dbOf, killHard, spawnWorker, systemEnv } from './support.js'

const procs: { signal(s: NodeJS.Signals): Promise<unknown> }[] = []
afterAll(async () => {
  await Promise.all(procs.map((p) => p.signal('SIGTERM')))
})

test('worker kill -9 mid-delivery, then a restart: the delivery arrives once, with the same webhook-id', async () => {
  const env = await systemEnv(inject('redisUrl'), {
    JOB_LOCK_MS: '1000',
    WEBHOOK_ALLOW_PRIVATE: 'true',
    WEBHOOK_DISPATCH_INTERVAL_MS: '200',
    // Long enough that the held request is still open when the worker dies.
    WEBHOOK_TIMEOUT_MS: '60000',
  })
  const secret = newWebhookSecret()
  const receiver = await startReceiver([secret])
  receiver.state.hold = true
  const db = await openDb(dbOf(env))
  try {
    await dispatchWebhookEvents(db)
    const endpoint = await createWebhookEndpoint(db, { url: receiver.url, events: ['user.updated'], secret })
    const first = await spawnWorker(env)
    procs.push(first)
    const created = await createUser(db, { email: 'kill@example.com', passwordHash: 'x', permissions: [] })
    if ('error' in created) throw new Error(created.error)

    await waitFor(() => receiver.state.seen.length === 1, { what: 'the first request', timeoutMs: 15_000 })
    const webhookId = receiver.state.seen[0]!.id
    await killHard(first)
    receiver.state.hold = false

    const second = await spawnWorker(env)
    procs.push(second)
    await waitFor(
      async () => (await listWebhookDeliveries(db, endpoint.id, 10)).deliveries[0]?.status === 'delivered',
      {
        what: 'delivered after the restart',
        timeoutMs: 30_000,
      },
    )
    expect(receiver.state.received.map((r) => r.id)).toEqual([webhookId])
    expect(receiver.state.received[0]?.body).toMatchObject({ type: 'user.updated', id: created.events[0]!.id })
  } finally {
    await closeDb(db)
    await receiver.stop()
  }
})
