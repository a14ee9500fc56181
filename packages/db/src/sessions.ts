import type { DormantEvent, UserJson } from '@dormant/core'
import { and, eq, gt, lte } from 'drizzle-orm'
import { type Db, write } from './client.js'
import { appendEvent } from './events.js'
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

export const deleteExpiredSessions = (db: Db, now = Date.now()) =>
  db.delete(sessions).where(lte(sessions.expiresAt, now)).run().changes
