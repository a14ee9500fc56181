import { connectRedis, createHibernationQueue, createLogger, scheduleHibernationJobs } from '@dormant/core'
import { closeDb, deploymentId, openDb } from '@dormant/db'
import { uniquePrefix, waitFor } from '@dormant/testing'
import { reconcile } from '../../../apps/worker/src/reconcile.js'
import type { Ctx } from '../context.js'
import { benchDatabase, databaseEnv, openRaw } from '../database.js'
import {
  ADMIN_ENV,
  adminCookie,
  callJson,
  insertBareUsers,
  insertHibernations,
  keepAliveAgent,
  pool,
} from '../fixtures.js'
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
  size: { count: number; concurrency: number; apiSeconds: number },
): Promise<ScenarioResult> => {
  const n = size.count
  const s = step(`5 scheduling: ${n} hibernations through the API`)
  const location = await benchDatabase(ctx.backend)
  const prefix = uniquePrefix('bench')
  const db = await openDb(location)
  const raw = await openRaw(location)
  const ids = await insertBareUsers(raw, n)
  const redis = connectRedis(ctx.redisUrl)
  const queue = createHibernationQueue(redis, prefix, await deploymentId(db))
  const api = await startApi({ ...databaseEnv(location), REDIS_URL: ctx.redisUrl, REDIS_PREFIX: prefix, ...ADMIN_ENV })
  const agent = keepAliveAgent(size.concurrency)
  try {
    const cookie = await adminCookie(agent, api.port)
    const memoryBefore = await usedMemory(redis)
    const cpu0 = cpuSeconds(api.pid)
    const t0 = performance.now()
    let done = 0
    let failed = 0
    let viaApi = 0
    const stopAt = t0 + size.apiSeconds * 1000
    await pool(n, size.concurrency, async (i) => {
      if (performance.now() > stopAt) return
      viaApi += 1
      const res = await callJson(agent, api.port, 'POST', `/api/users/${ids[i]}/hibernation`, {
        cookie,
        body: { durationMs: HOUR + (i % 1000) * 1000 },
      })
      if (res.status !== 201) failed += 1
      if (++done % 1000 === 0) s.update(`${done}/${n} scheduled`)
    })
    const seconds = (performance.now() - t0) / 1000
    const apiCpu = cpuSeconds(api.pid) - cpu0
    // Past the time cap, the rest is written in bulk and queued the way the API queues, 1,000 jobs a call.
    const now = Date.now()
    const rest = await insertHibernations(raw, ids.slice(viaApi), now, (k) => now + HOUR + ((viaApi + k) % 1000) * 1000)
    for (let i = 0; i < rest.length; i += 1000) {
      await scheduleHibernationJobs(queue, rest.slice(i, i + 1000))
      s.update(`${viaApi + i}/${n} scheduled (direct)`)
    }
    const delayedKey = queue.toKey('delayed')
    await waitFor(async () => (await redis.zcard(delayedKey)) >= n - failed, {
      timeoutMs: 30_000,
      what: 'every job in the delayed set',
    })
    const memoryAfter = await usedMemory(redis)
    const keyBytes = async (key: string) => Number((await redis.memory('USAGE', key)) ?? 0)
    const breakdown = {
      jobHash: await keyBytes(queue.toKey(await firstJobId(redis, delayedKey))),
      delayedSetPerJob: (await keyBytes(delayedKey)) / n,
      eventsStream: await keyBytes(queue.toKey('events')),
    }
    s.update('reconciler pass')
    const report = await reconcile({ db, queue, redis, log: createLogger('bench-reconcile', 'silent') })
    const bytesPerJob = (memoryAfter - memoryBefore) / n
    const rps = viaApi / seconds
    s.done(`${fmt(rps, 0)} req/s, ${fmt(bytesPerJob, 0)} B/job in Redis, reconcile ${report.ms} ms`)
    return {
      id: 'scheduling',
      title: `5. Scheduling scale: ${n} hibernations (POST /api/users/:id/hibernation as admin, concurrency ${size.concurrency})`,
      rows: [
        {
          label: 'dormant',
          values: {
            'via API': String(viaApi),
            'requests/s': fmt(rps, 0),
            'API CPU': `${fmt((apiCpu / seconds) * 100, 0)} %`,
            failed: String(failed),
            'Redis B/job': fmt(bytesPerJob, 0),
            'job hash B': String(breakdown.jobHash),
            'events stream': `${fmt(breakdown.eventsStream / 1024, 0)} KiB`,
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
        viaApi,
        seconds,
        requestsPerSecond: rps,
        failed,
        apiCpuSeconds: apiCpu,
        memoryBefore,
        memoryAfter,
        bytesPerJob,
        breakdown,
        reconcile: report,
      },
      notes: [
        `Requests/s is over the requests sent within ${size.apiSeconds} s; any remaining hibernations are written in bulk and queued directly (scheduleHibernationJobs, as the API queues) so Redis memory and the reconciler are measured at full count.`,
        'Redis bytes per job: INFO used_memory after minus before, divided by the count; it includes BullMQ’s events stream, capped at 10,000 entries, so small counts overstate it.',
        'The reconciler pass is apps/worker/src/reconcile.ts called from the bench process against the same database and Redis.',
      ],
    }
  } finally {
    agent.destroy()
    await api.stop()
    await queue.close()
    await redis.quit()
    await raw.close()
    await closeDb(db)
  }
}

const usedMemory = async (redis: ReturnType<typeof connectRedis>) =>
  Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0)

const firstJobId = async (redis: ReturnType<typeof connectRedis>, delayedKey: string) =>
  (await redis.zrange(delayedKey, 0, 0))[0] ?? ''
