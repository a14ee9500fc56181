import { connectRedis, createHibernationQueue } from '@dormant/core'
import { deploymentId, openDb } from '@dormant/db'
import { waitFor } from '@dormant/testing'
import { afterAll, expect, inject, test } from 'vitest'
import { completions, report, seedHibernations, spawnWorker, systemEnv } from './support.js'
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

const deploymentOf = (dbPath: string) => {
  const db = openDb(dbPath)
  try {
    return deploymentId(db)
  } finally {
    db.$client.close()
  }
}

const completedHibernations = (dbPath: string) => {
  const db = openDb(dbPath)
  try {
    const rows = db.$client.prepare("select id from hibernations where status = 'completed'").all() as { id: string }[]
    return new Set(rows.map((r) => r.id))
  } finally {
    db.$client.close()
  }
}

test('SIGTERM while Redis is unreachable and the worker is idle: it exits within 10 s', async () => {
  const proxy = await startTcpProxy(inject('redisUrl'))
  proxies.push(proxy)
  const worker = await spawnWorker(systemEnv(proxy.url))
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
  const env = systemEnv(proxy.url, { JOB_LOCK_MS: '1000', RECONCILE_INTERVAL_MS: '60000' })
  const users = seedHibernations(env.DB_PATH, 600, () => 1500)
  const worker = await spawnWorker(env)
  procs.push(worker)
  await waitFor(() => completions(env.DB_PATH).done >= 20, { what: '20 activations', timeoutMs: 30_000, intervalMs: 5 })
  proxy.cut()

  // The test's own link goes straight to Redis: it sees what the worker left behind.
  const redis = connectRedis(redisUrl)
  const queue = createHibernationQueue(redis, env.REDIS_PREFIX, deploymentOf(env.DB_PATH))
  try {
    const { code, ms } = await terminate(worker, 15_000)
    const atExit = completions(env.DB_PATH).done
    const active = await queue.getActive()
    // Committed in the DB but never acknowledged in Redis: the completion guard must absorb their rerun.
    const completed = completedHibernations(env.DB_PATH)
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
    await waitFor(() => completions(env.DB_PATH).scheduled === 0, { what: 'all completed', timeoutMs: 60_000 })
    const after = completions(env.DB_PATH)
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
