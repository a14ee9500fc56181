import { get, type IncomingMessage } from 'node:http'
import { latestEventId, readEvents } from '@dormant/db'
import { parseStreamId, type SseFrame, streamPosition } from '@dormant/testing'
import { describe, expect } from 'vitest'
import { type TestApi, test } from '../testing.js'

type UserData = { user: { id: string; permissions: string[]; status: string }; reset?: boolean }

const setPermissions = async (api: TestApi, id: string, permissions: string[]) => {
  const res = await api.call(`/api/users/${id}/permissions`, {
    method: 'PUT',
    cookie: await api.adminCookie(),
    json: { permissions },
  })
  expect(res.status).toBe(200)
}

/** The raw response head and first bytes, as a proxy would see them. */
const rawHead = (api: TestApi, cookie: string, headers: Record<string, string> = {}) =>
  new Promise<{ res: IncomingMessage; first: string }>((resolve, reject) => {
    const req = get(`${api.url}/api/events`, { headers: { cookie, ...headers } }, (res) => {
      res.setEncoding('utf8')
      res.once('data', (first: string) => {
        req.destroy()
        resolve({ res, first })
      })
    })
    req.on('error', reject)
  })

describe('GET /api/events', () => {
  test('200 text/event-stream, no-cache, X-Accel-Buffering: no, never compressed', async ({ api }) => {
    const user = await api.newUser()
    const { res, first } = await rawHead(api, user.cookie, { 'accept-encoding': 'gzip, deflate, br' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/)
    expect(res.headers['cache-control']).toMatch(/no-cache/)
    expect(res.headers['cache-control']).toMatch(/no-transform/)
    expect(res.headers['x-accel-buffering']).toBe('no')
    expect(res.headers['content-encoding']).toBeUndefined()
    expect(res.headers['content-length']).toBeUndefined()
    expect(first.startsWith('retry: 2000\n\n')).toBe(true)
  })

  test('retry first, then a snapshot of the user, then one event per change with increasing <epoch>:<position> ids', async ({
    api,
  }) => {
    const user = await api.newUser()
    const stream = api.stream(user.cookie)
    await stream.opened
    expect(stream.status).toBe(200)
    await stream.untilEvents(1, 'snapshot')
    expect(stream.frames[0]).toMatchObject({ retry: 2000 })
    const snapshot = stream.frames[1] as SseFrame
    expect(snapshot.event).toBe('snapshot')
    expect((snapshot.data as UserData).user).toMatchObject({ id: user.id, status: 'active' })
    expect((snapshot.data as UserData).reset).toBeUndefined()

    await setPermissions(api, user.id, ['reports.view'])
    await setPermissions(api, user.id, ['reports.view', 'billing.manage'])
    expect((await api.call('/api/me/hibernation', { method: 'POST', cookie: user.cookie })).status).toBe(403)
    await setPermissions(api, user.id, ['hibernation.self'])
    expect((await api.call('/api/me/hibernation', { method: 'POST', cookie: user.cookie })).status).toBe(201)
    await stream.untilEvents(4, 'user.updated')

    const updates = stream.events('user.updated')
    expect(updates.map((f) => (f.data as UserData).user.permissions)).toEqual([
      ['reports.view'],
      ['billing.manage', 'reports.view'],
      ['hibernation.self'],
      ['hibernation.self'],
    ])
    expect(updates[3]?.data).toMatchObject({ user: { status: 'hibernating' } })
    const ids = stream
      .events()
      .filter((f) => f.event !== 'snapshot' && f.retry === undefined)
      .map((f) => f.id)
    for (const id of ids) expect(id).toMatch(/^[0-9a-z]+:\d+$/)
    const { epoch } = parseStreamId(snapshot.id)
    expect(epoch).toBe(api.deps.hub.epoch)
    expect(ids.map((id) => parseStreamId(id).epoch)).toEqual(ids.map(() => epoch))
    const numbers = ids.map(streamPosition)
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b))
    expect(new Set(numbers).size).toBe(numbers.length)
    expect(numbers).toHaveLength(4)
    expect(numbers[0]).toBeGreaterThan(streamPosition(snapshot.id))
  })

  test('401 JSON without a session or with a revoked one', async ({ api }) => {
    const anonymous = await api.call('/api/events', { headers: { accept: 'text/event-stream' } })
    expect(anonymous.status).toBe(401)
    expect(anonymous.headers.get('content-type')).toMatch(/^application\/json/)
    expect(await anonymous.json()).toEqual({ error: { code: 'unauthorized', message: 'sign in first' } })
    const user = await api.newUser()
    await api.call('/api/auth/logout', { method: 'POST', cookie: user.cookie })
    expect((await api.call('/api/events', { cookie: user.cookie })).status).toBe(401)
  })

  test('a Last-Event-ID of another epoch, beyond the table, or not ours gets a reset snapshot in the current epoch', async ({
    api,
  }) => {
    const user = await api.newUser()
    await setPermissions(api, user.id, ['reports.view'])
    const position = await latestEventId(api.deps.db)
    const other = api.deps.hub.epoch === 'zz' ? 'yy' : 'zz'
    for (const stale of [
      `${other}:${position}`,
      `${api.deps.hub.epoch}:${position + 1000}`,
      'abc',
      '-1',
      '1.5',
      ':3',
    ]) {
      for (const stream of [
        api.stream(user.cookie, { lastEventId: stale }),
        api.stream(user.cookie, { query: `?lastEventId=${encodeURIComponent(stale)}` }),
      ]) {
        await stream.untilEvents(1, 'snapshot')
        const snapshot = stream.events('snapshot')[0] as SseFrame
        expect((snapshot.data as UserData).reset, stale).toBe(true)
        expect(snapshot.id).toBe(`${api.deps.hub.epoch}:${position}`)
        stream.close()
      }
    }
  })

  test('a Last-Event-ID of the current epoch, with or without it, resumes by replay', async ({ api }) => {
    const user = await api.newUser()
    const n = await latestEventId(api.deps.db)
    await setPermissions(api, user.id, ['reports.view'])
    const expected = (await readEvents(api.deps.db, n, { userId: user.id })).map((e) => `${api.deps.hub.epoch}:${e.id}`)
    for (const id of [`${api.deps.hub.epoch}:${n}`, String(n)]) {
      const stream = api.stream(user.cookie, { lastEventId: id })
      await stream.untilEvents(1, 'user.updated')
      expect(((stream.events('snapshot')[0] as SseFrame).data as UserData).reset).toBeUndefined()
      expect(stream.events('user.updated').map((f) => f.id)).toEqual(expected)
      stream.close()
    }
  })
})

