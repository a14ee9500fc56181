import { tempDbPath } from '@dormant/testing'
import { afterEach, describe, expect, test } from 'vitest'
import { closeDb, type Db, openDb } from './client.js'
import { eventsPrunedThrough, latestEventId, pruneEvents, pruneEventsBatch, readEvents } from './events.js'
import { createUser, setPermissions } from './users.js'

const dbs: Db[] = []
afterEach(() => {
  for (const db of dbs.splice(0)) closeDb(db)
})
const open = (path: string) => {
  const db = openDb(path)
  dbs.push(db)
  return db
}

const userIn = (db: Db, email: string) => {
  const result = createUser(db, { email, passwordHash: 'x', permissions: [] })
  if ('error' in result) throw new Error(result.error)
  return result.user.id
}

describe('the events outbox', () => {
  test('ids increase without gaps across two connections (two processes), in commit order', () => {
    const path = tempDbPath()
    const [one, two] = [open(path), open(path)]
    const a = userIn(one, 'a@example.com')
    const b = userIn(two, 'b@example.com')
    const committed: number[] = []
    for (let i = 0; i < 20; i++) {
      const change = setPermissions(i % 2 ? one : two, i % 3 ? a : b, i % 2 ? ['reports.view'] : [])
      committed.push(...(change?.events.map((e) => e.id) ?? []))
    }
    const all = readEvents(one, 0).map((e) => e.id)
    expect(all).toEqual(Array.from({ length: 22 }, (_, i) => i + 1))
    expect(all.slice(2)).toEqual(committed)
    expect(latestEventId(two)).toBe(22)
  })

  test('readEvents filters by user and bounds (afterId, upTo], with a page limit', () => {
    const db = open(tempDbPath())
    const a = userIn(db, 'a@example.com')
    const b = userIn(db, 'b@example.com')
    for (let i = 0; i < 6; i++) setPermissions(db, i % 2 ? a : b, [])
    const ofA = readEvents(db, 0, { userId: a })
    expect(ofA.every((e) => e.userId === a)).toBe(true)
    expect(ofA.map((e) => e.id)).toEqual([1, 4, 6, 8])
    expect(readEvents(db, 4, { userId: a, upTo: 7 }).map((e) => e.id)).toEqual([6])
    expect(readEvents(db, 2, { limit: 3 }).map((e) => e.id)).toEqual([3, 4, 5])
    expect(readEvents(db, 0, { userId: a })[0]?.data).toMatchObject({ user: { id: a } })
  })

  test('pruneEvents cuts on the ids its own marks saw, not on createdAt; remembers how far; never reuses ids', () => {
    const db = open(tempDbPath())
    const a = userIn(db, 'a@example.com')
    // Stamped by hosts whose clocks are far off: irrelevant to the cut.
    setPermissions(db, a, [], Date.now() + 3600_000)
    setPermissions(db, a, [], 1)
    const seen = latestEventId(db)
    // No mark is old enough yet: nothing goes, whatever the createdAt values say.
    expect(pruneEvents(db, 999, 1000)).toBe(0)
    expect(eventsPrunedThrough(db)).toBe(0)
    const kept = setPermissions(db, a, [], 1)?.events[0]?.id as number
    // The mark taken at 1000 saw `seen` events: those, and only those, are older than 1001.
    expect(pruneEvents(db, 1001, 5000)).toBe(seen)
    expect(eventsPrunedThrough(db)).toBe(seen)
    expect(readEvents(db, 0).map((e) => e.id)).toEqual([kept])
    expect(pruneEvents(db, 5000, 6000)).toBe(1)
    expect(eventsPrunedThrough(db)).toBe(kept)
    expect(readEvents(db, 0)).toEqual([])
    // The outbox is empty, yet the next id continues: a client's Last-Event-ID stays meaningful.
    expect(latestEventId(db)).toBe(kept)
    expect(setPermissions(db, a, [])?.events[0]?.id).toBe(kept + 1)
    expect(pruneEvents(db, 0, 7000)).toBe(0)
    // Old marks are trimmed: only the newest one at or before the last cut, and later ones, stay.
    expect(db.$client.prepare('select at from event_marks order by at').pluck().all()).toEqual([5000, 6000, 7000])
  })

  test('pruneEventsBatch deletes in bounded, oldest-first batches and moves the boundary with each', () => {
    const db = open(tempDbPath())
    const a = userIn(db, 'a@example.com')
    for (let i = 0; i < 4; i++) setPermissions(db, a, [])
    const ids = readEvents(db, 0).map((e) => e.id)
    const cut = ids.at(-1) as number
    expect(pruneEventsBatch(db, cut, 2)).toBe(2)
    expect(eventsPrunedThrough(db)).toBe(ids[1])
    expect(readEvents(db, 0).map((e) => e.id)).toEqual(ids.slice(2))
    let rounds = 0
    while (pruneEventsBatch(db, cut, 2) > 0) rounds++
    expect(rounds).toBe(Math.ceil((ids.length - 2) / 2))
    expect(eventsPrunedThrough(db)).toBe(cut)
    expect(readEvents(db, 0)).toEqual([])
  })
})
