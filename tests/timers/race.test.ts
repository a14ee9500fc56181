import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { COMPLETED_ONCE, startTimerSystem, type TimerSystem, untilPast } from './support.js'

describe('cancel racing the timer', () => {
  let system: TimerSystem

  beforeAll(async () => {
    system = await startTimerSystem()
    await system.startWorker({ WORKER_CONCURRENCY: '4' })
  })
  afterAll(() => system?.stop())

  test('150 races between the worker process and API cancels (HTTP): exactly one outcome each, rows consistent', async () => {
    // endsAt 10 ms apart: the worker takes them from the first, the cancels from the last,
    // and the two cross somewhere in the middle.
    const first = Date.now() + 1500
    const hs = await system.hibernateDirect(150, (i) => first + i * 10)
    const admin = await system.api.adminCookie()
    await untilPast(first)
    const responses = new Map<string, number>()
    const queue = [...hs].reverse()
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let h = queue.shift(); h; h = queue.shift()) {
          const res = await system.api.call(`/api/users/${h.userId}/hibernation`, { method: 'DELETE', cookie: admin })
          responses.set(h.id, res.status)
          await res.body?.cancel()
        }
      }),
    )
    await system.settled(hs)
    // Every job has run or been removed: a late job of a cancelled hibernation must not change anything.
    await expect
      .poll(async () => (await system.api.deps.queue.getJobCounts('active', 'wait', 'delayed')) as unknown, {
        timeout: 10_000,
      })
      .toEqual({ active: 0, wait: 0, delayed: 0 })

    const outcomes = { completed: 0, cancelled: 0 }
    for (const h of hs) {
      const counts = await system.counts(h)
      if (responses.get(h.id) === 200) {
        outcomes.cancelled++
        expect(counts).toEqual({
          status: 'cancelled',
          userStatus: 'active',
          goal: 0,
          transactions: 0,
          completedEvents: 0,
        })
      } else {
        outcomes.completed++
        expect(responses.get(h.id)).toBe(409)
        expect(counts).toEqual(COMPLETED_ONCE)
      }
    }
    console.info(`race outcomes over ${hs.length} hibernations: ${JSON.stringify(outcomes)}`)
    expect(outcomes.completed).toBeGreaterThan(0)
    expect(outcomes.cancelled).toBeGreaterThan(0)
  })
})
