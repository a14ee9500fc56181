import { tempDbPath } from '@dormant/testing'
import { afterEach, expect, test } from 'vitest'
import { closeDb, type Db, openDb } from './client.js'
import {
  findLoginFailures,
  forgiveLoginFailures,
  keepLoginAttempt,
  pruneLoginFailures,
  releaseLoginAttempt,
  reserveLoginAttempt,
} from './login-failures.js'

let db: Db
afterEach(() => closeDb(db))

const WINDOW = 60_000
const limit = (key: string, n = 2) => ({ key, limit: n, windowMs: WINDOW })

test('attempts are reserved up to the limit; a new window starts over at one', () => {
  db = openDb(tempDbPath())
  const t0 = 1_000_000
  expect(reserveLoginAttempt(db, [limit('k')], t0)).toBe(0)
  expect(reserveLoginAttempt(db, [limit('k')], t0 + 10)).toBe(0)
  // Both still running: the third is refused until the window ends.
  expect(reserveLoginAttempt(db, [limit('k')], t0 + 20)).toBe(WINDOW - 20)
  expect(findLoginFailures(db, 'k', t0 + 30)).toEqual({ count: 2, pending: 2, resetAt: t0 + WINDOW })
  keepLoginAttempt(db, ['k'])
  expect(findLoginFailures(db, 'k', t0 + 30)).toEqual({ count: 2, pending: 1, resetAt: t0 + WINDOW })
  expect(findLoginFailures(db, 'k', t0 + WINDOW)).toBeNull()
  expect(reserveLoginAttempt(db, [limit('k')], t0 + WINDOW + 5)).toBe(0)
  expect(findLoginFailures(db, 'k', t0 + WINDOW + 5)).toEqual({ count: 1, pending: 1, resetAt: t0 + 2 * WINDOW + 5 })
})

test('one key at its limit refuses the attempt on every key, and reserves none', () => {
  db = openDb(tempDbPath())
  const t0 = 1_000_000
  expect(reserveLoginAttempt(db, [limit('full', 1)], t0)).toBe(0)
  expect(reserveLoginAttempt(db, [limit('free', 5), limit('full', 1)], t0)).toBeGreaterThan(0)
  expect(findLoginFailures(db, 'free', t0)).toBeNull()
})

test('a release uncounts only that attempt; forgiving keeps the checks still running', () => {
  db = openDb(tempDbPath())
  const t0 = 1_000_000
  for (let i = 0; i < 3; i++) reserveLoginAttempt(db, [limit('k', 5)], t0)
  keepLoginAttempt(db, ['k'])
  releaseLoginAttempt(db, ['k'])
  expect(findLoginFailures(db, 'k', t0)).toMatchObject({ count: 2, pending: 1 })
  reserveLoginAttempt(db, [limit('k', 5)], t0)
  // Two failures settled, two checks running; one succeeds: the other running one stays counted.
  forgiveLoginFailures(db, ['k'])
  expect(findLoginFailures(db, 'k', t0)).toMatchObject({ count: 1, pending: 1 })
})

test('pruning drops only ended windows', () => {
  db = openDb(tempDbPath())
  const t0 = 1_000_000
  reserveLoginAttempt(db, [limit('a')], t0)
  reserveLoginAttempt(db, [limit('c')], t0 + WINDOW)
  expect(pruneLoginFailures(db, t0 + WINDOW)).toBe(1)
  expect(findLoginFailures(db, 'c', t0 + WINDOW)?.count).toBe(1)
  expect(pruneLoginFailures(db, t0 + WINDOW)).toBe(0)
})
