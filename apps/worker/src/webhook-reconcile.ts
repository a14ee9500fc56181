import { enqueueDeliveries, type Logger, type WebhookQueue, webhookJobId } from '@dormant/core'
import { type Db, listPendingDeliveries } from '@dormant/db'
import type { Redis } from 'ioredis'
import { runPeriodically } from './periodic.js'

export type WebhookReconcileDeps = {
  db: Db
  queue: WebhookQueue
  redis: Redis
  log: Logger
  /** Whether the Redis prefix is still this deployment's (see `guardDeployment`). */
  owned?: () => Promise<boolean>
}

/**
 * The webhook sibling of `reconcile`: every pending delivery (of an enabled endpoint) has a
 * live job. A missing job (Redis lost its data, a crash between commit and enqueue) is
 * created; a finished one of a still-pending row is replaced. A page per Redis round trip.
 */
export const reconcileWebhooks = async (deps: WebhookReconcileDeps, pageSize = 1000) => {
  const { db, queue, redis } = deps
  const report = { pending: 0, created: 0, replaced: 0 }
  for (let after = ''; ; ) {
    const page = await listPendingDeliveries(db, after, pageSize)
    if (!page.length) return report
    after = page[page.length - 1]!.id
    report.pending += page.length
    const pipeline = redis.pipeline()
    for (const d of page) pipeline.hmget(queue.toKey(webhookJobId(d.id, d.redeliveries)), 'timestamp', 'finishedOn')
    const states = ((await pipeline.exec()) ?? []).map(([, fields]) => fields as (string | null)[])
    const missing = page.filter((_, i) => !states[i]?.[0])
    const finished = page.filter((_, i) => states[i]?.[0] && states[i]?.[1])
    report.created += missing.length
    report.replaced += finished.length
    await Promise.all(finished.map((d) => queue.remove(webhookJobId(d.id, d.redeliveries))))
    const todo = [...missing, ...finished]
    if (todo.length) await enqueueDeliveries(queue, todo)
  }
}

/** Runs `reconcileWebhooks` now and every `intervalMs`, one pass at a time (only while the prefix is ours). */
export const startWebhookReconciler = (deps: WebhookReconcileDeps, intervalMs: number) =>
  runPeriodically(async () => {
    try {
      if (deps.owned && !(await deps.owned())) return
      const report = await reconcileWebhooks(deps)
      deps.log[report.created || report.replaced ? 'info' : 'debug'](report, 'webhooks reconciled')
    } catch (err) {
      deps.log.warn({ err }, 'webhook reconcile pass failed; will retry')
    }
  }, intervalMs)
