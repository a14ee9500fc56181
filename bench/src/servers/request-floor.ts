// The request floor: Hono on @hono/node-server plus the database driver alone (better-sqlite3,
// or pg when DATABASE_URL is set), each route one statement (or one transaction of them)
// doing the same lookup and answering the same user JSON as the API. No validation, logging,
// metrics, security headers or publishing: what this stack can do at best for the same
// database work. Dormant's request figures are ratios to it.
import { createHash } from 'node:crypto'
import { serve } from '@hono/node-server'
import { Hono } from 'hono'
import { postgresFloor, type Row, sqliteFloor, type UserJson } from './request-floor-db.js'

const PORT = Number(process.env.PORT ?? 0)

const iso = (ms: number | string) => new Date(Number(ms)).toISOString()
const json = (r: Row): UserJson => ({
  id: r.id,
  email: r.email,
  name: r.name,
  role: r.role,
  status: r.status,
  goal: r.goal,
  permissions: typeof r.permissions === 'string' ? JSON.parse(r.permissions) : r.permissions,
  hibernation: r.hId === null ? null : { id: r.hId, startedAt: iso(r.hStartedAt ?? 0), endsAt: iso(r.hEndsAt ?? 0) },
  version: r.version,
  createdAt: iso(r.createdAt),
  updatedAt: iso(r.updatedAt),
})

const db = process.env.DATABASE_URL
  ? postgresFloor(process.env.DATABASE_URL, json)
  : sqliteFloor(process.env.DB_PATH ?? '', json)

const signedIn = async (cookie: string | undefined) => {
  const token = /(?:^|;\s*)dormant_session=([^;]+)/.exec(cookie ?? '')?.[1]
  return token ? db.session(createHash('sha256').update(token).digest('base64url'), Date.now()) : undefined
}

const isAdmin = async (cookie: string | undefined) => (await signedIn(cookie))?.role === 'admin'

let n = 0
const app = new Hono()
  .get('/api/me', async (c) => {
    const me = await signedIn(c.req.header('cookie'))
    return me ? c.json({ user: json(me) }) : c.json({ error: 'unauthorized' }, 401)
  })
  .get('/api/users', async (c) => {
    if (!(await isAdmin(c.req.header('cookie')))) return c.json({ error: 'forbidden' }, 403)
    return c.json({ users: (await db.page(Number(c.req.query('limit') ?? 50))).map(json), nextCursor: null })
  })
  .put('/api/users/:id/permissions', async (c) => {
    if (!(await isAdmin(c.req.header('cookie')))) return c.json({ error: 'forbidden' }, 403)
    const { permissions } = await c.req.json<{ permissions: string[] }>()
    const user = await db.setPermissions(c.req.param('id'), JSON.stringify([...new Set(permissions)].sort()))
    return user ? c.json({ user }) : c.json({ error: 'not_found' }, 404)
  })
  .post('/api/users/:id/hibernation', async (c) => {
    if (!(await isAdmin(c.req.header('cookie')))) return c.json({ error: 'forbidden' }, 403)
    const { durationMs } = await c.req.json<{ durationMs: number }>()
    const user = await db.hibernate(c.req.param('id'), `hib_floor_${process.pid}_${n++}`, durationMs)
    return user ? c.json({ user }, 201) : c.json({ error: 'conflict' }, 409)
  })
  .delete('/api/users/:id/hibernation', async (c) => {
    if (!(await isAdmin(c.req.header('cookie')))) return c.json({ error: 'forbidden' }, 403)
    const user = await db.cancel(c.req.param('id'))
    return user ? c.json({ user }) : c.json({ error: 'conflict' }, 409)
  })

serve({ fetch: app.fetch, port: PORT, hostname: '127.0.0.1' }, () => {
  process.stdout.write('request-floor listening\n')
})
process.on('SIGTERM', () => process.exit(0))
