// The request floor's database work on either backend: each route's statements, and for
// writes one transaction of them (status check, change, read back, outbox row), as the API's.
import Database from 'better-sqlite3'
import pg from 'pg'

export type Row = {
  id: string
  email: string
  name: string
  role: string
  status: string
  goal: number
  /** JSON text, or already parsed where PostgreSQL stores jsonb. */
  permissions: string | string[]
  version: number
  /** PostgreSQL returns bigint columns as text. */
  createdAt: number | string
  updatedAt: number | string
  hId: string | null
  hStartedAt: number | string | null
  hEndsAt: number | string | null
}

/** A write returns the user's JSON as read back inside its transaction, or null when refused. */
export type FloorDb = {
  session(tokenHash: string, now: number): Promise<Row | undefined>
  page(limit: number): Promise<Row[]>
  setPermissions(id: string, permissions: string): Promise<UserJson | null>
  hibernate(id: string, hibernationId: string, durationMs: number): Promise<UserJson | null>
  cancel(id: string): Promise<UserJson | null>
}

// Quoted aliases: PostgreSQL folds unquoted ones to lower case.
const COLUMNS = `u.id, u.email, u.name, u.role, u.status, u.goal, u.permissions, u.version,
  u.created_at as "createdAt", u.updated_at as "updatedAt", h.id as "hId", h.started_at as "hStartedAt", h.ends_at as "hEndsAt"`
const JOIN = "left join hibernations h on h.user_id = u.id and h.status = 'scheduled'"

const SQL = {
  session: `select ${COLUMNS} from sessions s join users u on u.id = s.user_id ${JOIN} where s.token_hash = ? and s.expires_at > ?`,
  page: `select ${COLUMNS} from users u ${JOIN} order by u.email limit ?`,
  user: `select ${COLUMNS} from users u ${JOIN} where u.id = ?`,
  status: 'select status from users where id = ?',
  setPermissions: 'update users set permissions = ?, version = version + 1, updated_at = ? where id = ?',
  setStatus: 'update users set status = ?, version = version + 1, updated_at = ? where id = ?',
  insertHibernation:
    "insert into hibernations (id, user_id, status, started_at, ends_at) values (?, ?, 'scheduled', ?, ?)",
  cancel:
    "update hibernations set status = 'cancelled', finished_at = ? where user_id = ? and status = 'scheduled' returning id",
  insertEvent: 'insert into events (user_id, type, data, created_at) values (?, ?, ?, ?)',
}

/** The user JSON of the answer and of the outbox row; the API puts the same in its event. */
export type UserJson = Record<string, unknown>
export type Touch = (row: Row) => UserJson

/** better-sqlite3, synchronous=FULL: every commit durable, as the API's SQLite backend. */
export const sqliteFloor = (path: string, json: Touch): FloorDb => {
  const db = new Database(path)
  db.pragma('busy_timeout = 10000')
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  const session = db.prepare<[string, number], Row>(SQL.session)
  const page = db.prepare<[number], Row>(SQL.page)
  const user = db.prepare<[string], Row>(SQL.user)
  const status = db.prepare<[string], { status: string }>(SQL.status)
  const setPermissions = db.prepare(SQL.setPermissions)
  const setStatus = db.prepare(SQL.setStatus)
  const insertHibernation = db.prepare(SQL.insertHibernation)
  const cancel = db.prepare<[number, string], { id: string }>(SQL.cancel)
  const insertEvent = db.prepare(SQL.insertEvent)
  const touch = (id: string, now: number) => {
    const u = json(user.get(id) as Row)
    insertEvent.run(id, 'user.updated', JSON.stringify({ user: u }), now)
    return u
  }
  const write = (f: () => UserJson | null) => Promise.resolve(db.transaction(f).immediate())
  return {
    session: async (tokenHash, now) => session.get(tokenHash, now),
    page: async (limit) => page.all(limit),
    setPermissions: (id, permissions) =>
      write(() => {
        if (!status.get(id)) return null
        const now = Date.now()
        setPermissions.run(permissions, now, id)
        return touch(id, now)
      }),
    hibernate: (id, hibernationId, durationMs) =>
      write(() => {
        const s = status.get(id)
        if (!s || s.status === 'hibernating') return null
        const now = Date.now()
        insertHibernation.run(hibernationId, id, now, now + durationMs)
        setStatus.run('hibernating', now, id)
        return touch(id, now)
      }),
    cancel: (id) =>
      write(() => {
        if (!status.get(id)) return null
        const now = Date.now()
        if (!cancel.get(now, id)) return null
        setStatus.run('active', now, id)
        return touch(id, now)
      }),
  }
}

const numbered = (sql: string) => {
  let n = 0
  return sql.replace(/\?/g, () => `$${++n}`)
}

/**
 * One pg pool; each write one transaction on one of its connections, the user's row locked
 * first (what SQLite's immediate transaction gives). The events table's append trigger
 * (commit-ordered ids) fires for these inserts as for the API's.
 */
export const postgresFloor = (url: string, json: Touch): FloorDb => {
  const pool = new pg.Pool({ connectionString: url, max: Number(process.env.FLOOR_POOL ?? 10) })
  const q = Object.fromEntries(Object.entries(SQL).map(([k, v]) => [k, numbered(v)])) as typeof SQL
  const lockStatus = `${q.status} for update`
  const write = async (f: (c: pg.PoolClient) => Promise<UserJson | null>) => {
    const client = await pool.connect()
    try {
      await client.query('begin')
      const result = await f(client)
      await client.query(result ? 'commit' : 'rollback')
      return result
    } catch (err) {
      await client.query('rollback')
      throw err
    } finally {
      client.release()
    }
  }
  const status = async (c: pg.PoolClient, id: string) => (await c.query<{ status: string }>(lockStatus, [id])).rows[0]
  const touch = async (c: pg.PoolClient, id: string, now: number) => {
    const u = json((await c.query<Row>(q.user, [id])).rows[0] as Row)
    await c.query(q.insertEvent, [id, 'user.updated', JSON.stringify({ user: u }), now])
    return u
  }
  return {
    session: async (tokenHash, now) => (await pool.query<Row>(q.session, [tokenHash, now])).rows[0],
    page: async (limit) => (await pool.query<Row>(q.page, [limit])).rows,
    setPermissions: (id, permissions) =>
      write(async (c) => {
        if (!(await status(c, id))) return null
        const now = Date.now()
        await c.query(q.setPermissions, [permissions, now, id])
        return touch(c, id, now)
      }),
    hibernate: (id, hibernationId, durationMs) =>
      write(async (c) => {
        const s = await status(c, id)
        if (!s || s.status === 'hibernating') return null
        const now = Date.now()
        await c.query(q.insertHibernation, [hibernationId, id, now, now + durationMs])
        await c.query(q.setStatus, ['hibernating', now, id])
        return touch(c, id, now)
      }),
    cancel: (id) =>
      write(async (c) => {
        if (!(await status(c, id))) return null
        const now = Date.now()
        if (!(await c.query(q.cancel, [now, id])).rows[0]) return null
        await c.query(q.setStatus, ['active', now, id])
        return touch(c, id, now)
      }),
  }
}
