import type { DormantEvent, Permission, UserJson } from '@dormant/core'
import { and, count, desc, eq, getTableColumns, gt, inArray, lte, or, sql } from 'drizzle-orm'
import { newId } from '../ids.js'
import type { Change, NewUser } from '../sqlite/users.js'
import { normalizeEmail, toUserJson } from '../sqlite/users.js'
import { bytewise, type PgDb, type PgTx, type Write, write } from './client.js'
import { latestEventId } from './events.js'
import { hibernations, sessions, transactions, users } from './schema.js'

type Query = PgDb | PgTx
type UserInsert = typeof users.$inferInsert

const userWithHibernation = (q: Query) =>
  q
    .select({ user: users, hibernation: hibernations })
    .from(users)
    .leftJoin(hibernations, and(eq(hibernations.userId, users.id), eq(hibernations.status, 'scheduled')))

export const getUser = async (q: Query, id: string): Promise<UserJson | null> => {
  const [row] = await userWithHibernation(q).where(eq(users.id, id))
  return row ? toUserJson(row.user, row.hibernation) : null
}

/**
 * Bumps the user's version with `changes` and records `user.updated` with the user as it is
 * now. Every change to a user ends with this, inside its transaction.
 */
export const touchUser = async (w: Write, userId: string, now: number, changes: Partial<UserInsert> = {}) => {
  const event = await touchUserIfAny(w, userId, now, changes)
  if (!event) throw new Error(`user ${userId} vanished inside its own transaction`)
  return event
}

/** The user's scheduled hibernation, as a subquery of a statement on `users` ("users"."id" qualified: bare, it would be h.id). */
export const scheduledHibernation = sql<{ id: string; startedAt: number; endsAt: number } | null>`(
  select json_build_object('id', h.id, 'startedAt', h.started_at, 'endsAt', h.ends_at)
    from ${hibernations} h where h.user_id = "users"."id" and h.status = 'scheduled' limit 1)`

/**
 * `touchUser` in one statement: the UPDATE locks the row and returns the user as it is now,
 * its scheduled hibernation included. Null when there is no such user. Each round trip
 * inside a write costs as much as the commit's own work here (docs/performance.md).
 */
export const touchUserIfAny = async (
  { tx, record }: Write,
  userId: string,
  now: number,
  changes: Partial<UserInsert> = {},
): Promise<DormantEvent | null> => {
  const [row] = await tx
    .update(users)
    .set({ ...changes, version: sql`${users.version} + 1`, updatedAt: now })
    .where(eq(users.id, userId))
    .returning({ ...getTableColumns(users), hibernation: scheduledHibernation })
  if (!row) return null
  const { hibernation, ...user } = row
  const json = toUserJson(user, hibernation)
  return record(userId, 'user.updated', { user: json }, now)
}

/** The user's status, its row locked: changes to one user (start, cancel, complete) take turns. */
export const lockUser = async (tx: PgTx, userId: string) =>
  (await tx.select({ status: users.status }).from(users).where(eq(users.id, userId)).for('update'))[0]

const changeOf = (event: DormantEvent): Change => ({
  user: (event as DormantEvent<'user.updated'>).data.user,
  events: [event],
})

/** A duplicate email is the unique index's call (ON CONFLICT DO NOTHING), not a read before the insert. */
export const createUser = (db: PgDb, input: NewUser, now = Date.now()) =>
  write(db, async (w): Promise<Change | { error: 'duplicate_email' }> => {
    const email = normalizeEmail(input.email)
    const id = newId('usr')
    const inserted = await w.tx
      .insert(users)
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
      .onConflictDoNothing({ target: users.email })
      .returning({ id: users.id })
    if (inserted.length === 0) return { error: 'duplicate_email' }
    return changeOf(await touchUser(w, id, now))
  })

export const findLoginByEmail = async (db: PgDb, email: string) =>
  (
    await db
      .select({ id: users.id, passwordHash: users.passwordHash })
      .from(users)
      .where(eq(users.email, normalizeEmail(email)))
  )[0] ?? null

