import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import {
  createEventPublisher,
  type DormantEvent,
  type EventPublisher,
  HIBERNATION_QUEUE,
  type HibernationJob,
  scheduleHibernationJob,
} from '@dormant/core'
import { type Db, readEvents } from '@dormant/db'
import { queryDb, REPO_ROOT, waitFor } from '@dormant/testing'
import { Worker } from 'bullmq'
import { describe, expect } from 'vitest'
import { hibernationProcessor, retryDelay } from './complete-hibernation.js'
import { recordBus, seedHibernations, silentLog, test } from './testing.js'
import { startWorker } from './worker.js'

/** History rows of a hibernation. */
const transactionsOf = async (location: string, hibernationId: string) => {
  const [row] = await queryDb<{ n: number }>(
    location,
    'select cast(count(*) as integer) as n from transactions where hibernation_id = ?',
    [hibernationId],
  )
  return row?.n
}

const hibernationStatus = async (location: string, id: string) =>
  (await queryDb<{ status: string }>(location, 'select status from hibernations where id = ?', [id]))[0]?.status

const eventsOf = async (db: Db, userId: string) => (await readEvents(db, 0, { userId })).map((e) => e.type)

describe('hibernation job', () => {
  test('completes a due hibernation once and publishes its events in order', async ({ env }) => {
    const bus = await recordBus(env.config.REDIS_URL, env.config.REDIS_PREFIX)
    const worker = await startWorker(env.config, silentLog())
    const [h] = await seedHibernations(env.db, 1, () => Date.now() + 1000)
    await scheduleHibernationJob(env.queue, h!.id, h!.endsAt)

    await bus.until((m) => m.some((x) => x.kind === 'events'), 5000)
    const published = bus.messages.find((m) => m.message.kind === 'events')!
    const events = (published.message as { events: DormantEvent[] }).events
    expect(events.map((e) => e.type)).toEqual(['user.updated', 'transaction.created', 'hibernation.completed'])
    const updated = events[0] as DormantEvent<'user.updated'>
    expect(updated.data.user).toMatchObject({ status: 'active', goal: 1, hibernation: null })
    const lateness = published.at - h!.endsAt
    console.info(`worker in-process: event published ${lateness} ms after endsAt`)
    expect(lateness).toBeGreaterThanOrEqual(0)
    expect(lateness).toBeLessThan(1000)
    expect(await transactionsOf(env.location, h!.id)).toBe(1)

    await worker.stop()
    await bus.close()
  })

  test('the same job run twice: one history row, one set of events, then only a position', async ({ env }) => {
    const bus = await recordBus(env.config.REDIS_URL, env.config.REDIS_PREFIX)
    const worker = await startWorker(env.config, silentLog())
    const [h] = await seedHibernations(env.db, 1, () => Date.now() + 1000)
    await scheduleHibernationJob(env.queue, h!.id, h!.endsAt)
    await bus.until((m) => m.some((x) => x.kind === 'events'), 5000)
    await waitFor(async () => (await env.queue.getJobState(h!.id)) === 'completed', { what: 'first run completed' })

    // Runs the job again, as a retry after a lost ack or a reconciler race would.
    await env.queue.remove(h!.id)
    await scheduleHibernationJob(env.queue, h!.id, h!.endsAt)
    await bus.until((m) => m.some((x) => x.kind === 'upTo'), 5000, 'upTo after the second run')

    expect(bus.messages.filter((m) => m.message.kind === 'events')).toHaveLength(1)
    expect(await transactionsOf(env.location, h!.id)).toBe(1)
    expect((await eventsOf(env.db, h!.userId)).filter((t) => t === 'hibernation.completed')).toHaveLength(1)
    await worker.stop()
    await bus.close()
  })

  test('a job promoted before endsAt goes back to delayed and completes at endsAt, not before', async ({ env }) => {
    const worker = await startWorker(env.config, silentLog())
    const [h] = await seedHibernations(env.db, 1, () => Date.now() + 1500)
    // No delay: as if an operator pressed "promote" in Bull Board, or the API's clock ran ahead.
    await env.queue.add('complete', { h: h!.id }, { jobId: h!.id })
    await waitFor(async () => (await env.queue.getJobState(h!.id)) === 'delayed', { what: 'job delayed again' })
    expect(await transactionsOf(env.location, h!.id)).toBe(0)
    await waitFor(async () => (await env.queue.getJobState(h!.id)) === 'completed', { what: 'job completed' })
    const [row] = await queryDb<{ status: string; finished_at: number | string }>(
      env.location,
      'select status, finished_at from hibernations where id = ?',
      [h!.id],
    )
    expect(row?.status).toBe('completed')
    expect(Number(row?.finished_at)).toBeGreaterThanOrEqual(h!.endsAt)
    await worker.stop()
  })

  test('a failed publish fails the job; its retry announces the table position instead', async ({ env }) => {
    const bus = await recordBus(env.config.REDIS_URL, env.config.REDIS_PREFIX)
    const real = createEventPublisher(env.redis, env.config.REDIS_PREFIX, env.deployment)
    let failures = 0
    const flaky: EventPublisher = {
      ...real,
      events: async (events) => {
        if (failures++ === 0) throw new Error('publish lost')
        return real.events(events)
      },
    }
    const worker = new Worker<HibernationJob>(
      HIBERNATION_QUEUE,
      hibernationProcessor({ db: env.db, publisher: flaky, log: silentLog(), deployment: env.deployment }),
      { connection: env.redis, prefix: env.config.REDIS_PREFIX },
    )
    const [h] = await seedHibernations(env.db, 1, () => Date.now() + 1000)
    await scheduleHibernationJob(env.queue, h!.id, h!.endsAt)
    await waitFor(async () => (await env.queue.getJobState(h!.id)) === 'completed', {
      what: 'job completed after a retry',
    })
    const job = await env.queue.getJob(h!.id)
    expect(job?.attemptsStarted).toBe(2)
    expect(bus.messages.map((m) => m.message.kind)).toEqual(['upTo'])
    const upTo = bus.messages[0]!.message as { id: number }
    expect(upTo.id).toBeGreaterThanOrEqual(Math.max(...(await readEvents(env.db, 0)).map((e) => e.id)))
    expect(await transactionsOf(env.location, h!.id)).toBe(1)
    await worker.close()
    await bus.close()
  })

  test('a job of another deployment is not run: it goes back to delayed, the hibernation stays scheduled', async ({
    env,
  }) => {
    const worker = await startWorker(env.config, silentLog())
    const [h] = await seedHibernations(env.db, 1, () => Date.now() - 1)
    // Due, and its id is even in this DB: only the identity says it is not ours.
    await env.queue.add('complete', { h: h!.id, d: 'other' }, { jobId: h!.id })
    await waitFor(
      async () =>
        (await env.queue.getJob(h!.id))?.attemptsStarted === 1 && (await env.queue.getJobState(h!.id)) === 'delayed',
      { what: 'the foreign job handed back' },
    )
    expect(await hibernationStatus(env.location, h!.id)).toBe('scheduled')
    expect(await transactionsOf(env.location, h!.id)).toBe(0)
    await worker.stop()
  })

  test('invalid job data fails at once, without retries', async ({ env }) => {
    const worker = await startWorker(env.config, silentLog())
    await env.queue.add('complete', { nope: 1 } as never, { jobId: 'bad-job' })
    await waitFor(async () => (await env.queue.getJobState('bad-job')) === 'failed', { what: 'job failed' })
    const job = await env.queue.getJob('bad-job')
    expect(job?.attemptsStarted).toBe(1)
    expect(job?.failedReason).toMatch(/invalid job data/)
    await worker.stop()
  })
})

