import type { Redis } from 'ioredis'
import type { BusMessage, DormantEvent } from './events.js'
import type { WebhookDeliveryJson } from './webhooks.js'

export const eventsChannel = (prefix: string) => `${prefix}:events`

/** Publishes committed events. Call only after the transaction that wrote them committed. */
export type EventPublisher = {
  events(events: DormantEvent[]): Promise<void>
  upTo(id: number): Promise<void>
  sessionsRevoked(sessionIds: string[]): Promise<void>
}

/** `deployment` (see `deploymentId`) rides on every message: a hub of another deployment ignores it. */
export const createEventPublisher = (redis: Redis, prefix: string, deployment: string): EventPublisher => {
  const channel = eventsChannel(prefix)
  const send = async (message: BusMessage) => {
    await redis.publish(channel, JSON.stringify({ ...message, d: deployment }))
  }
  return {
    events: (events) => (events.length ? send({ kind: 'events', events }) : Promise.resolve()),
    upTo: (id) => send({ kind: 'upTo', id }),
    sessionsRevoked: (sessionIds) =>
      sessionIds.length ? send({ kind: 'sessions.revoked', sessionIds }) : Promise.resolve(),
  }
}

/** Tells admin streams (through every API process) that a webhook delivery changed. */
export const publishWebhookDelivery = async (
  redis: Redis,
  prefix: string,
  deployment: string,
  delivery: WebhookDeliveryJson,
) => {
  await redis.publish(
    eventsChannel(prefix),
    JSON.stringify({ kind: 'webhook.delivery', delivery, d: deployment } satisfies BusMessage),
  )
}
