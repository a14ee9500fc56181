import { createHmac, randomBytes } from 'node:crypto'
import { type ConnectionOptions, Queue } from 'bullmq'
import { z } from 'zod'
import type { EventType } from './events.js'

export const WEBHOOK_QUEUE = 'webhooks'

/** Event types an endpoint may subscribe to (a permission change is a `user.updated`). */
export const WEBHOOK_EVENT_TYPES = [
  'hibernation.completed',
  'user.updated',
  'transaction.created',
] as const satisfies readonly EventType[]

/** Job data holds the delivery id and its redelivery count only: the row is the truth. */
export const webhookJobSchema = z.object({ d: z.string().min(1), g: z.number().int().min(0) }).strict()
export type WebhookJob = z.infer<typeof webhookJobSchema>
export type WebhookQueue = Queue<WebhookJob, void, 'deliver'>

export const createWebhookQueue = (connection: ConnectionOptions, prefix: string): WebhookQueue =>
  new Queue<WebhookJob, void, 'deliver'>(WEBHOOK_QUEUE, { connection, prefix })

/**
 * A delivery's job id: the delivery id, plus the redelivery count once redelivered, so a
 * redelivery is a new job even while the previous one is still finishing.
 */
export const webhookJobId = (deliveryId: string, redeliveries: number) =>
  redeliveries ? `${deliveryId}-r${redeliveries}` : deliveryId

type Pending = { id: string; redeliveries: number; nextAttemptAt: number }

/** Adds one job per delivery, in one round trip; an existing job id keeps the existing job. */
export const enqueueDeliveries = (queue: WebhookQueue, deliveries: readonly Pending[], now = Date.now()) =>
  queue.addBulk(
    deliveries.map((d) => ({
      name: 'deliver' as const,
      data: { d: d.id, g: d.redeliveries },
      opts: { jobId: webhookJobId(d.id, d.redeliveries), delay: Math.max(0, d.nextAttemptAt - now) },
    })),
  )

/** The delivery as the admin API and the admin stream show it. */
export type WebhookDeliveryJson = {
  id: string
  endpointId: string
  eventId: number
  eventType: string
  status: 'pending' | 'delivered' | 'failed'
  attempts: number
  lastStatus: number | null
  lastAttemptAt: string | null
  latencyMs: number | null
  lastError: string | null
  nextAttemptAt: string | null
  createdAt: string
}

/** A signing secret in the Standard Webhooks format: `whsec_` + base64 of 24 random bytes. */
export const newWebhookSecret = () => `whsec_${randomBytes(24).toString('base64')}`

/**
 * The `webhook-signature` header per Standard Webhooks: `v1,<base64 HMAC-SHA256>` of
 * `${id}.${timestamp}.${body}` keyed by the secret's decoded bytes, one per active secret
 * (space-separated) so a receiver holding either secret verifies during a rotation.
 */
export const signWebhook = (secrets: readonly string[], id: string, timestampSeconds: number, body: string) =>
  secrets
    .map((secret) => {
      const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64')
      const mac = createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64')
      return `v1,${mac}`
    })
    .join(' ')