describe('completeHibernation against cancelHibernation', () => {
  test('two processes, one completing and one cancelling the same 300, overlapping: exactly one outcome each', async ({
    env,
  }) => {
    const hs = await seedHibernations(env.db, 300, () => Date.now() + 20)
    await waitFor(() => Date.now() > Math.max(...hs.map((h) => h.endsAt)), { what: 'all due' })
    const items = hs.map((h) => ({ id: h.id, userId: h.userId }))
    const sides = (['complete', 'cancel'] as const).map((op) => raceSide({ location: env.location, op, items }))
    // A barrier: once both have loaded (tsx, the DB), both start at one instant on the wall clock.
    await Promise.all(sides.map((s) => s.ready))
    const startAt = Date.now() + 50
    for (const s of sides) s.go(startAt)
    const [completes, cancels] = await Promise.all(sides.map((s) => s.results))
    const cancelOf = new Map(cancels!.map((r) => [r.id, r]))
    const rowOf = await raceRows(
      env.location,
      hs.map((h) => h.id),
    )
    let overlapping = 0
    const outcomes = { completed: 0, cancelled: 0 }
    for (const [i, h] of hs.entries()) {
      const a = completes![i]!
      const b = cancelOf.get(h.id)!
      // Both calls were in flight at once: one of them waited for the other's write lock.
      if (a.start < b.end && b.start < a.end) overlapping++
      expect(a.ok !== b.ok, `${h.id}: completed ${a.ok}, cancelled ${b.ok}`).toBe(true)
      outcomes[a.ok ? 'completed' : 'cancelled']++
      expect(rowOf.get(h.id)).toEqual({
        id: h.id,
        hibernation: a.ok ? 'completed' : 'cancelled',
        user_status: 'active',
        goal: a.ok ? 1 : 0,
        transactions: a.ok ? 1 : 0,
      })
      expect((await eventsOf(env.db, h.userId)).filter((t) => t === 'hibernation.completed')).toHaveLength(a.ok ? 1 : 0)
    }
    console.info(`race: ${overlapping} of ${hs.length} pairs overlapping in time; ${JSON.stringify(outcomes)}`)
    expect(overlapping).toBeGreaterThan(0)
    expect(outcomes.completed).toBeGreaterThan(0)
    expect(outcomes.cancelled).toBeGreaterThan(0)
  })
})

