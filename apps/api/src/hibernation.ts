import { scheduleHibernationJob } from '@dormant/core'
import { cancelHibernation, startHibernation } from '@dormant/db'
import { announce, type Deps } from './deps.js'
import { AppError } from './errors.js'

/**
 * Starts a hibernation. The DB commit is the promise: if the job cannot be enqueued now,
 * the request still succeeds and the worker's reconciler creates the job.
 */
export const startFor = async (deps: Deps, userId: string, durationMs = deps.config.HIBERNATION_DURATION_MS) => {
  const result = await startHibernation(deps.db, userId, durationMs)
  if ('error' in result) {
    if (result.error === 'not_found') throw new AppError('not_found', 'no such user')
    throw new AppError('conflict', 'already hibernating')
  }
  announce(deps, result.events)
  scheduleHibernationJob(deps.queue, result.hibernation.id, result.hibernation.endsAt).catch((err) =>
    deps.log.warn({ err, hibernationId: result.hibernation.id }, 'enqueue failed; the reconciler will create the job'),
  )
  return result.user
}

/** Wakes a user early: DB first, then the job goes; a job that still fires finds nothing to do. */
export const cancelFor = async (deps: Deps, userId: string) => {
  const result = await cancelHibernation(deps.db, userId)
  if ('error' in result) {
    if (result.error === 'not_found') throw new AppError('not_found', 'no such user')
    throw new AppError('conflict', 'not hibernating')
  }
  announce(deps, result.events)
  deps.queue
    .remove(result.hibernationId)
    .catch((err) => deps.log.warn({ err, hibernationId: result.hibernationId }, 'job removal failed; it will no-op'))
  return result.user
}
