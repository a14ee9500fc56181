import type { DormantEvent, Permission, Role, UserJson } from '@dormant/core'
import { and, count, eq, sql } from 'drizzle-orm'
import { newId } from '../ids.js'
import type { SqliteDb as Db, Tx } from './client.js'
import { write } from './client.js'
import { appendEvent } from './events.js'
import { hibernations, users } from './schema.js'
import { readUser, statements, toUser, touchUserWith } from './statements.js'

type UserRow = typeof users.$inferSelect
type HibernationRow = typeof hibernations.$inferSelect

const iso = (ms: number) => new Date(ms).toISOString()

export const toUserJson = (
  user: UserRow,
  hibernation: Pick<HibernationRow, 'id' | 'startedAt' | 'endsAt'> | undefined | null,
): UserJson => ({
  id: user.id,
  email: user.email,
  name: user.name,
  role: user.role,
  status: user.status,
  goal: user.goal,
  permissions: user.permissions as Permission[],
  hibernation: hibernation
    ? { id: hibernation.id, startedAt: iso(hibernation.startedAt), endsAt: iso(hibernation.endsAt) }
    : null,
  version: user.version,
  createdAt: iso(user.createdAt),
  updatedAt: iso(user.updatedAt),
})

const userWithHibernation = (db: Db | Tx) =>
  db
    .select({ user: users, hibernation: hibernations })
    .from(users)
    .leftJoin(hibernations, and(eq(hibernations.userId, users.id), eq(hibernations.status, 'scheduled')))

export const getUser = (db: Db | Tx, id: string): UserJson | null => {
  if ('$client' in db) return readUser(db, id)
  const row = userWithHibernation(db).where(eq(users.id, id)).get()
  return row ? toUserJson(row.user, row.hibernation) : null
}

/**
 * Bumps the user's version and records `user.updated` with the user as it is now.
 * Every change to a user ends with this, inside its transaction.
 */
export const touchUser = (tx: Tx, userId: string, now: number, changes: Partial<UserRow> = {}): DormantEvent => {
  tx.update(users)
    .set({ ...changes, version: sql`${users.version} + 1`, updatedAt: now })
    .where(eq(users.id, userId))
    .run()
  const user = getUser(tx, userId)
  if (!user) throw new Error(`user ${userId} vanished inside its own transaction`)
  return appendEvent(tx, userId, 'user.updated', { user }, now)
}

export const normalizeEmail = (email: string) => email.trim().toLowerCase()

export type NewUser = {
  email: string
  passwordHash: string
  name?: string | undefined
  role?: Role | undefined
  permissions: readonly Permission[]
}

export type Change = { user: UserJson; events: DormantEvent[] }

export const createUser = (db: Db, input: NewUser, now = Date.now()): Change | { error: 'duplicate_email' } =>
  write(db, (tx) => {
    const email = normalizeEmail(input.email)
    if (tx.select({ id: users.id }).from(users).where(eq(users.email, email)).get()) {
      return { error: 'duplicate_email' as const }
    }
    const id = newId('usr')
    tx.insert(users)
      .values({
        id,
        email,
        name: input.name?.trim() || email.split('@')[0] || email,
        passwordHash: input.passwordHash,
        role: input.role ?? 'user',
        permissions: [...new Set(input.permissions)],
        version: 0,
        createdAt: now,
        updatedAt: now,
      })
      .run()
    const event = touchUser(tx, id, now)
    return { user: (event as DormantEvent<'user.updated'>).data.user, events: [event] }
  })

export const findLoginByEmail = (db: Db, email: string) =>
  db
    .select({ id: users.id, passwordHash: users.passwordHash })
    .from(users)
    .where(eq(users.email, normalizeEmail(email)))
    .get() ?? null

export const setPermissions = (
  db: Db,
  userId: string,
  permissions: readonly Permission[],
  now = Date.now(),
): Change | null =>
  write(db, () => {
    if (!statements(db).userStatus.get(userId)) return null
    const event = touchUserWith(db, userId, now, { permissions: [...new Set(permissions)].sort() })
    return { user: (event as DormantEvent<'user.updated'>).data.user, events: [event] }
  })

/** Pages through users ordered by email; `cursor` is the last email of the previous page. */
export const listUsers = (
  db: Db,
  options: { query?: string | undefined; limit: number; cursor?: string | undefined },
) => {
  const rows = statements(db).userPage.all({
    query: options.query?.toLowerCase() ?? '',
    cursor: options.cursor ?? '',
    limit: options.limit + 1,
  })
  const page = rows.slice(0, options.limit)
  return {
    users: page.map(toUser),
    nextCursor: rows.length > options.limit ? (page.at(-1)?.email ?? null) : null,
  }
}

/** Synchronous like every other data function (`db.$count` would return a promise-like builder). */
export const countUsers = (db: Db): number => db.select({ n: count() }).from(users).get()?.n ?? 0