type RaceResult = { id: string; ok: boolean; start: number; end: number }

/** After the race: each hibernation's status, its user's, the user's goal and the history rows, in one read. */
const raceRows = async (location: string, ids: string[]) => {
  const rows = await queryDb<{
    id: string
    hibernation: string
    user_status: string
    goal: number
    transactions: number
  }>(
    location,
    `select h.id, h.status as hibernation, u.status as user_status, cast(u.goal as integer) as goal,
       cast((select count(*) from transactions t where t.hibernation_id = h.id) as integer) as transactions
     from hibernations h join users u on u.id = h.user_id
     where h.id in (${ids.map(() => '?').join(', ')})`,
    ids,
  )
  return new Map(rows.map((r) => [r.id, r]))
}

/** Runs race-child.ts as a separate process (its own database connection and event loop). */
const raceSide = (input: object) => {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL('./race-child.ts', import.meta.url)), JSON.stringify(input)],
    { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'inherit'] },
  )
  let out = ''
  let markReady = () => {}
  const ready = new Promise<void>((resolve) => {
    markReady = resolve
  })
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString()
    if (out.startsWith('ready\n')) markReady()
  })
  const results = new Promise<RaceResult[]>((resolve, reject) => {
    child.once('exit', (code) =>
      code === 0
        ? resolve(JSON.parse(out.slice('ready\n'.length)) as RaceResult[])
        : reject(new Error(`race side exited ${code}`)),
    )
    child.once('error', reject)
  })
  return { ready, results, go: (startAt: number) => child.stdin.end(`${startAt}\n`) }
}

describe('retryDelay', () => {
  test('doubles per attempt, jittered between half and all of the ceiling, capped at 10 minutes', () => {
    expect(retryDelay(1, 0)).toBe(500)
    expect(retryDelay(1, 1)).toBe(1000)
    expect(retryDelay(4, 1)).toBe(8000)
    expect(retryDelay(50, 1)).toBe(600_000)
    expect(retryDelay(50, 0)).toBe(300_000)
  })
})