/** The UPDATE locks the user row: concurrent changes to one user take turns. */
export const setPermissions = (db: PgDb, userId: string, permissions: readonly Permission[], now = Date.now()) =>
  write(db, async (w): Promise<Change | null> => {
    const event = await touchUserIfAny(w, userId, now, { permissions: [...new Set(permissions)].sort() })
    return event ? changeOf(event) : null
  })

/** Pages through users ordered by email (bytewise, as on SQLite); `cursor` is the last email of the previous page. */
export const listUsers = async (
  db: PgDb,
  options: { query?: string | undefined; limit: number; cursor?: string | undefined },
) => {
  const query = options.query?.toLowerCase() ?? ''
  const conditions = [sql`${bytewise(users.email)} > ${options.cursor ?? ''}`]
  if (query !== '') {
    const found = or(sql`strpos(${users.email}, ${query}) > 0`, sql`strpos(lower(${users.name}), ${query}) > 0`)
    if (found) conditions.push(found)
  }
  const rows = await userWithHibernation(db)
    .where(and(...conditions))
    .orderBy(bytewise(users.email))
    .limit(options.limit + 1)
  const page = rows.slice(0, options.limit).map((r) => toUserJson(r.user, r.hibernation))
  return { users: page, nextCursor: rows.length > options.limit ? (page.at(-1)?.email ?? null) : null }
}

export const countUsers = async (db: PgDb): Promise<number> => (await db.select({ n: count() }).from(users))[0]?.n ?? 0

export const createSession = async (
  db: PgDb,
  input: { userId: string; tokenHash: string; ttlMs: number },
  now = Date.now(),
) => {
  const id = newId('ses')
  await db
    .insert(sessions)
    .values({ id, userId: input.userId, tokenHash: input.tokenHash, createdAt: now, expiresAt: now + input.ttlMs })
  return id
}

/** The session and its user as they are now: one query per request. */
export const findSession = async (
  db: PgDb,
  tokenHash: string,
  now = Date.now(),
): Promise<{ sessionId: string; expiresAt: number; user: UserJson } | null> => {
  const [row] = await db
    .select({ sessionId: sessions.id, expiresAt: sessions.expiresAt, user: users, hibernation: hibernations })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .leftJoin(hibernations, and(eq(hibernations.userId, users.id), eq(hibernations.status, 'scheduled')))
    .where(and(eq(sessions.tokenHash, tokenHash), gt(sessions.expiresAt, now)))
  return row
    ? { sessionId: row.sessionId, expiresAt: row.expiresAt, user: toUserJson(row.user, row.hibernation) }
    : null
}

/** Deletes the session and records `session.revoked` in the same transaction; DELETE … RETURNING decides who revoked it. */
export const revokeSession = (db: PgDb, sessionId: string, now = Date.now()) =>
  write(db, async ({ tx, record }): Promise<DormantEvent | null> => {
    const [row] = await tx.delete(sessions).where(eq(sessions.id, sessionId)).returning({ userId: sessions.userId })
    return row ? record(row.userId, 'session.revoked', { sessionId }, now) : null
  })

/** Deletes up to `limit` expired sessions (call again while it returns `limit`). */
export const deleteExpiredSessions = async (db: PgDb, now = Date.now(), limit = 1000) =>
  (
    await db
      .delete(sessions)
      .where(
        inArray(
          sessions.id,
          db.select({ id: sessions.id }).from(sessions).where(lte(sessions.expiresAt, now)).limit(limit),
        ),
      )
      .returning({ id: sessions.id })
  ).length

/** A user's history, newest first. */
export const listTransactions = async (db: PgDb, userId: string, limit = 100) =>
  (
    await db
      .select()
      .from(transactions)
      .where(eq(transactions.userId, userId))
      .orderBy(desc(transactions.createdAt), desc(bytewise(transactions.id)))
      .limit(limit)
  ).map((t) => ({ id: t.id, type: t.type, details: t.details, createdAt: new Date(t.createdAt).toISOString() }))

/**
 * A user and the table's position from one snapshot (REPEATABLE READ): nothing committed
 * between the two reads can be in one and not the other.
 */
export const snapshot = (db: PgDb, userId: string) =>
  db.transaction(async (tx) => ({ user: await getUser(tx, userId), position: await latestEventId(tx) }), {
    isolationLevel: 'repeatable read',
    accessMode: 'read only',
  })
