import type { UserJson } from '@dormant/core'
import { and, eq, gt, inArray, lte } from 'drizzle-orm'
import type { Db } from './client.js'
import { newId } from './ids.js'
import { hibernations, sessions, users } from './schema.js'
import { toUserJson } from './users.js'

export const createSession = (
  db: Db,
  input: { userId: string; tokenHash: string; ttlMs: number },
  now = Date.now(),
) => {
  const id = newId('ses')
  db.insert(sessions)
    .values({ id, userId: input.userId, tokenHash: input.tokenHash, createdAt: now, expiresAt: now + input.ttlMs })
    .run()
  return id
}

/**
 * The session and its user as they are now: one indexed query per request, so a
 * permission change is in force for the very next request in every process.
 */
export const findSession = (
  db: Db,
  tokenHash: string,
  now = Date.now(),
): { sessionId: string; expiresAt: number; user: UserJson } | null => {
  const row = db
    .select({ sessionId: sessions.id, expiresAt: sessions.expiresAt, user: users, hibernation: hibernations })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .leftJoin(hibernations, and(eq(hibernations.userId, users.id), eq(hibernations.status, 'scheduled')))
    .where(and(eq(sessions.tokenHash, tokenHash), gt(sessions.expiresAt, now)))
    .get()
  return row
    ? { sessionId: row.sessionId, expiresAt: row.expiresAt, user: toUserJson(row.user, row.hibernation) }
    : null
}

/** Returns whether the session still existed. */
export const revokeSession = (db: Db, sessionId: string) =>
  db.delete(sessions).where(eq(sessions.id, sessionId)).run().changes > 0

/** Deletes up to `limit` expired sessions (a short transaction; call again while it returns `limit`). */
export const deleteExpiredSessions = (db: Db, now = Date.now(), limit = 1000) =>
  db
    .delete(sessions)
    .where(
      inArray(
        sessions.id,
        db.select({ id: sessions.id }).from(sessions).where(lte(sessions.expiresAt, now)).limit(limit),
      ),
    )
    .run().changes
