import { tempDatabase } from '@dormant/testing'
import { afterEach, expect, test } from 'vitest'
import {
  closeDb,
  type Db,
  findLoginFailures,
  forgiveLoginFailures,
  keepLoginAttempt,
  openDb,
  pruneLoginFailures,
  releaseLoginAttempt,
  reserveLoginAttempt,
} from './index.js'

const dbs: Db[] = []
afterEach(async () => {
  await Promise.all(dbs.splice(0).map(closeDb))
})
const open = async (location?: string) => {
  const db = await openDb(location ?? (await tempDatabase()))
  dbs.push(db)
  return db
}

const WINDOW = 60_000
const limit = (key: string, n = 2) => ({ key, limit: n, windowMs: WINDOW })

test('attempts are reserved up to the limit; a new window starts over at one', async () => {
  const db = await open()
  const t0 = 1_000_000
  expect(await reserveLoginAttempt(db, [limit('k')], t0)).toBe(0)
  expect(await reserveLoginAttempt(db, [limit('k')], t0 + 10)).toBe(0)
  // Both still running: the third is refused until the window ends.
  expect(await reserveLoginAttempt(db, [limit('k')], t0 + 20)).toBe(WINDOW - 20)
  expect(await findLoginFailures(db, 'k', t0 + 30)).toEqual({ count: 2, pending: 2, resetAt: t0 + WINDOW })
  await keepLoginAttempt(db, ['k'])
  expect(await findLoginFailures(db, 'k', t0 + 30)).toEqual({ count: 2, pending: 1, resetAt: t0 + WINDOW })
  expect(await findLoginFailures(db, 'k', t0 + WINDOW)).toBeNull()
  expect(await reserveLoginAttempt(db, [limit('k')], t0 + WINDOW + 5)).toBe(0)
  expect(await findLoginFailures(db, 'k', t0 + WINDOW + 5)).toEqual({
    count: 1,
    pending: 1,
    resetAt: t0 + 2 * WINDOW + 5,
  })
})

test('one key at its limit refuses the attempt on every key, and reserves none', async () => {
  const db = await open()
  const t0 = 1_000_000
  expect(await reserveLoginAttempt(db, [limit('full', 1)], t0)).toBe(0)
  expect(await reserveLoginAttempt(db, [limit('free', 5), limit('full', 1)], t0)).toBeGreaterThan(0)
  expect(await findLoginFailures(db, 'free', t0)).toBeNull()
})

test('concurrent attempts from two connections never reserve past the limit', async () => {
  const location = await tempDatabase()
  const [one, two] = [await open(location), await open(location)]
  const t0 = 1_000_000
  // Ten at once against a limit of three, half through each connection (two API processes).
  const waits = await Promise.all(
    Array.from({ length: 10 }, (_, i) => reserveLoginAttempt(i % 2 ? one : two, [limit('k', 3)], t0)),
  )
  expect(waits.filter((w) => w === 0)).toHaveLength(3)
  expect(waits.filter((w) => w === WINDOW)).toHaveLength(7)
  expect(await findLoginFailures(one, 'k', t0)).toEqual({ count: 3, pending: 3, resetAt: t0 + WINDOW })
})

test('a release uncounts only that attempt; forgiving keeps the checks still running', async () => {
  const db = await open()
  const t0 = 1_000_000
  for (let i = 0; i < 3; i++) await reserveLoginAttempt(db, [limit('k', 5)], t0)
  await keepLoginAttempt(db, ['k'])
  await releaseLoginAttempt(db, ['k'])
  expect(await findLoginFailures(db, 'k', t0)).toMatchObject({ count: 2, pending: 1 })
  await reserveLoginAttempt(db, [limit('k', 5)], t0)
  // Two failures settled, two checks running; one succeeds: the other running one stays counted.
  await forgiveLoginFailures(db, ['k'])
  expect(await findLoginFailures(db, 'k', t0)).toMatchObject({ count: 1, pending: 1 })
})

test('pruning drops only ended windows', async () => {
  const db = await open()
  const t0 = 1_000_000
  await reserveLoginAttempt(db, [limit('a')], t0)
  await reserveLoginAttempt(db, [limit('c')], t0 + WINDOW)
  expect(await pruneLoginFailures(db, t0 + WINDOW)).toBe(1)
  expect((await findLoginFailures(db, 'c', t0 + WINDOW))?.count).toBe(1)
  expect(await pruneLoginFailures(db, t0 + WINDOW)).toBe(0)
})
