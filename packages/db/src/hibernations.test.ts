import type { DormantEvent } from '@dormant/core'
import { tempDatabase } from '@dormant/testing'
import { afterEach, describe, expect, test } from 'vitest'
import {
  cancelHibernation,
  closeDb,
  completeHibernation,
  completeHibernations,
  createUser,
  type Db,
  getUser,
  latestEventId,
  listTransactions,
  openDb,
  readEvents,
  startHibernation,
} from './index.js'

const dbs: Db[] = []
afterEach(async () => {
  await Promise.all(dbs.splice(0).map(closeDb))
})
let db: Db

const setup = async (location?: string) => {
  db = await openDb(location ?? (await tempDatabase()))
  dbs.push(db)
  const result = await createUser(db, { email: 'h@example.com', passwordHash: 'x', permissions: [] })
  if ('error' in result) throw new Error(result.error)
  return result.user.id
}

const started = async (userId: string, now: number) => {
  const result = await startHibernation(db, userId, 1000, now)
  if ('error' in result) throw new Error(result.error)
  return result
}

describe('start and cancel', () => {
  test('start records the hibernation on the user; a second start is refused, writing nothing', async () => {
    const userId = await setup()
    const result = await started(userId, 10_000)
    expect(result.user).toMatchObject({ status: 'hibernating', hibernation: { id: result.hibernation.id } })
    expect(result.user.hibernation?.endsAt).toBe(new Date(11_000).toISOString())
    const before = await latestEventId(db)
    expect(await startHibernation(db, userId, 1000)).toEqual({ error: 'already_hibernating' })
    expect(await startHibernation(db, 'usr_nope', 1000)).toEqual({ error: 'not_found' })
    expect(await latestEventId(db)).toBe(before)
  })

  test('cancel wakes the user; cancelling again is refused', async () => {
    const userId = await setup()
    const { hibernation } = await started(userId, Date.now())
    const cancelled = await cancelHibernation(db, userId)
    expect(cancelled).toMatchObject({ hibernationId: hibernation.id, user: { status: 'active', hibernation: null } })
    expect(await cancelHibernation(db, userId)).toEqual({ error: 'not_hibernating' })
    expect(await cancelHibernation(db, 'usr_nope')).toEqual({ error: 'not_found' })
    // A timer that fires after the cancel finds nothing to do.
    expect(await completeHibernation(db, hibernation.id, Date.now() + 10_000)).toEqual({
      outcome: 'skipped',
      status: 'cancelled',
    })
  })

  test('two concurrent starts from two connections: one wins, the other is refused', async () => {
    const location = await tempDatabase()
    const userId = await setup(location)
    const other = await openDb(location)
    dbs.push(other)
    const results = await Promise.all([startHibernation(db, userId, 1000), startHibernation(other, userId, 1000)])
    expect(results.filter((r) => 'error' in r)).toEqual([{ error: 'already_hibernating' }])
    expect((await getUser(db, userId))?.status).toBe('hibernating')
  })
})

describe('completeHibernation', () => {
  test('completes once: status, goal, one transaction row, and events in one transaction', async () => {
    const userId = await setup()
    const { hibernation } = await started(userId, 0)
    expect(await completeHibernation(db, hibernation.id, 500)).toEqual({ outcome: 'not_due', endsAt: 1000 })
    const done = await completeHibernation(db, hibernation.id, 2000)
    if (done.outcome !== 'completed') throw new Error(done.outcome)
    expect(done.events.map((e) => e.type)).toEqual(['user.updated', 'transaction.created', 'hibernation.completed'])
    expect(await readEvents(db, done.events[0]?.id ? done.events[0].id - 1 : 0)).toEqual(done.events)
    expect(await getUser(db, userId)).toMatchObject({ status: 'active', goal: 1, hibernation: null })
    expect(await listTransactions(db, userId)).toEqual([
      (done.events[1] as DormantEvent<'transaction.created'>).data.transaction,
    ])

    const before = await latestEventId(db)
    expect(await completeHibernation(db, hibernation.id, 3000)).toEqual({ outcome: 'skipped', status: 'completed' })
    expect(await completeHibernation(db, 'hib_nope', 3000)).toEqual({ outcome: 'skipped', status: 'missing' })
    expect(await latestEventId(db)).toBe(before)
    expect(await listTransactions(db, userId)).toHaveLength(1)
  })

  test('two workers completing the same hibernation at once (two connections): it completes exactly once', async () => {
    const location = await tempDatabase()
    const userId = await setup(location)
    const other = await openDb(location)
    dbs.push(other)
    const { hibernation } = await started(userId, 0)
    const before = await latestEventId(db)
    const outcomes = await Promise.all([
      completeHibernation(db, hibernation.id, 2000),
      completeHibernation(other, hibernation.id, 2000),
    ])
    expect(outcomes.map((o) => o.outcome).sort()).toEqual(['completed', 'skipped'])
    expect(outcomes.find((o) => o.outcome === 'skipped')).toEqual({ outcome: 'skipped', status: 'completed' })
    expect(await listTransactions(db, userId)).toHaveLength(1)
    expect(await getUser(db, userId)).toMatchObject({ goal: 1 })
    expect(await latestEventId(db)).toBe(before + 3)
  })

  test('a cancel racing the completion (two connections): exactly one of them takes effect', async () => {
    const location = await tempDatabase()
    const userId = await setup(location)
    const other = await openDb(location)
    dbs.push(other)
    let completions = 0
    for (let round = 0; round < 10; round++) {
      const { hibernation } = await started(userId, 0)
      const [completed, cancelled] = await Promise.all([
        completeHibernation(db, hibernation.id, 2000),
        cancelHibernation(other, userId),
      ])
      // Whichever committed first wins; the loser finds the hibernation no longer scheduled.
      expect([completed.outcome, 'error' in cancelled]).toSatisfy(
        ([outcome, refused]) => (outcome === 'completed') === refused,
      )
      if (completed.outcome === 'completed') completions++
      else expect(completed).toEqual({ outcome: 'skipped', status: 'cancelled' })
      expect((await getUser(db, userId))?.status).toBe('active')
    }
    // One history row per completion that won, none for the cancels.
    expect(await listTransactions(db, userId)).toHaveLength(completions)
  })

  test('two batch completions over the same hibernations (two connections): each completes once', async () => {
    const location = await tempDatabase()
    await setup(location)
    const other = await openDb(location)
    dbs.push(other)
    const ids: string[] = []
    for (let i = 0; i < 6; i++) {
      const created = await createUser(db, { email: `b${i}@example.com`, passwordHash: 'x', permissions: [] })
      if ('error' in created) throw new Error(created.error)
      ids.push((await started(created.user.id, 0)).hibernation.id)
    }
    const [one, two] = await Promise.all([
      completeHibernations(db, ids, 2000),
      completeHibernations(other, [...ids].reverse(), 2000),
    ])
    const completed = [...one, ...two].filter((o) => o.outcome === 'completed')
    expect(completed).toHaveLength(ids.length)
    expect(new Set(completed.map((o) => (o.outcome === 'completed' ? o.userId : ''))).size).toBe(ids.length)
  })
})
