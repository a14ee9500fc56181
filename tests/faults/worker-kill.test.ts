import { waitFor } from '@dormant/testing'
import { afterAll, expect, inject, test } from 'vitest'
import {
  type ApiProcess,
  completions,
  dbOf,
  ids,
  killHard,
  report,
  seedHibernations,
  spawnApi,
  spawnWorker,
  systemEnv,
} from './support.js'

const procs: { signal(s: NodeJS.Signals): Promise<unknown> }[] = []
afterAll(async () => {
  await Promise.all(procs.map((p) => p.signal('SIGTERM')))
})

test('worker kill -9 in the middle of 200 due hibernations: 200 activations, exactly once each', async () => {
  const env = await systemEnv(inject('redisUrl'), {
    JOB_LOCK_MS: '1000',
    RECONCILE_INTERVAL_MS: '500',
    WORKER_CONCURRENCY: '5',
  })
  const api: ApiProcess = await spawnApi(env)
  procs.push(api)
  const feed = api.stream(await api.adminCookie(), { admin: true })
  await feed.untilEvents(1, 'snapshot')

  // Due one after another over about two seconds, so the kill lands mid-batch.
  const users = await seedHibernations(dbOf(env), 200, (i) => 1500 + i * 10)
  const first = await spawnWorker(env)
  procs.push(first)
  await waitFor(async () => (await completions(dbOf(env))).done >= 40, {
    what: '40 activations',
    timeoutMs: 30_000,
    intervalMs: 10,
  })
  await killHard(first)
  const killedAt = Date.now()
  const atKill = (await completions(dbOf(env))).done
  expect(atKill).toBeLessThan(200)

  const second = await spawnWorker(env)
  procs.push(second)
  await waitFor(
    async () => {
      const { done, scheduled } = await completions(dbOf(env))
      return done >= 200 && scheduled === 0
    },
    {
      what: '200 activations',
      timeoutMs: 60_000,
      intervalMs: 50,
    },
  )
  const recoveredMs = Date.now() - killedAt

  const after = await completions(dbOf(env))
  for (const id of users) {
    expect(after.history.get(id), `history rows of ${id}`).toBe(1)
    expect(after.events.get(id), `completion events of ${id}`).toBe(1)
  }
  await feed.untilEvents(200, 'hibernation.completed', 30_000)
  const done = feed.events('hibernation.completed')
  expect(new Set(done.map((f) => f.id)).size).toBe(200)
  expect(new Set(ids(feed)).size).toBe(ids(feed).length)
  report(
    `worker kill -9: killed after ${atKill}/200 activations; a new worker finished the rest in ${recoveredMs} ms; 200 history rows, 200 completion events, 0 lost, 0 duplicated`,
  )
})
