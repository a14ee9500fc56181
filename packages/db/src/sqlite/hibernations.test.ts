import type { DormantEvent } from '@dormant/core'
import { tempDbPath } from '@dormant/testing'
import { afterEach, describe, expect, test } from 'vitest'
import { closeDb, type Db, openDb } from './client.js'
import { latestEventId, readEvents } from './events.js'
import { cancelHibernation, completeHibernation, startHibernation } from './hibernations.js'
import { listTransactions } from './transactions.js'
import { createUser, getUser } from './users.js'

let db: Db
afterEach(() => closeDb(db))

const setup = () => {
  db = openDb(tempDbPath())
  const result = createUser(db, { email: 'h@example.com', passwordHash: 'x', permissions: [] })
  if ('error' in result) throw new Error(result.error)
  return result.user.id
}

const started = (userId: string, now: number) => {
  const result = startHibernation(db, userId, 1000, now)
  if ('error' in result) throw new Error(result.error)
  return result
}

describe('start and cancel', () => {
  test('start records the hibernation on the user; a second start is refused, writing nothing', () => {
    const userId = setup()
    const result = started(userId, 10_000)
    expect(result.user).toMatchObject({ status: 'hibernating', hibernation: { id: result.hibernation.id } })
    expect(result.user.hibernation?.endsAt).toBe(new Date(11_000).toISOString())
    const before = latestEventId(db)
    expect(startHibernation(db, userId, 1000)).toEqual({ error: 'already_hibernating' })
    expect(startHibernation(db, 'usr_nope', 1000)).toEqual({ error: 'not_found' })
    expect(latestEventId(db)).toBe(before)
  })

  test('cancel wakes the user; cancelling again is refused', () => {
    const userId = setup()
    const { hibernation } = started(userId, Date.now())
    const cancelled = cancelHibernation(db, userId)
    expect(cancelled).toMatchObject({ hibernationId: hibernation.id, user: { status: 'active', hibernation: null } })
    expect(cancelHibernation(db, userId)).toEqual({ error: 'not_hibernating' })
    expect(cancelHibernation(db, 'usr_nope')).toEqual({ error: 'not_found' })
    // A timer that fires after the cancel finds nothing to do.
    expect(completeHibernation(db, hibernation.id, Date.now() + 10_000)).toEqual({
      outcome: 'skipped',
      status: 'cancelled',
    })
  })
})

describe('completeHibernation', () => {
  test('completes once: status, goal, one transaction row, and events in one transaction', () => {
    const userId = setup()
    const { hibernation } = started(userId, 0)
    expect(completeHibernation(db, hibernation.id, 500)).toEqual({ outcome: 'not_due', endsAt: 1000 })
    const done = completeHibernation(db, hibernation.id, 2000)
    if (done.outcome !== 'completed') throw new Error(done.outcome)
    expect(done.events.map((e) => e.type)).toEqual(['user.updated', 'transaction.created', 'hibernation.completed'])
    expect(readEvents(db, done.events[0]?.id ? done.events[0].id - 1 : 0)).toEqual(done.events)
    expect(getUser(db, userId)).toMatchObject({ status: 'active', goal: 1, hibernation: null })
    expect(listTransactions(db, userId)).toEqual([
      (done.events[1] as DormantEvent<'transaction.created'>).data.transaction,
    ])

    const before = latestEventId(db)
    expect(completeHibernation(db, hibernation.id, 3000)).toEqual({ outcome: 'skipped', status: 'completed' })
    expect(completeHibernation(db, 'hib_nope', 3000)).toEqual({ outcome: 'skipped', status: 'missing' })
    expect(latestEventId(db)).toBe(before)
    expect(listTransactions(db, userId)).toHaveLength(1)
  })
})
