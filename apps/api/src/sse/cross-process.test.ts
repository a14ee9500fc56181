import { closeDb, openDb, readEvents, setPermissions } from '@dormant/db'
import { databaseEnv, startRedisServer, streamPosition } from '@dormant/testing'
import { describe, expect } from 'vitest'
import { startTestApi, type TestApi, test } from '../testing.js'

/** A second API process on the same database and Redis prefix. */
const sibling = (api: TestApi, env: Record<string, string> = {}) =>
  startTestApi({ ...databaseEnv(api.database), REDIS_PREFIX: api.deps.config.REDIS_PREFIX, ...env })

describe('two API processes', () => {
  test('a change made through one reaches a stream held by the other, once', async ({ api }) => {
    const other = await sibling(api)
    try {
      const user = await api.newUser()
      const stream = other.stream(user.cookie)
      await stream.untilEvents(1, 'snapshot')
      await api.grant(user.id, ['reports.view'])
      await other.grant(user.id, ['reports.export'])
      await api.grant(user.id, ['billing.manage'])
      await stream.untilEvents(3, 'user.updated')
      const expected = await readEvents(api.deps.db, streamPosition(stream.events('snapshot')[0]?.id), {
        userId: user.id,
      })
      expect(stream.events('user.updated').map((f) => streamPosition(f.id))).toEqual(expected.map((e) => e.id))
    } finally {
      await other.stop()
    }
  })

  test("logout through one process ends that session's streams on the other", async ({ api }) => {
    const other = await sibling(api)
    try {
      const user = await api.newUser()
      const second = await api.login(user.email, 'user-password')
      const [doomed, kept] = [other.stream(user.cookie), other.stream(second)]
      await Promise.all([doomed.untilEvents(1, 'snapshot'), kept.untilEvents(1, 'snapshot')])
      expect((await api.call('/api/auth/logout', { method: 'POST', cookie: user.cookie })).status).toBe(204)
      await doomed.closedByServer()
      await api.grant(user.id, ['reports.view'])
      await kept.untilEvents(1, 'user.updated')
      expect(kept.ended).toBe(false)
    } finally {
      await other.stop()
    }
  })
})

describe('Redis outage', () => {
  test('changes committed while Redis is down reach an open stream on another process once it is back', async () => {
    const redis = await startRedisServer()
    const api = await startTestApi({ REDIS_URL: redis.url })
    const other = await sibling(api, { REDIS_URL: redis.url })
    const worker = await openDb(api.database)
    try {
      const user = await api.newUser()
      const stream = other.stream(user.cookie)
      await stream.untilEvents(1, 'snapshot')

      await redis.kill()
      // The API keeps working without Redis: the commit is the promise.
      await api.grant(user.id, ['reports.view'])
      expect(await setPermissions(worker, user.id, ['billing.manage'])).not.toBeNull()
      await redis.start()

      await stream.untilEvents(2, 'user.updated', 15_000)
      const expected = await readEvents(api.deps.db, streamPosition(stream.events('snapshot')[0]?.id), {
        userId: user.id,
      })
      expect(stream.events('user.updated').map((f) => streamPosition(f.id))).toEqual(expected.map((e) => e.id))
      expect(stream.ended).toBe(false)
    } finally {
      await closeDb(worker)
      await other.stop()
      await api.stop()
      await redis.destroy()
    }
  })
})

describe('a publish that never happens', () => {
  test('a commit nobody publishes (another handle on the database, as a dead process) reaches an open stream within 5 s, Redis up all along', async ({
    api,
  }) => {
    const writer = await openDb(api.database)
    try {
      const user = await api.newUser()
      const stream = api.stream(user.cookie)
      await stream.untilEvents(1, 'snapshot')
      // A process that committed and died before publishing: the row is all there is.
      const committedAt = Date.now()
      expect(await setPermissions(writer, user.id, ['billing.manage'])).not.toBeNull()
      await stream.untilEvents(1, 'user.updated', 5000)
      expect(Date.now() - committedAt).toBeLessThan(5000)
      expect(stream.events('user.updated')[0]?.data).toMatchObject({ user: { permissions: ['billing.manage'] } })
    } finally {
      await closeDb(writer)
    }
  })
})
