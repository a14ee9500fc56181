import { and, eq, gt, lte, sql } from 'drizzle-orm'
import type { Db } from './client.js'
import { loginFailures } from './schema.js'

/** Failures counted for `key` in its current window, and when that window ends. */
export const findLoginFailures = (db: Db, key: string, now = Date.now()) =>
  db
    .select({ count: loginFailures.count, resetAt: loginFailures.resetAt })
    .from(loginFailures)
    .where(and(eq(loginFailures.key, key), gt(loginFailures.resetAt, now)))
    .get() ?? null

/** Counts one failure for `key`; a window that has ended starts over at one. */
export const recordLoginFailure = (db: Db, key: string, windowMs: number, now = Date.now()) =>
  db
    .insert(loginFailures)
    .values({ key, count: 1, resetAt: now + windowMs })
    .onConflictDoUpdate({
      target: loginFailures.key,
      set: {
        count: sql`case when ${loginFailures.resetAt} <= ${now} then 1 else ${loginFailures.count} + 1 end`,
        resetAt: sql`case when ${loginFailures.resetAt} <= ${now} then ${now + windowMs} else ${loginFailures.resetAt} end`,
      },
    })
    .run()

export const clearLoginFailures = (db: Db, key: string) =>
  db.delete(loginFailures).where(eq(loginFailures.key, key)).run()

/** Drops the counters whose window has ended; returns how many. */
export const pruneLoginFailures = (db: Db, now = Date.now()) =>
  db.delete(loginFailures).where(lte(loginFailures.resetAt, now)).run().changes
