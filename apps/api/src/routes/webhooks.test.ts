import { createWebhookQueue, isRefusedAddress, webhookJobId } from '@dormant/core'
import { dispatchWebhookEvents, listWebhookDeliveries } from '@dormant/db'
import { queryDb, startReceiver } from '@dormant/testing'
import { Webhook } from 'standardwebhooks'
import { describe, expect } from 'vitest'
import { startTestApi, type TestApi, test } from '../testing.js'

type Endpoint = { id: string; url: string; events: string[]; enabled: boolean; createdAt: string }

const errorCode = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code

const endpointCount = async (api: TestApi, cookie: string) =>
  ((await (await api.call('/api/webhooks', { cookie })).json()) as { endpoints: Endpoint[] }).endpoints.length

/** One refused destination per class; each must be a 400 that writes nothing. */
const REFUSED_URLS = [
  'http://127.0.0.1/h',
  'http://[::1]/h',
  'http://10.0.0.8/h',
  'http://172.16.9.9/h',
  'http://192.168.0.2/h',
  'http://100.64.1.1/h',
  'http://169.254.169.254/latest/meta-data',
  'http://[fe80::1]/h',
  'http://[fd00:ec2::254]/h',
  'http://[::ffff:127.0.0.1]/h',
  'http://0.0.0.0/h',
  'http://localhost:3000/h',
]

