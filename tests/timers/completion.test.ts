import { scheduleHibernationJob } from '@dormant/core'
import { SseRecorder, streamPosition } from '@dormant/testing'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { COMPLETED_ONCE, percentiles, startTimerSystem, type TimerSystem } from './support.js'

type Frame = { id?: string; event: string; data: unknown }

describe('a hibernation completed by a worker process', () => {
  let system: TimerSystem

  beforeAll(async () => {
    system = await startTimerSystem()
    await system.startWorker()
  })
  afterAll(() => system?.stop())

  test('reaches the user stream: user.updated (active, goal 1), transaction.created, hibernation.completed', async () => {
    const users = await Promise.all(Array.from({ length: 8 }, () => system.api.newUser()))
    const streams = users.map((u) => new SseRecorder(`${system.api.url}/api/events`, { cookie: u.cookie }))
    await Promise.all(streams.map((s) => s.untilEvents(1, 'snapshot')))
    const admin = await system.api.adminCookie()
    const endsAt: number[] = []
    for (const user of users) {
      const res = await system.api.call(`/api/users/${user.id}/hibernation`, {
        method: 'POST',
        cookie: admin,
        json: { durationMs: 1000 },
      })
      expect(res.status).toBe(201)
      const body = (await res.json()) as { user: { hibernation: { endsAt: string } } }
      endsAt.push(Date.parse(body.user.hibernation.endsAt))
    }

    const lateness = await Promise.all(
      streams.map(async (stream, i) => {
        await stream.untilEvents(1, 'hibernation.completed', 10_000)
        return Date.now() - endsAt[i]!
      }),
    )
    for (const [i, stream] of streams.entries()) {
      const events = stream.events().filter((f) => f.id !== undefined && f.event !== 'snapshot') as Frame[]
      expect(events.map((e) => e.event)).toEqual([
        'user.updated',
        'user.updated',
        'transaction.created',
        'hibernation.completed',
      ])
      expect((events[0]!.data as { user: { status: string } }).user.status).toBe('hibernating')
      expect((events[1]!.data as { user: unknown }).user).toMatchObject({
        status: 'active',
        goal: 1,
        hibernation: null,
      })
      const ids = events.map((e) => streamPosition(e.id))
      expect(ids).toEqual([...ids].sort((a, b) => a - b))
      expect((events[2]!.data as { transaction: { type: string } }).transaction.type).toBe('hibernation.completed')
      expect(users[i]!.id).toBe((events[1]!.data as { user: { id: string } }).user.id)
      stream.close()
    }
    const stats = percentiles(lateness)
    console.info(`lateness (event received on the stream − endsAt), ms: ${JSON.stringify(stats)}`)
    expect(stats.min).toBeGreaterThanOrEqual(0)
    expect(stats.max).toBeLessThan(1000)
  })

  test('cancelled before due: never activates, even if its job still fires', async () => {
    const [cancelled, control] = await system.hibernate(2, 1000, { login: true })
    const stream = new SseRecorder(`${system.api.url}/api/events`, { cookie: cancelled!.cookie })
    await stream.untilEvents(1, 'snapshot')
    const res = await system.api.call(`/api/users/${cancelled!.userId}/hibernation`, {
      method: 'DELETE',
      cookie: await system.api.adminCookie(),
    })
    expect(res.status).toBe(200)
    expect(await system.api.deps.queue.getJobState(cancelled!.id)).toBe('unknown')
    // As if the removal had failed: the job fires at endsAt and must find nothing to do.
    await scheduleHibernationJob(system.api.deps.queue, cancelled!.id, cancelled!.endsAt)

    // The control ends after the cancelled one; once it completed, the cancelled one's time has passed.
    await system.settled([control!])
    expect(control!.endsAt).toBeGreaterThan(cancelled!.endsAt)
    expect(await system.counts(control!)).toEqual(COMPLETED_ONCE)
    await expect.poll(() => system.api.deps.queue.getJobState(cancelled!.id)).toBe('completed')
    expect(await system.counts(cancelled!)).toEqual({
      status: 'cancelled',
      userStatus: 'active',
      goal: 0,
      transactions: 0,
      completedEvents: 0,
    })
    expect(stream.events('hibernation.completed')).toHaveLength(0)
    expect(stream.events('transaction.created')).toHaveLength(0)
    stream.close()
  })
})