describe('GET /api/admin/events', () => {
  test('403 for a non-admin, 401 without a session', async ({ api }) => {
    const user = await api.newUser()
    const res = await api.call('/api/admin/events', { cookie: user.cookie })
    expect(res.status).toBe(403)
    expect(await res.json()).toEqual({ error: { code: 'forbidden', message: 'admins only' } })
    expect((await api.call('/api/admin/events')).status).toBe(401)
  })

  test("an admin's stream carries every user's events", async ({ api }) => {
    const admin = api.stream(await api.adminCookie(), { admin: true })
    await admin.untilEvents(1, 'snapshot')
    const [a, b] = [await api.newUser(), await api.newUser()]
    await setPermissions(api, a.id, ['reports.view'])
    await setPermissions(api, b.id, ['reports.export'])
    await admin.untilEvents(4, 'user.updated')
    const owners = admin.events('user.updated').map((f) => (f.data as UserData).user.id)
    expect(owners).toEqual([a.id, b.id, a.id, b.id])
  })

  test("an admin's stream replays every user's events after Last-Event-ID", async ({ api }) => {
    const [a, b] = [await api.newUser(), await api.newUser()]
    const n = await latestEventId(api.deps.db)
    await setPermissions(api, a.id, ['reports.view'])
    await setPermissions(api, b.id, ['reports.export'])
    const admin = api.stream(await api.adminCookie(), { admin: true, lastEventId: n })
    await admin.untilEvents(2, 'user.updated')
    expect(admin.events('snapshot')[0]?.id).toBeUndefined()
    expect(admin.events('user.updated').map((f) => [streamPosition(f.id), (f.data as UserData).user.id])).toEqual([
      [n + 1, a.id],
      [n + 2, b.id],
    ])
  })
})
