import { queryDb } from '@dormant/testing'
import { describe, expect } from 'vitest'
import { ADMIN, startTestApi, type TestApi, test } from '../testing.js'

const login = (api: TestApi, json: unknown, cookie?: string) =>
  api.call('/api/auth/login', { method: 'POST', json, ...(cookie ? { cookie } : {}) })

describe('POST /api/auth/login', () => {
  test('200 with the user and an HttpOnly, SameSite=Lax, Path=/ session cookie', async ({ api }) => {
    const res = await login(api, { email: ADMIN.email, password: ADMIN.password })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { user: { email: string; role: string } }
    expect(body.user).toMatchObject({ email: ADMIN.email, role: 'admin' })
    const [cookie] = res.headers.getSetCookie()
    expect(cookie).toMatch(/^dormant_session=[\w-]{40,};/)
    expect(cookie).toMatch(/;\s*HttpOnly/i)
    expect(cookie).toMatch(/;\s*SameSite=Lax/i)
    expect(cookie).toMatch(/;\s*Path=\/(;|$)/)
    expect(JSON.stringify(body)).not.toMatch(/password/i)
  })

  test('emails are matched case-insensitively', async ({ api }) => {
    const res = await login(api, { email: ADMIN.email.toUpperCase(), password: ADMIN.password })
    expect(res.status).toBe(200)
  })

  test('401 invalid_credentials for a wrong password or an unknown email, with no cookie', async ({ api }) => {
    for (const json of [
      { email: ADMIN.email, password: 'wrong-password' },
      { email: 'nobody@example.com', password: ADMIN.password },
    ]) {
      const res = await login(api, json)
      expect(res.status).toBe(401)
      expect(await res.json()).toEqual({ error: { code: 'invalid_credentials', message: 'wrong email or password' } })
      expect(res.headers.getSetCookie()).toEqual([])
    }
  })

  test('400 on unknown fields, wrong types and missing fields', async ({ api }) => {
    for (const json of [
      { email: ADMIN.email, password: ADMIN.password, admin: true },
      { email: ADMIN.email, password: 12345678 },
      { email: ADMIN.email },
      [],
    ]) {
      const res = await login(api, json)
      expect(res.status, JSON.stringify(json)).toBe(400)
      const body = (await res.json()) as { error: { code: string; details: unknown[] } }
      expect(body.error.code).toBe('validation_failed')
      expect(Array.isArray(body.error.details)).toBe(true)
    }
  })

  test('a new login replaces the session the browser sent', async ({ api }) => {
    const first = await api.login(ADMIN.email, ADMIN.password)
    const res = await login(api, { email: ADMIN.email, password: ADMIN.password }, first)
    expect(res.status).toBe(200)
    expect((await api.call('/api/me', { cookie: first })).status).toBe(401)
  })
})

describe('login rate limits', () => {
  test('429 after LOGIN_LIMIT_PER_ACCOUNT failures for that account, even with the right password', async () => {
    const api = await startTestApi({ LOGIN_LIMIT_PER_ACCOUNT: '3' })
    try {
      const victim = await api.newUser()
      const other = await api.newUser()
      for (let i = 0; i < 3; i++) {
        expect((await login(api, { email: victim.email, password: 'wrong-password' })).status).toBe(401)
      }
      const res = await login(api, { email: victim.email.toUpperCase(), password: 'user-password' })
      expect(res.status).toBe(429)
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0)
      const body = (await res.json()) as { error: { code: string } }
      expect(body.error.code).toBe('rate_limited')
      // Other accounts are not locked out by someone guessing at this one.
      expect((await login(api, { email: other.email, password: 'user-password' })).status).toBe(200)
      // The counters are keyed by hashes: what was typed into the email field is not stored.
      const keys = (await queryDb<{ key: string }>(api.database, 'select key from login_failures')).map((r) => r.key)
      expect(keys.length).toBeGreaterThan(0)
      for (const key of keys) expect(key).not.toMatch(/@|account|address|127\.0\.0\.1/)
    } finally {
      await api.stop()
    }
  })

  test('429 after LOGIN_LIMIT_PER_ADDRESS failures from one address across accounts', async () => {
    const api = await startTestApi({ LOGIN_LIMIT_PER_ADDRESS: '3' })
    try {
      for (let i = 0; i < 3; i++) {
        expect((await login(api, { email: `guess${i}@example.com`, password: 'wrong-password' })).status).toBe(401)
      }
      const res = await login(api, { email: ADMIN.email, password: ADMIN.password })
      expect(res.status).toBe(429)
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('rate_limited')
    } finally {
      await api.stop()
    }
  })
})

