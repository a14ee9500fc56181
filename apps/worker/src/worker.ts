import {
  connectRedis,
  createEventPublisher,
  createHibernationQueue,
  type DeploymentClash,
  databaseLocation,
  guardDeployment,
  HIBERNATION_QUEUE,
  type HibernationJob,
  type Logger,
  redactUrl,
  redisSafetyWarnings,
} from '@dormant/core'
import { closeDb, DB_START_WAIT_MS, deploymentId, openDb } from '@dormant/db'
import { Worker } from 'bullmq'
import { hibernationProcessor } from './complete-hibernation.js'
import type { WorkerConfig } from './env.js'
import { startHousekeeping } from './housekeeping.js'
import { startReconciler } from './reconcile.js'
import { startWebhooks } from './webhooks.js'

/** Finished jobs kept for Bull Board; bounded so Redis does not grow with history. */
const RETENTION = {
  removeOnComplete: { count: 1000, age: 24 * 3600 },
  removeOnFail: { count: 5000, age: 7 * 24 * 3600 },
}

/** A tenth of the retention, at most an hour: events go at most 10% late, with few marks kept. */
const housekeepingOptions = (config: WorkerConfig) => ({
  retentionMs: config.EVENTS_RETENTION_MS,
  intervalMs: Math.min(config.EVENTS_RETENTION_MS / 10, 3600_000),
})

/**
 * Starts a worker process's machinery: the BullMQ worker that runs due hibernations and the
 * reconciler. `stop()` lets in-flight jobs finish, then closes every connection. Rejects with a
 * `DeploymentClash` when another deployment owns `REDIS_PREFIX`; `onClash` hears of one that
 * appears later (the worker has then stopped).
 */
export const startWorker = async (
  config: WorkerConfig,
  log: Logger,
  hooks: { onClash?: (err: DeploymentClash) => void } = {},
) => {
  const db = await openDb(databaseLocation(config), {
    waitMs: DB_START_WAIT_MS,
    onWait: (err) => log.warn({ err: (err as Error).message }, 'database unavailable at start; trying again'),
  })
  const deployment = await deploymentId(db).catch(async (err) => {
    await closeDb(db)
    throw err
  })
  const redis = connectRedis(config.REDIS_URL)
  redis.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'))
  const guard = guardDeployment({
    redis,
    prefix: config.REDIS_PREFIX,
    claimTtlMs: config.TEST_DEPLOYMENT_CLAIM_TTL_MS,
    deployment,
    log,
    onClash: (err) => {
      log.fatal(err.message)
      void stop().then(() => hooks.onClash?.(err))
    },
  })
  // Before the worker exists, so a process of the wrong deployment never takes a single job.
  await guard.first.catch(async (err) => {
    redis.disconnect()
    await closeDb(db)
    throw err
  })
  try {
    for (const warning of await redisSafetyWarnings(redis)) log.warn({ redis: redactUrl(config.REDIS_URL) }, warning)
  } catch (err) {
    // Managed Redis services often forbid CONFIG; the check is advice, not a requirement.
    log.warn({ err }, 'could not read Redis settings (CONFIG GET); check maxmemory-policy and persistence yourself')
  }

  const queue = createHibernationQueue(redis, config.REDIS_PREFIX, deployment)
  queue.on('error', (err) => log.warn({ err: err.message }, 'queue error'))
  const worker = new Worker<HibernationJob, void, 'complete'>(
    HIBERNATION_QUEUE,
    hibernationProcessor({
      db,
      publisher: createEventPublisher(redis, config.REDIS_PREFIX, deployment),
      log,
      deployment,
      foreignJob: () => void guard.check().catch(() => undefined),
      holdAfterCommitMs: config.TEST_HOLD_AFTER_COMMIT_MS,
    }),
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

  const reconciler = startReconciler({ db, queue, redis, log, owned: guard.check }, config.RECONCILE_INTERVAL_MS)
  const housekeeping = startHousekeeping({ db, log }, housekeepingOptions(config))
  const webhooks = await startWebhooks(config, { db, redis, log, owned: guard.check })
  log.info(
    {
      concurrency: config.WORKER_CONCURRENCY,
      prefix: config.REDIS_PREFIX,
      deployment,
      database: redactUrl(databaseLocation(config)),
      reconcileIntervalMs: config.RECONCILE_INTERVAL_MS,
    },
    'worker ready',
  )

  let stopped: Promise<'clean' | 'timed out'> | undefined
  /**
   * Lets in-flight jobs finish (commit, publish, ack), then closes every connection, within
   * `SHUTDOWN_TIMEOUT_MS`: commands wait for Redis without limit (maxRetriesPerRequest: null),
   * so past it the sockets are cut. Jobs cut off stay active and run again after their lock expires.
   * Closing the database counts against the same limit (a PostgreSQL pool waits for its queries).
   */
  const stop = () => {
    stopped ??= (async () => {
      const deadline = Date.now() + config.SHUTDOWN_TIMEOUT_MS
      guard.stop()
      const graceful = (async () => {
        await reconciler.stop()
        await housekeeping.stop()
        await webhooks.stop()
        await worker.close()
        await queue.close()
        await redis.quit()
      })()
      const outcome = await within(deadline - Date.now(), graceful)
      if (outcome === 'timed out') {
        log.warn(
          { timeoutMs: config.SHUTDOWN_TIMEOUT_MS },
          'shutdown timed out (Redis unreachable?); unacknowledged jobs run again once their lock expires',
        )
      }
      redis.disconnect()
      await within(Math.max(0, deadline - Date.now()), closeDb(db))
      return outcome
    })()
    return stopped
  }
  return { worker, queue, redis, db, reconciler, webhooks, stop }
}

const within = (ms: number, work: Promise<unknown>) =>
  new Promise<'clean' | 'timed out'>((resolve) => {
    const timer = setTimeout(() => resolve('timed out'), ms)
    void work
      .catch(() => undefined)
      .then(() => {
        clearTimeout(timer)
        resolve('clean')
      })
  })
