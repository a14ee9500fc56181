import { queryDb, waitFor } from '@dormant/testing'
import { describe, expect } from 'vitest'
import { MAX_BODY_BYTES } from './middleware.js'
import { ADMIN, startTestApi, type TestApi, test } from './testing.js'
import { WEB_CSP } from './web.js'

/** Everything a rejected request must leave untouched (sessions excluded: logins create them). */
const snapshot = async (api: TestApi) => {
  const rows = (sql: string) => queryDb(api.database, sql)
  return JSON.stringify({
    users: await rows('select * from users order by id'),
    hibernations: await rows('select * from hibernations order by id'),
    transactions: await rows('select * from transactions order by id'),
    events: await rows('select max(id) as id, cast(count(*) as integer) as n from events'),
  })
}

const expectError = async (res: Response, status: number, code?: string) => {
  expect(res.status).toBe(status)
  expect(res.headers.get('content-type')).toMatch(/^application\/json/)
  const body = (await res.json()) as { error: { code: string; message: string } }
  expect(typeof body.error.message).toBe('string')
  if (code) expect(body.error.code).toBe(code)
}

const cookieOf = (res: Response) => res.headers.getSetCookie().find((c) => c.startsWith('dormant_session='))

/** Every cookie-authenticated route that changes state; `:id` is replaced by a user id. */
const MUTATING = [
  ['POST', '/api/auth/logout', undefined],
  ['POST', '/api/me/hibernation', undefined],
  ['DELETE', '/api/me/hibernation', undefined],
  ['POST', '/api/users', { email: 'new@example.com', password: 'new-password' }],
  ['PUT', '/api/users/:id/permissions', { permissions: ['reports.view'] }],
  ['POST', '/api/users/:id/hibernation', { durationMs: 60_000 }],
  ['DELETE', '/api/users/:id/hibernation', undefined],
] as const

