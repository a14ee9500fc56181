import { connectRedis, createHibernationQueue, createLogger } from '@dormant/core'
import { closeDb, openDb } from '@dormant/db'
import { tempDbPath, uniquePrefix, waitFor } from '@dormant/testing'
import { reconcile } from '../../../apps/worker/src/reconcile.js'
import type { Ctx } from '../context.js'
import { ADMIN_ENV, adminCookie, callJson, insertBareUsers, keepAliveAgent, pool } from '../fixtures.js'
import { cpuSeconds } from '../proc.js'
import { step } from '../progress.js'
import { fmt, type ScenarioResult, target } from '../result.js'
import { startApi } from '../servers/process.js'

const HOUR = 3600_000

/**
 * Scenario 5: schedule many hibernations through the API as an admin, then measure the
 * Redis memory their jobs take and one reconciler pass over all of them.
 */
export const runScheduling = async (
  ctx: Ctx,
  size: { count: number; concurrency: number },
): Promise<ScenarioResult> => {
  const n = size.count
  const s = step(`5 scheduling: ${n} hibernations through the API`)
  const dbPath = tempDbPath()
  const prefix = uniquePrefix('bench')
  const db = openDb(dbPath)
  const ids = insertBareUsers(db, n)
  const redis = connectRedis(ctx.redisUrl)
  const queue = createHibernationQueue(redis, prefix)
  const api = await startApi({ DB_PATH: dbPath, REDIS_URL: ctx.redisUrl, REDIS_PREFIX: prefix, ...ADMIN_ENV })
  const agent = keepAliveAgent(size.concurrency)
  try {
    const cookie = await adminCookie(agent, api.port)
    const memoryBefore = await usedMemory(redis)
    const cpu0 = cpuSeconds(api.pid)
    const t0 = performance.now()
    let done = 0
    let failed = 0
    await pool(n, size.concurrency, async (i) => {
      const res = await callJson(agent, api.port, 'POST', `/api/users/${ids[i]}/hibernation`, {
        cookie,
        body: { durationMs: HOUR + (i % 1000) * 1000 },
      })
      if (res.status !== 201) failed += 1
      if (++done % 1000 === 0) s.update(`${done}/${n} scheduled`)
    })
    const seconds = (performance.now() - t0) / 1000
    const apiCpu = cpuSeconds(api.pid) - cpu0
    const delayedKey = queue.toKey('delayed')
    await waitFor(async () => (await redis.zcard(delayedKey)) >= n - failed, {
      timeoutMs: 30_000,
      what: 'every job in the delayed set',
    })
    const memoryAfter = await usedMemory(redis)
    const jobKeyBytes = await redis.memory('USAGE', queue.toKey(ids.length ? await firstJobId(redis, delayedKey) : ''))
    s.update('reconciler pass')
    const report = await reconcile({ db, queue, redis, log: createLogger('bench-reconcile', 'silent') })
    const bytesPerJob = (memoryAfter - memoryBefore) / n
    s.done(`${fmt(n / seconds, 0)} req/s, ${fmt(bytesPerJob, 0)} B/job in Redis, reconcile ${report.ms} ms`)
    return {
      id: 'scheduling',
      title: `5. Scheduling scale: ${n} hibernations via POST /api/users/:id/hibernation, concurrency ${size.concurrency}`,
      rows: [
        {
          label: 'dormant',
          values: {
            'requests/s': fmt(n / seconds, 0),
            'API CPU': `${fmt((apiCpu / seconds) * 100, 0)} %`,
            failed: String(failed),
            'Redis B/job': fmt(bytesPerJob, 0),
            'job hash B': String(jobKeyBytes ?? ''),
            'reconcile pass': `${report.ms} ms`,
          },
        },
      ],
      targets: [
        target('Redis bytes per scheduled hibernation', bytesPerJob, '<=', 500, ' B'),
        target('one reconciler pass over all', report.ms, '<=', 2000, ' ms'),
      ],
      data: {
        count: n,
        seconds,
        requestsPerSecond: n / seconds,
        failed,
        apiCpuSeconds: apiCpu,
        memoryBefore,
        memoryAfter,
        bytesPerJob,
        jobKeyBytes,
        reconcile: report,
      },
      notes: [
        'Redis bytes per job: INFO memory used_memory after minus before, divided by the count (job hash plus its delayed-set entry and the id counter).',
        'The reconciler pass is apps/worker/src/reconcile.ts called from the bench process against the same DB file and Redis.',
      ],
    }
  } finally {
    agent.destroy()
    await api.stop()
    await queue.close()
    await redis.quit()
    closeDb(db)
  }
}

const usedMemory = async (redis: ReturnType<typeof connectRedis>) =>
  Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0)

const firstJobId = async (redis: ReturnType<typeof connectRedis>, delayedKey: string) =>
  (await redis.zrange(delayedKey, 0, 0))[0] ?? ''
