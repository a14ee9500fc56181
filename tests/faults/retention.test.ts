import { closeDb, eventsPrunedThrough, openDb } from '@dormant/db'
import type { AppProcess } from '@dormant/testing'
import { waitFor } from '@dormant/testing'
import { afterAll, expect, inject, test } from 'vitest'
import { committedEvents, dbOf, ids, report, spawnApi, spawnWorker, systemEnv } from './support.js'

const running: AppProcess[] = []
afterAll(async () => {
  await Promise.all(running.map((p) => p.signal('SIGTERM')))
})

const prunedThrough = async (location: string) => {
  const db = await openDb(location)
  try {
    return await eventsPrunedThrough(db)
  } finally {
    await closeDb(db)
  }
}

test('events past EVENTS_RETENTION_MS are pruned; a reconnect from before the window gets a reset snapshot', async () => {
  const env = await systemEnv(inject('redisUrl'), { EVENTS_RETENTION_MS: '1000' })
  const api = await spawnApi(env)
  running.push(api, await spawnWorker(env))
  const admin = await api.adminCookie()
  const user = await api.newUser()
  const set = async (permissions: string[]) => {
    const res = await api.call(`/api/users/${user.id}/permissions`, {
      method: 'PUT',
      cookie: admin,
      json: { permissions },
    })
    expect(res.status).toBe(200)
  }
  await set(['reports.view'])
  await set(['reports.export'])
  await set(['billing.manage'])
  const mine = (await committedEvents(dbOf(env))).byUser(user.id)
  const last = mine.at(-1) ?? 0
  const committedAt = Date.now()

  await waitFor(async () => (await prunedThrough(dbOf(env))) >= last, {
    what: 'pruning',
    timeoutMs: 10_000,
    intervalMs: 50,
  })
  report(`retention: events older than 1000 ms pruned ${Date.now() - committedAt} ms after commit`)
  expect((await committedEvents(dbOf(env))).byUser(user.id)).toEqual([])

  // From before the window: a reset snapshot with the current state, never a silent partial replay.
  const behind = api.stream(user.cookie, { lastEventId: mine[0] ?? 0 })
  await behind.untilEvents(1, 'snapshot')
  const snap = behind.events('snapshot')[0]?.data as { reset?: boolean; user: { permissions: string[] } }
  expect(snap.reset).toBe(true)
  expect(snap.user.permissions).toEqual(['billing.manage'])
  expect(ids(behind)).toEqual([])

  // Up to date with the last pruned id: nothing was missed, so no reset; live events follow.
  const current = api.stream(user.cookie, { lastEventId: last })
  await current.untilEvents(1, 'snapshot')
  expect(current.events('snapshot')[0]?.data).not.toHaveProperty('reset')
  await set(['reports.view'])
  await current.untilEvents(1, 'user.updated')
  await behind.untilEvents(1, 'user.updated')
  expect(ids(current)).toEqual(ids(behind))
  expect(ids(current)[0]).toBeGreaterThan(last)

  // A reconnect from an id that never existed here (a different deployment's) is a reset too.
  const future = api.stream(user.cookie, { lastEventId: 10 ** 12 })
  await future.untilEvents(1, 'snapshot')
  expect(future.events('snapshot')[0]?.data).toHaveProperty('reset', true)
})
