import type { Permission } from './permissions.js'
import type { WebhookDeliveryJson } from './webhooks.js'

export type Role = 'user' | 'admin'
export type UserStatus = 'active' | 'hibernating'

/** A user as the HTTP API and the streams show it. */
export type UserJson = {
  id: string
  email: string
  name: string
  role: Role
  status: UserStatus
  goal: number
  permissions: Permission[]
  hibernation: null | { id: string; startedAt: string; endsAt: string }
  version: number
  createdAt: string
  updatedAt: string
}

export type TransactionJson = {
  id: string
  type: string
  details: Record<string, unknown>
  createdAt: string
}

export type EventPayloads = {
  'user.updated': { user: UserJson }
  'transaction.created': { transaction: TransactionJson }
  'hibernation.completed': { hibernationId: string; completedAt: string }
  /**
   * Internal, never sent to a client: a logout, durable in the ordered table so every API
   * process ends that session's streams even when the bus message is lost.
   */
  'session.revoked': { sessionId: string }
}

/** Event types that only API processes read; streams, replays and webhooks never show them. */
export const INTERNAL_EVENT_TYPES: ReadonlySet<EventType> = new Set(['session.revoked'])

export type EventType = keyof EventPayloads

/** One row of the events outbox: `id` is the global, gap-free order of all changes. */
export type DormantEvent<T extends EventType = EventType> = {
  [K in T]: { id: number; userId: string; type: K; data: EventPayloads[K]; createdAt: number }
}[T]

/**
 * What travels on the Redis channel. `events` is the fast path; `upTo` only says
 * "the table has rows up to this id" and makes subscribers read what they miss.
 * `revokedSessions` ends the streams of sessions that were revoked.
 */
export type BusMessage = (
  | { kind: 'events'; events: DormantEvent[] }
  | { kind: 'upTo'; id: number }
  | { kind: 'sessions.revoked'; sessionIds: string[] }
  /** A webhook delivery was created or attempted; admin streams show it as `webhook.delivery`. */
  | { kind: 'webhook.delivery'; delivery: WebhookDeliveryJson }
) & {
  /** The sending deployment's identity; set by the publisher. */
  d?: string
}

/** The `error.code` values of the HTTP API's error responses. */
export type ErrorCode =
  | 'validation_failed'
  | 'invalid_json'
  | 'unauthorized'
  | 'invalid_credentials'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'unavailable'
  | 'internal'
