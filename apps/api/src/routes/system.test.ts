import { networkInterfaces } from 'node:os'
import { closeDb } from '@dormant/db'
import { startRedisServer, waitFor } from '@dormant/testing'
import { describe, expect } from 'vitest'
import { startTestApi, test } from '../testing.js'

describe('GET /healthz', () => {
  test('200 when Redis and the DB answer, 503 naming Redis while it is down, 200 once it is back', async () => {
    const redis = await startRedisServer()
    const api = await startTestApi({ REDIS_URL: redis.url })
    try {
      const up = await api.call('/healthz')
      expect(up.status).toBe(200)
      expect(await up.json()).toEqual({ ok: true, redis: 'up', db: 'up' })

      await redis.kill()
      const down = await api.call('/healthz')
      expect(down.status).toBe(503)
      expect(await down.json()).toEqual({ ok: false, redis: 'down', db: 'up' })

      await redis.start()
      await waitFor(async () => (await api.call('/healthz')).status === 200, { what: 'healthz back to 200' })
    } finally {
      await api.stop()
      await redis.destroy()
    }
  })
})

describe('GET /healthz without the database', () => {
  test('503 naming the DB when it cannot be queried', async ({ api }) => {
    await closeDb(api.deps.db)
    const res = await api.call('/healthz')
    expect(res.status).toBe(503)
    expect(await res.json()).toEqual({ ok: false, redis: 'up', db: 'down' })
  })

  test('other routes answer 503 unavailable, not 500, while the DB cannot be reached', async ({ api }) => {
    const user = await api.newUser()
    await closeDb(api.deps.db)
    for (const [path, method] of [
      ['/api/me', 'GET'],
      ['/api/auth/login', 'POST'],
    ] as const) {
      const res = await api.call(path, {
        method,
        cookie: user.cookie,
        ...(method === 'POST' ? { json: { email: user.email, password: 'user-password' } } : {}),
      })
      expect(res.status, path).toBe(503)
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unavailable')
    }
  })
})

describe('GET /metrics', () => {
  test('Prometheus text to this host, counting open streams, delivered events and requests', async ({ api }) => {
    const user = await api.newUser()
    const stream = api.stream(user.cookie)
    await stream.untilEvents(1, 'snapshot')
    await api.call(`/api/users/${user.id}/permissions`, {
      method: 'PUT',
      cookie: await api.adminCookie(),
      json: { permissions: ['reports.view'] },
    })
    await stream.untilEvents(1, 'user.updated')

    const res = await api.call('/metrics')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
    const text = await res.text()
    expect(text).toContain('# TYPE dormant_sse_connections gauge')
    expect(text).toMatch(/^dormant_sse_connections\{scope="user"\} 1$/m)
    expect(text).toMatch(/^dormant_sse_events_delivered_total [1-9]\d*$/m)
    expect(text).toMatch(/^dormant_http_request_duration_seconds_count\{[^}]*route="\/api\/users\/:id\/permissions"/m)
    expect(text).toContain('process_cpu_seconds_total')

    stream.close()
    await waitFor(
      async () => /^dormant_sse_connections\{scope="user"\} 0$/m.test(await (await api.call('/metrics')).text()),
      {
        what: 'the gauge to drop when the stream closes',
      },
    )
  })

  const external = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && !i.internal && i.family === 'IPv4')?.address

  test.skipIf(!external)('403 to a client that is not on this host', async () => {
    const api = await startTestApi({ HOST: '0.0.0.0' })
    try {
      const res = await fetch(`http://${external}:${api.port}/metrics`)
      expect(res.status).toBe(403)
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('forbidden')
      expect((await fetch(`http://127.0.0.1:${api.port}/metrics`)).status).toBe(200)
    } finally {
      await api.stop()
    }
  })
})
