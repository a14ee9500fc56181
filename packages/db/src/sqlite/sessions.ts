import type { DormantEvent, UserJson } from '@dormant/core'
import { eq, inArray, lte } from 'drizzle-orm'
import { newId } from '../ids.js'
import { type SqliteDb as Db, write } from './client.js'
import { appendEvent } from './events.js'
import { sessions } from './schema.js'
import { statements, toUser } from './statements.js'

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
  const row = statements(db).session.get(tokenHash, now)
  return row ? { sessionId: row.sessionId, expiresAt: row.expiresAt, user: toUser(row) } : null
}

/**
 * Deletes the session and, in the same transaction, appends a `session.revoked` event: the
 * table every API process reads in order carries the revocation, not only the bus. Returns
 * that event (to announce), or null when the session no longer existed.
 */
export const revokeSession = (db: Db, sessionId: string, now = Date.now()): DormantEvent | null =>
  write(db, (tx) => {
    const row = tx.delete(sessions).where(eq(sessions.id, sessionId)).returning({ userId: sessions.userId }).get()
    return row ? appendEvent(tx, row.userId, 'session.revoked', { sessionId }, now) : null
  })

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
