import { closeDb, eventsPrunedThrough, openDb, pruneEvents, readEvents, setPermissions } from '@dormant/db'
import { databaseEnv, type SseFrame, type SseRecorder, streamPosition } from '@dormant/testing'
import { describe, expect } from 'vitest'
import { startTestApi, type TestApi, test } from '../testing.js'

type Snapshot = { user: { id: string }; reset?: boolean }

const idsOf = async (api: TestApi, userId: string, after = 0) =>
  (await readEvents(api.deps.db, after, { userId })).map((e) => e.id)

/** Ids of the stream's events after its snapshot. */
const streamIds = (stream: SseRecorder) =>
  stream
    .events()
    .filter((f) => f.id !== undefined && f.event !== 'snapshot')
    .map((f) => streamPosition(f.id))

const snapshotOf = (stream: SseRecorder) => stream.events('snapshot')[0] as SseFrame

describe('replay with Last-Event-ID', () => {
  test('exactly the user’s events after N, in order, then live ones; by header and by ?lastEventId=', async ({
    api,
  }) => {
    const [a, b] = [await api.newUser(), await api.newUser()]
    await api.grant(a.id, ['reports.view'])
    await api.grant(b.id, ['reports.view'])
    await api.grant(a.id, ['reports.export'])
    await api.grant(a.id, ['billing.manage'])
    await api.grant(b.id, ['billing.manage'])
    await api.grant(a.id, [])
    const all = await idsOf(api, a.id)
    const n = all[1] as number
    const expected = all.filter((id) => id > n)
    expect(expected).toHaveLength(3)

    for (const stream of [
      api.stream(a.cookie, { lastEventId: n }),
      api.stream(a.cookie, { query: `?lastEventId=${n}` }),
    ]) {
      await stream.until(() => streamIds(stream).length >= 3)
      const snapshot = snapshotOf(stream)
      expect(snapshot.id).toBeUndefined()
      expect((snapshot.data as Snapshot).reset).toBeUndefined()
      expect((snapshot.data as Snapshot).user.id).toBe(a.id)
      expect(stream.events().findIndex((f) => f.event === 'snapshot')).toBeLessThan(
        stream
          .events()
          .findIndex((f) => f.id !== undefined && f.event !== 'snapshot' && streamPosition(f.id) === expected[0]),
      )
      expect(streamIds(stream)).toEqual(expected)
      expect(stream.events('user.updated').every((f) => (f.data as Snapshot).user.id === a.id)).toBe(true)
    }

    await api.grant(a.id, ['hibernation.self'])
    await api.grant(b.id, [])
    const after = await idsOf(api, a.id, n)
    for (const stream of [api.stream(a.cookie, { lastEventId: n })]) {
      await stream.until(() => streamIds(stream).length >= after.length)
      expect(streamIds(stream)).toEqual(after)
    }
  })

  test('Last-Event-ID of the newest event replays nothing and goes live', async ({ api }) => {
    const user = await api.newUser()
    await api.grant(user.id, ['reports.view'])
    const last = (await idsOf(api, user.id)).at(-1) as number
    const stream = api.stream(user.cookie, { lastEventId: last })
    await stream.untilEvents(1, 'snapshot')
    await api.grant(user.id, ['reports.export'])
    await stream.untilEvents(1, 'user.updated')
    expect(streamIds(stream)).toEqual(await idsOf(api, user.id, last))
    expect((snapshotOf(stream).data as Snapshot).reset).toBeUndefined()
  })

  test('events committed by another process while streams replay are neither lost nor doubled', async ({ api }) => {
    const writer = await startTestApi({ ...databaseEnv(api.database), REDIS_PREFIX: api.deps.config.REDIS_PREFIX })
    try {
      const user = await api.newUser()
      for (let i = 0; i < 20; i++) await api.grant(user.id, i % 2 ? ['reports.view'] : [])
      const n = (await idsOf(api, user.id))[5] as number
      const cookie = await writer.adminCookie()
      const writes = (async () => {
        for (let i = 0; i < 40; i++) {
          const res = await writer.call(`/api/users/${user.id}/permissions`, {
            method: 'PUT',
            cookie,
            json: { permissions: i % 2 ? ['billing.manage'] : ['reports.export'] },
          })
          expect(res.status).toBe(200)
        }
      })()
      const streams: SseRecorder[] = []
      for (let i = 0; i < 8; i++) {
        streams.push(api.stream(user.cookie, { lastEventId: n }))
        await streams.at(-1)?.untilEvents(1, 'snapshot')
      }
      await writes
      const expected = await idsOf(api, user.id, n)
      expect(expected.length).toBe(15 + 40)
      for (const stream of streams) {
        await stream.until(() => streamIds(stream).length >= expected.length)
        expect(streamIds(stream)).toEqual(expected)
      }
    } finally {
      await writer.stop()
    }
  })
  test('a client ahead of this process (it saw newer events elsewhere) is not sent them again', async ({ api }) => {
    const user = await api.newUser()
    const elsewhere = await openDb(api.database)
    try {
      // Committed by another process whose publishes this one has not seen yet.
      await setPermissions(elsewhere, user.id, ['reports.view'])
      await setPermissions(elsewhere, user.id, ['reports.export'])
    } finally {
      await closeDb(elsewhere)
    }
    const seen = (await idsOf(api, user.id)).at(-1) as number
    expect(api.deps.hub.lastId).toBeLessThan(seen)
    const stream = api.stream(user.cookie, { lastEventId: seen })
    await stream.untilEvents(1, 'snapshot')
    expect((snapshotOf(stream).data as Snapshot).reset).toBeUndefined()
    await api.grant(user.id, ['billing.manage'])
    await stream.untilEvents(1, 'user.updated')
    expect(streamIds(stream)).toEqual(await idsOf(api, user.id, seen))
    expect(streamIds(stream)).toHaveLength(1)
  })
})

