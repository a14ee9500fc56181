import { queryDb } from '@dormant/testing'
import { describe, expect } from 'vitest'
import { ADMIN, type TestApi, test } from './testing.js'

/** Everything a refused request must leave untouched, sessions included: no bad body signs in or out. */
const state = async (api: TestApi) => {
  const rows = (sql: string) => queryDb(api.database, sql)
  return JSON.stringify({
    users: await rows('select * from users order by id'),
    hibernations: await rows('select * from hibernations order by id'),
    transactions: await rows('select * from transactions order by id'),
    events: await rows('select max(id) as id, cast(count(*) as integer) as n from events'),
    sessions: await rows('select id, expires_at from sessions order by id'),
  })
}

/** Not JSON, or JSON that is not an object. A leading BOM is tolerated, as RFC 8259 allows. */
const MALFORMED = ['{', '{"a":', '[', '}', 'nul', 'NaN', '{"a":1,}', 'null', '[]', '"text"', '1', 'true']

type Route = {
  method: string
  path: (ids: { user: string }) => string
  /** A body the route accepts; undefined for routes that take none. */
  valid?: Record<string, unknown>
  as: 'admin' | 'user'
  /** Puts the user in the state where the valid request succeeds. */
  hibernating?: boolean
}

const ROUTES: Route[] = [
  { method: 'POST', path: () => '/api/auth/login', valid: ADMIN, as: 'user' },
  { method: 'POST', path: () => '/api/auth/logout', as: 'user' },
  { method: 'POST', path: () => '/api/me/hibernation', as: 'user', hibernating: false },
  { method: 'DELETE', path: () => '/api/me/hibernation', as: 'user', hibernating: true },
  {
    method: 'POST',
    path: () => '/api/users',
    valid: { email: 'new@example.com', password: 'new-password' },
    as: 'admin',
  },
  {
    method: 'PUT',
    path: ({ user }) => `/api/users/${user}/permissions`,
    valid: { permissions: ['reports.view'] },
    as: 'admin',
  },
  {
    method: 'POST',
    path: ({ user }) => `/api/users/${user}/hibernation`,
    valid: { durationMs: 60_000 },
    as: 'admin',
    hibernating: false,
  },
  { method: 'DELETE', path: ({ user }) => `/api/users/${user}/hibernation`, as: 'admin', hibernating: true },
]

describe('G6: malformed JSON and unknown fields are refused on every route, and nothing is written', () => {
  for (const route of ROUTES) {
    test(`${route.method} ${route.path({ user: ':id' })}`, async ({ api }) => {
      const user = await api.newUser()
      const cookie = route.as === 'admin' ? await api.adminCookie() : user.cookie
      if (route.hibernating) {
        expect((await api.call('/api/me/hibernation', { method: 'POST', cookie: user.cookie })).status).toBe(201)
      }
      const path = route.path({ user: user.id })
      const unknown = [
        JSON.stringify({ ...route.valid, unexpected: true }),
        `{"__proto__":{"role":"admin"}${route.valid ? `,${JSON.stringify(route.valid).slice(1, -1)}` : ''}}`,
      ]
      for (const body of [...MALFORMED, ...unknown]) {
        const before = await state(api)
        const res = await api.call(path, {
          method: route.method,
          cookie,
          headers: { 'content-type': 'application/json' },
          body,
        })
        const what = `${route.method} ${path} ${JSON.stringify(body)} → ${res.status}`
        expect(res.status, what).toBe(400)
        expect(((await res.json()) as { error: { code: string } }).error.code, what).toMatch(
          /^(invalid_json|validation_failed)$/,
        )
        expect(await state(api), what).toBe(before)
      }
      // The same route with a good body (or none, or an empty one) still works: the refusals
      // above were about the body, not the state.
      const good = route.valid ? JSON.stringify(route.valid) : ''
      const res = await api.call(path, {
        method: route.method,
        cookie,
        headers: { 'content-type': 'application/json' },
        body: good,
      })
      expect(res.status, `${route.method} ${path} ${good}`).toBeLessThan(300)
    })
  }

  test('routes whose body is optional take no body, an empty one, or {}', async ({ api }) => {
    const user = await api.newUser()
    for (const body of [undefined, '', '  ', '{}']) {
      const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' }
      const start = await api.call('/api/me/hibernation', { method: 'POST', cookie: user.cookie, headers, body })
      expect(start.status, JSON.stringify(body)).toBe(201)
      const wake = await api.call('/api/me/hibernation', { method: 'DELETE', cookie: user.cookie, headers, body })
      expect(wake.status, JSON.stringify(body)).toBe(200)
    }
  })
})
