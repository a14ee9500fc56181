/**
 * One writer process for concurrency.test.ts: WRITERS concurrent loops, each making CHANGES
 * changes through @dormant/db on the database at DATABASE_URL or DB_PATH, and publishing
 * what it committed on the bus as the API and the worker do. Prints a JSON summary.
 */
import { createEventPublisher } from '@dormant/core'
import { cancelHibernation, closeDb, deploymentId, openDb, setPermissions, startHibernation } from '@dormant/db'
import { Redis } from 'ioredis'

const env = (name: string) => {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is required`)
  return value
}

const users = JSON.parse(env('USER_IDS')) as string[]
const writers = Number(env('WRITERS'))
const changes = Number(env('CHANGES'))
const seed = Number(env('SEED'))

const db = await openDb(process.env.DATABASE_URL ?? env('DB_PATH'))
const redis = new Redis(env('REDIS_URL'))
const publisher = createEventPublisher(redis, env('REDIS_PREFIX'), await deploymentId(db))

/** One change to one user; a refused start or cancel (a state conflict) writes nothing. */
const change = async (userId: string, n: number) => {
  const kind = n % 3
  const result =
    kind === 0
      ? await setPermissions(db, userId, n % 2 ? ['hibernation.self', 'reports.view'] : ['hibernation.self'])
      : kind === 1
        ? await startHibernation(db, userId, 3600_000)
        : await cancelHibernation(db, userId)
  if (!result || 'error' in result) return 0
  await publisher.events(result.events)
  return 1
}

const loop = async (w: number) => {
  let made = 0
  for (let i = 0; i < changes; i++) {
    const n = seed * 7919 + w * 104_729 + i
    made += await change(users[(n * 31) % users.length] as string, n)
  }
  return made
}

const made = await Promise.all(Array.from({ length: writers }, (_, w) => loop(w)))
await closeDb(db)
await redis.quit()
console.log(JSON.stringify({ changes: made.reduce((a, b) => a + b, 0) }))
