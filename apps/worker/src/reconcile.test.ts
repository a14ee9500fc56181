import { createEventPublisher, HIBERNATION_QUEUE, scheduleHibernationJob } from '@dormant/core'
import { cancelHibernation, completeHibernation } from '@dormant/db'
import { queryDb, waitFor } from '@dormant/testing'
import { Worker } from 'bullmq'
import { describe, expect } from 'vitest'
import { hibernationProcessor } from './complete-hibernation.js'
import { reconcile, startReconciler } from './reconcile.js'
import { addJobsBulk, seedScheduledBulk } from './seed.js'
import { seedHibernations, silentLog, test } from './testing.js'

const HOUR = 3600_000
const DAY = 24 * HOUR

describe('reconcile', () => {
  test('creates the missing job of every scheduled hibernation, delayed until endsAt; overdue ones wait', async ({
    env,
  }) => {
    const deps = { ...env, log: silentLog() }
    const future = await seedHibernations(env.db, 3, (i) => Date.now() + HOUR + i)
    const overdue = await seedHibernations(env.db, 2, () => Date.now() - 1)
    await scheduleHibernationJob(env.queue, future[0]!.id, future[0]!.endsAt)

    const report = await reconcile(deps)
    expect(report).toMatchObject({ scheduled: 5, created: 4, replaced: 0, removed: 0 })
    for (const h of future) {
      const job = await env.queue.getJob(h.id)
      expect(await job?.getState()).toBe('delayed')
      expect(Math.abs(job!.timestamp + job!.delay - h.endsAt)).toBeLessThan(100)
      expect(job?.data).toEqual({ h: h.id, d: env.deployment })
    }
    for (const h of overdue) expect(await env.queue.getJobState(h.id)).toBe('waiting')
    expect(await reconcile(deps)).toMatchObject({ scheduled: 5, created: 0, replaced: 0, removed: 0 })
  })

  test('removes waiting and delayed jobs whose hibernation was cancelled or completed, and only those', async ({
    env,
  }) => {
    const deps = { ...env, log: silentLog() }
    const later = await seedHibernations(env.db, 4, () => Date.now() + HOUR)
    const due = await seedHibernations(env.db, 3, () => Date.now() - 1)
    for (const h of [...later, ...due]) await scheduleHibernationJob(env.queue, h.id, h.endsAt)
    await cancelHibernation(env.db, later[0]!.userId)
    await cancelHibernation(env.db, due[0]!.userId)
    expect((await completeHibernation(env.db, due[1]!.id)).outcome).toBe('completed')
    await env.queue.add('complete', { h: 'hib_unknown' }, { jobId: 'hib_unknown', delay: HOUR })

    expect(await reconcile(deps)).toMatchObject({ scheduled: 4, created: 0, removed: 4 })
    const states = async (hs: { id: string }[]) => Promise.all(hs.map((h) => env.queue.getJobState(h.id)))
    expect(await states(later)).toEqual(['unknown', 'delayed', 'delayed', 'delayed'])
    expect(await states(due)).toEqual(['unknown', 'unknown', 'waiting'])
    expect(await env.queue.getJobState('hib_unknown')).toBe('unknown')
  })

  test("leaves another deployment's jobs alone, and touches nothing once the prefix is not its own", async ({
    env,
  }) => {
    const deps = { ...env, log: silentLog() }
    // Jobs of another deployment sharing the prefix: unknown to this DB, yet not ours to remove.
    await env.queue.add(
      'complete',
      { h: 'hib_theirs_delayed', d: 'other' },
      { jobId: 'hib_theirs_delayed', delay: HOUR },
    )
    await env.queue.add('complete', { h: 'hib_theirs_waiting', d: 'other' }, { jobId: 'hib_theirs_waiting' })
    await env.queue.add('complete', { h: 'hib_ours', d: env.deployment }, { jobId: 'hib_ours', delay: HOUR })
    expect(await reconcile(deps)).toMatchObject({ removed: 1 })
    expect(await env.queue.getJobState('hib_ours')).toBe('unknown')
    expect(await env.queue.getJobState('hib_theirs_delayed')).toBe('delayed')
    expect(await env.queue.getJobState('hib_theirs_waiting')).toBe('waiting')

    // A pass that finds the prefix claimed by another deployment creates nothing either.
    await seedHibernations(env.db, 2, () => Date.now() + HOUR)
    const reconciler = startReconciler({ ...deps, owned: async () => false }, 50)
    await reconciler.firstPass
    await reconciler.stop()
    expect(await env.queue.getJobCounts('delayed', 'waiting')).toEqual({ delayed: 1, waiting: 1 })
  })

  test('replaces the failed job of a hibernation that is still scheduled', async ({ env }) => {
    const deps = { ...env, log: silentLog() }
    const [h] = await seedHibernations(env.db, 1, () => Date.now() + HOUR)
    // A job that failed permanently (here: bad data, as an older release might have written).
    await env.queue.add('complete', { x: 1 } as never, { jobId: h!.id })
    const worker = new Worker(
      HIBERNATION_QUEUE,
      hibernationProcessor({
        ...deps,
        publisher: createEventPublisher(env.redis, env.config.REDIS_PREFIX, env.deployment),
      }),
      {
        connection: env.redis,
        prefix: env.config.REDIS_PREFIX,
      },
    )
    await waitFor(async () => (await env.queue.getJobState(h!.id)) === 'failed', { what: 'job failed' })
    await worker.close()

    expect(await reconcile(deps)).toMatchObject({ created: 0, replaced: 1, removed: 0 })
    expect(await env.queue.getJobState(h!.id)).toBe('delayed')
    expect((await env.queue.getJob(h!.id))?.data).toEqual({ h: h!.id, d: env.deployment })
  })

  test('one pass over 20,000 scheduled hibernations is fast, pages included', async ({ env }) => {
    const deps = { ...env, log: silentLog() }
    const rows = await seedScheduledBulk(env.location, 20_000, (i) => Date.now() + 3 * DAY + i)
    await addJobsBulk(env.queue, rows.slice(0, 19_000))
    const lost = rows.slice(19_000).map((r) => r.id)
    await queryDb(
      env.location,
      `update hibernations set status = 'cancelled' where id in (?, ?, ?)`,
      rows.slice(0, 3).map((r) => r.id),
    )

    const report = await reconcile(deps)
    console.info(`reconcile pass over 20,000: ${JSON.stringify(report)}`)
    expect(report).toMatchObject({ scheduled: 19_997, created: 1000, removed: 3 })
    expect(await env.redis.zcard(env.queue.toKey('delayed'))).toBe(19_997)
    expect(await env.queue.getJobState(lost[999]!)).toBe('delayed')
    const steady = await reconcile(deps)
    console.info(`steady pass over 20,000: ${steady.ms} ms`)
    expect(steady).toMatchObject({ created: 0, removed: 0 })
    expect(steady.ms).toBeLessThan(2000)
  })
})

describe('Redis bytes per scheduled hibernation', () => {
  test('a delayed job and its delayed-set entry stay under 500 bytes', async ({ env }) => {
    const hs = await seedScheduledBulk(env.location, 1000, (i) => Date.now() + 3 * DAY + i, 'mem')
    for (const h of hs) await scheduleHibernationJob(env.queue, h.id, h.endsAt)
    const hash = Number(await env.redis.call('MEMORY', 'USAGE', env.queue.toKey(hs[500]!.id)))
    const zset = Number(await env.redis.call('MEMORY', 'USAGE', env.queue.toKey('delayed'), 'SAMPLES', '0'))
    const perHibernation = hash + zset / hs.length
    console.info(
      `Redis bytes per scheduled hibernation: job hash ${hash} + delayed entry ${Math.round(zset / hs.length)}`,
    )
    expect(await env.redis.object('ENCODING', env.queue.toKey(hs[500]!.id))).toBe('listpack')
    expect(perHibernation).toBeLessThan(500)
  })
})
