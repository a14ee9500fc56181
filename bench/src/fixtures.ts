import { Agent, request } from 'node:http'
import { type Db, newId } from '@dormant/db'

/**
 * Inserts plain users in one statement loop and one transaction: for the scheduling and
 * activation scenarios, which need many users but no sessions or history. Columns follow
 * packages/db/src/schema.ts.
 */
export const insertBareUsers = (db: Db, count: number) => {
  const insert = db.$client.prepare(
    `insert into users (id, email, name, password_hash, role, status, goal, permissions, version, created_at, updated_at)
     values (?, ?, ?, 'x', 'user', 'active', 0, '["hibernation.self"]', 1, ?, ?)`,
  )
  const ids: string[] = []
  const now = Date.now()
  db.$client.transaction(() => {
    for (let i = 0; i < count; i++) {
      const id = newId('usr')
      insert.run(id, `${id}@example.com`, `bulk ${i}`, now, now)
      ids.push(id)
    }
  })()
  return ids
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
