// The request floor: Hono on @hono/node-server plus better-sqlite3, each route one prepared
// statement (or one transaction of them) doing the same lookup and answering the same user
// JSON as the API. No validation, logging, metrics, security headers or publishing: what this
// stack can do at best for the same database work. Dormant's request figures are ratios to it.
import { createHash } from 'node:crypto'
import { serve } from '@hono/node-server'
import Database from 'better-sqlite3'
import { Hono } from 'hono'

const PORT = Number(process.env.PORT ?? 0)
const db = new Database(process.env.DB_PATH ?? '')
db.pragma('busy_timeout = 10000')
db.pragma('journal_mode = WAL')
db.pragma('synchronous = FULL')

type Row = {
  id: string
  email: string
  name: string
  role: string
  status: string
  goal: number
  permissions: string
  version: number
  createdAt: number
  updatedAt: number
  hId: string | null
  hStartedAt: number | null
  hEndsAt: number | null
}

const COLUMNS = `u.id, u.email, u.name, u.role, u.status, u.goal, u.permissions, u.version,
  u.created_at as createdAt, u.updated_at as updatedAt, h.id as hId, h.started_at as hStartedAt, h.ends_at as hEndsAt`
const JOIN = "left join hibernations h on h.user_id = u.id and h.status = 'scheduled'"

const session = db.prepare<[string, number], Row>(
  `select ${COLUMNS} from sessions s join users u on u.id = s.user_id ${JOIN} where s.token_hash = ? and s.expires_at > ?`,
)
const page = db.prepare<[number], Row>(`select ${COLUMNS} from users u ${JOIN} order by u.email limit ?`)
const user = db.prepare<[string], Row>(`select ${COLUMNS} from users u ${JOIN} where u.id = ?`)
const status = db.prepare<[string], { status: string }>('select status from users where id = ?')
const setPermissions = db.prepare(
  'update users set permissions = ?, version = version + 1, updated_at = ? where id = ?',
)
const setStatus = db.prepare('update users set status = ?, version = version + 1, updated_at = ? where id = ?')
const insertHibernation = db.prepare(
  "insert into hibernations (id, user_id, status, started_at, ends_at) values (?, ?, 'scheduled', ?, ?)",
)
const cancel = db.prepare<[number, string], { id: string }>(
  "update hibernations set status = 'cancelled', finished_at = ? where user_id = ? and status = 'scheduled' returning id",
)
const insertEvent = db.prepare('insert into events (user_id, type, data, created_at) values (?, ?, ?, ?)')

const iso = (ms: number) => new Date(ms).toISOString()
const json = (r: Row) => ({
  id: r.id,
  email: r.email,
  name: r.name,
  role: r.role,
  status: r.status,
  goal: r.goal,
  permissions: JSON.parse(r.permissions),
  hibernation: r.hId === null ? null : { id: r.hId, startedAt: iso(r.hStartedAt ?? 0), endsAt: iso(r.hEndsAt ?? 0) },
  version: r.version,
  createdAt: iso(r.createdAt),
  updatedAt: iso(r.updatedAt),
})

const signedIn = (cookie: string | undefined) => {
  const token = /(?:^|;\s*)dormant_session=([^;]+)/.exec(cookie ?? '')?.[1]
  return token ? session.get(createHash('sha256').update(token).digest('base64url'), Date.now()) : undefined
}

/** The same transaction as the API's: bump the user, read it back, write the outbox row. */
const touch = (id: string, change: () => void) => {
  const now = Date.now()
  change()
  const u = json(user.get(id) as Row)
  insertEvent.run(id, 'user.updated', JSON.stringify({ user: u }), now)
  return u
}

let n = 0
const app = new Hono()
  .get('/api/me', (c) => {
    const me = signedIn(c.req.header('cookie'))
    return me ? c.json({ user: json(me) }) : c.json({ error: 'unauthorized' }, 401)
  })
  .get('/api/users', (c) => {
    if (signedIn(c.req.header('cookie'))?.role !== 'admin') return c.json({ error: 'forbidden' }, 403)
    return c.json({ users: page.all(Number(c.req.query('limit') ?? 50)).map(json), nextCursor: null })
  })
  .put('/api/users/:id/permissions', async (c) => {
    if (signedIn(c.req.header('cookie'))?.role !== 'admin') return c.json({ error: 'forbidden' }, 403)
    const id = c.req.param('id')
    const { permissions } = await c.req.json<{ permissions: string[] }>()
    const result = db
      .transaction(() => {
        if (!status.get(id)) return null
        return touch(id, () => setPermissions.run(JSON.stringify([...new Set(permissions)].sort()), Date.now(), id))
      })
      .immediate()
    return result ? c.json({ user: result }) : c.json({ error: 'not_found' }, 404)
  })
  .post('/api/users/:id/hibernation', async (c) => {
    if (signedIn(c.req.header('cookie'))?.role !== 'admin') return c.json({ error: 'forbidden' }, 403)
    const id = c.req.param('id')
    const { durationMs } = await c.req.json<{ durationMs: number }>()
    const result = db
      .transaction(() => {
        const s = status.get(id)
        if (!s || s.status === 'hibernating') return null
        const now = Date.now()
        insertHibernation.run(`hib_floor_${process.pid}_${n++}`, id, now, now + durationMs)
        return touch(id, () => setStatus.run('hibernating', now, id))
      })
      .immediate()
    return result ? c.json({ user: result }, 201) : c.json({ error: 'conflict' }, 409)
  })
  .delete('/api/users/:id/hibernation', (c) => {
    if (signedIn(c.req.header('cookie'))?.role !== 'admin') return c.json({ error: 'forbidden' }, 403)
    const id = c.req.param('id')
    const result = db
      .transaction(() => {
        if (!status.get(id)) return null
        if (!cancel.get(Date.now(), id)) return null
        return touch(id, () => setStatus.run('active', Date.now(), id))
      })
      .immediate()
    return result ? c.json({ user: result }) : c.json({ error: 'conflict' }, 409)
  })

serve({ fetch: app.fetch, port: PORT, hostname: '127.0.0.1' }, () => {
  process.stdout.write('request-floor listening\n')
})
process.on('SIGTERM', () => process.exit(0))