describe('session cookie', () => {
  test('is HttpOnly, SameSite=Lax, Path=/ and not Secure by default', async ({ api }) => {
    const res = await api.call('/api/auth/login', { method: 'POST', json: ADMIN })
    const cookie = cookieOf(res)
    expect(cookie).toMatch(/; HttpOnly/i)
    expect(cookie).toMatch(/; SameSite=Lax/i)
    expect(cookie).toMatch(/; Path=\//i)
    expect(cookie).not.toMatch(/; Secure/i)
  })

  test('is Secure when COOKIE_SECURE=true', async () => {
    const api = await startTestApi({ COOKIE_SECURE: 'true' })
    try {
      const res = await api.call('/api/auth/login', { method: 'POST', json: ADMIN })
      expect(cookieOf(res)).toMatch(/; Secure/i)
      const out = await api.call('/api/auth/logout', { method: 'POST', cookie: cookieOf(res)?.split(';')[0] })
      expect(out.status).toBe(204)
      expect(cookieOf(out)).toMatch(/; Secure/i)
    } finally {
      await api.stop()
    }
  })
})

describe('sessions', () => {
  test('login rotates: a new token, and the one sent along is revoked with its streams', async ({ api }) => {
    const user = await api.newUser()
    const stream = api.stream(user.cookie)
    await stream.untilEvents(1, 'snapshot')
    const res = await api.call('/api/auth/login', {
      method: 'POST',
      cookie: user.cookie,
      json: { email: user.email, password: 'user-password' },
    })
    expect(res.status).toBe(200)
    const fresh = cookieOf(res)?.split(';')[0]
    expect(fresh).toBeDefined()
    expect(fresh).not.toBe(user.cookie)
    expect((await api.call('/api/me', { cookie: user.cookie })).status).toBe(401)
    expect((await api.call('/api/me', { cookie: fresh })).status).toBe(200)
    await stream.closedByServer()
  })

  test('expires after SESSION_TTL_MS', async () => {
    const api = await startTestApi({ SESSION_TTL_MS: '1000' })
    try {
      const cookie = await api.adminCookie()
      expect((await api.call('/api/me', { cookie })).status).toBe(200)
      const started = Date.now()
      await waitFor(async () => (await api.call('/api/me', { cookie })).status === 401, { intervalMs: 100 })
      expect(Date.now() - started).toBeLessThan(2000)
      await expectError(await api.call('/api/me', { cookie }), 401, 'unauthorized')
    } finally {
      await api.stop()
    }
  })

  test('logout revokes the session and ends its streams', async ({ api }) => {
    const user = await api.newUser()
    const stream = api.stream(user.cookie)
    await stream.untilEvents(1, 'snapshot')
    const res = await api.call('/api/auth/logout', { method: 'POST', cookie: user.cookie })
    expect(res.status).toBe(204)
    await stream.closedByServer()
    await expectError(await api.call('/api/me', { cookie: user.cookie }), 401)
    const again = api.stream(user.cookie)
    await again.opened
    expect(again.status).toBe(401)
  })
})

describe('CSRF', () => {
  test('a cross-site Origin is refused on every mutating route, and nothing changes', async ({ api }) => {
    const cookie = await api.adminCookie()
    const victim = await api.newUser()
    for (const [method, path, body] of MUTATING) {
      for (const headers of [
        { origin: 'https://evil.example' } as Record<string, string>,
        { origin: 'null' },
        { origin: `${api.url}.evil.example` },
        { 'sec-fetch-site': 'cross-site' },
      ]) {
        const before = await snapshot(api)
        const res = await api.call(path.replace(':id', victim.id), {
          method,
          cookie,
          headers: { ...headers, 'content-type': 'application/json' },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        })
        await expectError(res, 403, 'forbidden')
        expect(await snapshot(api), `${method} ${path} ${JSON.stringify(headers)}`).toBe(before)
      }
    }
    // The session survived every refused logout.
    expect((await api.call('/api/me', { cookie })).status).toBe(200)
  })

  test('form and text content types are refused (415), even with an empty body', async ({ api }) => {
    const cookie = await api.adminCookie()
    const victim = await api.newUser()
    for (const [method, path] of MUTATING) {
      for (const type of ['application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'text/plain']) {
        for (const body of ['', 'a=1']) {
          const before = await snapshot(api)
          const res = await api.call(path.replace(':id', victim.id), {
            method,
            cookie,
            headers: { 'content-type': type },
            body,
          })
          await expectError(res, 415, 'unsupported_media_type')
          expect(await snapshot(api)).toBe(before)
        }
      }
    }
    expect((await api.call('/api/me', { cookie })).status).toBe(200)
  })

  test('a same-origin request with an Origin passes', async ({ api }) => {
    const user = await api.newUser()
    const res = await api.call('/api/me/hibernation', {
      method: 'POST',
      cookie: user.cookie,
      headers: { origin: api.url, 'sec-fetch-site': 'same-origin' },
    })
    expect(res.status).toBe(201)
  })
})

describe('login rate limit', () => {
  test('per account: 429 with Retry-After, even for the right password', async () => {
    const api = await startTestApi({ LOGIN_LIMIT_PER_ACCOUNT: '3' })
    try {
      for (let i = 0; i < 3; i++) {
        const res = await api.call('/api/auth/login', { method: 'POST', json: { ...ADMIN, password: 'wrong-guess' } })
        await expectError(res, 401, 'invalid_credentials')
      }
      const res = await api.call('/api/auth/login', { method: 'POST', json: ADMIN })
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0)
      await expectError(res, 429, 'rate_limited')
      // The same account with other casing is the same account.
      const upper = await api.call('/api/auth/login', {
        method: 'POST',
        json: { ...ADMIN, email: ADMIN.email.toUpperCase() },
      })
      expect(upper.status).toBe(429)
    } finally {
      await api.stop()
    }
  })

  test('per address: 429 across many accounts', async () => {
    const api = await startTestApi({ LOGIN_LIMIT_PER_ADDRESS: '4' })
    try {
      for (let i = 0; i < 4; i++) {
        const res = await api.call('/api/auth/login', {
          method: 'POST',
          json: { email: `nobody${i}@example.com`, password: 'wrong-guess' },
        })
        expect(res.status).toBe(401)
      }
      const res = await api.call('/api/auth/login', {
        method: 'POST',
        json: { email: 'someone-else@example.com', password: 'wrong-guess' },
      })
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0)
      await expectError(res, 429, 'rate_limited')
    } finally {
      await api.stop()
    }
  })
})

/** Sends every guess at once and counts the answers by status. */
const burst = async (api: TestApi, guesses: { email: string; password: string }[]) => {
  const statuses = await Promise.all(
    guesses.map(async (json) => (await api.call('/api/auth/login', { method: 'POST', json })).status),
  )
  const count = (status: number) => statuses.filter((s) => s === status).length
  return { checked: count(401) + count(200), failed: count(401), limited: count(429), total: statuses.length }
}

