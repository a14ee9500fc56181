import {
  type HibernationQueue,
  hibernationJobId,
  type Logger,
  scheduleHibernationJob,
  scheduleHibernationJobs,
} from '@dormant/core'
import { type Db, listScheduledHibernations, scheduledAmong } from '@dormant/db'
import type { Redis } from 'ioredis'
import { runPeriodically } from './periodic.js'

export type ReconcileDeps = {
  db: Db
  queue: HibernationQueue
  redis: Redis
  log: Logger
  /** False when another deployment now owns the prefix: the pass then touches nothing. */
  owned?: () => Promise<boolean>
}

export type ReconcileReport = {
  /** Scheduled hibernations seen in the DB. */
  scheduled: number
  /** Jobs created because a scheduled hibernation had none. */
  created: number
  /** Finished (failed or completed) jobs of still-scheduled hibernations, replaced by fresh ones. */
  replaced: number
  /** Waiting or delayed jobs whose hibernation is no longer scheduled. */
  removed: number
  ms: number
}

/**
 * Makes the queue agree with the DB, the source of truth: every scheduled hibernation has a
 * live job, and no waiting or delayed job belongs to a hibernation that is not scheduled.
 * Both sides are read a page at a time with one Redis round trip per page (no KEYS, no SCAN).
 * Races with the API and the worker are harmless: a job that fires for a hibernation that is
 * no longer scheduled does nothing, and adding an existing job id keeps the existing job.
 */
export const reconcile = async (deps: ReconcileDeps, pageSize = 1000): Promise<ReconcileReport> => {
  const started = performance.now()
  const report = { scheduled: 0, created: 0, replaced: 0, removed: 0 }
  await ensureJobs(deps, pageSize, report)
  for (const key of ['delayed', 'wait'] as const) report.removed += await removeOrphans(deps, key, pageSize)
  return { ...report, ms: Math.round(performance.now() - started) }
}

/**
 * One character per job key: `0` no such job, `1` live (delayed, waiting, active), `2` finished
 * (completed or failed). One script call per page is about four times faster than a pipeline
 * of 1,000 HMGETs, mostly ioredis's per-command cost (measured over 100,000 jobs: 0.5 s against 2.1 s).
 */
const JOB_STATES = `
local out = {}
for i, key in ipairs(KEYS) do
  local f = redis.call('HMGET', key, 'timestamp', 'finishedOn')
  out[i] = (not f[1]) and '0' or (f[2] and '2' or '1')
end
return table.concat(out)`

type WithJobStates = Redis & { hibernationJobStates(count: number, ...keys: string[]): Promise<string> }

const jobStates = (redis: Redis, keys: string[]) => {
  const r = redis as WithJobStates
  if (!r.hibernationJobStates) redis.defineCommand('hibernationJobStates', { lua: JOB_STATES })
  return r.hibernationJobStates(keys.length, ...keys)
}

const ensureJobs = async (deps: ReconcileDeps, pageSize: number, report: Omit<ReconcileReport, 'ms'>) => {
  const { db, queue, redis } = deps
  for (let after = ''; ; ) {
    const page = await listScheduledHibernations(db, after, pageSize)
    if (!page.length) return
    after = page[page.length - 1]!.id
    report.scheduled += page.length
    const states = await jobStates(
      redis,
      page.map((h) => queue.toKey(hibernationJobId(h.id))),
    )
    const missing = page.filter((_, i) => states[i] === '0')
    const finished = page.filter((_, i) => states[i] === '2')
    report.created += missing.length
    report.replaced += finished.length
    await Promise.all([
      missing.length ? scheduleHibernationJobs(queue, missing) : undefined,
      // A failed job of a still-scheduled hibernation (or one that finished a moment ago: a fresh job then no-ops).
      ...finished.map((h) =>
        queue.remove(hibernationJobId(h.id)).then(() => scheduleHibernationJob(queue, h.id, h.endsAt)),
      ),
    ])
  }
}

/** Pages through a delayed zset or wait list by index; removals shift the indices after them. */
const removeOrphans = async (deps: ReconcileDeps, key: 'delayed' | 'wait', pageSize: number) => {
  const { db, queue, redis } = deps
  const redisKey = queue.toKey(key)
  let removed = 0
  for (let start = 0; ; ) {
    const stop = start + pageSize - 1
    const ids =
      key === 'delayed' ? await redis.zrange(redisKey, start, stop) : await redis.lrange(redisKey, start, stop)
    if (!ids.length) return removed
    const scheduled = await scheduledAmong(db, ids)
    const orphans = await ownJobs(
      deps,
      ids.filter((id) => !scheduled.has(id)),
    )
    const results = await Promise.all(orphans.map((id) => queue.remove(id)))
    const gone = results.filter((r) => r === 1).length
    removed += gone
    start += ids.length - gone
  }
}

/** Of these job ids, those this deployment queued (or queued before identities existed). */
const ownJobs = async ({ queue, redis }: ReconcileDeps, jobIds: string[]) => {
  if (!jobIds.length) return jobIds
  const data = await redis.pipeline(jobIds.map((id) => ['hget', queue.toKey(id), 'data'])).exec()
  return jobIds.filter((_, i) => {
    const raw = data?.[i]?.[1]
    if (typeof raw !== 'string') return false
    const d = (JSON.parse(raw) as { d?: unknown }).d
    return d === undefined || d === queue.deployment
  })
}

/**
 * Runs `reconcile` now and then every `intervalMs`, one pass at a time. A failed pass
 * (Redis away) is logged and retried at the next tick.
 */
export const startReconciler = (deps: ReconcileDeps, intervalMs: number) =>
  runPeriodically(async () => {
    try {
      if (deps.owned && !(await deps.owned())) return
      const report = await reconcile(deps)
      const level = report.created || report.replaced || report.removed ? 'info' : 'debug'
      deps.log[level](report, 'reconciled')
    } catch (err) {
      deps.log.warn({ err }, 'reconcile pass failed; will retry')
    }
  }, intervalMs)
