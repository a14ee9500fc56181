import type { DormantEvent } from '@dormant/core'
import { tempDbPath } from '@dormant/testing'
import { afterEach, describe, expect, test } from 'vitest'
import { closeDb, type Db, openDb } from './client.js'
import { latestEventId, readEvents } from './events.js'
import { countUsers, createUser, findLoginByEmail, getUser, listUsers, setPermissions } from './users.js'

let db: Db
afterEach(() => closeDb(db))
const fresh = () => {
  db = openDb(tempDbPath())
  return db
}

const newUser = (email: string, name?: string) => {
  const result = createUser(db, { email, passwordHash: 'scrypt$x', name, permissions: ['hibernation.self'] })
  if ('error' in result) throw new Error(result.error)
  return result
}

describe('createUser', () => {
  test('normalises the email, writes one user.updated event in the same transaction', async () => {
    fresh()
    const { user, events } = newUser('  Mixed.Case@Example.COM ')
    expect(user).toMatchObject({ email: 'mixed.case@example.com', name: 'mixed.case', role: 'user', goal: 0 })
    expect(user.version).toBe(1)
    expect(events).toHaveLength(1)
    const [event] = events as [DormantEvent<'user.updated'>]
    expect(event).toMatchObject({ type: 'user.updated', userId: user.id, data: { user } })
    expect(readEvents(db, 0)).toEqual(events)
    expect(countUsers(db)).toBe(1)
    expect(findLoginByEmail(db, 'MIXED.case@example.com')?.id).toBe(user.id)
  })

  test('a duplicate email (any case) is refused and writes nothing', () => {
    fresh()
    newUser('a@example.com')
    const before = latestEventId(db)
    expect(createUser(db, { email: 'A@EXAMPLE.com', passwordHash: 'x', permissions: [] })).toEqual({
      error: 'duplicate_email',
    })
    expect(countUsers(db)).toBe(1)
    expect(latestEventId(db)).toBe(before)
  })
})

describe('setPermissions', () => {
  test('stores a sorted, de-duplicated set, bumps the version, records the new user', () => {
    fresh()
    const { user } = newUser('p@example.com')
    const change = setPermissions(db, user.id, ['reports.view', 'billing.manage', 'reports.view'])
    expect(change?.user.permissions).toEqual(['billing.manage', 'reports.view'])
    expect(change?.user.version).toBe(user.version + 1)
    expect(getUser(db, user.id)).toEqual(change?.user)
    expect((change!.events[0] as DormantEvent<'user.updated'>).data.user).toEqual(change?.user)
  })

  test('null for an unknown user, nothing written', () => {
    fresh()
    const before = latestEventId(db)
    expect(setPermissions(db, 'usr_nope', [])).toBeNull()
    expect(latestEventId(db)).toBe(before)
  })
})

describe('listUsers', () => {
  test('pages by email with a cursor and searches email and name', () => {
    fresh()
    for (const [email, name] of [
      ['d@example.com', 'Dora Smith'],
      ['a@example.com', 'Ann'],
      ['c@example.org', 'Cid Smith'],
      ['b@example.com', 'Bo'],
    ])
      newUser(email as string, name)
    const first = listUsers(db, { limit: 3 })
    expect(first.users.map((u) => u.email)).toEqual(['a@example.com', 'b@example.com', 'c@example.org'])
    expect(first.nextCursor).toBe('c@example.org')
    const second = listUsers(db, { limit: 3, cursor: first.nextCursor ?? undefined })
    expect(second).toMatchObject({ users: [{ email: 'd@example.com' }], nextCursor: null })
    expect(listUsers(db, { limit: 10, query: 'SMITH' }).users.map((u) => u.email)).toEqual([
      'c@example.org',
      'd@example.com',
    ])
    expect(listUsers(db, { limit: 10, query: '.org' }).users).toHaveLength(1)
    // LIKE wildcards in a query are plain characters.
    expect(listUsers(db, { limit: 10, query: '%' }).users).toHaveLength(0)
  })
})
