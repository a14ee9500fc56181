import { closeDb, createUser, type Db, eventsPrunedThrough, latestEventId, openDb, setPermissions } from '@dormant/db'
import { tempDatabase } from '@dormant/testing'
import { afterEach, expect, test } from 'vitest'
import { housekeep } from './housekeeping.js'

let db: Db
afterEach(() => closeDb(db))

test('prunes in bounded batches, letting the event loop run between them', async () => {
  db = await openDb(await tempDatabase())
  const created = await createUser(db, { email: 'a@example.com', passwordHash: 'x', permissions: [] })
  if ('error' in created) throw new Error(created.error)
  // Fifteen batches: the watcher below must see several of them land, even on a loaded machine
  // where each of its reads may span more than one batch.
  for (let i = 0; i < 150; i++) await setPermissions(db, created.user.id, i % 2 ? ['reports.view'] : [])
  const last = await latestEventId(db)
  const options = { retentionMs: 1000, intervalMs: 100, batch: 10 }
  // The first round only marks: nothing is a retention old by the housekeeper's own clock yet.
  expect((await housekeep(db, options, 1_000)).events).toBe(0)

  // What other work sees while the next round runs: the boundary moving a batch at a time.
  const seen: number[] = []
  let watching = true
  const watch = async () => {
    while (watching) {
      seen.push(await eventsPrunedThrough(db))
      await new Promise(setImmediate)
    }
  }
  const watcher = watch()
  const done = await housekeep(db, options, 2_000)
  watching = false
  await watcher
  expect(done.events).toBe(last)
  expect(await eventsPrunedThrough(db)).toBe(last)
  const steps = [...new Set(seen)].filter((v) => v > 0 && v < last)
  expect(steps.length).toBeGreaterThanOrEqual(3)
})
