import { type SseRecorder, waitFor } from '@dormant/testing'
import { afterAll, expect, inject, test } from 'vitest'
import { type ApiProcess, committedEvents, dbOf, ids, report, spawnApi, systemEnv } from './support.js'

const apis: ApiProcess[] = []
afterAll(async () => {
  await Promise.all(apis.map((a) => a.signal('SIGTERM')))
})

test('API SIGTERM with clients connected: streams end, exit 0; a second API replays the gap, none twice', async () => {
  const env = await systemEnv(inject('redisUrl'))
  const [first, second] = await Promise.all([spawnApi(env), spawnApi(env)])
  apis.push(first, second)
  const admin = await second.adminCookie()
  const users = await Promise.all(Array.from({ length: 5 }, () => second.newUser()))
  const change = async (i: number, n: number) => {
    const u = users[i % users.length]
    if (!u) throw new Error('no user')
    const permissions = n % 2 ? ['reports.view'] : ['reports.view', 'billing.manage']
    const res = await second.call(`/api/users/${u.id}/permissions`, {
      method: 'PUT',
      cookie: admin,
      json: { permissions },
    })
    expect(res.status).toBe(200)
  }
  const startId = Math.max(0, ...(await committedEvents(dbOf(env))).all)

  const before = users.map((u) => first.stream(u.cookie))
  const adminBefore = first.stream(await first.adminCookie(), { admin: true })
  await Promise.all([...before, adminBefore].map((s) => s.untilEvents(1, 'snapshot')))
  for (let n = 0; n < 10; n++) await change(n, n)
  await Promise.all(before.map((s) => s.until(() => ids(s).length >= 2, 10_000, 'first events')))

  // Changes keep coming while the first API shuts down and its clients reconnect.
  let writing = true
  let n = 10
  const writer = (async () => {
    while (writing) await change(n, n++)
  })()
  const stopAt = Date.now()
  const code = await first.signal('SIGTERM')
  const stoppedMs = Date.now() - stopAt
  expect(code).toBe(0)
  await Promise.all([...before, adminBefore].map((s) => s.closedByServer(1000)))
  expect(first.output()).toContain('"msg":"stopped"')

  const reconnect = (s: SseRecorder, cookie: string, admin = false) => {
    const last = ids(s).at(-1) ?? startId
    return second.stream(cookie, { admin, lastEventId: last })
  }
  const after = before.map((s, i) => reconnect(s, users[i]?.cookie ?? ''))
  const adminAfter = reconnect(adminBefore, admin, true)
  await Promise.all([...after, adminAfter].map((s) => s.untilEvents(1, 'snapshot')))
  // A few more changes after the reconnect arrive live on the second API.
  const mark = n
  await waitFor(() => n >= mark + 5, { what: 'changes after reconnect' })
  writing = false
  await writer

  const table = await committedEvents(dbOf(env), startId)
  let replayed = 0
  for (const [i, u] of users.entries()) {
    const expected = table.byUser(u.id)
    const a = after[i] as SseRecorder
    await a.until(() => ids(before[i] as SseRecorder).length + ids(a).length >= expected.length, 10_000, 'replay')
    const joined = [...ids(before[i] as SseRecorder), ...ids(a)]
    expect(joined).toEqual(expected)
    expect(a.events('snapshot')[0]?.data).not.toHaveProperty('reset')
    replayed += ids(a).length
  }
  await adminAfter.until(() => ids(adminBefore).length + ids(adminAfter).length >= table.all.length, 10_000, 'admin')
  expect([...ids(adminBefore), ...ids(adminAfter)]).toEqual(table.all)
  report(
    `api SIGTERM: exited 0 in ${stoppedMs} ms with ${before.length + 1} streams open; ${n - 10} changes during the switch; ${replayed} events replayed on the second API; 0 lost, 0 duplicated`,
  )
})
