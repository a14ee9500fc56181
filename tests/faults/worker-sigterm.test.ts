import { connectRedis, createHibernationQueue } from '@dormant/core'
import { closeDb, deploymentId, openDb } from '@dormant/db'
import { queryDb, waitFor } from '@dormant/testing'
import { afterAll, expect, inject, test } from 'vitest'
import { completions, dbOf, report, seedHibernations, spawnWorker, systemEnv } from './support.js'
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js'

const proxies: TcpProxy[] = []
const procs: { signal(s: NodeJS.Signals): Promise<unknown> }[] = []
afterAll(async () => {
  await Promise.all(procs.map((p) => p.signal('SIGKILL')))
  await Promise.all(proxies.map((p) => p.close()))
})

/** Sends SIGTERM and resolves with the exit code and how long the exit took (or null past `limitMs`). */
const terminate = async (proc: Awaited<ReturnType<typeof spawnWorker>>, limitMs: number) => {
  const sent = Date.now()
  const code = await Promise.race([
    proc.signal('SIGTERM'),
    new Promise<null>((resolve) => setTimeout(() => resolve(null), limitMs).unref()),
  ])
  return { code, ms: Date.now() - sent }
}

const deploymentOf = async (location: string) => {
  const db = await openDb(location)
  try {
    return await deploymentId(db)
  } finally {
    await closeDb(db)
  }
}

const completedHibernations = async (location: string) => {
  const rows = await queryDb<{ id: string }>(location, "select id from hibernations where status = 'completed'")
  return new Set(rows.map((r) => r.id))
}

test('SIGTERM while Redis is unreachable and the worker is idle: it exits within 10 s', async () => {
  const proxy = await startTcpProxy(inject('redisUrl'))
  proxies.push(proxy)
  const worker = await spawnWorker(await systemEnv(proxy.url))
  procs.push(worker)
  proxy.cut()
  await waitFor(() => proxy.held() > 0, { what: 'the worker reconnecting into the partition' })
  const { code, ms } = await terminate(worker, 15_000)
  report(`worker SIGTERM, Redis unreachable, idle: exit ${code} after ${ms} ms`)
  expect(code).not.toBeNull()
  expect(ms).toBeLessThanOrEqual(10_000)
})

test('SIGTERM while Redis is unreachable mid-batch: exits within 10 s; interrupted jobs run again, exactly once', async () => {
  const redisUrl = inject('redisUrl')
  const proxy = await startTcpProxy(redisUrl)
  proxies.push(proxy)
  const env = await systemEnv(proxy.url, { JOB_LOCK_MS: '1000', RECONCILE_INTERVAL_MS: '60000' })
  const location = dbOf(env)
  const users = await seedHibernations(location, 600, () => 1500)
  const worker = await spawnWorker(env)
  procs.push(worker)
  await waitFor(async () => (await completions(location)).done >= 20, {
    what: '20 activations',
    timeoutMs: 30_000,
    intervalMs: 5,
  })
  proxy.cut()

  // The test's own link goes straight to Redis: it sees what the worker left behind.
  const redis = connectRedis(redisUrl)
  const queue = createHibernationQueue(redis, env.REDIS_PREFIX, await deploymentOf(location))
  try {
    const { code, ms } = await terminate(worker, 15_000)
    const atExit = (await completions(location)).done
    const active = await queue.getActive()
    // Committed in the DB but never acknowledged in Redis: the completion guard must absorb their rerun.
    const completed = await completedHibernations(location)
    const committedUnacked = active.filter((job) => completed.has(job.data.h))
    report(
      `worker SIGTERM, Redis unreachable mid-batch: exit ${code} after ${ms} ms; ${atExit} of ${users.length} done, ${active.length} jobs left active (${committedUnacked.length} committed, unacknowledged)`,
    )
    expect(code).not.toBeNull()
    expect(ms).toBeLessThanOrEqual(10_000)
    expect(active.length).toBeGreaterThan(0)
    expect(committedUnacked.length).toBeGreaterThan(0)

    proxy.restore()
    const next = await spawnWorker(env)
    procs.push(next)
    await waitFor(async () => (await completions(location)).scheduled === 0, {
      what: 'all completed',
      timeoutMs: 60_000,
    })
    const after = await completions(location)
    expect(after.done).toBe(users.length)
    for (const id of users) {
      expect(after.history.get(id)).toBe(1)
      expect(after.events.get(id)).toBe(1)
    }
    // Every interrupted job ran again and was acknowledged.
    await expect
      .poll(() => queue.getJobCounts('active', 'wait', 'delayed', 'failed'), { timeout: 20_000 })
      .toEqual({ active: 0, wait: 0, delayed: 0, failed: 0 })
  } finally {
    await queue.close()
    await redis.quit()
  }
})
