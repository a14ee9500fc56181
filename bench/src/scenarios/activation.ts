import { connectRedis, createHibernationQueue, scheduleHibernationJobs } from '@dormant/core'
import { closeDb, deploymentId, openDb } from '@dormant/db'
import { uniquePrefix } from '@dormant/testing'
import { sleep } from '../clock.js'
import type { Ctx } from '../context.js'
import { benchDatabase, count, databaseEnv, openRaw } from '../database.js'
import { insertBareUsers, insertHibernations } from '../fixtures.js'
import { cpuSeconds, serverPid } from '../proc.js'
import { step } from '../progress.js'
import { fmt, type ScenarioResult, target } from '../result.js'
import { startWorker } from '../servers/process.js'

/**
 * Scenario 4: N hibernations already due and their jobs queued; one worker process starts
 * and completes them (transaction + outbox rows + publish). Throughput is read from the DB.
 */
export const runActivation = async (ctx: Ctx, size: { count: number }): Promise<ScenarioResult> => {
  const n = size.count
  const s = step(`4 activation: ${n} due hibernations, one worker`)
  const location = await benchDatabase(ctx.backend)
  const prefix = uniquePrefix('bench')
  const db = await openDb(location)
  const raw = await openRaw(location)
  const redis = connectRedis(ctx.redisUrl)
  const queue = createHibernationQueue(redis, prefix, await deploymentId(db))
  s.update('creating due hibernations')
  const now = Date.now()
  const due = await insertHibernations(raw, await insertBareUsers(raw, n), now - 1000, () => now)
  for (let i = 0; i < due.length; i += 1000) await scheduleHibernationJobs(queue, due.slice(i, i + 1000))
  // The scheduled ones left, through their partial index: a count of completed rows every 20 ms
  // would scan a growing table beside the worker it measures.
  const completed = async () =>
    n - (await count(raw, "select cast(count(*) as integer) as n from hibernations where status = 'scheduled'"))
  s.update('starting the worker')
  const worker = startWorker({ ...databaseEnv(location), REDIS_URL: ctx.redisUrl, REDIS_PREFIX: prefix })
  try {
    await worker.waitForOutput('worker ready', 60_000)
    const pid = serverPid(worker.child.pid ?? 0)
    const cpu0 = cpuSeconds(pid)
    const series: [number, number][] = []
    const deadline = performance.now() + Math.max(30_000, n * 6)
    for (;;) {
      const c = await completed()
      series.push([performance.now(), c])
      if (c >= n || performance.now() > deadline) break
      s.update(`${c}/${n} completed`)
      await sleep(20)
    }
    const workerCpu = cpuSeconds(pid) - cpu0
    const first = series.find(([, c]) => c > 0) ?? series[0] ?? [0, 0]
    const last = series.at(-1) ?? [0, 0]
    const seconds = (last[0] - first[0]) / 1000
    const rate = seconds > 0 ? (last[1] - first[1]) / seconds : Number.NaN
    s.done(`${fmt(rate, 0)} activations/s (${last[1]}/${n})`)
    return {
      id: 'activation',
      title: `4. Activation throughput: ${n} due hibernations, one worker (default concurrency)`,
      rows: [
        {
          label: 'dormant worker',
          values: {
            'activations/s': fmt(rate, 0),
            completed: `${last[1]}/${n}`,
            seconds: fmt(seconds),
            'worker CPU': `${fmt((workerCpu / Math.max(seconds, 0.01)) * 100, 0)} %`,
          },
        },
      ],
      // The figures: 2,000/s on one SQLite file, 1,000/s on PostgreSQL (a network round trip per statement).
      targets: [target('activations per second', rate, '>=', ctx.backend === 'postgres' ? 1000 : 2000, '/s')],
      data: { count: n, completed: last[1], seconds, rate, workerCpuSeconds: workerCpu },
      notes: [
        'Measured from the first completed row to the last, counting the scheduled rows left in the database every 20 ms.',
      ],
    }
  } finally {
    await worker.signal('SIGTERM')
    await queue.close()
    await redis.quit()
    await raw.close()
    await closeDb(db)
  }
}
