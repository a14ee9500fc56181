import { type SseRecorder, waitFor } from '@dormant/testing'
import { afterAll, expect, inject, test } from 'vitest'
import {
  type ApiProcess,
  committedEvents,
  completions,
  dbOf,
  ids,
  report,
  spawnApi,
  spawnWorker,
  systemEnv,
} from './support.js'

const procs: { signal(s: NodeJS.Signals): Promise<unknown>; output(): string }[] = []
afterAll(async () => {
  await Promise.all(procs.map((p) => p.signal('SIGTERM')))
})

const CHANGES = 1000
const USERS = 12

test('two APIs and two workers on one Redis and one database: 1,000 mixed changes, every stream exact', async () => {
  const env = await systemEnv(inject('redisUrl'), { HIBERNATION_DURATION_MS: '1000', RECONCILE_INTERVAL_MS: '1000' })
  const location = dbOf(env)
  const [a, b] = await Promise.all([spawnApi(env), spawnApi(env)])
  const apis = [a, b] as ApiProcess[]
  const workers = await Promise.all([spawnWorker(env), spawnWorker(env)])
  procs.push(...apis, ...workers)
  const admins = await Promise.all(apis.map((api) => api.adminCookie()))
  const users = await Promise.all(
    Array.from({ length: USERS }, (_, i) => (apis[i % 2] as ApiProcess).newUser({ permissions: ['hibernation.self'] })),
  )
  const startId = Math.max(0, ...(await committedEvents(location)).all)
  // Each user's stream on one API, their changes made through the other.
  const streams = users.map((u, i) => (apis[i % 2] as ApiProcess).stream(u.cookie))
  const feeds = apis.map((api, i) => api.stream(admins[i], { admin: true }))
  await Promise.all([...streams, ...feeds].map((s) => s.untilEvents(1, 'snapshot')))

  const statuses = new Map<number, number>()
  let next = 0
  const one = async (n: number) => {
    const i = n % USERS
    const u = users[i]
    if (!u) return
    const api = apis[(i + 1) % 2] as ApiProcess
    const admin = admins[(i + 1) % 2]
    const kind = (n * 7) % 5
    const res =
      kind === 0
        ? await api.call('/api/me/hibernation', { method: 'POST', cookie: u.cookie })
        : kind === 1
          ? await api.call('/api/me/hibernation', { method: 'DELETE', cookie: u.cookie })
          : kind === 2
            ? await api.call(`/api/users/${u.id}/permissions`, {
                method: 'PUT',
                cookie: admin,
                json: { permissions: n % 2 ? ['hibernation.self', 'reports.view'] : ['hibernation.self'] },
              })
            : kind === 3
              ? await api.call(`/api/users/${u.id}/hibernation`, {
                  method: 'POST',
                  cookie: admin,
                  json: { durationMs: 1000 },
                })
              : await api.call(`/api/users/${u.id}/hibernation`, { method: 'DELETE', cookie: admin })
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
  }
  const started = Date.now()
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < CHANGES) await one(next++)
    }),
  )
  const changeMs = Date.now() - started
  // Every status is a success or a state conflict (already / not hibernating); no 5xx, no busy DB.
  expect(
    [...statuses.keys()].every((s) => [200, 201, 409].includes(s)),
    JSON.stringify([...statuses]),
  ).toBe(true)

  await waitFor(async () => (await completions(location)).scheduled === 0, {
    what: 'timers done',
    timeoutMs: 30_000,
    intervalMs: 100,
  })
  const table = await committedEvents(location, startId)
  let delivered = 0
  for (const [i, u] of users.entries()) {
    // These users never hold `transactions.read`: their streams get no `transaction.created` (G4).
    const expected = table.rows.filter((r) => r.userId === u.id && r.type !== 'transaction.created').map((r) => r.id)
    const rec = streams[i] as SseRecorder
    await rec.until(() => ids(rec).length >= expected.length, 30_000, `events of user ${i}`)
    expect(ids(rec)).toEqual(expected)
    delivered += expected.length
  }
  for (const feed of feeds) {
    await feed.until(() => ids(feed).length >= table.all.length, 30_000, 'admin feed')
    expect(ids(feed)).toEqual(table.all)
  }
  const activations = (await completions(location)).done
  for (const p of procs) expect(p.output()).not.toMatch(/SQLITE_BUSY|database is locked/i)
  report(
    `scale-out: ${CHANGES} changes through 2 APIs in ${changeMs} ms (statuses ${JSON.stringify(Object.fromEntries(statuses))}), ${activations} activations by 2 workers, ${table.all.length} events; ${delivered} delivered to ${USERS} user streams and ${table.all.length} to each admin feed, exactly and in order; no SQLITE_BUSY`,
  )
})
