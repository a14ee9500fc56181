import { tempDbPath } from '@dormant/testing'
import { afterEach, expect, test } from 'vitest'
import { closeDb, type Db, openDb } from './client.js'
import { clearLoginFailures, findLoginFailures, pruneLoginFailures, recordLoginFailure } from './login-failures.js'

let db: Db
afterEach(() => closeDb(db))

const WINDOW = 60_000

test('failures add up within a window; a new window starts over at one', () => {
  db = openDb(tempDbPath())
  const t0 = 1_000_000
  expect(findLoginFailures(db, 'k', t0)).toBeNull()
  recordLoginFailure(db, 'k', WINDOW, t0)
  recordLoginFailure(db, 'k', WINDOW, t0 + 10)
  recordLoginFailure(db, 'other', WINDOW, t0 + 20)
  expect(findLoginFailures(db, 'k', t0 + 30)).toEqual({ count: 2, resetAt: t0 + WINDOW })
  // The window ended: the old count no longer applies, and the next failure starts a new window.
  expect(findLoginFailures(db, 'k', t0 + WINDOW)).toBeNull()
  recordLoginFailure(db, 'k', WINDOW, t0 + WINDOW + 5)
  expect(findLoginFailures(db, 'k', t0 + WINDOW + 5)).toEqual({ count: 1, resetAt: t0 + 2 * WINDOW + 5 })
  expect(findLoginFailures(db, 'other', t0 + 30)?.count).toBe(1)
})

test('clearing forgets one key; pruning drops only ended windows', () => {
  db = openDb(tempDbPath())
  const t0 = 1_000_000
  recordLoginFailure(db, 'a', WINDOW, t0)
  recordLoginFailure(db, 'b', WINDOW, t0)
  recordLoginFailure(db, 'c', WINDOW, t0 + WINDOW)
  clearLoginFailures(db, 'a')
  expect(findLoginFailures(db, 'a', t0)).toBeNull()
  expect(pruneLoginFailures(db, t0 + WINDOW)).toBe(1)
  expect(findLoginFailures(db, 'c', t0 + WINDOW)?.count).toBe(1)
  expect(pruneLoginFailures(db, t0 + WINDOW)).toBe(0)
})
