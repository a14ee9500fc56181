import {
  connectRedis,
  createEventPublisher,
  createHibernationQueue,
  HIBERNATION_QUEUE,
  type HibernationJob,
  type Logger,
  redisSafetyWarnings,
} from '@dormant/core'
import { closeDb, openDb } from '@dormant/db'
import { Worker } from 'bullmq'
import { hibernationProcessor } from './complete-hibernation.js'
import type { WorkerConfig } from './env.js'
import { startReconciler } from './reconcile.js'
import { startWebhooks } from './webhooks.js'

/** Finished jobs kept for Bull Board; bounded so Redis does not grow with history. */
const RETENTION = {
  removeOnComplete: { count: 1000, age: 24 * 3600 },
  removeOnFail: { count: 5000, age: 7 * 24 * 3600 },
}

/**
 * Starts a worker process's machinery: the BullMQ worker that runs due hibernations and the
 * reconciler. `stop()` lets in-flight jobs finish, then closes every connection.
 */
export const startWorker = async (config: WorkerConfig, log: Logger) => {
  const db = openDb(config.DB_PATH)
  const redis = connectRedis(config.REDIS_URL)
  redis.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'))
  try {
    for (const warning of await redisSafetyWarnings(redis)) log.warn({ redis: config.REDIS_URL }, warning)
  } catch (err) {
    // Managed Redis services often forbid CONFIG; the check is advice, not a requirement.
    log.warn({ err }, 'could not read Redis settings (CONFIG GET); check maxmemory-policy and persistence yourself')
  }

  const queue = createHibernationQueue(redis, config.REDIS_PREFIX)
  queue.on('error', (err) => log.warn({ err: err.message }, 'queue error'))
  const worker = new Worker<HibernationJob, void, 'complete'>(
    HIBERNATION_QUEUE,
    hibernationProcessor({ db, publisher: createEventPublisher(redis, config.REDIS_PREFIX), log }),
    {
      connection: redis,
      prefix: config.REDIS_PREFIX,
      concurrency: config.WORKER_CONCURRENCY,
      lockDuration: config.JOB_LOCK_MS,
      stalledInterval: config.JOB_LOCK_MS,
      // A job that keeps killing its worker ends up failed; the reconciler then re-creates it.
      maxStalledCount: 5,
      ...RETENTION,
    },
  )
  worker.on('error', (err) => log.warn({ err: err.message }, 'worker error'))
  worker.on('failed', (job, err) => log.error({ err, jobId: job?.id }, 'hibernation job failed permanently'))
  await worker.waitUntilReady()

  const reconciler = startReconciler({ db, queue, redis, log }, config.RECONCILE_INTERVAL_MS)
  const webhooks = await startWebhooks(config, { db, redis, log })
  log.info(
    {
      concurrency: config.WORKER_CONCURRENCY,
      prefix: config.REDIS_PREFIX,
      reconcileIntervalMs: config.RECONCILE_INTERVAL_MS,
    },
    'worker ready',
  )

  let stopped: Promise<void> | undefined
  const stop = () => {
    stopped ??= (async () => {
      await reconciler.stop()
      await webhooks.stop()
      // Waits for in-flight jobs: each finishes (commit, publish, ack) before Redis closes.
      await worker.close()
      await queue.close()
      await redis.quit().catch(() => redis.disconnect())
      closeDb(db)
    })()
    return stopped
  }
  return { worker, queue, redis, db, reconciler, webhooks, stop }
}
