/**
 * Measures one reconciler pass at scale and Redis bytes per scheduled hibernation, against a
 * private redis-server and a temporary database (PostgreSQL with DORMANT_TEST_DB=postgres, else a SQLite
 * file). Run: npx tsx apps/worker/scripts/measure-reconcile.ts [count]
 */
import { connectRedis, createHibernationQueue, createLogger } from '@dormant/core'
import { closeDb, deploymentId, openDb } from '@dormant/db'
import { queryDb, startRedisServer, tempDatabase } from '@dormant/testing'
import { reconcile } from '../src/reconcile.js'
import { addJobsBulk, seedScheduledBulk } from '../src/seed.js'

const count = Number(process.argv[2] ?? 100_000)
const server = await startRedisServer()
const redis = connectRedis(server.url)
const location = await tempDatabase()
const db = await openDb(location)
const queue = createHibernationQueue(redis, 'measure', await deploymentId(db))
const deps = { db, queue, redis, log: createLogger('measure', 'silent') }
const out = (label: string, value: unknown) => process.stdout.write(`${label.padEnd(52)} ${JSON.stringify(value)}\n`)
const DAY = 24 * 3600 * 1000

let t = performance.now()
const rows = await seedScheduledBulk(location, count, (i) => Date.now() + 3 * DAY + i)
out(`seed ${count} scheduled hibernations in ${db.dialect} (ms)`, Math.round(performance.now() - t))

const before = Number((await redis.info('memory')).match(/used_memory:(\d+)/)?.[1])
t = performance.now()
await addJobsBulk(queue, rows)
out(`add ${count} delayed jobs (ms)`, Math.round(performance.now() - t))
const after = Number((await redis.info('memory')).match(/used_memory:(\d+)/)?.[1])
const hash = Number(await redis.call('MEMORY', 'USAGE', queue.toKey(rows[0]!.id)))
const zset = Number(await redis.call('MEMORY', 'USAGE', queue.toKey('delayed'), 'SAMPLES', '0'))
out('bytes per job hash (MEMORY USAGE)', hash)
out('bytes per delayed-zset entry (MEMORY USAGE / n)', Math.round(zset / count))
out('bytes per scheduled hibernation (used_memory delta / n)', Math.round((after - before) / count))

out('first pass, every job present (cold)', await reconcile(deps))
out('second pass, every job present', await reconcile(deps))
await redis.flushdb()
out('pass after FLUSHDB (re-creates every job)', await reconcile(deps))
// Seeded ids end in a counter: those ending in 0 are every tenth.
await queryDb(location, `update hibernations set status = 'cancelled' where id like '%0'`)
out('pass with 10 % cancelled (removes their jobs)', await reconcile(deps))
out('pass, nothing to do', await reconcile(deps))

await queue.close()
await redis.quit()
await closeDb(db)
await server.destroy()
