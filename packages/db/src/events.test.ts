import { tempDbPath } from '@dormant/testing'
import { afterEach, describe, expect, test } from 'vitest'
import { closeDb, type Db, openDb } from './client.js'
import { eventsPrunedThrough, latestEventId, pruneEvents, readEvents } from './events.js'
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

  test('pruneEvents deletes events older than the cut, remembers how far, and never reuses ids', () => {
    const db = open(tempDbPath())
    const a = userIn(db, 'a@example.com')
    setPermissions(db, a, [], 1000)
    setPermissions(db, a, [], 2000)
    setPermissions(db, a, [], Date.now())
    expect(eventsPrunedThrough(db)).toBe(0)
    // Everything up to the newest old event goes, so what is kept is one contiguous id range.
    expect(pruneEvents(db, 3000)).toBe(3)
    expect(eventsPrunedThrough(db)).toBe(3)
    expect(readEvents(db, 0).map((e) => e.id)).toEqual([4])
    expect(pruneEvents(db, Date.now() + 1)).toBe(1)
    expect(eventsPrunedThrough(db)).toBe(4)
    expect(readEvents(db, 0)).toEqual([])
    // The outbox is empty, yet the next id continues: a client's Last-Event-ID stays meaningful.
    expect(latestEventId(db)).toBe(4)
    expect(setPermissions(db, a, [])?.events[0]?.id).toBe(5)
    expect(pruneEvents(db, 0)).toBe(0)
  })
})
