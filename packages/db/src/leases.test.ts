import { tempDatabase } from '@dormant/testing'
import { afterEach, expect, test } from 'vitest'
import { closeDb, type Db, openDb, takeLease } from './index.js'

const dbs: Db[] = []
afterEach(async () => {
  await Promise.all(dbs.splice(0).map(closeDb))
})
const twoConnections = async () => {
  const location = await tempDatabase()
  const pair = [await openDb(location), await openDb(location)] as [Db, Db]
  dbs.push(...pair)
  return pair
}

test('one holder at a time, across connections; the holder renews; an expired lease is taken over', async () => {
  const [a, b] = await twoConnections()
  const t0 = 1_000_000
  expect(await takeLease(a, 'job', 0, t0 + 100, t0)).toBe(true)
  expect(await takeLease(b, 'job', 0, t0 + 150, t0 + 50)).toBe(false)
  // The holder names the expiry it wrote, and so renews.
  expect(await takeLease(a, 'job', t0 + 100, t0 + 200, t0 + 90)).toBe(true)
  expect(await takeLease(b, 'job', 0, t0 + 250, t0 + 150)).toBe(false)
  // Past the expiry, anyone may take it; the old holder is then refused.
  expect(await takeLease(b, 'job', 0, t0 + 300, t0 + 200)).toBe(true)
  expect(await takeLease(a, 'job', t0 + 200, t0 + 350, t0 + 250)).toBe(false)
})

test('two connections racing for a free lease, and for an expired one: exactly one wins each time', async () => {
  const [a, b] = await twoConnections()
  const t0 = 1_000_000
  for (let round = 0; round < 20; round++) {
    const now = t0 + round * 1000
    // Round 0 finds no row (two inserts race); later rounds find the last round's lease expired.
    const won = await Promise.all([takeLease(a, 'job', 0, now + 500, now), takeLease(b, 'job', 0, now + 500, now)])
    expect(won.filter(Boolean)).toHaveLength(1)
  }
})
