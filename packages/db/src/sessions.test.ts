import { queryDb, tempDatabase } from '@dormant/testing'
import { afterEach, expect, test } from 'vitest'
import { closeDb, createSession, createUser, type Db, deleteExpiredSessions, openDb } from './index.js'

let db: Db
afterEach(() => closeDb(db))

test('expired sessions are deleted at most `limit` per call; live ones stay', async () => {
  const location = await tempDatabase()
  db = await openDb(location)
  const created = await createUser(db, { email: 'a@example.com', passwordHash: 'x', permissions: [] })
  if ('error' in created) throw new Error(created.error)
  const t0 = 1_000_000
  for (let i = 0; i < 5; i++) await createSession(db, { userId: created.user.id, tokenHash: `old${i}`, ttlMs: 10 }, t0)
  await createSession(db, { userId: created.user.id, tokenHash: 'live', ttlMs: 1000 }, t0)
  expect(await deleteExpiredSessions(db, t0 + 10, 2)).toBe(2)
  expect(await deleteExpiredSessions(db, t0 + 10, 2)).toBe(2)
  expect(await deleteExpiredSessions(db, t0 + 10, 2)).toBe(1)
  expect(await deleteExpiredSessions(db, t0 + 10, 2)).toBe(0)
  const [row] = await queryDb<{ n: number }>(location, 'select cast(count(*) as integer) as n from sessions')
  expect(row?.n).toBe(1)
})
