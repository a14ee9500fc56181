import {
  type BusMessage,
  connectRedis,
  createHibernationQueue,
  createLogger,
  eventsChannel,
  type HibernationQueue,
} from '@dormant/core'
import { closeDb, createUser, type Db, deploymentId, openDb, startHibernation } from '@dormant/db'
import { databaseEnv, tempDatabase, uniquePrefix, waitFor } from '@dormant/testing'
import type { Redis } from 'ioredis'
import { test as base, inject } from 'vitest'
import { databaseLocation, loadWorkerConfig, type WorkerConfig } from './env.js'

export const silentLog = () => createLogger('worker-test', process.env.TEST_LOG_LEVEL ?? 'silent')

/** Creates `count` users and starts a hibernation for each, ending at `endsAt(i)`. */
export const seedHibernations = async (db: Db, count: number, endsAt: (i: number) => number) => {
  const seeded: { userId: string; id: string; endsAt: number }[] = []
  for (let i = 0; i < count; i++) {
    const user = await createUser(db, { email: `${uniquePrefix('u')}@example.com`, passwordHash: 'x', permissions: [] })
    if ('error' in user) throw new Error(user.error)
    const now = Date.now()
    const started = await startHibernation(db, user.user.id, endsAt(i) - now, now)
    if ('error' in started) throw new Error(started.error)
    seeded.push({ userId: user.user.id, id: started.hibernation.id, endsAt: started.hibernation.endsAt })
  }
  return seeded
}

/** Records every message on this prefix's event channel, with its arrival time. */
export const recordBus = async (redisUrl: string, prefix: string) => {
  const sub = connectRedis(redisUrl)
  const messages: { at: number; message: BusMessage }[] = []
  sub.on('message', (_channel, text: string) => messages.push({ at: Date.now(), message: JSON.parse(text) }))
  await sub.subscribe(eventsChannel(prefix))
  return {
    messages,
    until: (predicate: (m: BusMessage[]) => boolean, timeoutMs = 10_000, what = 'bus messages') =>
      waitFor(() => predicate(messages.map((m) => m.message)), { timeoutMs, what }),
    close: () => sub.quit(),
  }
}

export type TimerEnv = {
  config: WorkerConfig
  /** Where `db` is (a SQLite path or a postgres:// URL), for `queryDb` and other processes. */
  location: string
  db: Db
  /** The identity kept in `db`; processes of this env publish and queue under it. */
  deployment: string
  redis: Redis
  queue: HibernationQueue
}

/**
 * A fresh database on the backend under test (`tempDatabase`), a unique Redis prefix on the
 * project's private Redis, and a queue on it.
 */
export const test = base.extend<{ env: TimerEnv }>({
  // biome-ignore lint/correctness/noEmptyPattern: vitest fixtures take their dependencies by destructuring
  env: async ({}, use) => {
    const config = loadWorkerConfig({
      REDIS_URL: inject('redisUrl'),
      REDIS_PREFIX: uniquePrefix(),
      ...databaseEnv(await tempDatabase()),
      JOB_LOCK_MS: '5000',
    })
    const location = databaseLocation(config)
    const db = await openDb(location)
    const deployment = await deploymentId(db)
    const redis = connectRedis(config.REDIS_URL)
    const queue = createHibernationQueue(redis, config.REDIS_PREFIX, deployment)
    await use({ config, location, db, deployment, redis, queue })
    await queue.close()
    await redis.quit()
    await closeDb(db)
  },
})