describe('behind a load balancer (TRUST_PROXY_HOPS)', () => {
  const guess = (api: TestApi, forwardedFor: string, i: number) =>
    api.call('/api/auth/login', {
      method: 'POST',
      headers: { 'x-forwarded-for': forwardedFor },
      json: { email: `guess${i}@example.com`, password: 'wrong-password' },
    })

  test('failures count against the address the balancer appended, not what the client wrote', async () => {
    const api = await startTestApi({ LOGIN_LIMIT_PER_ADDRESS: '2', TRUST_PROXY_HOPS: '1' })
    try {
      // One client behind the balancer (203.0.113.7), varying the part of the header it controls.
      expect((await guess(api, '198.51.100.1, 203.0.113.7', 0)).status).toBe(401)
      expect((await guess(api, '198.51.100.2, 203.0.113.7', 1)).status).toBe(401)
      expect((await guess(api, '198.51.100.3, 203.0.113.7', 2)).status).toBe(429)
      // Another client is not blocked by the first one's failures.
      expect((await guess(api, '203.0.113.8', 3)).status).toBe(401)
    } finally {
      await api.stop()
    }
  })

  test('without trusted proxies the header is ignored: every request here comes from one socket address', async () => {
    const api = await startTestApi({ LOGIN_LIMIT_PER_ADDRESS: '2' })
    try {
      expect((await guess(api, '203.0.113.1', 0)).status).toBe(401)
      expect((await guess(api, '203.0.113.2', 1)).status).toBe(401)
      expect((await guess(api, '203.0.113.3', 2)).status).toBe(429)
    } finally {
      await api.stop()
    }
  })
})

describe('POST /api/auth/logout', () => {
  test('204, clears the cookie, and the old cookie then gets 401', async ({ api }) => {
    const user = await api.newUser()
    expect((await api.call('/api/me', { cookie: user.cookie })).status).toBe(200)
    const res = await api.call('/api/auth/logout', { method: 'POST', cookie: user.cookie })
    expect(res.status).toBe(204)
    expect(res.headers.getSetCookie()[0]).toMatch(/^dormant_session=;.*Max-Age=0/i)
    const after = await api.call('/api/me', { cookie: user.cookie })
    expect(after.status).toBe(401)
    expect(await after.json()).toEqual({ error: { code: 'unauthorized', message: 'sign in first' } })
  })

  test('401 without a session', async ({ api }) => {
    const res = await api.call('/api/auth/logout', { method: 'POST' })
    expect(res.status).toBe(401)
  })
})

describe('sessions', () => {
  test('401 once the session has expired', async ({ api }) => {
    const user = await api.newUser()
    await queryDb(api.database, 'update sessions set expires_at = ? where user_id = ?', [Date.now() - 1, user.id])
    const res = await api.call('/api/me', { cookie: user.cookie })
    expect(res.status).toBe(401)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unauthorized')
  })

  test('401 for a forged or oversized cookie', async ({ api }) => {
    for (const cookie of ['dormant_session=forged', `dormant_session=${'a'.repeat(200)}`]) {
      expect((await api.call('/api/me', { cookie })).status).toBe(401)
    }
  })
})
