import type { DormantEvent, EventPublisher, HibernationQueue, Logger, WebhookQueue } from '@dormant/core'
import type { Db } from '@dormant/db'
import type { Redis } from 'ioredis'
import type { LoginLimiter } from './auth/rate-limit.js'
import type { ApiConfig } from './env.js'
import type { Metrics } from './metrics.js'
import type { StreamHub } from './sse/hub.js'

/** Everything the app talks to, created once in index.ts (or by a test) and injected. */
export type Deps = {
  config: ApiConfig
  db: Db
  /** For commands (health checks, publishing); never used to subscribe. */
  redis: Redis
  publisher: EventPublisher
  queue: HibernationQueue
  /** Only adds jobs (redeliveries); the worker runs them. */
  webhookQueue: WebhookQueue
  hub: StreamHub
  log: Logger
  metrics: Metrics
  limiters: { login: LoginLimiter }
  /** Set once shutdown began: /healthz then answers 503 so a balancer takes this process out. */
  lifecycle: { draining: boolean }
}

/**
 * Called after a transaction committed: this process's streams get the events at once,
 * other processes through Redis. A failed publish loses nothing (the events are in the
 * table and other processes read gaps from it), so it is logged, not awaited by requests.
 */
export const announce = (deps: Pick<Deps, 'hub' | 'publisher' | 'log'>, events: DormantEvent[]) => {
  deps.hub.offer(events)
  deps.publisher.events(events).catch((err) => deps.log.warn({ err }, 'publish failed; other processes will catch up'))
}
