import { and, eq, gt, lte, sql } from 'drizzle-orm'
import type { SqliteDb as Db } from './client.js'
import { write } from './client.js'
import { loginFailures } from './schema.js'

export type LoginLimit = { key: string; limit: number; windowMs: number }

/** Attempts counted for `key` in its current window (failures plus checks running), and when it ends. */
export const findLoginFailures = (db: Db, key: string, now = Date.now()) =>
  db
    .select({ count: loginFailures.count, pending: loginFailures.pending, resetAt: loginFailures.resetAt })
    .from(loginFailures)
    .where(and(eq(loginFailures.key, key), gt(loginFailures.resetAt, now)))
    .get() ?? null

/**
 * Reserves one attempt on every key, or on none. Check and count are one write transaction
 * (BEGIN IMMEDIATE), so concurrent attempts in any number of processes sharing the database
 * cannot both see room for one more: at most `limit` checks run per window. Returns 0 when
 * reserved, else the milliseconds until the longest-blocked key's window ends.
 */
export const reserveLoginAttempt = (db: Db, limits: LoginLimit[], now = Date.now()): number =>
  write(db, (tx) => {
    let blockedForMs = 0
    for (const { key, limit } of limits) {
      const w = tx
        .select({ count: loginFailures.count, resetAt: loginFailures.resetAt })
        .from(loginFailures)
        .where(and(eq(loginFailures.key, key), gt(loginFailures.resetAt, now)))
        .get()
      if (w && w.count >= limit) blockedForMs = Math.max(blockedForMs, w.resetAt - now)
    }
    if (blockedForMs > 0) return blockedForMs
    for (const { key, windowMs } of limits) {
      const ended = sql`${loginFailures.resetAt} <= ${now}`
      tx.insert(loginFailures)
        .values({ key, count: 1, pending: 1, resetAt: now + windowMs })
        .onConflictDoUpdate({
          target: loginFailures.key,
          set: {
            count: sql`case when ${ended} then 1 else ${loginFailures.count} + 1 end`,
            pending: sql`case when ${ended} then 1 else ${loginFailures.pending} + 1 end`,
            resetAt: sql`case when ${ended} then ${now + windowMs} else ${loginFailures.resetAt} end`,
          },
        })
        .run()
    }
    return 0
  })

/** The reserved attempt failed: it stays counted as a failure. */
export const keepLoginAttempt = (db: Db, keys: string[]) =>
  write(db, (tx) => {
    for (const key of keys) {
      tx.update(loginFailures)
        .set({ pending: sql`max(${loginFailures.pending} - 1, 0)` })
        .where(eq(loginFailures.key, key))
        .run()
    }
  })

/** The reserved attempt succeeded: it is not counted. Nothing else changes. */
export const releaseLoginAttempt = (db: Db, keys: string[]) =>
  write(db, (tx) => {
    for (const key of keys) {
      tx.update(loginFailures)
        .set({
          count: sql`max(${loginFailures.count} - 1, 0)`,
          pending: sql`max(${loginFailures.pending} - 1, 0)`,
        })
        .where(eq(loginFailures.key, key))
        .run()
    }
  })

/**
 * The reserved attempt succeeded and past failures are forgiven. Checks still running keep
 * their reservations, so a success inside a burst does not open room for more checks.
 */
export const forgiveLoginFailures = (db: Db, keys: string[]) =>
  write(db, (tx) => {
    for (const key of keys) {
      const pending = sql`max(${loginFailures.pending} - 1, 0)`
      tx.update(loginFailures).set({ count: pending, pending }).where(eq(loginFailures.key, key)).run()
    }
  })

/** Drops the counters whose window has ended; returns how many. */
export const pruneLoginFailures = (db: Db, now = Date.now()) =>
  db.delete(loginFailures).where(lte(loginFailures.resetAt, now)).run().changes
