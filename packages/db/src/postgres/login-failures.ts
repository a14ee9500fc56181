import { and, eq, gt, inArray, lte, sql } from 'drizzle-orm'
import type { LoginLimit } from '../sqlite/login-failures.js'
import { type PgDb, write } from './client.js'
import { loginFailures } from './schema.js'

/** Attempts counted for `key` in its current window (failures plus checks running), and when it ends. */
export const findLoginFailures = async (db: PgDb, key: string, now = Date.now()) =>
  (
    await db
      .select({ count: loginFailures.count, pending: loginFailures.pending, resetAt: loginFailures.resetAt })
      .from(loginFailures)
      .where(and(eq(loginFailures.key, key), gt(loginFailures.resetAt, now)))
  )[0] ?? null

/**
 * Reserves one attempt on every key, or on none. Check and count must not interleave with
 * another process's: under READ COMMITTED two could both see room for one more. Each key's
 * transaction-scoped advisory lock (its rows may not exist yet, so FOR UPDATE has nothing to
 * lock) is taken in sorted order, so two reservations sharing keys take turns and never
 * deadlock. Returns 0 when reserved, else the milliseconds until the longest-blocked key's
 * window ends.
 */
export const reserveLoginAttempt = (db: PgDb, limits: LoginLimit[], now = Date.now()) =>
  write(db, async ({ tx }): Promise<number> => {
    for (const key of limits.map((l) => l.key).sort()) {
      await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`login:${key}`}, 0))`)
    }
    const windows = await tx
      .select({ key: loginFailures.key, count: loginFailures.count, resetAt: loginFailures.resetAt })
      .from(loginFailures)
      .where(
        and(
          inArray(
            loginFailures.key,
            limits.map((l) => l.key),
          ),
          gt(loginFailures.resetAt, now),
        ),
      )
    let blockedForMs = 0
    for (const { key, limit } of limits) {
      const w = windows.find((row) => row.key === key)
      if (w && w.count >= limit) blockedForMs = Math.max(blockedForMs, w.resetAt - now)
    }
    if (blockedForMs > 0) return blockedForMs
    for (const { key, windowMs } of limits) {
      const ended = sql`${loginFailures.resetAt} <= ${now}`
      await tx
        .insert(loginFailures)
        .values({ key, count: 1, pending: 1, resetAt: now + windowMs })
        .onConflictDoUpdate({
          target: loginFailures.key,
          set: {
            count: sql`case when ${ended} then 1 else ${loginFailures.count} + 1 end`,
            pending: sql`case when ${ended} then 1 else ${loginFailures.pending} + 1 end`,
            resetAt: sql`case when ${ended} then ${now + windowMs}::bigint else ${loginFailures.resetAt} end`,
          },
        })
    }
    return 0
  })

// The three below are single UPDATEs computed from the row's current values: each is atomic
// on its own, and concurrent ones queue on the row lock and apply in turn.

/** The reserved attempt failed: it stays counted as a failure. */
export const keepLoginAttempt = async (db: PgDb, keys: string[]) => {
  if (keys.length === 0) return
  await db
    .update(loginFailures)
    .set({ pending: sql`greatest(${loginFailures.pending} - 1, 0)` })
    .where(inArray(loginFailures.key, keys))
}

/** The reserved attempt succeeded: it is not counted. Nothing else changes. */
export const releaseLoginAttempt = async (db: PgDb, keys: string[]) => {
  if (keys.length === 0) return
  await db
    .update(loginFailures)
    .set({
      count: sql`greatest(${loginFailures.count} - 1, 0)`,
      pending: sql`greatest(${loginFailures.pending} - 1, 0)`,
    })
    .where(inArray(loginFailures.key, keys))
}

/** The reserved attempt succeeded and past failures are forgiven; checks still running keep their reservations. */
export const forgiveLoginFailures = async (db: PgDb, keys: string[]) => {
  if (keys.length === 0) return
  const pending = sql`greatest(${loginFailures.pending} - 1, 0)`
  await db.update(loginFailures).set({ count: pending, pending }).where(inArray(loginFailures.key, keys))
}

/** Drops the counters whose window has ended; returns how many. */
export const pruneLoginFailures = async (db: PgDb, now = Date.now()) =>
  (await db.delete(loginFailures).where(lte(loginFailures.resetAt, now)).returning({ key: loginFailures.key })).length
