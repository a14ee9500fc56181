import { freePort, type RedisServer, startRedisServer, waitFor } from '@dormant/testing'
import { afterAll, expect, test } from 'vitest'
import { type ApiProcess, committedEvents, dbOf, ids, report, spawnApi, systemEnv } from './support.js'

let redis: RedisServer | undefined
const apis: ApiProcess[] = []
afterAll(async () => {
  await Promise.all(apis.map((a) => a.signal('SIGTERM')))
  await redis?.destroy()
})

const health = async (api: ApiProcess) => {
  const res = await api.call('/healthz')
  return { status: res.status, body: (await res.json()) as { redis: string; db: string } }
}

test('Redis down: /healthz says 503, writes still succeed, open streams get every event once Redis is back', async () => {
  redis = await startRedisServer({ appendonly: true })
  const env = await systemEnv(redis.url)
  // Streams live on `reader`; the changes are made through `writer`, so the reader can only
  // learn of them through Redis, or from the events table once its subscription is back.
  const [reader, writer] = await Promise.all([spawnApi(env), spawnApi(env)])
  apis.push(reader, writer)
  expect(await health(reader)).toEqual({ status: 200, body: { ok: true, redis: 'up', db: 'up' } })

  const users = await Promise.all([writer.newUser(), writer.newUser(), writer.newUser()])
  const admin = await writer.adminCookie()
  const streams = users.map((u) => reader.stream(u.cookie))
  const adminStream = reader.stream(await reader.adminCookie(), { admin: true })
  await Promise.all([...streams, adminStream].map((s) => s.untilEvents(1, 'snapshot')))

  const startId = Math.max(0, ...(await committedEvents(dbOf(env))).all)
  await redis.stop()
  const downAt = Date.now()
  await waitFor(async () => (await health(reader)).status === 503, { what: 'healthz 503', intervalMs: 50 })
  const down = await health(reader)
  expect(down).toEqual({ status: 503, body: { ok: false, redis: 'down', db: 'up' } })
  report(`redis outage: /healthz reported 503 after ${Date.now() - downAt} ms`)

  // The DB commit is the promise: every write succeeds while Redis is away.
  for (const u of users) {
    const res = await writer.call('/api/me/hibernation', { method: 'POST', cookie: u.cookie })
    expect(res.status).toBe(201)
    const perms = await writer.call(`/api/users/${u.id}/permissions`, {
      method: 'PUT',
      cookie: admin,
      json: { permissions: ['reports.view', 'hibernation.self'] },
    })
    expect(perms.status).toBe(200)
    const cancel = await writer.call('/api/me/hibernation', { method: 'DELETE', cookie: u.cookie })
    expect(cancel.status).toBe(200)
  }
  const writesMs = Date.now() - downAt
  expect(streams.every((s) => ids(s).length === 0)).toBe(true)

  await redis.start()
  const upAt = Date.now()
  // Every event committed during the outage, per user, in order, none twice.
  await Promise.all(streams.map((s) => s.until(() => ids(s).length >= 3, 30_000, 'outage events')))
  await adminStream.until(() => ids(adminStream).length >= 9, 30_000, 'admin outage events')
  const recoveredMs = Date.now() - upAt
  const table = await committedEvents(dbOf(env), startId)
  for (const [i, s] of streams.entries()) {
    expect(ids(s)).toEqual(table.byUser(users[i]?.id ?? ''))
  }
  expect(ids(adminStream)).toEqual(table.all)
  await waitFor(async () => (await health(reader)).status === 200, { what: 'healthz 200', intervalMs: 50 })
  report(
    `redis outage: ${users.length * 3} writes during the outage (${writesMs} ms, all 2xx); 0 lost, 0 duplicated; streams recovered in ${recoveredMs} ms after Redis came back`,
  )

  // Live delivery through Redis resumes afterwards.
  const liveAt = Date.now()
  const u0 = users[0]
  if (!u0) throw new Error('no user')
  expect((await writer.call('/api/me/hibernation', { method: 'POST', cookie: u0.cookie })).status).toBe(201)
  await streams[0]?.until((f) => f.filter((x) => x.event === 'user.updated').length >= 4, 10_000, 'live event')
  report(`redis outage: live cross-process delivery after recovery in ${Date.now() - liveAt} ms`)
})

test('an API started while Redis is down waits briefly, then serves: 503 on /healthz, writes succeed', async () => {
  const nobody = `redis://127.0.0.1:${await freePort()}`
  const started = Date.now()
  const api = await spawnApi(await systemEnv(nobody))
  apis.push(api)
  const waitedMs = Date.now() - started
  expect(api.output()).toMatch(/Redis is not reachable yet/)
  expect(await health(api)).toEqual({ status: 503, body: { ok: false, redis: 'down', db: 'up' } })
  const user = await api.newUser()
  expect((await api.call('/api/me/hibernation', { method: 'POST', cookie: user.cookie })).status).toBe(201)
  report(`api start without Redis: listening after ${waitedMs} ms, serving writes`)
})
