import { connectRedis, createHibernationQueue, scheduleHibernationJobs } from '@dormant/core'
import { closeDb, deploymentId, openDb } from '@dormant/db'
import { uniquePrefix } from '@dormant/testing'
import { openClients, SseClient } from '../clients/sse-client.js'
import { quantile, sleep, sortedNumbers } from '../clock.js'
import type { Ctx } from '../context.js'
import { benchDatabase, databaseEnv, openRaw } from '../database.js'
import { ADMIN_ENV, adminCookie, callJson, insertHibernations, keepAliveAgent, pool } from '../fixtures.js'
import { type Step, step } from '../progress.js'
import { fmt, type ScenarioResult, target } from '../result.js'
import { seedUsers } from '../seed.js'
import { startApi, startWorker } from '../servers/process.js'

type Size = { sparse: number; sparseSpreadMs: number; burst: number }

const lateness = (endsAt: Float64Array, receivedAt: Float64Array, from: number, to: number) => {
  const values: number[] = []
  for (let i = from; i < to; i++) if (receivedAt[i]) values.push((receivedAt[i] ?? 0) - (endsAt[i] ?? 0))
  return sortedNumbers(values)
}

const waitAll = async (s: Step, label: string, receivedAt: Float64Array, from: number, to: number, until: number) => {
  for (;;) {
    let got = 0
    for (let i = from; i < to; i++) if (receivedAt[i]) got += 1
    if (got === to - from || performance.now() > until) return got
    s.update(`${label}: ${got}/${to - from} delivered`)
    await sleep(50)
  }
}

/**
 * Scenario 3: the whole timer path (queue → worker → transaction → publish → API → stream):
 * lateness of `hibernation.completed` at a client relative to the hibernation's endsAt.
 */
export const runTimers = async (ctx: Ctx, size: Size): Promise<ScenarioResult> => {
  const total = size.sparse + size.burst
  const s = step(`3 timers: ${size.sparse} sparse over ${size.sparseSpreadMs / 1000} s, burst of ${size.burst}`)
  s.update('seeding users and sessions')
  const location = await benchDatabase(ctx.backend)
  const prefix = uniquePrefix('bench')
  const users = await seedUsers(location, total, (k) => s.update(`seeded ${k} users`))
  const env = { ...databaseEnv(location), REDIS_URL: ctx.redisUrl, REDIS_PREFIX: prefix }
  const [api, worker] = await Promise.all([
    startApi({ ...env, ...ADMIN_ENV }),
    (async () => {
      const w = startWorker(env)
      await w.waitForOutput('worker ready', 60_000)
      return w
    })(),
  ])
  const endsAt = new Float64Array(total)
  const receivedAt = new Float64Array(total)
  const agent = keepAliveAgent(8)
  let clients: SseClient[] = []
  const db = await openDb(location)
  const redis = connectRedis(ctx.redisUrl)
  try {
    clients = await openClients(
      total,
      async (i) => {
        const c = new SseClient(i, (client, ev) => {
          if (ev.type === 'hibernation.completed' && !receivedAt[client.index]) receivedAt[client.index] = ev.at
        })
        await c.open(api.port, '/api/events', users[i]?.cookie)
        return c
      },
      100,
      (k) => s.update(`${k}/${total} streams open`),
    )

    s.update('sparse: scheduling through the API')
    const cookie = await adminCookie(agent, api.port)
    await pool(size.sparse, 8, async (i) => {
      const durationMs = 2000 + Math.floor((i * size.sparseSpreadMs) / size.sparse)
      const res = await callJson(agent, api.port, 'POST', `/api/users/${users[i]?.id}/hibernation`, {
        cookie,
        body: { durationMs },
      })
      const ends = (res.body as { user?: { hibernation?: { endsAt: string } } }).user?.hibernation?.endsAt
      if (res.status !== 201 || !ends) throw new Error(`schedule failed: ${res.status}`)
      endsAt[i] = Date.parse(ends)
    })
    await waitAll(s, 'sparse', receivedAt, 0, size.sparse, performance.now() + size.sparseSpreadMs + 15_000)
    const sparse = lateness(endsAt, receivedAt, 0, size.sparse)

    s.update('burst: committing and queueing')
    const queue = createHibernationQueue(redis, prefix, await deploymentId(db))
    const dueAt = Date.now() + 2000 + size.burst * 0.6
    const raw = await openRaw(location)
    const burstUsers = users.slice(size.sparse).map((u) => u.id)
    const due = await insertHibernations(raw, burstUsers, Date.now(), (k) => dueAt + (k % 1000)).finally(() =>
      raw.close(),
    )
    for (const [k, h] of due.entries()) endsAt[size.sparse + k] = h.endsAt
    for (let i = 0; i < due.length; i += 1000) await scheduleHibernationJobs(queue, due.slice(i, i + 1000))
    const queuedEarly = Date.now() < dueAt
    await waitAll(s, 'burst', receivedAt, size.sparse, total, performance.now() + (dueAt - Date.now()) + 60_000)
    const burst = lateness(endsAt, receivedAt, size.sparse, total)
    await queue.close()

    const sparseP99 = quantile(sparse, 0.99)
    const burstMax = burst.at(-1) ?? Number.NaN
    s.done(
      `sparse p50 ${fmt(quantile(sparse, 0.5))} ms p99 ${fmt(sparseP99)} ms; burst ${burst.length}/${size.burst}, max ${fmt(burstMax, 0)} ms late`,
    )
    const row = (xs: Float64Array, of: number) => ({
      delivered: `${xs.length}/${of}`,
      'p50 late': `${fmt(quantile(xs, 0.5))} ms`,
      'p99 late': `${fmt(quantile(xs, 0.99))} ms`,
      'max late': `${fmt(xs.at(-1) ?? Number.NaN)} ms`,
    })
    return {
      id: 'timers',
      title: `3. Timer accuracy: ${size.sparse} timers over ${size.sparseSpreadMs / 1000} s; ${size.burst} due in one second`,
      rows: [
        { label: 'sparse', values: row(sparse, size.sparse) },
        { label: 'burst', values: row(burst, size.burst) },
      ],
      targets: [
        target('sparse lateness p99', sparseP99, '<=', 50, ' ms'),
        target('burst: missing deliveries', size.burst - burst.length, '<=', 0),
        target('burst: last delivery after its endsAt', burstMax, '<=', 5000, ' ms'),
      ],
      data: {
        sparse: { count: size.sparse, p50: quantile(sparse, 0.5), p99: sparseP99, max: sparse.at(-1) },
        burst: {
          count: size.burst,
          delivered: burst.length,
          p50: quantile(burst, 0.5),
          p99: quantile(burst, 0.99),
          max: burstMax,
          queuedBeforeDue: queuedEarly,
        },
      },
      notes: [
        'Lateness is from the hibernation’s endsAt to the hibernation.completed frame read by the user’s stream (API + worker as separate processes).',
        'Sparse timers are scheduled through the API as admin; the burst is written in bulk and queued from the bench process (as a second API would queue it), all due within one second.',
      ],
    }
  } finally {
    for (const c of clients) c.close()
    agent.destroy()
    await Promise.all([api.stop(), worker.signal('SIGTERM')])
    await redis.quit()
    await closeDb(db)
  }
}
