import {
  type BusMessage,
  connectRedis,
  enqueueDeliveries,
  eventsChannel,
  type Logger,
  type WebhookQueue,
} from '@dormant/core'
import { type Db, dispatchWebhookEvents } from '@dormant/db'
import type { Redis } from 'ioredis'

export type DispatchDeps = { db: Db; queue: WebhookQueue; redis: Redis; prefix: string; log: Logger }

/**
 * Moves committed events into delivery rows and jobs until the cursor reaches the table's end.
 * Rows first (with the cursor, in one transaction), jobs after: a crash in between leaves
 * pending rows without jobs, which the reconciler re-creates.
 */
export const dispatchOnce = async (deps: DispatchDeps) => {
  let total = 0
  for (;;) {
    const { created, more } = await dispatchWebhookEvents(deps.db)
    if (created.length) {
      await enqueueDeliveries(
        deps.queue,
        created.map((d) => ({ id: d.id, redeliveries: 0, nextAttemptAt: d.nextAttemptAt ?? 0 })),
      )
      total += created.length
    }
    if (!more) return total
  }
}

/**
 * Runs the dispatcher whenever the bus says events were committed, and every `intervalMs`
 * in case a message was missed. Passes never overlap; a wake-up during a pass runs one more.
 * Several workers may run it at once: the database serialises the transactions on the cursor and the
 * unique (endpoint, event) key makes a repeat write nothing.
 */
export const startDispatcher = async (deps: DispatchDeps, redisUrl: string, intervalMs: number) => {
  const subscriber = connectRedis(redisUrl)
  subscriber.on('error', (err) => deps.log.warn({ err: err.message }, 'dispatcher subscription error'))
  let running: Promise<void> | undefined
  let again = false
  let stopped = false
  const wake = () => {
    if (stopped) return
    if (running) {
      again = true
      return
    }
    running = (async () => {
      do {
        again = false
        try {
          const count = await dispatchOnce(deps)
          if (count) deps.log.debug({ count }, 'webhook deliveries dispatched')
        } catch (err) {
          deps.log.warn({ err }, 'webhook dispatch failed; will retry')
        }
      } while (again && !stopped)
      running = undefined
    })()
  }
  const channel = eventsChannel(deps.prefix)
  subscriber.on('message', (from: string, raw: string) => {
    if (from !== channel) return
    const kind = (JSON.parse(raw) as BusMessage | { kind: string }).kind
    if (kind === 'events' || kind === 'upTo') wake()
  })
  await subscriber.subscribe(channel)
  const timer = setInterval(wake, intervalMs)
  wake()
  return {
    wake,
    stop: async () => {
      stopped = true
      clearInterval(timer)
      await running
      await subscriber.quit().catch(() => subscriber.disconnect())
    },
  }
}
