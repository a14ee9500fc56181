import { createEventPublisher, type DormantEvent, type EventPublisher } from '@dormant/core'
import { readEvents } from '@dormant/db'
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
    const due = seedHibernations(env.db, 30, () => Date.now() - 1)
    const outcomes = await Promise.all(due.map((h) => group.complete(h.id)))
    expect(outcomes.map((o) => o.outcome)).toEqual(due.map(() => 'completed'))
    await bus.until((messages) => messages.length >= 1)
    expect(bus.messages).toHaveLength(1)
    const published = (bus.messages[0]!.message as { events: DormantEvent[] }).events
    expect(published.map((e) => e.id)).toEqual(
      readEvents(env.db, 0)
        .filter((e) => published.some((p) => p.id === e.id))
        .map((e) => e.id),
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
    const due = seedHibernations(env.db, 5, () => Date.now() - 1)
    const outcomes = await Promise.all(due.map((h) => group.complete(h.id)))
    // The batch committed before its publish failed; the retries find the rows completed.
    expect(outcomes.map((o) => o.outcome)).toEqual(due.map(() => 'skipped'))
    expect(batchSizes[0]).toBe(15)
    const completed = readEvents(env.db, 0).filter((e) => e.type === 'hibernation.completed')
    expect(completed).toHaveLength(5)
  })
})
