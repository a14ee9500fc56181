import { type Logger, publishWebhookDelivery, type Resolver, type WebhookJob, webhookJobSchema } from '@dormant/core'
import {
  type AttemptOutcome,
  type Db,
  deliveryForAttempt,
  deliveryJson,
  disableWebhookEndpoint,
  recordAttempt,
} from '@dormant/db'
import { DelayedError, type Job, UnrecoverableError } from 'bullmq'
import type { Redis } from 'ioredis'
import { type SendOptions, sendWebhook } from './webhook-send.js'

export type WebhookSettings = {
  allowPrivate: boolean
  timeoutMs: number
  /** How long a delivery is retried before it is failed (about three days). */
  retryWindowMs: number
  resolve?: Resolver
  agents?: SendOptions['agents']
}

export type DeliverDeps = {
  db: Db
  redis: Redis
  prefix: string
  deployment: string
  log: Logger
  settings: WebhookSettings
}

const RETRY_BASE_MS = 1000
const RETRY_MAX_MS = 6 * 3600_000

/**
 * Exponential backoff from about one second, doubling, with 50 % jitter so endpoints that
 * failed together do not retry together, capped at six hours: about 25 attempts in three days.
 */
export const webhookRetryDelay = (attempt: number, random = Math.random()) => {
  const ceiling = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.max(0, attempt - 1))
  return Math.round(ceiling * (0.5 + random * 0.5))
}

/**
 * Runs one delivery attempt. The row decides everything (a missing or finished row ends the
 * job), and the attempt is recorded before the job moves on, so a crash at any point leaves a
 * pending row that the job's retry or the reconciler sends again, with the same webhook-id.
 */
export const webhookProcessor = (deps: DeliverDeps) => async (job: Job<WebhookJob>, token?: string) => {
  const parsed = webhookJobSchema.safeParse(job.data)
  if (!parsed.success) throw new UnrecoverableError(`invalid job data: ${parsed.error.message}`)
  const log = deps.log.child({ jobId: job.id })
  const found = await deliveryForAttempt(deps.db, parsed.data.d)
  // A job of an earlier redelivery (or of a finished row) has nothing left to do.
  if (found?.delivery.status !== 'pending' || found.delivery.redeliveries !== parsed.data.g) return
  const { delivery, endpoint } = found
  if (!endpoint.enabled) return
  const now = Date.now()
  const result = await sendWebhook(
    { url: endpoint.url, secrets: endpoint.activeSecrets, webhookId: delivery.id, body: delivery.body },
    deps.settings,
    now,
  )
  const attempt = delivery.attempts + 1
  let outcome: AttemptOutcome
  if (result.ok) {
    outcome = { status: 'delivered', httpStatus: result.httpStatus, latencyMs: result.latencyMs }
  } else {
    const next = Date.now() + webhookRetryDelay(attempt)
    const base = { httpStatus: result.httpStatus, error: result.error, latencyMs: result.latencyMs }
    outcome =
      next - delivery.retryFrom > deps.settings.retryWindowMs
        ? { status: 'failed', ...base }
        : { status: 'pending', ...base, nextAttemptAt: next }
  }
  const row = await recordAttempt(deps.db, delivery.id, outcome)
  if (!row) return
  if (outcome.status === 'failed') {
    // Its oldest undelivered event has failed for the whole window: stop sending until an admin looks.
    await disableWebhookEndpoint(
      deps.db,
      endpoint.id,
      `delivery ${delivery.id} failed for ${Math.round(deps.settings.retryWindowMs / 3600_000)} h: ${outcome.error}`,
    )
    log.warn({ endpointId: endpoint.id, error: outcome.error }, 'webhook delivery failed; endpoint disabled')
  }
  await publishWebhookDelivery(deps.redis, deps.prefix, deps.deployment, deliveryJson(row)).catch((err) =>
    log.warn({ err }, 'could not publish the delivery update'),
  )
  if (outcome.status === 'pending') {
    log.info({ attempt, error: outcome.error, retryAt: outcome.nextAttemptAt }, 'webhook delivery failed; will retry')
    await job.moveToDelayed(outcome.nextAttemptAt, token)
    throw new DelayedError()
  }
}
