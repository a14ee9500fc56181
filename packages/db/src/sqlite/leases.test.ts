import { tempDbPath } from '@dormant/testing'
import { afterEach, expect, test } from 'vitest'
import { closeDb, type Db, openDb } from './client.js'
import { takeLease } from './leases.js'

const dbs: Db[] = []
afterEach(() => {
  for (const db of dbs.splice(0)) closeDb(db)
})

test('one holder at a time, across connections; the holder renews; an expired lease is taken over', () => {
  const path = tempDbPath()
  const [a, b] = [openDb(path), openDb(path)] as [Db, Db]
  dbs.push(a, b)
  const t0 = 1_000_000
  expect(takeLease(a, 'job', 0, t0 + 100, t0)).toBe(true)
  expect(takeLease(b, 'job', 0, t0 + 150, t0 + 50)).toBe(false)
  // The holder names the expiry it wrote, and so renews.
  expect(takeLease(a, 'job', t0 + 100, t0 + 200, t0 + 90)).toBe(true)
  expect(takeLease(b, 'job', 0, t0 + 250, t0 + 150)).toBe(false)
  // Past the expiry, anyone may take it; the old holder is then refused.
  expect(takeLease(b, 'job', 0, t0 + 300, t0 + 200)).toBe(true)
  expect(takeLease(a, 'job', t0 + 200, t0 + 350, t0 + 250)).toBe(false)
})
