import { SseRecorder } from './sse-client.js'
import { uniquePrefix } from './temp.js'

export type Credentials = { email: string; password: string }

export type ApiClient = ReturnType<typeof apiClient>

/**
 * An HTTP client for one running API (in-process or a child process), with the helpers
 * tests share: JSON calls, sign-in, an admin session, new users and recorded streams.
 */
export const apiClient = (url: string, options: { admin: Credentials; userPassword: string }) => {
  let counter = 0
  let admin: string | undefined
  const recorders = new Set<SseRecorder>()

  /** fetch against this API; `json` bodies get their content type. */
  const call = (path: string, init: RequestInit & { cookie?: string; json?: unknown } = {}) => {
    const { cookie, json, ...rest } = init
    const headers = new Headers(rest.headers)
    if (cookie) headers.set('cookie', cookie)
    if (json !== undefined) headers.set('content-type', 'application/json')
    return fetch(`${url}${path}`, { ...rest, headers, body: json === undefined ? rest.body : JSON.stringify(json) })
  }

  /** Signs in and returns the Cookie header value. */
  const login = async (email: string, password: string) => {
    const res = await call('/api/auth/login', { method: 'POST', json: { email, password } })
    if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`)
    const cookie = res.headers.getSetCookie()[0]?.split(';')[0]
    if (!cookie) throw new Error('login set no cookie')
    return cookie
  }

  const adminCookie = async () => {
    admin ??= await login(options.admin.email, options.admin.password)
    return admin
  }

  /** Creates a user as admin and signs them in. */
  const newUser = async (fields: { permissions?: string[]; role?: 'user' | 'admin' } = {}) => {
    const email = `user${++counter}-${uniquePrefix('u')}@example.com`
    const res = await call('/api/users', {
      method: 'POST',
      cookie: await adminCookie(),
      json: { email, password: options.userPassword, ...fields },
    })
    if (res.status !== 201) throw new Error(`create user failed: ${res.status} ${await res.text()}`)
    const { user } = (await res.json()) as { user: { id: string } }
    return { id: user.id, email, cookie: await login(email, options.userPassword) }
  }

  /** Replaces a user's permissions as admin; throws unless the API answers 200. */
  const grant = async (userId: string, permissions: string[]) => {
    const res = await call(`/api/users/${userId}/permissions`, {
      method: 'PUT',
      cookie: await adminCookie(),
      json: { permissions },
    })
    if (res.status !== 200) throw new Error(`grant failed: ${res.status} ${await res.text()}`)
  }

  /** Opens `/api/events` (or `/api/admin/events` with `admin`); `closeStreams()` ends them all. */
  const stream = (
    cookie: string | undefined,
    opts: { admin?: boolean; lastEventId?: number | string; query?: string } = {},
  ) => {
    const path = opts.admin ? '/api/admin/events' : '/api/events'
    const recorder = new SseRecorder(`${url}${path}${opts.query ?? ''}`, {
      ...(cookie ? { cookie } : {}),
      ...(opts.lastEventId === undefined ? {} : { lastEventId: opts.lastEventId }),
    })
    recorders.add(recorder)
    return recorder
  }

  const closeStreams = () => {
    for (const recorder of recorders) recorder.close()
    recorders.clear()
  }

  return { url, call, login, adminCookie, newUser, grant, stream, closeStreams }
}