describe('/api/webhooks', () => {
  test('add (secret shown once, in the Standard Webhooks format), list, rotate, delete', async ({ api }) => {
    const cookie = await api.adminCookie()
    const created = await api.call('/api/webhooks', {
      method: 'POST',
      cookie,
      json: { url: 'https://hooks.example.com/dormant', events: ['hibernation.completed', 'user.updated'] },
    })
    expect(created.status).toBe(201)
    const { endpoint, secret } = (await created.json()) as { endpoint: Endpoint; secret: string }
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/)
    expect(() => new Webhook(secret)).not.toThrow()
    expect(endpoint).toMatchObject({ url: 'https://hooks.example.com/dormant', enabled: true })

    const listed = await (await api.call('/api/webhooks', { cookie })).text()
    expect(listed).toContain(endpoint.id)
    expect(listed).not.toContain(secret.slice(6))

    const rotated = await api.call(`/api/webhooks/${endpoint.id}/secret`, { method: 'POST', cookie })
    expect(rotated.status).toBe(200)
    expect(((await rotated.json()) as { secret: string }).secret).not.toBe(secret)

    const page = await api.call(`/api/webhooks/${endpoint.id}/deliveries?limit=10`, { cookie })
    expect(await page.json()).toEqual({ deliveries: [], nextCursor: null })

    expect((await api.call(`/api/webhooks/${endpoint.id}`, { method: 'DELETE', cookie })).status).toBe(204)
    expect((await api.call(`/api/webhooks/${endpoint.id}`, { method: 'DELETE', cookie })).status).toBe(404)
    expect((await api.call(`/api/webhooks/${endpoint.id}/secret`, { method: 'POST', cookie })).status).toBe(404)
    expect((await api.call(`/api/webhooks/${endpoint.id}/deliveries`, { cookie })).status).toBe(404)
  })

  test('every refused destination class and bad input is a 400 that writes nothing', async ({ api }) => {
    const cookie = await api.adminCookie()
    const bodies: unknown[] = [
      ...REFUSED_URLS.map((url) => ({ url, events: ['user.updated'] })),
      { url: 'ftp://hooks.example.com/', events: ['user.updated'] },
      { url: 'not a url', events: ['user.updated'] },
      { url: 'https://hooks.example.com/', events: ['no.such.event'] },
      { url: 'https://hooks.example.com/', events: [] },
      { url: 'https://hooks.example.com/', events: ['user.updated'], extra: 1 },
      { url: 42, events: ['user.updated'] },
    ]
    for (const json of bodies) {
      const res = await api.call('/api/webhooks', { method: 'POST', cookie, json })
      expect(res.status, JSON.stringify(json)).toBe(400)
      expect(await errorCode(res)).toBe('validation_failed')
    }
    expect(await endpointCount(api, cookie)).toBe(0)
    for (const url of REFUSED_URLS) {
      const host = new URL(url).hostname.replace(/^\[(.*)\]$/, '$1')
      if (host !== 'localhost') expect(isRefusedAddress(host), url).toBe(true)
    }
  })

  test('bodies of the body-less POSTs: empty or {} accepted, anything else a 400 that changes nothing', async ({
    api,
  }) => {
    const cookie = await api.adminCookie()
    const created = await api.call('/api/webhooks', {
      method: 'POST',
      cookie,
      json: { url: 'https://hooks.example.com/a', events: ['user.updated'] },
    })
    const { endpoint } = (await created.json()) as { endpoint: Endpoint }
    const rotate = `/api/webhooks/${endpoint.id}/secret`
    const secrets = () => queryDb(api.database, 'select secrets from webhook_endpoints where id = ?', [endpoint.id])
    const before = await secrets()
    for (const body of ['{"extra":1}', '[', '"x"', '[]']) {
      const res = await api.call(rotate, {
        method: 'POST',
        cookie,
        body,
        headers: { 'content-type': 'application/json' },
      })
      expect(res.status, body).toBe(400)
    }
    const wrongType = await api.call(rotate, {
      method: 'POST',
      cookie,
      body: 'x',
      headers: { 'content-type': 'text/plain' },
    })
    expect(wrongType.status).toBe(415)
    expect(await secrets()).toEqual(before)
    expect((await api.call(rotate, { method: 'POST', cookie, json: {} })).status).toBe(200)
    expect((await api.call(`/api/webhooks/${endpoint.id}/deliveries?cursor=abc`, { cookie })).status).toBe(400)
    expect((await api.call(`/api/webhooks/${endpoint.id}/deliveries?limit=0`, { cookie })).status).toBe(400)
    expect(
      (await api.call(`/api/webhooks/${endpoint.id}/deliveries/whd_x/retry`, { method: 'POST', cookie })).status,
    ).toBe(404)
  })

  test('documented in /api/openapi.json', async ({ api }) => {
    const doc = (await (await api.call('/api/openapi.json')).json()) as { paths: Record<string, object> }
    const routes = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`))
    expect(routes).toEqual(
      expect.arrayContaining([
        'get /api/webhooks',
        'post /api/webhooks',
        'delete /api/webhooks/{id}',
        'post /api/webhooks/{id}/secret',
        'get /api/webhooks/{id}/deliveries',
        'post /api/webhooks/{id}/deliveries/{deliveryId}/retry',
      ]),
    )
  })

  test('admins only', async ({ api }) => {
    const user = await api.newUser()
    for (const [method, path] of [
      ['GET', '/api/webhooks'],
      ['POST', '/api/webhooks'],
      ['DELETE', '/api/webhooks/whe_x'],
      ['POST', '/api/webhooks/whe_x/secret'],
      ['GET', '/api/webhooks/whe_x/deliveries'],
      ['POST', '/api/webhooks/whe_x/deliveries/whd_x/retry'],
    ] as const) {
      expect((await api.call(path, { method })).status, `${method} ${path}`).toBe(401)
      expect((await api.call(path, { method, cookie: user.cookie })).status, `${method} ${path}`).toBe(403)
    }
  })
})

test('a redelivery is accepted (202) and shown live on the admin stream as webhook.delivery', async () => {
  const api = await startTestApi({ WEBHOOK_ALLOW_PRIVATE: 'true' })
  const receiver = await startReceiver([])
  try {
    const cookie = await api.adminCookie()
    const created = await api.call('/api/webhooks', {
      method: 'POST',
      cookie,
      json: { url: receiver.url, events: ['user.updated'] },
    })
    expect(created.status).toBe(201)
    const { endpoint } = (await created.json()) as { endpoint: Endpoint }
    await dispatchWebhookEvents(api.deps.db) // starts the cursor (no worker runs in this test)
    await api.newUser()
    const { created: rows } = await dispatchWebhookEvents(api.deps.db)
    expect(rows).toHaveLength(1)
    const delivery = rows[0]!

    const feed = api.stream(cookie, { admin: true })
    await feed.untilEvents(1, 'snapshot')
    const retried = await api.call(`/api/webhooks/${endpoint.id}/deliveries/${delivery.id}/retry`, {
      method: 'POST',
      cookie,
    })
    expect(retried.status).toBe(202)
    await feed.untilEvents(1, 'webhook.delivery')
    expect(feed.events('webhook.delivery')[0]?.data).toMatchObject({ id: delivery.id, status: 'pending' })
    const queue = createWebhookQueue(api.deps.redis, api.deps.config.REDIS_PREFIX)
    expect(await queue.getJob(webhookJobId(delivery.id, 1))).toBeTruthy()
    const log = (await listWebhookDeliveries(api.deps.db, endpoint.id, 10)).deliveries
    expect(log.map((d) => d.id)).toEqual([delivery.id])
    expect(
      (await api.call(`/api/webhooks/${endpoint.id}/deliveries/whd_nope/retry`, { method: 'POST', cookie })).status,
    ).toBe(404)
  } finally {
    await receiver.stop()
    await api.stop()
  }
})
