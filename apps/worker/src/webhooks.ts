import { createWebhookQueue, type Logger, type Resolver, WEBHOOK_QUEUE, type WebhookJob } from '@dormant/core'
import { type Db, deploymentId } from '@dormant/db'
import { Worker } from 'bullmq'
import type { Redis } from 'ioredis'
import type { WorkerConfig } from './env.js'
import { webhookProcessor } from './webhook-deliver.js'
import { startDispatcher } from './webhook-dispatch.js'
import { startWebhookReconciler } from './webhook-reconcile.js'
import { createAgents } from './webhook-send.js'

/**
 * The webhook side of a worker process: the dispatcher (events → delivery rows and jobs),
 * the delivery worker and the delivery reconciler. `stop()` lets in-flight attempts finish.
 */
export const startWebhooks = async (
  config: WorkerConfig,
  deps: { db: Db; redis: Redis; log: Logger; owned?: () => Promise<boolean> },
  options: { resolve?: Resolver } = {},
) => {
  const { db, redis } = deps
  const log = deps.log.child({ component: 'webhooks' })
  const prefix = config.REDIS_PREFIX
  const queue = createWebhookQueue(redis, prefix)
  queue.on('error', (err) => log.warn({ err: err.message }, 'webhook queue error'))
  const settings = {
    allowPrivate: config.WEBHOOK_ALLOW_PRIVATE,
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    retryWindowMs: config.WEBHOOK_RETRY_WINDOW_MS,
    agents: createAgents(),
    ...(options.resolve ? { resolve: options.resolve } : {}),
  }
  const deployment = await deploymentId(db)
  const worker = new Worker<WebhookJob, void, 'deliver'>(
    WEBHOOK_QUEUE,
    webhookProcessor({ db, redis, prefix, deployment, log, settings }),
    {
      connection: redis,
      prefix,
      // Attempts mostly wait on receivers; many run at once on one process.
      concurrency: config.WEBHOOK_CONCURRENCY,
      lockDuration: config.JOB_LOCK_MS,
      stalledInterval: config.JOB_LOCK_MS,
      maxStalledCount: 5,
      removeOnComplete: { count: 1000, age: 24 * 3600 },
      removeOnFail: { count: 5000, age: 7 * 24 * 3600 },
    },
  )
  worker.on('error', (err) => log.warn({ err: err.message }, 'webhook worker error'))
  await worker.waitUntilReady()
  const dispatcher = await startDispatcher(
    { db, queue, redis, prefix, log },
    config.REDIS_URL,
    config.WEBHOOK_DISPATCH_INTERVAL_MS,
  )
  const reconciler = startWebhookReconciler({ db, queue, redis, log, owned: deps.owned }, config.RECONCILE_INTERVAL_MS)
  return {
    queue,
    worker,
    dispatcher,
    reconciler,
    stop: async () => {
      await dispatcher.stop()
      await reconciler.stop()
      await worker.close()
      await queue.close()
      settings.agents.http.destroy()
      settings.agents.https.destroy()
    },
  }
}
