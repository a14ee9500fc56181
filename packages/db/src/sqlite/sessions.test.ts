import { tempDbPath } from '@dormant/testing'
import { afterEach, expect, test } from 'vitest'
import { closeDb, type Db, openDb } from './client.js'
import { createSession, deleteExpiredSessions } from './sessions.js'
import { createUser } from './users.js'

let db: Db
afterEach(() => closeDb(db))

test('expired sessions are deleted at most `limit` per call; live ones stay', () => {
  db = openDb(tempDbPath())
  const created = createUser(db, { email: 'a@example.com', passwordHash: 'x', permissions: [] })
  if ('error' in created) throw new Error(created.error)
  const t0 = 1_000_000
  for (let i = 0; i < 5; i++) createSession(db, { userId: created.user.id, tokenHash: `old${i}`, ttlMs: 10 }, t0)
  createSession(db, { userId: created.user.id, tokenHash: 'live', ttlMs: 1000 }, t0)
  const count = () => db.$client.prepare('select count(*) from sessions').pluck().get()
  expect(deleteExpiredSessions(db, t0 + 10, 2)).toBe(2)
  expect(deleteExpiredSessions(db, t0 + 10, 2)).toBe(2)
  expect(deleteExpiredSessions(db, t0 + 10, 2)).toBe(1)
  expect(deleteExpiredSessions(db, t0 + 10, 2)).toBe(0)
  expect(count()).toBe(1)
})