describe('login rate limit under a burst', () => {
  // The check and the count used to be split by scrypt's await: 60 concurrent guesses got
  // 13-19 password checks against a limit of 3.
  test('per account: 60 concurrent guesses get at most the limit of password checks', async () => {
    const api = await startTestApi({ LOGIN_LIMIT_PER_ACCOUNT: '3' })
    try {
      const guesses = Array.from({ length: 60 }, (_, i) => ({
        email: ADMIN.email,
        password: i === 59 ? ADMIN.password : `wrong-guess-${i}`,
      }))
      const result = await burst(api, guesses)
      expect(result.failed).toBeLessThanOrEqual(3)
      expect(result.checked).toBeLessThanOrEqual(3)
      expect(result.limited).toBe(60 - result.checked)
      const res = await api.call('/api/auth/login', { method: 'POST', json: ADMIN })
      await expectError(res, 429, 'rate_limited')
    } finally {
      await api.stop()
    }
  })

  test("a right password forgives the account's past failures, one after the other", async () => {
    const api = await startTestApi({ LOGIN_LIMIT_PER_ACCOUNT: '3' })
    try {
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 2; i++) {
          const res = await api.call('/api/auth/login', { method: 'POST', json: { ...ADMIN, password: 'wrong-guess' } })
          expect(res.status).toBe(401)
        }
        expect((await api.call('/api/auth/login', { method: 'POST', json: ADMIN })).status).toBe(200)
      }
    } finally {
      await api.stop()
    }
  })

  test('per address: 60 concurrent guesses at many accounts get at most the limit of password checks', async () => {
    const api = await startTestApi({ LOGIN_LIMIT_PER_ADDRESS: '4' })
    try {
      const guesses = Array.from({ length: 60 }, (_, i) => ({ email: `nobody${i}@example.com`, password: 'wrong' }))
      const result = await burst(api, guesses)
      expect(result.checked).toBeLessThanOrEqual(4)
      expect(result.limited).toBe(60 - result.checked)
    } finally {
      await api.stop()
    }
  })
})

describe('constant-time login', () => {
  const time = async (api: TestApi, email: string) => {
    const started = performance.now()
    const res = await api.call('/api/auth/login', { method: 'POST', json: { email, password: 'wrong-guess' } })
    expect(res.status).toBe(401)
    return performance.now() - started
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0

  test('an unknown email costs a password hash too', async ({ api }) => {
    const known: number[] = []
    const unknown: number[] = []
    for (let i = 0; i < 8; i++) {
      const user = await api.newUser()
      known.push(await time(api, user.email))
      unknown.push(await time(api, `missing-${i}@example.com`))
    }
    // scrypt (tens of ms) dominates both paths; skipping it would make unknown emails ~20× faster.
    console.log(`login timing: known email ${median(known).toFixed(1)} ms, unknown ${median(unknown).toFixed(1)} ms`)
    expect(median(unknown)).toBeGreaterThan(median(known) * 0.5)
    expect(median(known)).toBeGreaterThan(5)
  })
})

describe('security headers', () => {
  test('on JSON, error and page responses', async ({ api }) => {
    const cookie = await api.adminCookie()
    for (const [path, withCookie] of [
      ['/api/me', true],
      ['/api/me', false],
      ['/api/permissions', true],
      ['/api/nope', true],
      ['/healthz', false],
      ['/', false],
      ['/login', false],
    ] as const) {
      const res = await api.call(path, withCookie ? { cookie } : {})
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff')
      expect(res.headers.get('x-frame-options'), path).toBe('SAMEORIGIN')
      expect(res.headers.get('referrer-policy'), path).toBe('no-referrer')
      expect(res.headers.get('strict-transport-security'), path).toMatch(/max-age=/)
      expect(res.headers.get('cross-origin-opener-policy'), path).toBe('same-origin')
      expect(res.headers.get('x-powered-by'), path).toBeNull()
    }
  })

  test("the web app's pages and files carry a Content-Security-Policy allowing only this origin", async ({ api }) => {
    const pages = ['/', '/login', '/admin', '/favicon.ico']
    for (const path of pages) {
      const csp = (await api.call(path)).headers.get('content-security-policy')
      expect(csp, path).toBe(WEB_CSP)
    }
    expect(WEB_CSP).toMatch(/default-src 'none'/)
    expect(WEB_CSP).not.toMatch(/unsafe-inline|unsafe-eval|\*/)
    // Bull Board and the docs page run inline script: they are not given the web app's policy.
    const cookie = await api.adminCookie()
    for (const path of ['/admin/queues', '/api/docs', '/api/me']) {
      expect((await api.call(path, { cookie })).headers.get('content-security-policy'), path).toBeNull()
    }
  })
})

describe('body size limit', () => {
  test(`bodies over ${MAX_BODY_BYTES} bytes are refused with 413, with or without Content-Length`, async ({ api }) => {
    const cookie = await api.adminCookie()
    const before = await snapshot(api)
    const big = JSON.stringify({ email: 'big@example.com', password: 'x'.repeat(MAX_BODY_BYTES) })
    await expectError(await api.call('/api/users', { method: 'POST', cookie, json: JSON.parse(big) }), 413)
    const chunked = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(big))
        controller.close()
      },
    })
    const res = await api.call('/api/users', {
      method: 'POST',
      cookie,
      headers: { 'content-type': 'application/json' },
      body: chunked,
      duplex: 'half',
    } as RequestInit)
    await expectError(res, 413, 'payload_too_large')
    expect(await snapshot(api)).toBe(before)
  })
})

