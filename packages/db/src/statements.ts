import type { DormantEvent, EventPayloads, EventType, Permission, UserJson } from '@dormant/core'
import type Database from 'better-sqlite3'
import type { Db } from './client.js'

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

/**
 * Statements of the activation path, prepared once per connection. Query building and
 * statement preparation cost more than SQLite's own work on this path; a burst of due
 * timers runs it thousands of times a second. Other paths are rare enough for drizzle.
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
  user: client.prepare<[string], UserRow>(
    `select u.id, u.email, u.name, u.role, u.status, u.goal, u.permissions, u.version,
            u.created_at as createdAt, u.updated_at as updatedAt,
            h.id as hId, h.started_at as hStartedAt, h.ends_at as hEndsAt
       from users u left join hibernations h on h.user_id = u.id and h.status = 'scheduled'
      where u.id = ?`,
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
  if (!row) return null
  return {
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
  }
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
