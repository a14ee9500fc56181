import { setImmediate as yieldToLoop } from 'node:timers/promises'
import type { Logger } from '@dormant/core'
import {
  type Db,
  deleteExpiredSessions,
  eventCutAt,
  markEvents,
  PRUNE_BATCH,
  pruneEventsBatch,
  pruneLoginFailures,
  takeLease,
  trimEventMarks,
} from '@dormant/db'

const LEASE = 'housekeeping_lease_until'

/**
 * One housekeeper per database: a lease row in the DB, taken by whichever worker finds it
 * free or expired and renewed by its holder on every run. Other workers skip their runs,
 * so they never delete the same rows twice and the pruner's marks come from one clock
 * (that of the holder; a new holder after a failover continues from the same marks).
 */
const createLease = (db: Db, ttlMs: number) => {
  let held = 0
  return async (now = Date.now()) => {
    const until = now + ttlMs
    if (!(await takeLease(db, LEASE, held, until, now))) return false
    held = until
    return true
  }
}

/** Runs `step` until it does less than a full batch, letting the event loop breathe in between. */
const inBatches = async (step: () => Promise<number>, batch: number) => {
  let total = 0
  for (;;) {
    const n = await step()
    total += n
    if (n < batch) return total
    await yieldToLoop()
  }
}

export type HousekeepingOptions = { retentionMs: number; intervalMs: number; batch?: number }

/**
 * What the database needs done now and then, in one place (the worker) rather than in every
 * API process: events past retention are pruned, cut on ids the housekeeper itself marked
 * (never on createdAt, which several hosts' clocks stamp); expired sessions and ended
 * login-failure windows are deleted. Everything goes in short batches, yielding between them.
 */
export const housekeep = async (db: Db, options: HousekeepingOptions, now = Date.now()) => {
  const batch = options.batch ?? PRUNE_BATCH
  await markEvents(db, now)
  const before = now - options.retentionMs
  const cut = await eventCutAt(db, before)
  const events = await inBatches(() => pruneEventsBatch(db, cut, batch), batch)
  await trimEventMarks(db, before)
  const sessions = await inBatches(() => deleteExpiredSessions(db, now, batch), batch)
  const loginWindows = await pruneLoginFailures(db, now)
  return { events, sessions, loginWindows }
}

/** Runs `housekeep` at start and every `intervalMs` while this worker holds the lease. */
export const startHousekeeping = (deps: { db: Db; log: Logger }, options: HousekeepingOptions) => {
  const lease = createLease(deps.db, options.intervalMs * 3)
  let running: Promise<void> = Promise.resolve()
  const run = () => {
    running = running.then(async () => {
      try {
        if (!(await lease())) return
        const done = await housekeep(deps.db, options)
        if (done.events) deps.log.info({ removed: done.events }, 'pruned old events')
        if (done.sessions) deps.log.info({ removed: done.sessions }, 'deleted expired sessions')
      } catch (err) {
        deps.log.warn({ err }, 'housekeeping failed; retrying next round')
      }
    })
  }
  run()
  const timer = setInterval(run, options.intervalMs)
  timer.unref()
  return {
    /** Waits for a run in progress; no new one starts. */
    stop: async () => {
      clearInterval(timer)
      await running
    },
  }
}
