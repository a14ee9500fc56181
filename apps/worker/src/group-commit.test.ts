import { setTimeout as sleep } from 'node:timers/promises'
import { createEventPublisher, type DormantEvent, type EventPublisher } from '@dormant/core'
import { type Db, readEvents } from '@dormant/db'
import { describe, expect } from 'vitest'
import { createGroupCommit } from './group-commit.js'
import { recordBus, seedHibernations, test } from './testing.js'

describe('group commit', () => {
  test('completions running together share one transaction and one publish', async ({ env }) => {
    const bus = await recordBus(env.config.REDIS_URL, env.config.REDIS_PREFIX)
    const group = createGroupCommit({
      db: env.db,
      publisher: createEventPublisher(env.redis, env.config.REDIS_PREFIX, env.deployment),
    })
    const due = await seedHibernations(env.db, 30, () => Date.now() - 1)
    const outcomes = await Promise.all(due.map((h) => group.complete(h.id)))
    expect(outcomes.map((o) => o.outcome)).toEqual(due.map(() => 'completed'))
    await bus.until((messages) => messages.length >= 1)
    expect(bus.messages).toHaveLength(1)
    const published = (bus.messages[0]!.message as { events: DormantEvent[] }).events
    expect(published.map((e) => e.id)).toEqual(
      (await readEvents(env.db, 0)).filter((e) => published.some((p) => p.id === e.id)).map((e) => e.id),
    )
    expect(published.filter((e) => e.type === 'hibernation.completed')).toHaveLength(30)
    await bus.close()
  })

  test('a failing batch is retried one completion at a time, so the others still complete', async ({ env }) => {
    const real = createEventPublisher(env.redis, env.config.REDIS_PREFIX, env.deployment)
    const batchSizes: number[] = []
    // Refuses any publish that carries more than one completion's events.
    const picky: EventPublisher = {
      ...real,
      events: async (events) => {
        batchSizes.push(events.length)
        if (events.length > 3) throw new Error('message too large')
        return real.events(events)
      },
    }
    const group = createGroupCommit({ db: env.db, publisher: picky })
    const due = await seedHibernations(env.db, 5, () => Date.now() - 1)
    const outcomes = await Promise.all(due.map((h) => group.complete(h.id)))
    // The batch committed before its publish failed; the retries find the rows completed.
    expect(outcomes.map((o) => o.outcome)).toEqual(due.map(() => 'skipped'))
    expect(batchSizes[0]).toBe(15)
    const completed = (await readEvents(env.db, 0)).filter((e) => e.type === 'hibernation.completed')
    expect(completed).toHaveLength(5)
  })

  test('one transaction at a time: completions arriving during a slow commit form the next batch', async ({ env }) => {
    const bus = await recordBus(env.config.REDIS_URL, env.config.REDIS_PREFIX)
    // The real database behind a 30 ms round trip, as a distant PostgreSQL would answer.
    let inFlight = 0
    let mostInFlight = 0
    const batchSizes: number[] = []
    const slow: Db = {
      ...env.db,
      completeHibernations: async (ids, now) => {
        batchSizes.push(ids.length)
        mostInFlight = Math.max(mostInFlight, ++inFlight)
        try {
          await sleep(30)
          return await env.db.completeHibernations(ids, now)
        } finally {
          inFlight--
        }
      },
    }
    const group = createGroupCommit(
      { db: slow, publisher: createEventPublisher(env.redis, env.config.REDIS_PREFIX, env.deployment) },
      10,
    )
    const due = await seedHibernations(env.db, 40, () => Date.now() - 1)
    const first = group.complete(due[0]!.id)
    // The rest arrive while the first commit is under way, a few at a time.
    const rest: Promise<unknown>[] = []
    for (const h of due.slice(1)) {
      rest.push(group.complete(h.id))
      if (rest.length % 5 === 0) await sleep(5)
    }
    const outcomes = await Promise.all([first, ...rest])
    expect(outcomes.map((o) => (o as { outcome: string }).outcome)).toEqual(due.map(() => 'completed'))
    expect(mostInFlight).toBe(1)
    expect(batchSizes.reduce((a, b) => a + b)).toBe(40)
    expect(Math.max(...batchSizes)).toBe(10)
    expect(batchSizes.length).toBeLessThanOrEqual(6)
    // Published in commit order: event ids rise across messages.
    await bus.until((messages) => messages.length === batchSizes.length)
    const ids = bus.messages.flatMap((m) => (m.message as { events: DormantEvent[] }).events.map((e) => e.id))
    expect(ids).toEqual([...ids].sort((a, b) => a - b))
    await bus.close()
  })
})
