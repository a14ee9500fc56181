import { createHash } from 'node:crypto'
import { clearLoginFailures, type Db, findLoginFailures, recordLoginFailure } from '@dormant/db'

/** Keys are stored hashed: what people type into the email field (a password, sometimes) stays out of the DB. */
const stored = (key: string) => createHash('sha256').update(key).digest('base64url')

/**
 * Failed-attempt counters per key in fixed windows. Only failures count, so people who
 * type their password right are never slowed down. The counts live in the database, so
 * every API process on it enforces one limit together (not one each).
 */
export const createRateLimiter = (db: Db, options: { limit: number; windowMs: number }) => ({
  /** Seconds until `key` may try again, or 0 when it may now. */
  retryAfter(key: string, now = Date.now()) {
    const w = findLoginFailures(db, stored(key), now)
    return w && w.count >= options.limit ? Math.max(1, Math.ceil((w.resetAt - now) / 1000)) : 0
  },
  fail(key: string, now = Date.now()) {
    recordLoginFailure(db, stored(key), options.windowMs, now)
  },
  reset(key: string) {
    clearLoginFailures(db, stored(key))
  },
})

export type RateLimiter = ReturnType<typeof createRateLimiter>
