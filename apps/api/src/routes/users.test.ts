import { countUsers, latestEventId } from '@dormant/db'
import { describe, expect } from 'vitest'
import { type TestApi, test } from '../testing.js'

type User = { id: string; email: string; name: string; status: string; permissions: string[]; version: number }
type Hibernating = User & { hibernation: { id: string; startedAt: string; endsAt: string } | null }

const errorCode = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code

/** Runs `act` and checks it wrote nothing: no user, no event. */
const writesNothing = async (api: TestApi, act: () => Promise<void>) => {
  const users = await countUsers(api.deps.db)
  const lastEvent = await latestEventId(api.deps.db)
  await act()
  expect(await countUsers(api.deps.db)).toBe(users)
  expect(await latestEventId(api.deps.db)).toBe(lastEvent)
}

describe('admin routes refuse others', () => {
  const routes: [string, string, unknown?][] = [
    ['GET', '/api/users'],
    ['POST', '/api/users', { email: 'x@example.com', password: 'long-password' }],
    ['GET', '/api/users/usr_x'],
    ['PUT', '/api/users/usr_x/permissions', { permissions: [] }],
    ['POST', '/api/users/usr_x/hibernation', {}],
    ['DELETE', '/api/users/usr_x/hibernation'],
    ['GET', '/api/users/usr_x/transactions'],
  ]

  test('401 without a session, 403 for a non-admin session, and nothing written', async ({ api }) => {
    const user = await api.newUser({ permissions: ['hibernation.self', 'transactions.read', 'reports.view'] })
    await writesNothing(api, async () => {
      for (const [method, path, json] of routes) {
        const anonymous = await api.call(path, { method, json })
        expect(anonymous.status, `${method} ${path}`).toBe(401)
        expect(await errorCode(anonymous)).toBe('unauthorized')
        const nonAdmin = await api.call(path, { method, json, cookie: user.cookie })
        expect(nonAdmin.status, `${method} ${path}`).toBe(403)
        expect(await nonAdmin.json()).toEqual({ error: { code: 'forbidden', message: 'admins only' } })
      }
    })
  })
})

describe('POST /api/users', () => {
  test('201 with the user; defaults: role user, default permissions, name from the email', async ({ api }) => {
    const res = await api.call('/api/users', {
      method: 'POST',
      cookie: await api.adminCookie(),
      json: { email: 'New.Person@Example.com', password: 'a-long-password' },
    })
    expect(res.status).toBe(201)
    const { user } = (await res.json()) as { user: Hibernating & Record<string, unknown> }
    expect(user).toMatchObject({
      email: 'new.person@example.com',
      name: 'new.person',
      role: 'user',
      status: 'active',
      goal: 0,
      permissions: ['hibernation.self', 'transactions.read'],
      hibernation: null,
    })
    expect(user.id).toMatch(/^usr_/)
    expect(user.version).toBeGreaterThan(0)
    expect(new Date(user.createdAt as string).toISOString()).toBe(user.createdAt)
    expect(user).not.toHaveProperty('passwordHash')
    expect(await api.login('new.person@example.com', 'a-long-password')).toMatch(/^dormant_session=/)
  })

  test('409 on a duplicate email (case-insensitive), nothing written', async ({ api }) => {
    const existing = await api.newUser()
    await writesNothing(api, async () => {
      const res = await api.call('/api/users', {
        method: 'POST',
        cookie: await api.adminCookie(),
        json: { email: existing.email.toUpperCase(), password: 'another-password' },
      })
      expect(res.status).toBe(409)
      expect(await errorCode(res)).toBe('conflict')
    })
  })

  test('400 on unknown fields, wrong types, bad values and unknown permission names, nothing written', async ({
    api,
  }) => {
    const cookie = await api.adminCookie()
    const valid = { email: 'valid@example.com', password: 'a-long-password' }
    await writesNothing(api, async () => {
      for (const json of [
        { ...valid, isAdmin: true },
        { ...valid, email: 'not-an-email' },
        { ...valid, password: 'short' },
        { ...valid, password: 12345678910 },
        { ...valid, role: 'root' },
        { ...valid, permissions: 'hibernation.self' },
        { ...valid, permissions: ['hibernation.self', 'root.everything'] },
        { ...valid, name: 42 },
        { password: 'a-long-password' },
        null,
      ]) {
        const res = await api.call('/api/users', { method: 'POST', cookie, json })
        expect(res.status, JSON.stringify(json)).toBe(400)
        const body = (await res.json()) as { error: { code: string; message: string; details: unknown } }
        expect(body.error.code).toBe('validation_failed')
        expect(body.error.message.length).toBeGreaterThan(0)
        expect(body.error.details).toBeInstanceOf(Array)
      }
    })
  })
})

