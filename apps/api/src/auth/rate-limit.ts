import { createHash } from 'node:crypto'
import { type Db, forgiveLoginFailures, keepLoginAttempt, releaseLoginAttempt, reserveLoginAttempt } from '@dormant/db'

/** Keys are stored hashed: what people type into the email field (a password, sometimes) stays out of the DB. */
const stored = (key: string) => createHash('sha256').update(key).digest('base64url')

type Attempt = { account: string; address: string }

/**
 * Failed sign-ins per account and per client address, in fixed windows. An attempt is
 * reserved in the database before its password is checked, and kept as a failure or
 * released once the check is done: concurrent guesses, in any number of API processes on
 * the database, run at most the limit's number of checks. Only failures count, so people
 * who type their password right are never slowed down.
 */
export const createLoginLimiter = (db: Db, options: { perAccount: number; perAddress: number; windowMs: number }) => {
  const keys = (a: Attempt) => ({ account: stored(`account:${a.account}`), address: stored(`address:${a.address}`) })
  return {
    /** Reserves the attempt and returns 0, or returns the seconds until it may be tried. */
    async reserve(attempt: Attempt, now = Date.now()) {
      const { account, address } = keys(attempt)
      const waitMs = await reserveLoginAttempt(
        db,
        [
          { key: account, limit: options.perAccount, windowMs: options.windowMs },
          { key: address, limit: options.perAddress, windowMs: options.windowMs },
        ],
        now,
      )
      return waitMs > 0 ? Math.max(1, Math.ceil(waitMs / 1000)) : 0
    },
    async failed(attempt: Attempt) {
      const { account, address } = keys(attempt)
      await keepLoginAttempt(db, [account, address])
    },
    /** The account's past failures are forgiven; the address's are not (it may be guessing at others). */
    async succeeded(attempt: Attempt) {
      const { account, address } = keys(attempt)
      await forgiveLoginFailures(db, [account])
      await releaseLoginAttempt(db, [address])
    },
  }
}

export type LoginLimiter = ReturnType<typeof createLoginLimiter>
