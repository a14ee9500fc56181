import type { Permission, Role, TransactionJson, UserJson } from '@dormant/core'
import { ApiError } from './errors.js'
import { announceSession, changeSession } from './session.js'

export type PermissionInfo = { name: Permission; description: string }
export type UsersPage = { users: UserJson[]; nextCursor: string | null }
export type NewUserInput = {
  email: string
  password: string
  name?: string
  role?: Role
  permissions?: Permission[]
}

export type ApiClientOptions = {
  /** Prefix for every path; empty for the same origin. */
  baseUrl?: string
  fetch?: typeof fetch
}

const LOGIN_PATH = '/api/auth/login'

/** Typed fetch wrappers for the Dormant HTTP contract; the session travels as a cookie. */
export const createApiClient = (options: ApiClientOptions = {}) => {
  const base = options.baseUrl ?? ''
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init))

  const request = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    // Never from or into the HTTP cache: one browser may hold several people's sessions in turn.
    const init: RequestInit = {
      method,
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { accept: 'application/json' },
    }
    if (body !== undefined) {
      init.headers = { ...init.headers, 'content-type': 'application/json' }
      init.body = JSON.stringify(body)
    }
    let res: Response
    try {
      res = await doFetch(`${base}${path}`, init)
    } catch (err) {
      throw new ApiError('network', err instanceof Error ? err.message : 'network error', 0)
    }
    if (res.status === 204) return undefined as T
    const text = await res.text()
    let parsed: unknown
    try {
      parsed = text ? JSON.parse(text) : undefined
    } catch {
      parsed = undefined
    }
    // The browser's session is gone (logged out or expired in some tab): every tab drops it.
    // A refused sign-in is only a wrong password, not a change of session.
    if (res.status === 401 && path !== LOGIN_PATH) announceSession({ kind: 'signed-out' })
    if (!res.ok) {
      const error = (parsed as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error
      // A proxy's HTML error page has no JSON body: still a typed error with the status.
      throw new ApiError(
        error?.code ?? (res.status >= 500 ? 'unavailable' : 'http_error'),
        error?.message ?? `HTTP ${res.status}`,
        res.status,
        error?.details,
      )
    }
    return parsed as T
  }

  const user = async (p: Promise<{ user: UserJson }>) => (await p).user
  /** The session's own user: every tab learns whose session this is now. */
  const sessionUser = async (p: Promise<{ user: UserJson }>) => {
    const me = (await p).user
    announceSession({ kind: 'user', userId: me.id })
    return me
  }
  const id = encodeURIComponent

  return {
    /**
     * Sent once the other tabs show nothing of any user (`changeSession`): once it is answered
     * the cookie may be someone else's. They are told the outcome either way. Call it from a
     * page that shows no user's data (a login page): a tab holding the view waits on itself.
     */
    login: (email: string, password: string) =>
      changeSession(async () => {
        try {
          return await sessionUser(request('POST', LOGIN_PATH, { email, password }))
        } catch (err) {
          announceSession({ kind: 'unchanged' })
          throw err
        }
      }),
    logout: async () => {
      await request<void>('POST', '/api/auth/logout')
      announceSession({ kind: 'signed-out' })
    },
    me: () => sessionUser(request('GET', '/api/me')),
    startOwnHibernation: () => user(request('POST', '/api/me/hibernation')),
    cancelOwnHibernation: () => user(request('DELETE', '/api/me/hibernation')),
    myTransactions: async () =>
      (await request<{ transactions: TransactionJson[] }>('GET', '/api/me/transactions')).transactions,
    permissions: async () => (await request<{ permissions: PermissionInfo[] }>('GET', '/api/permissions')).permissions,
    listUsers: (query: { query?: string; limit?: number; cursor?: string | null } = {}) => {
      const params = new URLSearchParams()
      if (query.query) params.set('query', query.query)
      if (query.limit) params.set('limit', String(query.limit))
      if (query.cursor) params.set('cursor', query.cursor)
      const qs = params.toString()
      return request<UsersPage>('GET', `/api/users${qs ? `?${qs}` : ''}`)
    },
    createUser: (input: NewUserInput) => user(request('POST', '/api/users', input)),
    getUser: (userId: string) => user(request('GET', `/api/users/${id(userId)}`)),
    setPermissions: (userId: string, permissions: Permission[]) =>
      user(request('PUT', `/api/users/${id(userId)}/permissions`, { permissions })),
    startHibernation: (userId: string, durationMs?: number) =>
      user(request('POST', `/api/users/${id(userId)}/hibernation`, durationMs === undefined ? {} : { durationMs })),
    cancelHibernation: (userId: string) => user(request('DELETE', `/api/users/${id(userId)}/hibernation`)),
    userTransactions: async (userId: string) =>
      (await request<{ transactions: TransactionJson[] }>('GET', `/api/users/${id(userId)}/transactions`)).transactions,
  }
}

export type ApiClient = ReturnType<typeof createApiClient>
