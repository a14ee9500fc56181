import { connect, type Socket } from 'node:net'
import { readEvents, setPermissions } from '@dormant/db'
import { queryDb, waitFor } from '@dormant/testing'
import { describe, expect } from 'vitest'
import { startTestApi, type TestApi, test } from '../testing.js'

const setName = (api: TestApi, id: string, name: string) =>
  queryDb(api.database, 'update users set name = ? where id = ?', [name, id])

describe('heartbeat', () => {
  test('a `: ping` comment arrives every SSE_HEARTBEAT_MS on an idle stream', async () => {
    const api = await startTestApi({ SSE_HEARTBEAT_MS: '200' })
    try {
      const user = await api.newUser()
      const stream = api.stream(user.cookie)
      const pings = (n: number) => () => stream.frames.filter((f) => f.comment === 'ping').length >= n
      await stream.until(pings(1), 3000, 'a ping')
      const first = Date.now()
      await stream.until(pings(3), 3000, '3 pings')
      // Two more pings take two intervals (400 ms); a ping on every wheel tick would take ~4 ms.
      expect(Date.now() - first).toBeGreaterThanOrEqual(150)
      expect(stream.ended).toBe(false)
    } finally {
      await api.stop()
    }
  })
})

describe('maximum lifetime', () => {
  test('the server ends a stream after SSE_MAX_LIFETIME_MS; reconnecting with Last-Event-ID loses nothing', async () => {
    const api = await startTestApi({ SSE_MAX_LIFETIME_MS: '1000', SSE_HEARTBEAT_MS: '100' })
    try {
      const user = await api.newUser()
      const first = api.stream(user.cookie)
      await first.untilEvents(1, 'snapshot')
      const opened = Date.now()
      await api.grant(user.id, ['reports.view'])
      await first.untilEvents(1, 'user.updated')
      await first.closedByServer(3000)
      // Lifetime 1000 ms with ±20 % jitter, checked at each heartbeat.
      expect(Date.now() - opened).toBeGreaterThanOrEqual(700)

      await api.grant(user.id, ['reports.export'])
      await api.grant(user.id, ['billing.manage'])
      const lastSeen = first.events('user.updated').at(-1)?.id as string
      const second = api.stream(user.cookie, { lastEventId: lastSeen })
      await second.untilEvents(2, 'user.updated')
      const everything = (await readEvents(api.deps.db, 0, { userId: user.id })).map(
        (e) => `${api.deps.hub.epoch}:${e.id}`,
      )
      const seen = [...first.events('user.updated'), ...second.events('user.updated')].map((f) => f.id)
      expect(seen).toEqual(everything.slice(1))
    } finally {
      await api.stop()
    }
  })
})

describe('session expiry', () => {
  test('a stream ends when its session expires, and the expired cookie cannot open another', async () => {
    const api = await startTestApi({ SESSION_TTL_MS: '1500', SSE_HEARTBEAT_MS: '100' })
    try {
      const user = await api.newUser()
      const stream = api.stream(user.cookie)
      await stream.untilEvents(1, 'snapshot')
      const opened = Date.now()
      await stream.closedByServer(5000)
      // The session was created just before the stream opened; the lifetime (10 min) is far off.
      expect(Date.now() - opened).toBeLessThan(3000)
      expect((await api.call('/api/events', { cookie: user.cookie })).status).toBe(401)
    } finally {
      await api.stop()
    }
  })
})

describe('slow clients', () => {
  /** Opens a stream on a raw socket and never reads from it. */
  const stalledClient = (api: TestApi, cookie: string) =>
    new Promise<Socket>((resolve, reject) => {
      const socket = connect(api.port, '127.0.0.1', () => {
        socket.write(`GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${cookie}\r\n\r\n`)
        socket.once('data', () => {
          socket.pause()
          resolve(socket)
        })
      })
      socket.on('error', () => {})
      socket.once('error', reject)
    })

  test('a stream whose client stops reading is closed past SSE_BUFFER_LIMIT_BYTES; others keep being served', async () => {
    const api = await startTestApi({ SSE_BUFFER_LIMIT_BYTES: '65536' })
    try {
      const slow = await api.newUser()
      const healthy = await api.newUser()
      // A long name makes every user.updated frame about 1 KB.
      await setName(api, slow.id, 'x'.repeat(800))
      const stalled = await stalledClient(api, slow.cookie)
      const reader = api.stream(healthy.cookie)
      await reader.untilEvents(1, 'snapshot')
      await waitFor(() => api.deps.hub.size === 2, { what: 'both streams registered' })

      // The socket's kernel buffers take a few MB before Node has to hold anything itself;
      // changes are committed and fanned out in-process, as a request would, but faster.
      for (let batch = 0; api.deps.hub.size === 2 && batch < 100; batch++) {
        for (let i = 0; i < 200; i++) {
          const change = await setPermissions(api.deps.db, slow.id, i % 2 ? ['reports.view'] : ['hibernation.self'])
          if (change) void api.deps.hub.offer(change.events)
        }
        await new Promise((resolve) => setImmediate(resolve))
      }
      await waitFor(() => api.deps.hub.size === 1, { what: 'the stalled stream to be closed' })
      expect((await api.deps.metrics.sseOverflows.get()).values[0]?.value).toBe(1)

      await api.grant(healthy.id, ['reports.view'])
      await reader.untilEvents(1, 'user.updated')
      expect(reader.ended).toBe(false)
      expect((await api.call('/api/me', { cookie: slow.cookie })).status).toBe(200)
      stalled.destroy()
    } finally {
      await api.stop()
    }
  })
})

describe('revoked sessions', () => {
  test("logout ends that session's streams and only that session's", async ({ api }) => {
    const user = await api.newUser()
    const otherSession = await api.login(user.email, 'user-password')
    const bystander = await api.newUser()
    const [mine, other, theirs] = [api.stream(user.cookie), api.stream(otherSession), api.stream(bystander.cookie)]
    const admin = api.stream(await api.adminCookie(), { admin: true })
    await Promise.all([mine, other, theirs, admin].map((s) => s.untilEvents(1, 'snapshot')))

    expect((await api.call('/api/auth/logout', { method: 'POST', cookie: user.cookie })).status).toBe(204)
    await mine.closedByServer()

    await api.grant(user.id, ['reports.view'])
    await api.grant(bystander.id, ['reports.view'])
    await other.untilEvents(1, 'user.updated')
    await theirs.untilEvents(1, 'user.updated')
    await admin.untilEvents(2, 'user.updated')
    for (const s of [other, theirs, admin]) expect(s.ended).toBe(false)
    expect(api.deps.hub.size).toBe(3)
  })
})
