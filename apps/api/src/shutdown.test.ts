import { request } from 'node:http'
import { startRedisServer } from '@dormant/testing'
import { describe, expect, test } from 'vitest'
import { startTestApi } from './testing.js'

describe('stop()', () => {
  test('completes while Redis is down, ending open streams', async () => {
    const redis = await startRedisServer()
    const api = await startTestApi({ REDIS_URL: redis.url })
    try {
      const user = await api.newUser()
      await api.call('/api/me/hibernation', { method: 'POST', cookie: user.cookie })
      const stream = api.stream(user.cookie)
      await stream.untilEvents(1, 'snapshot')
      await redis.kill()
      // A job enqueue and a publish are now waiting for Redis.
      await api.call('/api/me/hibernation', { method: 'DELETE', cookie: user.cookie })
      const started = Date.now()
      const stopped = await Promise.race([
        api.stop().then(() => 'stopped'),
        new Promise((resolve) => setTimeout(resolve, 8000, 'hung')),
      ])
      expect(stopped).toBe('stopped')
      expect(Date.now() - started).toBeLessThan(8000)
      await stream.closedByServer(1000)
    } finally {
      await redis.destroy()
    }
  })
})

/** One GET over plain node:http, so the test sees the Connection header fetch hides. */
const get = (url: string) =>
  new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
    request(url, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }))
    })
      .on('error', reject)
      .end()
  })

describe('stop() with SHUTDOWN_DRAIN_MS', () => {
  test('serves on for the drain with /healthz 503 and Connection: close, then ends streams and stops', async () => {
    const api = await startTestApi({ SHUTDOWN_DRAIN_MS: '1500' })
    try {
      expect(await get(`${api.url}/healthz`)).toEqual({ status: 200, connection: 'keep-alive' })
      const user = await api.newUser()
      const stream = api.stream(user.cookie)
      await stream.untilEvents(1, 'snapshot')

      const started = Date.now()
      const stopped = api.shutdown().then(() => Date.now() - started)
      const health = await api.call('/healthz')
      expect(health.status).toBe(503)
      expect(await health.json()).toEqual({ ok: false, draining: true })
      expect(await get(`${api.url}/api/docs`)).toEqual({ status: 200, connection: 'close' })
      // The stream is still open while the balancer takes the process out.
      await api.call(`/api/users/${user.id}/permissions`, {
        method: 'PUT',
        cookie: await api.adminCookie(),
        json: { permissions: ['reports.view'] },
      })
      await stream.untilEvents(1, 'user.updated')

      expect(await stopped).toBeGreaterThanOrEqual(1500)
      await stream.closedByServer(1000)
    } finally {
      await api.stop()
    }
  })
})
