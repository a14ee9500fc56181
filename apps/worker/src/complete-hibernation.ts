import { type EventPublisher, type HibernationJob, hibernationJobSchema, type Logger } from '@dormant/core'
import { type Db, latestEventId } from '@dormant/db'
import { DelayedError, type Job, UnrecoverableError } from 'bullmq'
import { createGroupCommit } from './group-commit.js'

export type ProcessorDeps = {
  db: Db
  publisher: EventPublisher
  log: Logger
  /** This deployment's identity: a job carrying another one is not ours to run. */
  deployment: string
  /** Called on a job of another deployment (the prefix is shared: time to re-check the claim). */
  foreignJob?: () => void
  /** Tests only: see `TEST_HOLD_AFTER_COMMIT_MS`. */
  holdAfterCommitMs?: number
}

const RETRY_BASE_MS = 1000
const RETRY_MAX_MS = 10 * 60_000

/**
 * Exponential backoff with 50 % jitter (so retries of many jobs that failed together spread
 * out), capped at 10 minutes and never giving up: the DB says the timer is due, so it must
 * eventually run.
 */
export const retryDelay = (attempt: number, random = Math.random()) => {
  const ceiling = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.max(0, attempt - 1))
  return Math.round(ceiling * (0.5 + random * 0.5))
}

/**
 * Runs one hibernation job. The job only completes once the events of the completion are
 * published; retries are moves back to `delayed` (rather than BullMQ's per-job `attempts`
 * and `backoff`, which would triple the bytes every scheduled job holds in Redis).
 */
export const hibernationProcessor = (deps: ProcessorDeps) => {
  const group = createGroupCommit(deps)
  return async (job: Job<HibernationJob>, token?: string): Promise<void> => {
    const parsed = hibernationJobSchema.safeParse(job.data)
    if (!parsed.success) throw new UnrecoverableError(`invalid job data: ${parsed.error.message}`)
    const log = deps.log.child({ jobId: job.id })
    if (parsed.data.d && parsed.data.d !== deps.deployment) {
      // Another deployment's job (it shares REDIS_PREFIX): handed back untouched, later and
      // later, for its own workers. The claim check then stops whichever side lost the prefix.
      log.error({ deployment: parsed.data.d }, 'job of another deployment on this REDIS_PREFIX; not running it')
      deps.foreignJob?.()
      return await moveToDelayed(job, Date.now() + retryDelay(job.attemptsStarted), token)
    }
    try {
      // Committed and published together with the other completions running now.
      const result = await group.complete(parsed.data.h)
      if (result.outcome === 'completed') {
        log.info({ userId: result.userId, events: result.events.length }, 'hibernation completed')
      } else if (result.outcome === 'not_due') {
        // Promoted early (Bull Board's "promote", a skewed clock): wait for the rest, never complete early.
        log.info({ endsAt: result.endsAt }, 'hibernation not due yet; delayed again')
        return await moveToDelayed(job, result.endsAt, token)
      } else if (result.status === 'completed') {
        // A retry after a commit whose publish failed: API processes read the missed rows from the table.
        await deps.publisher.upTo(await latestEventId(deps.db))
        log.info('hibernation already completed; announced the table position')
      } else {
        log.info({ status: result.status }, 'nothing to do')
      }
    } catch (err) {
      if (err instanceof DelayedError) throw err
      const delay = retryDelay(job.attemptsStarted)
      log.warn({ err, attempt: job.attemptsStarted, retryInMs: delay }, 'hibernation job failed; will retry')
      await moveToDelayed(job, Date.now() + delay, token)
    }
  }
}

const moveToDelayed = async (job: Job, timestamp: number, token: string | undefined) => {
  await job.moveToDelayed(timestamp, token)
  // Tells the worker the job was moved, not finished.
  throw new DelayedError()
}
