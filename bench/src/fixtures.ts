import { Agent, request } from 'node:http'
import { newId } from '@dormant/db'
import type { Raw } from './database.js'

export const USER_COLUMNS = [
  'id',
  'email',
  'name',
  'password_hash',
  'role',
  'status',
  'goal',
  'permissions',
  'version',
  'created_at',
  'updated_at',
]

/** One users row in USER_COLUMNS order (columns follow packages/db's schema). */
export const userRow = (id: string, email: string, name: string, permissions: readonly string[], now: number) => [
  id,
  email,
  name,
  'x',
  'user',
  'active',
  0,
  JSON.stringify(permissions),
  1,
  now,
  now,
]

/**
 * Inserts plain users in bulk, one transaction: for the scenarios that need many users but
 * no sessions or history (one at a time through the data functions takes minutes on PostgreSQL).
 */
export const insertBareUsers = async (raw: Raw, count: number) => {
  const now = Date.now()
  const ids = Array.from({ length: count }, () => newId('usr'))
  await raw.insert(
    'users',
    USER_COLUMNS,
    ids.map((id, i) => userRow(id, `${id}@example.com`, `bulk ${i}`, ['hibernation.self'], now)),
  )
  return ids
}

/**
 * Scheduled hibernations in bulk, one per user, as startHibernation leaves them (the row,
 * the user hibernating) without its outbox event: for scenarios that need thousands due at
 * once (through the data functions that takes minutes on PostgreSQL). Returns what
 * scheduleHibernationJobs takes.
 */
export const insertHibernations = async (
  raw: Raw,
  userIds: string[],
  startedAt: number,
  endsAt: (i: number) => number,
) => {
  const due = userIds.map((userId, i) => ({ id: newId('hib'), userId, endsAt: endsAt(i) }))
  await raw.insert(
    'hibernations',
    ['id', 'user_id', 'status', 'started_at', 'ends_at'],
    due.map((h) => [h.id, h.userId, 'scheduled', startedAt, h.endsAt]),
  )
  await raw.all(
    "update users set status = 'hibernating' where status = 'active' and id in (select user_id from hibernations where status = 'scheduled')",
  )
  return due.map(({ id, endsAt }) => ({ id, endsAt }))
}

export const keepAliveAgent = (maxSockets: number) => new Agent({ keepAlive: true, maxSockets })

export type JsonResponse = { status: number; headers: Record<string, string | string[] | undefined>; body: unknown }

/** One JSON request over node:http (no fetch: cheaper per request for the load generator). */
export const callJson = (
  agent: Agent,
  port: number,
  method: string,
  path: string,
  options: { cookie?: string; body?: unknown } = {},
) =>
  new Promise<JsonResponse>((resolve, reject) => {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body)
    const headers: Record<string, string> = {}
    if (payload !== undefined) {
      headers['content-type'] = 'application/json'
      headers['content-length'] = String(Buffer.byteLength(payload))
    }
    if (options.cookie) headers.cookie = options.cookie
    const req = request({ host: '127.0.0.1', port, method, path, agent, headers }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => {
        text += c
      })
      res.on('end', () => {
        let body: unknown = text
        try {
          body = text ? JSON.parse(text) : undefined
        } catch {}
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body })
      })
    })
    req.on('error', reject)
    req.end(payload)
  })

export const ADMIN = { email: 'bench-admin@example.com', password: 'bench-admin-password' }
export const ADMIN_ENV = { ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password }

/** Signs in as the bootstrap admin and returns the Cookie header value. */
export const adminCookie = async (agent: Agent, port: number) => {
  const res = await callJson(agent, port, 'POST', '/api/auth/login', { body: ADMIN })
  const setCookie = res.headers['set-cookie']
  const cookie = (Array.isArray(setCookie) ? setCookie[0] : setCookie)?.split(';')[0]
  if (res.status !== 200 || !cookie) throw new Error(`admin login failed: ${res.status}`)
  return cookie
}

/** Runs `task(i)` for i in [0, count) with at most `parallel` in flight. */
export const pool = async (count: number, parallel: number, task: (i: number) => Promise<void>) => {
  let next = 0
  const lane = async () => {
    while (next < count) await task(next++)
  }
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, lane))
}
