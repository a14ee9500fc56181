import { createLogger } from '@dormant/core'
import { SseRecorder, tempDbPath, uniquePrefix } from '@dormant/testing'
import { test as base, inject } from 'vitest'
import { loadApiConfig } from './env.js'
import { type RunningApi, startApi } from './server.js'

export const ADMIN = { email: 'admin@example.com', password: 'admin-password' }

export type TestApi = RunningApi & {
  /** fetch against this API; JSON bodies get their content type. */
  call(path: string, init?: RequestInit & { cookie?: string; json?: unknown }): Promise<Response>
  /** Signs in and returns the Cookie header value. */
  login(email: string, password: string): Promise<string>
  adminCookie(): Promise<string>
  /** Creates a user as admin and signs them in. */
  newUser(fields?: {
    permissions?: string[]
    role?: 'user' | 'admin'
  }): Promise<{ id: string; email: string; cookie: string }>
  /** Opens an SSE stream (`/api/events`, or `/api/admin/events` with `admin`); closed by stop(). */
  stream(
    cookie: string | undefined,
    options?: { admin?: boolean; lastEventId?: number | string; query?: string },
  ): SseRecorder
}

/** Starts a real API (HTTP server, SQLite file, Redis) with settings a test may override. */
export const startTestApi = async (env: Record<string, string> = {}): Promise<TestApi> => {
  const config = loadApiConfig({
    PORT: '0',
    DB_PATH: tempDbPath(),
    REDIS_URL: inject('redisUrl'),
    REDIS_PREFIX: uniquePrefix(),
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    LOGIN_LIMIT_PER_ADDRESS: '100000',
    ...env,
  })
  const api = await startApi(config, createLogger('api-test', process.env.TEST_LOG_LEVEL ?? 'silent'))
  let counter = 0
  let admin: string | undefined
  const call: TestApi['call'] = (path, init = {}) => {
    const { cookie, json, ...rest } = init
    const headers = new Headers(rest.headers)
    if (cookie) headers.set('cookie', cookie)
    if (json !== undefined) headers.set('content-type', 'application/json')
    return fetch(`${api.url}${path}`, { ...rest, headers, body: json === undefined ? rest.body : JSON.stringify(json) })
  }
  const login: TestApi['login'] = async (email, password) => {
    const res = await call('/api/auth/login', { method: 'POST', json: { email, password } })
    if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`)
    const cookie = res.headers.getSetCookie()[0]?.split(';')[0]
    if (!cookie) throw new Error('login set no cookie')
    return cookie
  }
  const adminCookie = async () => {
    admin ??= await login(ADMIN.email, ADMIN.password)
    return admin
  }
  const newUser: TestApi['newUser'] = async (fields = {}) => {
    const email = `user${++counter}-${uniquePrefix('u')}@example.com`
    const res = await call('/api/users', {
      method: 'POST',
      cookie: await adminCookie(),
      json: { email, password: 'user-password', ...fields },
    })
    if (res.status !== 201) throw new Error(`create user failed: ${res.status} ${await res.text()}`)
    const { user } = (await res.json()) as { user: { id: string } }
    return { id: user.id, email, cookie: await login(email, 'user-password') }
  }
  const recorders = new Set<SseRecorder>()
  const stream: TestApi['stream'] = (cookie, options = {}) => {
    const path = options.admin ? '/api/admin/events' : '/api/events'
    const recorder = new SseRecorder(`${api.url}${path}${options.query ?? ''}`, {
      ...(cookie ? { cookie } : {}),
      ...(options.lastEventId === undefined ? {} : { lastEventId: options.lastEventId }),
    })
    recorders.add(recorder)
    return recorder
  }
  const stop = api.stop
  /** Teardown, not a shutdown test: connections the test client keeps alive are cut at once. */
  const stopAll = async () => {
    for (const recorder of recorders) recorder.close()
    const stopped = stop()
    api.server.closeAllConnections()
    await stopped
  }
  return Object.assign(api, { call, login, adminCookie, newUser, stream, stop: stopAll })
}

/** A vitest fixture: `api` is a fresh, running API per test, stopped afterwards. */
export const test = base.extend<{ api: TestApi }>({
  // biome-ignore lint/correctness/noEmptyPattern: vitest fixtures take their dependencies by destructuring
  api: async ({}, use) => {
    const api = await startTestApi()
    await use(api)
    await api.stop()
  },
})
