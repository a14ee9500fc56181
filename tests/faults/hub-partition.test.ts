import { closeDb, openDb, pruneEvents, setPermissions } from '@dormant/db'
import { startTcpProxy, streamPosition, type TcpProxy } from '@dormant/testing'
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest'
import {
  type ApiProcess,
  committedEvents,
  dbOf,
  ids,
  killHard,
  report,
  spawnApi,
  systemEnv,
  USER_PASSWORD,
} from './support.js'

const HEARTBEAT_MS = 1000

// A and B reach Redis directly; Q and P each through a proxy that can partition them alone.
let env: Awaited<ReturnType<typeof systemEnv>>
let a: ApiProcess
let q: ApiProcess
let qLink: TcpProxy
const procs: ApiProcess[] = []
const proxies: TcpProxy[] = []

const throughProxy = async () => {
  const link = await startTcpProxy({ port: Number(new URL(inject('redisUrl')).port) })
  proxies.push(link)
  const api = await spawnApi({ ...env, REDIS_URL: link.url })
  procs.push(api)
  return { api, link }
}

beforeAll(async () => {
  env = await systemEnv(inject('redisUrl'), { SSE_HEARTBEAT_MS: String(HEARTBEAT_MS) })
  a = await spawnApi(env)
  procs.push(a)
  ;({ api: q, link: qLink } = await throughProxy())
})

afterAll(async () => {
  await Promise.all(procs.map((p) => (p.child.exitCode === null ? p.signal('SIGTERM') : undefined)))
  await Promise.all(proxies.map((p) => p.close()))
})

describe('item 3: revocation does not depend on the bus', () => {
  test('logout through A while Q is partitioned ends the stream on Q within two heartbeats; nothing after it', async () => {
    const v = await a.newUser()
    const stream = q.stream(v.cookie)
    await stream.untilEvents(1, 'snapshot')
    qLink.partition()
    try {
      const loggedOutAt = Date.now()
      expect((await a.call('/api/auth/logout', { method: 'POST', cookie: v.cookie })).status).toBe(204)
      await a.grant(v.id, ['reports.view'])
      await stream.closedByServer(2 * HEARTBEAT_MS + 1500)
      report(`revoked stream on a partitioned API ended ${Date.now() - loggedOutAt} ms after logout`)
    } finally {
      qLink.heal()
    }
    // The link is back: a later change still never reaches the revoked stream.
    await a.grant(v.id, ['reports.export'])
    expect(stream.events('user.updated')).toEqual([])
  })

  test('logout during a partition that heals before any check: the stream still ends, and gets nothing later', async () => {
    const v = await a.newUser()
    const stream = q.stream(v.cookie)
    await stream.untilEvents(1, 'snapshot')
    qLink.partition()
    expect((await a.call('/api/auth/logout', { method: 'POST', cookie: v.cookie })).status).toBe(204)
    qLink.heal()
    await a.grant(v.id, ['reports.view'])
    await stream.closedByServer(2 * HEARTBEAT_MS + 1500)
    expect(stream.events('user.updated')).toEqual([])
  })

  test('an expired session’s stream ends within two heartbeats of its expiry', async () => {
    const shortEnv = { ...env, SESSION_TTL_MS: '2000' }
    const api = await spawnApi(shortEnv)
    procs.push(api)
    const u = await a.newUser()
    const cookie = await api.login(u.email, USER_PASSWORD)
    const openedAt = Date.now()
    const stream = api.stream(cookie)
    await stream.untilEvents(1, 'snapshot')
    await stream.closedByServer(2000 + 2 * HEARTBEAT_MS + 1000)
    report(`stream of a 2 s session ended ${Date.now() - openedAt} ms after opening`)
  })
})

describe('item 4: no silent gap after pruning', () => {
  test('changes made and pruned while Q is partitioned: its stream is reset, never silently skipped', async () => {
    const w = await a.newUser()
    const stream = q.stream(w.cookie)
    await stream.untilEvents(1, 'snapshot')
    qLink.partition()
    // Three commits whose publishes Q never hears, pruned at once (as a retention run would).
    const db = await openDb(dbOf(env))
    try {
      for (const p of [['reports.view'], ['reports.export'], ['billing.manage']]) {
        await setPermissions(db, w.id, p as never)
      }
      await pruneEvents(db, Date.now() + 1)
    } finally {
      await closeDb(db)
    }
    qLink.heal()
    await a.grant(w.id, ['hibernation.self'])
    const fourth = Math.max(...(await committedEvents(dbOf(env))).byUser(w.id))
    // Either Q delivered all four in time, or it ended the stream so the client resyncs.
    await Promise.race([
      stream.closedByServer(10_000),
      stream.until(() => ids(stream).includes(fourth), 10_000, 'the fourth change'),
    ])
    const got = ids(stream)
    if (!stream.ended) {
      expect(got.length, 'the fourth change arrived after a silent gap').toBe(4)
      return
    }
    expect(got.length).toBeLessThan(4)
    const last = got.at(-1) ?? streamPosition(stream.events('snapshot')[0]?.id)
    const again = q.stream(w.cookie, { lastEventId: last })
    await again.untilEvents(1, 'snapshot')
    expect(again.events('snapshot')[0]?.data).toMatchObject({ reset: true, user: { id: w.id } })
    report(`pruned gap: Q closed the stream after ${got.length} of 4 changes; the reconnect got a reset snapshot`)
  })
})

describe('item 5: a publish that never happens', () => {
  test('P commits while partitioned and is killed: A’s stream gets the change within 5 s, Redis up all along', async () => {
    const { api: p, link } = await throughProxy()
    const u = await a.newUser()
    await p.adminCookie()
    const stream = a.stream(u.cookie)
    await stream.untilEvents(1, 'snapshot')
    link.partition()
    await p.grant(u.id, ['reports.view'])
    const committedAt = Date.now()
    await killHard(p)
    await stream.untilEvents(1, 'user.updated', 5000)
    expect(stream.events('user.updated')[0]?.data).toMatchObject({ user: { permissions: ['reports.view'] } })
    report(`lost publish: the change reached the other API's stream ${Date.now() - committedAt} ms after commit`)
  })
})
