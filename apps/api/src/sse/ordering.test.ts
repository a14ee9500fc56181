import { type BusMessage, type DormantEvent, eventsChannel } from '@dormant/core'
import { closeDb, type Db, openDb, setPermissions } from '@dormant/db'
import { type SseRecorder, streamPosition } from '@dormant/testing'
import { Redis } from 'ioredis'
import { describe, expect, inject } from 'vitest'
import { type TestApi, test } from '../testing.js'

/**
 * Two other "processes" (their own DB handles, as the worker and another API have) commit
 * events; the test plays their Redis publishes in whatever order it likes.
 */
const setup = async (api: TestApi) => {
  const others = [await openDb(api.database), await openDb(api.database)] as const
  const redis = new Redis(inject('redisUrl'))
  const user = await api.newUser()
  const stream = api.stream(user.cookie)
  await stream.untilEvents(1, 'snapshot')
  const commit = async (db: Db, permissions: ('reports.view' | 'reports.export' | 'billing.manage')[]) => {
    const change = await setPermissions(db, user.id, permissions)
    if (!change) throw new Error('user vanished')
    return change.events
  }
  const publish = (message: BusMessage | string) =>
    redis.publish(
      eventsChannel(api.deps.config.REDIS_PREFIX),
      typeof message === 'string' ? message : JSON.stringify(message),
    )
  const close = async () => {
    for (const db of others) await closeDb(db)
    await redis.quit()
  }
  return { others, user, stream, commit, publish, close }
}

const ids = (events: DormantEvent[]) => events.map((e) => e.id)
const streamIds = (stream: SseRecorder) => stream.events('user.updated').map((f) => streamPosition(f.id))

/** A change made through the API itself: once it arrives, anything doubled earlier would show. */
const marker = async (api: TestApi, userId: string) => {
  const res = await api.call(`/api/users/${userId}/permissions`, {
    method: 'PUT',
    cookie: await api.adminCookie(),
    json: { permissions: ['hibernation.self'] },
  })
  expect(res.status).toBe(200)
}

describe('fan-out order across processes', () => {
  test('two events published in reverse order arrive both, in id order, once each', async ({ api }) => {
    const t = await setup(api)
    try {
      const first = await t.commit(t.others[0], ['reports.view'])
      const second = await t.commit(t.others[1], ['reports.export'])
      expect(ids(second)[0]).toBeGreaterThan(ids(first)[0] as number)
      await t.publish({ kind: 'events', events: second })
      await t.stream.untilEvents(2, 'user.updated')
      await t.publish({ kind: 'events', events: first })
      await marker(api, t.user.id)
      await t.stream.untilEvents(3, 'user.updated')
      expect(streamIds(t.stream)).toEqual([...ids(first), ...ids(second), api.deps.hub.lastId])
      expect(
        t.stream.events('user.updated').map((f) => (f.data as { user: { permissions: string[] } }).user.permissions),
      ).toEqual([['reports.view'], ['reports.export'], ['hibernation.self']])
    } finally {
      await t.close()
    }
  })

  test('an event committed but never published is delivered when a later publish reveals the gap', async ({ api }) => {
    const t = await setup(api)
    try {
      const lost = await t.commit(t.others[0], ['billing.manage'])
      const later = await t.commit(t.others[1], ['reports.view'])
      await t.publish({ kind: 'events', events: later })
      await t.stream.untilEvents(2, 'user.updated')
      await marker(api, t.user.id)
      await t.stream.untilEvents(3, 'user.updated')
      expect(streamIds(t.stream)).toEqual([...ids(lost), ...ids(later), api.deps.hub.lastId])
    } finally {
      await t.close()
    }
  })

  test('an `upTo` notice makes the hub read the committed range from the table', async ({ api }) => {
    const t = await setup(api)
    try {
      const a = await t.commit(t.others[0], ['billing.manage'])
      const b = await t.commit(t.others[0], ['reports.export'])
      await t.publish({ kind: 'upTo', id: ids(b)[0] as number })
      await t.stream.untilEvents(2, 'user.updated')
      expect(streamIds(t.stream)).toEqual([...ids(a), ...ids(b)])
    } finally {
      await t.close()
    }
  })

  test('a malformed bus message is ignored and the subscription keeps working', async ({ api }) => {
    const t = await setup(api)
    try {
      await t.publish('{not json')
      await t.publish(JSON.stringify({ kind: 'unknown' }))
      const next = await t.commit(t.others[0], ['reports.view'])
      await t.publish({ kind: 'events', events: next })
      await t.stream.untilEvents(1, 'user.updated')
      expect(streamIds(t.stream)).toEqual(ids(next))
    } finally {
      await t.close()
    }
  })

  test('a fresh stream opened while the hub is behind the table never goes back in versions after its snapshot', async ({
    api,
  }) => {
    const t = await setup(api)
    try {
      // Committed by "other processes" whose publishes have not arrived: the table is ahead of the hub.
      await t.commit(t.others[0], ['reports.view'])
      await t.commit(t.others[1], ['reports.export'])
      const fresh = api.stream(t.user.cookie)
      await fresh.untilEvents(1, 'snapshot')
      const snapshot = fresh.events('snapshot')[0]!
      const version = (snapshot.data as { user: { version: number } }).user.version
      await marker(api, t.user.id)
      await fresh.untilEvents(1, 'user.updated')
      const versions = fresh.events('user.updated').map((f) => (f.data as { user: { version: number } }).user.version)
      // Found by the chaos campaign: the snapshot read the table's newest state while its id was
      // the hub's older position, so the catch-up then sent older versions after it.
      expect(versions).toEqual([version + 1])
      expect(streamPosition(snapshot.id)).toBe(api.deps.hub.lastId - 1)
    } finally {
      await t.close()
    }
  })
})
