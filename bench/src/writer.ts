// A worker thread that changes users the way the product does (a committed transaction with
// its outbox event, then a publish on Redis, as a second API process or the worker would) at
// a steady rate, stamping each event's commit time for the latency measurement.
import { parentPort, workerData } from 'node:worker_threads'
import { connectRedis, createEventPublisher, type Permission } from '@dormant/core'
import { closeDb, deploymentId, openDb, setPermissions } from '@dormant/db'
import { now, sleep } from './clock.js'

export type WriterInput = {
  dbPath: string
  redisUrl: string
  prefix: string
  userIds: string[]
  perSecond: number
  seconds: number
}

/** [eventId, userIndex, commitTime] triples, flattened. */
export type WriterBatch = { commits: number[] }

const SETS: Permission[][] = [
  ['hibernation.self', 'transactions.read'],
  ['hibernation.self', 'transactions.read', 'reports.view'],
]

const input = workerData as WriterInput
const db = openDb(input.dbPath)
const redis = connectRedis(input.redisUrl)
const publisher = createEventPublisher(redis, input.prefix, deploymentId(db))
const total = Math.round(input.perSecond * input.seconds)
const started = now()
const pending: Promise<void>[] = []
let done = 0
while (done < total) {
  const due = Math.min(total, Math.floor(((now() - started) / 1000) * input.perSecond))
  const commits: number[] = []
  for (; done < due; done++) {
    const userIndex = (done * 7919) % input.userIds.length
    const change = setPermissions(db, input.userIds[userIndex] ?? '', SETS[done % 2] ?? [])
    const committedAt = now()
    if (!change) continue
    for (const event of change.events) commits.push(event.id, userIndex, committedAt)
    pending.push(publisher.events(change.events))
  }
  if (commits.length) parentPort?.postMessage({ commits } satisfies WriterBatch)
  await sleep(2)
}
await Promise.all(pending)
await redis.quit()
closeDb(db)
parentPort?.postMessage({ done: true })
