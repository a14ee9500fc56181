import { closeDb, openDb, setPermissions } from '@dormant/db'
import { type AppProcess, waitFor } from '@dormant/testing'
import { afterAll, expect, inject, test } from 'vitest'
import { committedEvents, countOf, dbOf, spawnApi, spawnWorker, systemEnv, USER_PASSWORD } from './support.js'

const running: AppProcess[] = []
afterAll(async () => {
  await Promise.all(running.map((p) => p.signal('SIGTERM')))
})

/** A change committed by a process whose clock is `skewMs` off: its createdAt lies by that much. */
const commitFromSkewedHost = async (location: string, userId: string, skewMs: number) => {
  const db = await openDb(location)
  try {
    return (await setPermissions(db, userId, ['reports.view'], Date.now() + skewMs))?.events[0]?.id as number
  } finally {
    await closeDb(db)
  }
}

const exists = async (location: string, id: number) => (await committedEvents(location, id - 1)).all.includes(id)

const RETENTION_MS = 4000

test('retention is cut on ids by one clock, whatever clocks stamped createdAt; several workers, one pruner', async () => {
  const env = await systemEnv(inject('redisUrl'), { EVENTS_RETENTION_MS: String(RETENTION_MS) })
  const location = dbOf(env)
  const api = await spawnApi(env)
  const workers = [await spawnWorker(env), await spawnWorker(env)]
  running.push(api, ...workers)
  const user = await api.newUser()
  const admin = await api.adminCookie()
  // Taken before each commit, so "pruned at least the retention after" is exact.
  const oldAt = Date.now()
  const put = await api.call(`/api/users/${user.id}/permissions`, {
    method: 'PUT',
    cookie: admin,
    json: { permissions: ['billing.manage'] },
  })
  expect(put.status).toBe(200)
  const old = (await committedEvents(location)).byUser(user.id).at(-1) as number
  // Late in the old event's retention, so the two cuts are far apart: the old one is due in
  // about a quarter retention, the new ones not before a whole one.
  await waitFor(() => Date.now() - oldAt >= (RETENTION_MS * 3) / 4, { what: 'most of the retention', intervalMs: 50 })

  // Committed now by hosts whose clocks are an hour behind and an hour ahead.
  const newAt = Date.now()
  const behind = await commitFromSkewedHost(location, user.id, -3600_000)
  const ahead = await commitFromSkewedHost(location, user.id, 3600_000)

  await waitFor(async () => !(await exists(location, old)), {
    what: 'the old event pruned',
    timeoutMs: 3 * RETENTION_MS,
  })
  // A cut on createdAt would have taken the "hour old" event at once, and with it every id
  // below it; a cut on ids keeps both new events for their whole retention.
  expect(Date.now() - oldAt).toBeGreaterThanOrEqual(RETENTION_MS)
  expect(await exists(location, behind)).toBe(true)
  expect(await exists(location, ahead)).toBe(true)

  // ...and then both go, the one "from the future" too.
  await waitFor(async () => !(await exists(location, behind)) && !(await exists(location, ahead)), {
    what: 'the skewed events pruned',
    timeoutMs: 3 * RETENTION_MS,
  })
  expect(Date.now() - newAt).toBeGreaterThanOrEqual(RETENTION_MS)

  // One worker holds the housekeeping lease; the other never pruned anything.
  const pruners = workers.filter((w) => w.output().includes('pruned old events'))
  expect(pruners).toHaveLength(1)
})

test('expired sessions are deleted by the worker', async () => {
  const env = await systemEnv(inject('redisUrl'), { SESSION_TTL_MS: '1000', EVENTS_RETENTION_MS: '2000' })
  const api = await spawnApi(env)
  running.push(api, await spawnWorker(env))
  const user = await api.newUser()
  await api.login(user.email, USER_PASSWORD)
  const sessions = () =>
    countOf(dbOf(env), 'select cast(count(*) as integer) as n from sessions where user_id = ?', [user.id])
  expect(await sessions()).toBeGreaterThanOrEqual(2)
  await waitFor(async () => (await sessions()) === 0, {
    what: 'expired sessions deleted',
    timeoutMs: 5000,
    intervalMs: 100,
  })
  expect((await api.call('/api/me', { cookie: user.cookie })).status).toBe(401)
})
