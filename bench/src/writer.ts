// A worker thread that changes users the way the product does (a committed transaction with
// its outbox event, then a publish on Redis, as a second API process or the worker would) at
// a steady rate, stamping each event's commit time for the latency measurement.
import { parentPort, workerData } from 'node:worker_threads'
import { connectRedis, createEventPublisher, type Permission } from '@dormant/core'
import { closeDb, deploymentId, openDb, setPermissions } from '@dormant/db'
import { now, sleep } from './clock.js'

export type WriterInput = {
  /** A SQLite path or a postgres:// URL. */
  location: string
  redisUrl: string
  prefix: string
  userIds: string[]
  perSecond: number
  seconds: number
}

/** [eventPosition, userIndex, commitTime] triples, flattened. */
export type WriterBatch = { commits: number[] }

const SETS: Permission[][] = [
  ['hibernation.self', 'transactions.read'],
  ['hibernation.self', 'transactions.read', 'reports.view'],
]

/**
 * Changes in flight at once. One at a time caps the rate at 1 ÷ commit latency (about
 * 1,000/s on PostgreSQL, short of the fan-out's rate); several API processes would commit
 * side by side too. SQLite's functions are synchronous underneath, so there it stays serial.
 */
const IN_FLIGHT = 16

const input = workerData as WriterInput
const db = await openDb(input.location)
const redis = connectRedis(input.redisUrl)
const publisher = createEventPublisher(redis, input.prefix, await deploymentId(db))
const total = Math.round(input.perSecond * input.seconds)
const started = now()
const publishes: Promise<void>[] = []
const inFlight = new Set<Promise<void>>()
let commits: number[] = []

const change = async (done: number) => {
  const userIndex = (done * 7919) % input.userIds.length
  const changed = await setPermissions(db, input.userIds[userIndex] ?? '', SETS[done % 2] ?? [])
  const committedAt = now()
  if (!changed) return
  for (const event of changed.events) commits.push(event.id, userIndex, committedAt)
  publishes.push(publisher.events(changed.events))
}

let done = 0
while (done < total) {
  const due = Math.min(total, Math.floor(((now() - started) / 1000) * input.perSecond))
  for (; done < due && inFlight.size < IN_FLIGHT; done++) {
    const p = change(done).finally(() => inFlight.delete(p))
    inFlight.add(p)
  }
  if (commits.length) {
    parentPort?.postMessage({ commits } satisfies WriterBatch)
    commits = []
  }
  await (inFlight.size >= IN_FLIGHT ? Promise.race(inFlight) : sleep(2))
}
await Promise.all(inFlight)
if (commits.length) parentPort?.postMessage({ commits } satisfies WriterBatch)
await Promise.all(publishes)
await redis.quit()
await closeDb(db)
parentPort?.postMessage({ done: true })