describe('GET /api/users', () => {
  const seed = async (api: TestApi) => {
    const cookie = await api.adminCookie()
    for (const [email, name] of [
      ['alice@example.com', 'Alice Smith'],
      ['bob@example.com', 'Bob Jones'],
      ['carol@example.com', 'Carol Smith'],
      ['dave@example.org', 'Dave Brown'],
    ]) {
      const res = await api.call('/api/users', {
        method: 'POST',
        cookie,
        json: { email, name, password: 'pass-word-1' },
      })
      expect(res.status).toBe(201)
    }
    return cookie
  }
  const list = async (api: TestApi, cookie: string, query: string) => {
    const res = await api.call(`/api/users${query}`, { cookie })
    expect(res.status).toBe(200)
    return (await res.json()) as { users: User[]; nextCursor: string | null }
  }

  test('pages with limit and cursor through every user exactly once, ordered by email', async ({ api }) => {
    const cookie = await seed(api)
    const seen: string[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const page: { users: User[]; nextCursor: string | null } = await list(
        api,
        cookie,
        `?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      )
      expect(page.users.length).toBeLessThanOrEqual(2)
      seen.push(...page.users.map((u) => u.email))
      cursor = page.nextCursor
      pages += 1
    } while (cursor && pages < 10)
    expect(seen).toEqual([
      'admin@example.com',
      'alice@example.com',
      'bob@example.com',
      'carol@example.com',
      'dave@example.org',
    ])
    expect(pages).toBe(3)
  })

  test('searches email and name, case-insensitively', async ({ api }) => {
    const cookie = await seed(api)
    const names = async (q: string) => (await list(api, cookie, `?query=${q}`)).users.map((u) => u.email)
    expect(await names('smith')).toEqual(['alice@example.com', 'carol@example.com'])
    expect(await names('EXAMPLE.ORG')).toEqual(['dave@example.org'])
    expect(await names('nobody')).toEqual([])
    const first = await list(api, cookie, '?query=smith&limit=1')
    expect(first.users.map((u) => u.email)).toEqual(['alice@example.com'])
    expect(first.nextCursor).not.toBeNull()
  })

  test('400 on a bad limit', async ({ api }) => {
    const cookie = await api.adminCookie()
    for (const q of ['?limit=0', '?limit=abc', '?limit=1000', '?limit=1.5']) {
      const res = await api.call(`/api/users${q}`, { cookie })
      expect(res.status, q).toBe(400)
      expect(await errorCode(res)).toBe('validation_failed')
    }
  })
})

describe('GET /api/users/:id', () => {
  test('200 with the user; 404 for an unknown id', async ({ api }) => {
    const user = await api.newUser()
    const cookie = await api.adminCookie()
    const res = await api.call(`/api/users/${user.id}`, { cookie })
    expect(res.status).toBe(200)
    expect(((await res.json()) as { user: User }).user.email).toBe(user.email)
    const missing = await api.call('/api/users/usr_doesnotexist', { cookie })
    expect(missing.status).toBe(404)
    expect(await missing.json()).toEqual({ error: { code: 'not_found', message: 'no such user' } })
    const tooLong = await api.call(`/api/users/${'x'.repeat(65)}`, { cookie })
    expect(tooLong.status).toBe(400)
    expect(((await tooLong.json()) as { error: { code: string } }).error.code).toBe('validation_failed')
  })
})

describe('PUT /api/users/:id/permissions', () => {
  test('200 with the new set (deduplicated), version bumped', async ({ api }) => {
    const user = await api.newUser()
    const cookie = await api.adminCookie()
    const before = ((await (await api.call(`/api/users/${user.id}`, { cookie })).json()) as { user: User }).user
    const res = await api.call(`/api/users/${user.id}/permissions`, {
      method: 'PUT',
      cookie,
      json: { permissions: ['reports.view', 'reports.export', 'reports.view'] },
    })
    expect(res.status).toBe(200)
    const { user: after } = (await res.json()) as { user: User }
    expect([...after.permissions].sort()).toEqual(['reports.export', 'reports.view'])
    expect(after.version).toBeGreaterThan(before.version)
    const empty = await api.call(`/api/users/${user.id}/permissions`, {
      method: 'PUT',
      cookie,
      json: { permissions: [] },
    })
    expect(((await empty.json()) as { user: User }).user.permissions).toEqual([])
  })

  test('400 on unknown names, wrong shapes and extra fields; 404 unknown id; nothing written', async ({ api }) => {
    const user = await api.newUser()
    const cookie = await api.adminCookie()
    await writesNothing(api, async () => {
      for (const json of [
        { permissions: ['reports.view', 'admin.everything'] },
        { permissions: 'reports.view' },
        { permissions: [1] },
        { permissions: [], role: 'admin' },
        {},
      ]) {
        const res = await api.call(`/api/users/${user.id}/permissions`, { method: 'PUT', cookie, json })
        expect(res.status, JSON.stringify(json)).toBe(400)
        expect(await errorCode(res)).toBe('validation_failed')
      }
      const missing = await api.call('/api/users/usr_nope/permissions', {
        method: 'PUT',
        cookie,
        json: { permissions: [] },
      })
      expect(missing.status).toBe(404)
    })
    const now = ((await (await api.call(`/api/users/${user.id}`, { cookie })).json()) as { user: User }).user
    expect(now.permissions).toEqual(['hibernation.self', 'transactions.read'])
  })
})

describe('POST and DELETE /api/users/:id/hibernation', () => {
  const start = (api: TestApi, id: string, cookie: string, init: RequestInit & { json?: unknown } = {}) =>
    api.call(`/api/users/${id}/hibernation`, { method: 'POST', cookie, ...init })

  const endsIn = async (res: Response, label = '') => {
    expect(res.status, `${label} ${res.status === 201 ? '' : await res.clone().text()}`).toBe(201)
    const { user } = (await res.json()) as { user: Hibernating }
    expect(user.status).toBe('hibernating')
    const h = user.hibernation
    if (!h) throw new Error('no hibernation in the response')
    return Date.parse(h.endsAt) - Date.parse(h.startedAt)
  }

  test('the body is optional: none, empty, {} and {durationMs} all start one', async ({ api }) => {
    const cookie = await api.adminCookie()
    const defaultMs = api.deps.config.HIBERNATION_DURATION_MS
    const cases: [RequestInit & { json?: unknown }, number][] = [
      [{}, defaultMs],
      [{ headers: { 'content-type': 'application/json' } }, defaultMs],
      [{ headers: { 'content-type': 'application/json' }, body: '' }, defaultMs],
      [{ json: {} }, defaultMs],
      [{ json: { durationMs: 5000 } }, 5000],
    ]
    for (const [init, expected] of cases) {
      const user = await api.newUser()
      expect(await endsIn(await start(api, user.id, cookie, init), JSON.stringify(init))).toBe(expected)
    }
  })

  test('durationMs bounds: 1000 and 31536000000 accepted; outside, fractional or a string → 400', async ({ api }) => {
    const cookie = await api.adminCookie()
    for (const durationMs of [1000, 31_536_000_000]) {
      const user = await api.newUser()
      expect(await endsIn(await start(api, user.id, cookie, { json: { durationMs } }))).toBe(durationMs)
    }
    const user = await api.newUser()
    await writesNothing(api, async () => {
      for (const json of [
        { durationMs: 999 },
        { durationMs: 31_536_000_001 },
        { durationMs: 1500.5 },
        { durationMs: '5000' },
        { durationMs: 5000, extra: 1 },
      ]) {
        const res = await start(api, user.id, cookie, { json })
        expect(res.status, JSON.stringify(json)).toBe(400)
        expect(await errorCode(res)).toBe('validation_failed')
      }
      const garbage = await start(api, user.id, cookie, { headers: { 'content-type': 'application/json' }, body: '{' })
      expect(garbage.status).toBe(400)
      expect(await errorCode(garbage)).toBe('invalid_json')
    })
  })

  test('409 already hibernating; DELETE wakes (200) then 409 not hibernating; 404 unknown ids', async ({ api }) => {
    const cookie = await api.adminCookie()
    const user = await api.newUser()
    expect((await start(api, user.id, cookie)).status).toBe(201)
    await writesNothing(api, async () => {
      const again = await start(api, user.id, cookie, { json: { durationMs: 2000 } })
      expect(again.status).toBe(409)
      expect(await again.json()).toEqual({ error: { code: 'conflict', message: 'already hibernating' } })
    })
    const wake = await api.call(`/api/users/${user.id}/hibernation`, { method: 'DELETE', cookie })
    expect(wake.status).toBe(200)
    expect(((await wake.json()) as { user: Hibernating }).user).toMatchObject({ status: 'active', hibernation: null })
    await writesNothing(api, async () => {
      const twice = await api.call(`/api/users/${user.id}/hibernation`, { method: 'DELETE', cookie })
      expect(twice.status).toBe(409)
      expect(await twice.json()).toEqual({ error: { code: 'conflict', message: 'not hibernating' } })
      expect((await start(api, 'usr_nope', cookie)).status).toBe(404)
      expect((await api.call('/api/users/usr_nope/hibernation', { method: 'DELETE', cookie })).status).toBe(404)
    })
  })
})

describe('GET /api/users/:id/transactions', () => {
  test('200 with the list; 404 for an unknown id', async ({ api }) => {
    const cookie = await api.adminCookie()
    const user = await api.newUser()
    const res = await api.call(`/api/users/${user.id}/transactions`, { cookie })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ transactions: [] })
    expect((await api.call('/api/users/usr_nope/transactions', { cookie })).status).toBe(404)
  })
})