describe('permission catalogue', () => {
  test('unknown names are refused on write and nothing is stored', async ({ api }) => {
    const cookie = await api.adminCookie()
    const user = await api.newUser()
    const before = await snapshot(api)
    for (const permissions of [['root'], ['reports.view', 'admin'], ['REPORTS.VIEW'], [' reports.view'], [1]]) {
      const put = await api.call(`/api/users/${user.id}/permissions`, { method: 'PUT', cookie, json: { permissions } })
      await expectError(put, 400, 'validation_failed')
      const create = await api.call('/api/users', {
        method: 'POST',
        cookie,
        json: { email: 'cat@example.com', password: 'user-password', permissions },
      })
      await expectError(create, 400, 'validation_failed')
    }
    expect(await snapshot(api)).toBe(before)
  })
})

describe('admin data is for admins only', () => {
  test('every admin route: 403 for a user, 401 without a session', async ({ api }) => {
    const user = await api.newUser()
    const other = await api.newUser()
    const routes = [
      ['GET', '/api/users'],
      ['GET', '/api/users?query=admin'],
      ['GET', `/api/users/${other.id}`],
      ['GET', `/api/users/${user.id}`],
      ['GET', `/api/users/${other.id}/transactions`],
      ...MUTATING.filter(([, path]) => path.startsWith('/api/users')).map(([m, p]) => [m, p.replace(':id', other.id)]),
    ] as const
    const before = await snapshot(api)
    for (const [method, path] of routes) {
      const body = method === 'GET' ? undefined : {}
      await expectError(await api.call(path, { method, cookie: user.cookie, json: body }), 403, 'forbidden')
      await expectError(await api.call(path, { method, json: body }), 401, 'unauthorized')
    }
    expect(await snapshot(api)).toBe(before)
  })

  test('the admin stream needs an admin session', async ({ api }) => {
    const user = await api.newUser()
    const asUser = api.stream(user.cookie, { admin: true })
    await asUser.opened
    expect(asUser.status).toBe(403)
    const anonymous = api.stream(undefined, { admin: true })
    await anonymous.opened
    expect(anonymous.status).toBe(401)
    const admin = api.stream(await api.adminCookie(), { admin: true })
    await admin.untilEvents(1, 'snapshot')
    expect(admin.status).toBe(200)
  })

  // Bull Board is always mounted (app.ts): this test always runs.
  test('Bull Board and its API refuse non-admins', async ({ api }) => {
    const user = await api.newUser()
    for (const path of [
      '/admin/queues',
      '/admin/queues/',
      '/admin/queues/api/queues',
      '/admin/queues/api/redis/stats',
    ]) {
      expect([401, 403], path).toContain((await api.call(path)).status)
      expect((await api.call(path, { cookie: user.cookie })).status, path).toBe(403)
    }
    for (const path of ['/admin/queues/api/queues/hibernations/clean/delayed', '/admin/queues/api/queues/pause']) {
      const res = await api.call(path, { method: 'PUT', cookie: user.cookie })
      expect(res.status, path).toBe(403)
      const csrf = await api.call(path, {
        method: 'PUT',
        cookie: await api.adminCookie(),
        headers: { origin: 'https://evil.example' },
      })
      expect(csrf.status, path).toBe(403)
    }
    const admin = await api.call('/admin/queues/api/queues', { cookie: await api.adminCookie() })
    expect(admin.status).toBe(200)
  })
})
