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
