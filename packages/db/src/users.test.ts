import type { DormantEvent } from '@dormant/core'
import { tempDatabase } from '@dormant/testing'
import { afterEach, describe, expect, test } from 'vitest'
import {
  closeDb,
  countUsers,
  createUser,
  type Db,
  findLoginByEmail,
  getUser,
  latestEventId,
  listUsers,
  openDb,
  readEvents,
  setPermissions,
} from './index.js'

let db: Db
afterEach(() => closeDb(db))
const fresh = async () => {
  db = await openDb(await tempDatabase())
  return db
}

const newUser = async (email: string, name?: string) => {
  const result = await createUser(db, { email, passwordHash: 'scrypt$x', name, permissions: ['hibernation.self'] })
  if ('error' in result) throw new Error(result.error)
  return result
}

describe('createUser', () => {
  test('normalises the email, writes one user.updated event in the same transaction', async () => {
    await fresh()
    const { user, events } = await newUser('  Mixed.Case@Example.COM ')
    expect(user).toMatchObject({ email: 'mixed.case@example.com', name: 'mixed.case', role: 'user', goal: 0 })
    expect(user.version).toBe(1)
    expect(events).toHaveLength(1)
    const [event] = events as [DormantEvent<'user.updated'>]
    expect(event).toMatchObject({ type: 'user.updated', userId: user.id, data: { user } })
    expect(await readEvents(db, 0)).toEqual(events)
    expect(await countUsers(db)).toBe(1)
    expect((await findLoginByEmail(db, 'MIXED.case@example.com'))?.id).toBe(user.id)
  })

  test('a duplicate email (any case) is refused and writes nothing', async () => {
    await fresh()
    await newUser('a@example.com')
    const before = await latestEventId(db)
    expect(await createUser(db, { email: 'A@EXAMPLE.com', passwordHash: 'x', permissions: [] })).toEqual({
      error: 'duplicate_email',
    })
    expect(await countUsers(db)).toBe(1)
    expect(await latestEventId(db)).toBe(before)
  })

  test('the same email signed up twice at once (two connections): one user, one refusal', async () => {
    const location = await tempDatabase()
    db = await openDb(location)
    const other = await openDb(location)
    try {
      const results = await Promise.all(
        [db, other].map((on) => createUser(on, { email: 'race@example.com', passwordHash: 'x', permissions: [] })),
      )
      expect(results.filter((r) => 'error' in r)).toEqual([{ error: 'duplicate_email' }])
      expect(await countUsers(db)).toBe(1)
      expect(await latestEventId(db)).toBe(1)
    } finally {
      await closeDb(other)
    }
  })
})

describe('setPermissions', () => {
  test('stores a sorted, de-duplicated set, bumps the version, records the new user', async () => {
    await fresh()
    const { user } = await newUser('p@example.com')
    const change = await setPermissions(db, user.id, ['reports.view', 'billing.manage', 'reports.view'])
    expect(change?.user.permissions).toEqual(['billing.manage', 'reports.view'])
    expect(change?.user.version).toBe(user.version + 1)
    expect(await getUser(db, user.id)).toEqual(change?.user)
    expect((change!.events[0] as DormantEvent<'user.updated'>).data.user).toEqual(change?.user)
  })

  test('null for an unknown user, nothing written', async () => {
    await fresh()
    const before = await latestEventId(db)
    expect(await setPermissions(db, 'usr_nope', [])).toBeNull()
    expect(await latestEventId(db)).toBe(before)
  })

  test('concurrent changes to one user from two connections: versions consecutive, events in version order', async () => {
    const location = await tempDatabase()
    db = await openDb(location)
    const other = await openDb(location)
    try {
      const { user } = await newUser('v@example.com')
      const changes = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          setPermissions(i % 2 ? db : other, user.id, i % 3 ? ['reports.view'] : []),
        ),
      )
      const versions = changes.map((c) => c?.user.version).sort((a, b) => (a ?? 0) - (b ?? 0))
      expect(versions).toEqual(Array.from({ length: 20 }, (_, i) => user.version + 1 + i))
      const stream = (await readEvents(db, 0, { userId: user.id })) as DormantEvent<'user.updated'>[]
      expect(stream.map((e) => e.data.user.version)).toEqual(Array.from({ length: 21 }, (_, i) => user.version + i))
    } finally {
      await closeDb(other)
    }
  })
})

describe('listUsers', () => {
  test('pages by email with a cursor and searches email and name', async () => {
    await fresh()
    for (const [email, name] of [
      ['d@example.com', 'Dora Smith'],
      ['a@example.com', 'Ann'],
      ['c@example.org', 'Cid Smith'],
      ['b@example.com', 'Bo'],
    ])
      await newUser(email as string, name)
    const first = await listUsers(db, { limit: 3 })
    expect(first.users.map((u) => u.email)).toEqual(['a@example.com', 'b@example.com', 'c@example.org'])
    expect(first.nextCursor).toBe('c@example.org')
    const second = await listUsers(db, { limit: 3, cursor: first.nextCursor ?? undefined })
    expect(second).toMatchObject({ users: [{ email: 'd@example.com' }], nextCursor: null })
    expect((await listUsers(db, { limit: 10, query: 'SMITH' })).users.map((u) => u.email)).toEqual([
      'c@example.org',
      'd@example.com',
    ])
    expect((await listUsers(db, { limit: 10, query: '.org' })).users).toHaveLength(1)
    // LIKE wildcards in a query are plain characters.
    expect((await listUsers(db, { limit: 10, query: '%' })).users).toHaveLength(0)
  })
})
