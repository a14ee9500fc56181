import { connectRedis } from '@dormant/core'
import { queryDb, type RedisServer, startRedisServer, waitFor } from '@dormant/testing'
import { afterEach, describe, expect, test } from 'vitest'
import { COMPLETED_ONCE, startTimerSystem, type TimerSystem } from './support.js'

describe('timers survive Redis losing its data or restarting', () => {
  let system: TimerSystem | undefined
  let server: RedisServer | undefined
  afterEach(async () => {
    await system?.stop()
    await server?.destroy()
    system = server = undefined
  })

  test('FLUSHALL after scheduling: the reconciler re-creates the jobs and they fire once', async () => {
    server = await startRedisServer()
    system = await startTimerSystem({ redisUrl: server.url, workerEnv: { RECONCILE_INTERVAL_MS: '300' } })
    const queue = system.api.deps.queue
    await system.startWorker()
    const hs = await system.hibernateDirect(3, () => Date.now() + 2500)
    for (const h of hs) expect(await queue.getJobState(h.id)).toBe('delayed')

    const admin = connectRedis(server.url)
    await admin.flushall()
    expect(await admin.dbsize()).toBe(0)
    await waitFor(
      async () => (await Promise.all(hs.map((h) => queue.getJobState(h.id)))).every((s) => s === 'delayed'),
      {
        what: 'jobs re-created by the reconciler',
      },
    )
    const restoredAt = Date.now()
    expect(restoredAt).toBeLessThan(Math.min(...hs.map((h) => h.endsAt)))

    await system.settled(hs)
    const completedAt = await Promise.all(
      hs.map(async (h) => {
        const [row] = await queryDb<{ t: number }>(
          system!.location,
          'select finished_at as t from hibernations where id = ?',
          [h.id],
        )
        // PostgreSQL hands bigint back as text.
        return { t: Number(row?.t) }
      }),
    )
    console.info(
      `after FLUSHALL: jobs restored before due; completion lateness ${JSON.stringify(completedAt.map((c, i) => c.t - hs[i]!.endsAt))} ms`,
    )
    for (const h of hs) expect(await system.counts(h)).toEqual(COMPLETED_ONCE)
    await admin.quit()
  })

  test('Redis restarted with AOF: the jobs themselves survive (no reconcile pass in between) and fire once', async () => {
    server = await startRedisServer({ appendonly: true })
    system = await startTimerSystem({ redisUrl: server.url, workerEnv: { RECONCILE_INTERVAL_MS: '3600000' } })
    const worker = await system.startWorker()
    const hs = await system.hibernateDirect(3, () => Date.now() + 3000)
    for (const h of hs) expect(await system.api.deps.queue.getJobState(h.id)).toBe('delayed')

    await server.stop()
    await server.start()
    const fresh = connectRedis(server.url)
    expect(await fresh.zrange(system.api.deps.queue.toKey('delayed'), 0, -1)).toEqual(
      expect.arrayContaining(hs.map((h) => h.id)),
    )
    expect(Date.now()).toBeLessThan(Math.min(...hs.map((h) => h.endsAt)))

    await system.settled(hs, 20_000)
    for (const h of hs) expect(await system.counts(h)).toEqual(COMPLETED_ONCE)
    // Only the start-up pass ran, before anything was scheduled: the jobs came back from the AOF.
    expect(worker.output()).not.toMatch(/"created":[1-9]/)
    await fresh.quit()
  })
})
