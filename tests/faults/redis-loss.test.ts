import { connectRedis } from '@dormant/core'
import { type RedisServer, startRedisServer, waitFor } from '@dormant/testing'
import { afterAll, expect, test } from 'vitest'
import { completions, dbOf, report, seedHibernations, spawnWorker, systemEnv } from './support.js'

let redis: RedisServer | undefined
const procs: { signal(s: NodeJS.Signals): Promise<unknown> }[] = []
afterAll(async () => {
  await Promise.all(procs.map((p) => p.signal('SIGTERM')))
  await redis?.destroy()
})

const jobCount = async (url: string, prefix: string) => {
  const conn = connectRedis(url)
  try {
    return await conn.zcard(`${prefix}:hibernations:delayed`)
  } finally {
    conn.disconnect()
  }
}

test('Redis restarted (AOF) and then FLUSHALL while timers are scheduled: none lost, each once', async () => {
  redis = await startRedisServer({ appendonly: true })
  const env = await systemEnv(redis.url, { RECONCILE_INTERVAL_MS: '300', JOB_LOCK_MS: '1000' })
  const due = Date.now() + 6000
  const users = await seedHibernations(dbOf(env), 60, (i) => due - Date.now() + i * 20)
  const worker = await spawnWorker(env)
  procs.push(worker)
  await waitFor(async () => (await jobCount(redis?.url ?? '', env.REDIS_PREFIX)) === 60, { what: '60 delayed jobs' })

  // A restart: the AOF brings the delayed jobs back.
  await redis.stop()
  await redis.start()
  expect(await jobCount(redis.url, env.REDIS_PREFIX)).toBe(60)

  // All data lost: the reconciler re-creates every job from the DB.
  const conn = connectRedis(redis.url)
  await conn.flushall()
  const flushedAt = Date.now()
  await waitFor(async () => (await jobCount(redis?.url ?? '', env.REDIS_PREFIX)) === 60, {
    what: 'jobs re-created',
    timeoutMs: 15_000,
    intervalMs: 20,
  })
  const restoredMs = Date.now() - flushedAt
  conn.disconnect()
  expect(Date.now()).toBeLessThan(due)

  await waitFor(async () => (await completions(dbOf(env))).scheduled === 0, {
    what: 'all completed',
    timeoutMs: 30_000,
    intervalMs: 50,
  })
  const lateMs = Date.now() - (due + 59 * 20)
  const after = await completions(dbOf(env))
  for (const id of users) {
    expect(after.history.get(id)).toBe(1)
    expect(after.events.get(id)).toBe(1)
  }
  report(
    `redis restart + FLUSHALL: 60/60 jobs survived the AOF restart; after FLUSHALL the reconciler restored 60 jobs in ${restoredMs} ms; all 60 completed once (last ${lateMs} ms after its due time); 0 lost, 0 duplicated`,
  )
})
