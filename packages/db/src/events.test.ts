import { queryDb, tempDatabase } from '@dormant/testing'
import { afterEach, describe, expect, test } from 'vitest'
import {
  closeDb,
  createUser,
  type Db,
  eventsPrunedThrough,
  latestEventId,
  newStreamEpoch,
  openDb,
  position,
  pruneEvents,
  pruneEventsBatch,
  readEvents,
  setPermissions,
  snapshot,
  streamEpoch,
} from './index.js'

const dbs: Db[] = []
afterEach(async () => {
  await Promise.all(dbs.splice(0).map(closeDb))
})
const open = async (location: string) => {
  const db = await openDb(location)
  dbs.push(db)
  return db
}

const userIn = async (db: Db, email: string) => {
  const result = await createUser(db, { email, passwordHash: 'x', permissions: [] })
  if ('error' in result) throw new Error(result.error)
  return result.user.id
}

describe('the events outbox', () => {
  test('ids increase without gaps across two connections (two processes), in commit order', async () => {
    const location = await tempDatabase()
    const [one, two] = [await open(location), await open(location)]
    const a = await userIn(one, 'a@example.com')
    const b = await userIn(two, 'b@example.com')
    const committed: number[] = []
    for (let i = 0; i < 20; i++) {
      const change = await setPermissions(i % 2 ? one : two, i % 3 ? a : b, i % 2 ? ['reports.view'] : [])
      committed.push(...(change?.events.map((e) => e.id) ?? []))
    }
    const all = (await readEvents(one, 0)).map((e) => e.id)
    expect(all).toEqual(Array.from({ length: 22 }, (_, i) => i + 1))
    expect(all.slice(2)).toEqual(committed)
    expect(await latestEventId(two)).toBe(22)
  })

  test('readEvents filters by user and bounds (afterId, upTo], with a page limit', async () => {
    const db = await open(await tempDatabase())
    const a = await userIn(db, 'a@example.com')
    const b = await userIn(db, 'b@example.com')
    for (let i = 0; i < 6; i++) await setPermissions(db, i % 2 ? a : b, [])
    const ofA = await readEvents(db, 0, { userId: a })
    expect(ofA.every((e) => e.userId === a)).toBe(true)
    expect(ofA.map((e) => e.id)).toEqual([1, 4, 6, 8])
    expect((await readEvents(db, 4, { userId: a, upTo: 7 })).map((e) => e.id)).toEqual([6])
    expect((await readEvents(db, 2, { limit: 3 })).map((e) => e.id)).toEqual([3, 4, 5])
    expect((await readEvents(db, 0, { userId: a }))[0]?.data).toMatchObject({ user: { id: a } })
  })

  test('pruneEvents cuts on the ids its own marks saw, not on createdAt; remembers how far; never reuses ids', async () => {
    const location = await tempDatabase()
    const db = await open(location)
    const a = await userIn(db, 'a@example.com')
    // Stamped by hosts whose clocks are far off: irrelevant to the cut.
    await setPermissions(db, a, [], Date.now() + 3600_000)
    await setPermissions(db, a, [], 1)
    const seen = await latestEventId(db)
    // No mark is old enough yet: nothing goes, whatever the createdAt values say.
    expect(await pruneEvents(db, 999, 1000)).toBe(0)
    expect(await eventsPrunedThrough(db)).toBe(0)
    const kept = (await setPermissions(db, a, [], 1))?.events[0]?.id as number
    // The mark taken at 1000 saw `seen` events: those, and only those, are older than 1001.
    expect(await pruneEvents(db, 1001, 5000)).toBe(seen)
    expect(await eventsPrunedThrough(db)).toBe(seen)
    expect((await readEvents(db, 0)).map((e) => e.id)).toEqual([kept])
    expect(await pruneEvents(db, 5000, 6000)).toBe(1)
    expect(await eventsPrunedThrough(db)).toBe(kept)
    expect(await readEvents(db, 0)).toEqual([])
    // The outbox is empty, yet the next id continues: a client's Last-Event-ID stays meaningful.
    expect(await latestEventId(db)).toBe(kept)
    expect((await setPermissions(db, a, []))?.events[0]?.id).toBe(kept + 1)
    expect(await pruneEvents(db, 0, 7000)).toBe(0)
    // Old marks are trimmed: only the newest one at or before the last cut, and later ones, stay.
    const marks = await queryDb<{ at: number }>(
      location,
      'select cast(at as integer) as at from event_marks order by at',
    )
    expect(marks.map((m) => m.at)).toEqual([5000, 6000, 7000])
  })

  test('pruneEventsBatch deletes in bounded, oldest-first batches and moves the boundary with each', async () => {
    const db = await open(await tempDatabase())
    const a = await userIn(db, 'a@example.com')
    for (let i = 0; i < 4; i++) await setPermissions(db, a, [])
    const ids = (await readEvents(db, 0)).map((e) => e.id)
    const cut = ids.at(-1) as number
    expect(await pruneEventsBatch(db, cut, 2)).toBe(2)
    expect(await eventsPrunedThrough(db)).toBe(ids[1])
    expect((await readEvents(db, 0)).map((e) => e.id)).toEqual(ids.slice(2))
    let rounds = 0
    while ((await pruneEventsBatch(db, cut, 2)) > 0) rounds++
    expect(rounds).toBe(Math.ceil((ids.length - 2) / 2))
    expect(await eventsPrunedThrough(db)).toBe(cut)
    expect(await readEvents(db, 0)).toEqual([])
  })

  test('snapshot reads the user and the position of the last event together', async () => {
    const db = await open(await tempDatabase())
    const a = await userIn(db, 'a@example.com')
    const change = await setPermissions(db, a, ['reports.view'])
    expect(await snapshot(db, a)).toEqual({ user: change?.user, position: change?.events.at(-1)?.id })
    expect(await snapshot(db, 'usr_nope')).toMatchObject({ user: null, position: await latestEventId(db) })
  })

  test('the stream epoch is drawn once and kept; a new one differs', async () => {
    const location = await tempDatabase()
    const [one, two] = [await open(location), await open(location)]
    const epoch = await streamEpoch(one)
    expect(epoch).toMatch(/^[0-9a-z]+$/)
    expect(await streamEpoch(two)).toBe(epoch)
    const fresh = await newStreamEpoch(two)
    expect(fresh).not.toBe(epoch)
    expect(await streamEpoch(one)).toBe(fresh)
  })

  test('position: the latest committed id and the epoch, as the two functions give them', async () => {
    const location = await tempDatabase()
    const [one, two] = [await open(location), await open(location)]
    expect(await position(one)).toEqual({ id: 0, epoch: await streamEpoch(one) })
    const created = await createUser(two, { email: 'p@example.com', passwordHash: 'x', permissions: [] })
    if ('error' in created) throw new Error('duplicate')
    const epoch = await streamEpoch(two)
    expect(await position(one)).toEqual({ id: created.events[0]?.id, epoch })
    expect(await latestEventId(one)).toBe(created.events[0]?.id)
    const fresh = await newStreamEpoch(two)
    expect((await position(one)).epoch).toBe(fresh)
  })
})
