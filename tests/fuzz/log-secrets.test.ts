import { afterEach, expect, inject, test } from 'vitest'
import { ADMIN, type ApiProcess, spawnApi, systemEnv, USER_PASSWORD } from '../faults/support.js'

let api: ApiProcess | undefined
afterEach(async () => {
  await api?.signal('SIGTERM')
})

test('no password, token or cookie reaches the log, even at debug level', async () => {
  api = await spawnApi({ ...(await systemEnv(inject('redisUrl'))), LOG_LEVEL: 'debug' })
  const admin = await api.adminCookie()
  const user = await api.newUser()
  const wrong = 'not-the-password-9f3k'
  expect(
    (await api.call('/api/auth/login', { method: 'POST', json: { email: user.email, password: wrong } })).status,
  ).toBe(401)
  expect(
    (await api.call('/api/auth/login', { method: 'POST', json: { email: 'nobody@example.com', password: wrong } }))
      .status,
  ).toBe(401)
  // Invalid JSON and a failed validation both echo nothing of the body into the log.
  const bad = await api.call('/api/users', {
    method: 'POST',
    cookie: admin,
    headers: { 'content-type': 'application/json' },
    body: `{"email":"x@example.com","password":"${wrong}"`,
  })
  expect(bad.status).toBe(400)
  const short = await api.call('/api/users', {
    method: 'POST',
    cookie: admin,
    json: { email: 'y@example.com', password: 'short' },
  })
  expect(short.status).toBe(400)
  expect((await api.call('/api/me', { cookie: user.cookie })).status).toBe(200)
  expect((await api.call('/api/me/hibernation', { method: 'POST', cookie: user.cookie })).status).toBe(201)
  const stream = api.stream(user.cookie)
  await stream.untilEvents(1, 'snapshot')
  expect((await api.call('/api/auth/logout', { method: 'POST', cookie: user.cookie })).status).toBe(204)
  await stream.closedByServer()
  expect(await api.signal('SIGTERM')).toBe(0)

  const log = api.output()
  expect(log).toContain('"level":20') // debug lines were written, so the check below means something
  const secrets = {
    adminPassword: ADMIN.password,
    userPassword: USER_PASSWORD,
    wrongPassword: wrong,
    adminToken: admin.split('=')[1] ?? '',
    userToken: user.cookie.split('=')[1] ?? '',
    cookieName: 'dormant_session=',
    passwordHash: 'scrypt$',
  }
  for (const [what, secret] of Object.entries(secrets)) {
    expect(secret.length, what).toBeGreaterThan(6)
    expect(log.includes(secret), `${what} appears in the log`).toBe(false)
  }
  console.log(`[measured] scanned ${log.split('\n').length} log lines at debug level: no secrets`)
})
