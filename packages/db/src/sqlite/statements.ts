import type { DormantEvent, EventPayloads, EventType, Permission, UserJson } from '@dormant/core'
import type Database from 'better-sqlite3'
import type { SqliteDb as Db } from './client.js'

type UserRow = {
  id: string
  email: string
  name: string
  role: UserJson['role']
  status: UserJson['status']
  goal: number
  permissions: string
  version: number
  createdAt: number
  updatedAt: number
  hId: string | null
  hStartedAt: number | null
  hEndsAt: number | null
}

const iso = (ms: number) => new Date(ms).toISOString()

type SessionRow = UserRow & { sessionId: string; expiresAt: number }

/** The user and their scheduled hibernation; every statement that returns a user selects this. */
const USER_COLUMNS = `u.id, u.email, u.name, u.role, u.status, u.goal, u.permissions, u.version,
            u.created_at as createdAt, u.updated_at as updatedAt,
            h.id as hId, h.started_at as hStartedAt, h.ends_at as hEndsAt`
const WITH_HIBERNATION = "left join hibernations h on h.user_id = u.id and h.status = 'scheduled'"

/**
 * The hot statements, prepared once per connection, one place per query. Query building and
 * statement preparation cost more than SQLite's own work on these paths (about two thirds of
 * an authenticated request's CPU, profiled): the activation path, the session lookup every
 * authenticated request makes, and the admin writes. Rare paths stay on drizzle.
 */
const prepare = (client: Database.Database) => ({
  hibernationState: client.prepare<[string], { status: 'scheduled' | 'completed' | 'cancelled'; endsAt: number }>(
    'select status, ends_at as endsAt from hibernations where id = ?',
  ),
  claimHibernation: client.prepare<[number, string], { userId: string }>(
    "update hibernations set status = 'completed', finished_at = ? where id = ? and status = 'scheduled' returning user_id as userId",
  ),
  activateUser: client.prepare<[number, string]>(
    "update users set status = 'active', goal = 1, version = version + 1, updated_at = ? where id = ?",
  ),
  user: client.prepare<[string], UserRow>(`select ${USER_COLUMNS} from users u ${WITH_HIBERNATION} where u.id = ?`),
  session: client.prepare<[string, number], SessionRow>(
    `select s.id as sessionId, s.expires_at as expiresAt, ${USER_COLUMNS}
       from sessions s join users u on u.id = s.user_id ${WITH_HIBERNATION}
      where s.token_hash = ? and s.expires_at > ?`,
  ),
  /** A page by email after `cursor` ('' for the first); `query` '' matches everyone. */
  userPage: client.prepare<{ query: string; cursor: string; limit: number }, UserRow>(
    `select ${USER_COLUMNS} from users u ${WITH_HIBERNATION}
      where u.email > :cursor and (:query = '' or instr(u.email, :query) > 0 or instr(lower(u.name), :query) > 0)
      order by u.email limit :limit`,
  ),
  userStatus: client.prepare<[string], { status: UserJson['status'] }>('select status from users where id = ?'),
  setUserPermissions: client.prepare<[string, number, string]>(
    'update users set permissions = ?, version = version + 1, updated_at = ? where id = ?',
  ),
  setUserStatus: client.prepare<[UserJson['status'], number, string]>(
    'update users set status = ?, version = version + 1, updated_at = ? where id = ?',
  ),
  insertHibernation: client.prepare<[string, string, number, number]>(
    "insert into hibernations (id, user_id, status, started_at, ends_at) values (?, ?, 'scheduled', ?, ?)",
  ),
  cancelHibernation: client.prepare<[number, string], { id: string }>(
    "update hibernations set status = 'cancelled', finished_at = ? where user_id = ? and status = 'scheduled' returning id",
  ),
  insertEvent: client.prepare<[string, string, string, number]>(
    'insert into events (user_id, type, data, created_at) values (?, ?, ?, ?)',
  ),
  insertTransaction: client.prepare<[string, string, string, string, string | null, number]>(
    'insert into transactions (id, user_id, type, details, hibernation_id, created_at) values (?, ?, ?, ?, ?, ?)',
  ),
})

const cache = new WeakMap<Database.Database, ReturnType<typeof prepare>>()

export const statements = (db: Db) => {
  let prepared = cache.get(db.$client)
  if (!prepared) {
    prepared = prepare(db.$client)
    cache.set(db.$client, prepared)
  }
  return prepared
}

/** The user as the API shows it, read with the prepared statement. */
export const readUser = (db: Db, userId: string): UserJson | null => {
  const row = statements(db).user.get(userId)
  return row ? toUser(row) : null
}

/** The row of `USER_COLUMNS` as the API shows it. */
export const toUser = (row: UserRow): UserJson => ({
  id: row.id,
  email: row.email,
  name: row.name,
  role: row.role,
  status: row.status,
  goal: row.goal,
  permissions: JSON.parse(row.permissions) as Permission[],
  hibernation:
    row.hId === null ? null : { id: row.hId, startedAt: iso(row.hStartedAt ?? 0), endsAt: iso(row.hEndsAt ?? 0) },
  version: row.version,
  createdAt: iso(row.createdAt),
  updatedAt: iso(row.updatedAt),
})

/**
 * Bumps the user's version with one change and records `user.updated` with the user as it is
 * now: `touchUser` on prepared statements. Call inside a write transaction on `db`.
 */
export const touchUserWith = (
  db: Db,
  userId: string,
  now: number,
  change: { permissions: readonly string[] } | { status: UserJson['status'] },
): DormantEvent => {
  const sql = statements(db)
  if ('permissions' in change) sql.setUserPermissions.run(JSON.stringify(change.permissions), now, userId)
  else sql.setUserStatus.run(change.status, now, userId)
  const user = readUser(db, userId)
  if (!user) throw new Error(`user ${userId} vanished inside its own transaction`)
  return insertEvent(db, userId, 'user.updated', { user }, now)
}

/** `appendEvent` on a prepared statement; call inside a write transaction. */
export const insertEvent = <T extends EventType>(
  db: Db,
  userId: string,
  type: T,
  data: EventPayloads[T],
  now: number,
): DormantEvent => {
  const { lastInsertRowid } = statements(db).insertEvent.run(userId, type, JSON.stringify(data), now)
  return { id: Number(lastInsertRowid), userId, type, data, createdAt: now } as DormantEvent
}
