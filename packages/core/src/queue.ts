import { type ConnectionOptions, type JobsOptions, Queue } from 'bullmq'
import { z } from 'zod'

export const HIBERNATION_QUEUE = 'hibernations'

/**
 * Job data holds the id and the deployment's identity only: the DB is the source of truth,
 * Redis bytes stay small (the JSON stays under the 64-byte listpack limit). `d` is optional
 * for jobs queued before identities existed.
 */
export const hibernationJobSchema = z.object({ h: z.string().min(1), d: z.string().min(1).optional() }).strict()
export type HibernationJob = z.infer<typeof hibernationJobSchema>

/** BullMQ job ids may not contain ':' nor be all digits; hibernation ids are neither. */
export const hibernationJobId = (hibernationId: string) => hibernationId

/**
 * Stored in every job's hash, so kept to nothing: while each hash field stays under Redis's
 * `hash-max-listpack-value` (64 bytes) the job is a compact listpack of ~280 B; the stock
 * attempts/backoff/removeOn* options make `opts` ~200 B and the hash ~800 B. Retries (with
 * exponential backoff and jitter) and retention are the worker's settings instead.
 */
export const HIBERNATION_JOB_OPTIONS = {} satisfies JobsOptions

/** The queue of one deployment: the jobs it adds carry that deployment's identity. */
export type HibernationQueue = Queue<HibernationJob, void, 'complete'> & { readonly deployment: string }

export const createHibernationQueue = (
  connection: ConnectionOptions,
  prefix: string,
  deployment: string,
): HibernationQueue =>
  Object.assign(
    new Queue<HibernationJob, void, 'complete'>(HIBERNATION_QUEUE, {
      connection,
      prefix,
      defaultJobOptions: HIBERNATION_JOB_OPTIONS,
    }),
    { deployment },
  )

/** Delay computed from endsAt, not from a duration, so a late enqueue is not late twice. */
export const scheduleHibernationJob = (
  queue: HibernationQueue,
  hibernationId: string,
  endsAt: number,
  now = Date.now(),
) =>
  queue.add(
    'complete',
    { h: hibernationId, d: queue.deployment },
    {
      jobId: hibernationJobId(hibernationId),
      delay: Math.max(0, endsAt - now),
    },
  )

/** `scheduleHibernationJob` for many at once, in one round trip (the reconciler's rebuild). */
export const scheduleHibernationJobs = (
  queue: HibernationQueue,
  hibernations: readonly { id: string; endsAt: number }[],
  now = Date.now(),
) =>
  queue.addBulk(
    hibernations.map((h) => ({
      name: 'complete' as const,
      data: { h: h.id, d: queue.deployment },
      opts: { jobId: hibernationJobId(h.id), delay: Math.max(0, h.endsAt - now) },
    })),
  )