describe('replay beyond retention', () => {
  test('a Last-Event-ID older than the retained range gets a reset snapshot, never a partial replay', async ({
    api,
  }) => {
    const user = await api.newUser()
    await api.grant(user.id, ['reports.view'])
    await api.grant(user.id, ['reports.export'])
    const [first] = await idsOf(api, user.id)
    expect(await pruneEvents(api.deps.db, Date.now() + 1)).toBeGreaterThan(0)
    await api.grant(user.id, ['billing.manage'])
    const retained = await idsOf(api, user.id)
    expect(retained).toHaveLength(1)

    const stale = api.stream(user.cookie, { lastEventId: first as number })
    await stale.untilEvents(1, 'snapshot')
    const reset = snapshotOf(stale)
    expect((reset.data as Snapshot).reset).toBe(true)
    expect((reset.data as Snapshot & { user: { permissions: string[] } }).user.permissions).toEqual(['billing.manage'])
    expect(streamPosition(reset.id)).toBeGreaterThanOrEqual(retained[0] as number)
    await api.grant(user.id, [])
    await stale.untilEvents(1, 'user.updated')
    expect(streamIds(stale)).toEqual((await idsOf(api, user.id)).filter((id) => id > streamPosition(reset.id)))

    // From exactly the pruned boundary on, everything is still there: a normal replay.
    const boundary = api.stream(user.cookie, { lastEventId: await eventsPrunedThrough(api.deps.db) })
    await boundary.until(() => streamIds(boundary).length >= 2)
    expect((snapshotOf(boundary).data as Snapshot).reset).toBeUndefined()
    expect(streamIds(boundary)).toEqual(await idsOf(api, user.id))
  })

  test('a Last-Event-ID from the future (another database) gets a reset snapshot', async ({ api }) => {
    const user = await api.newUser()
    const stream = api.stream(user.cookie, { lastEventId: 1_000_000 })
    await stream.untilEvents(1, 'snapshot')
    expect((snapshotOf(stream).data as Snapshot).reset).toBe(true)
    await api.grant(user.id, ['reports.view'])
    await stream.untilEvents(1, 'user.updated')
  })
})
