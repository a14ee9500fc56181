import { commonEnv, loadConfig, msSetting } from '@dormant/core'
import { z } from 'zod'

export const workerEnv = {
  ...commonEnv,
  /** `postgres://…`: PostgreSQL instead of the SQLite file at `DB_PATH` (several hosts, one database). */
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/, error: 'expected a postgres:// URL' }).optional(),
  /** How often the DB and the queue are compared; a lost job is re-created within this. */
  RECONCILE_INTERVAL_MS: msSetting(60_000, 100),
  /**
   * Jobs run at once by this process. They mostly wait on Redis, and the ones running
   * together share one transaction and one publish (group commit), so more is cheaper:
   * 50 completes about 2,500 timers a second on two cores, 10 about 1,500.
   */
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(50),
  /**
   * A job's lock lifetime, and the stalled-job check period. After a crash (`kill -9`) its
   * in-flight jobs run again within about twice this; shorter means more lock renewals.
   */
  JOB_LOCK_MS: msSetting(30_000, 1000, 600_000),
  /** Events older than this are pruned (by one worker); a client further behind gets a reset snapshot. */
  EVENTS_RETENTION_MS: msSetting(7 * 24 * 3600 * 1000, 1000),
  /**
   * How long SIGTERM waits for in-flight jobs before the process exits anyway (Redis
   * unreachable: an acknowledgement can wait forever). A job cut off that way stays active in
   * Redis, runs again once its lock expires, and the completion guard makes that a no-op.
   */
  SHUTDOWN_TIMEOUT_MS: msSetting(6000, 100, 600_000),
  /**
   * For tests only: wait this long between a batch's commit and its publish and acknowledgement,
   * so a test can kill the worker in exactly that window. 0 (the default) in production.
   */
  TEST_HOLD_AFTER_COMMIT_MS: msSetting(0, 0, 600_000),
  /** `true` lets webhooks reach loopback and private addresses (tests, self-hosted receivers). */
  WEBHOOK_ALLOW_PRIVATE: z
    .enum(['true', 'false', '1', '0'])
    .transform((v) => v === 'true' || v === '1')
    .default(false),
  /** Whole-request limit of one webhook attempt. */
  WEBHOOK_TIMEOUT_MS: msSetting(10_000, 100, 120_000),
  /** How long a webhook delivery is retried before it is failed and its endpoint disabled. */
  WEBHOOK_RETRY_WINDOW_MS: msSetting(3 * 24 * 3600_000, 1000),
  /** Fallback period of the webhook dispatcher (it also wakes on every committed event). */
  WEBHOOK_DISPATCH_INTERVAL_MS: msSetting(5_000, 50),
  WEBHOOK_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(50),
}

export type WorkerConfig = ReturnType<typeof loadWorkerConfig>

export const loadWorkerConfig = (env: Record<string, string | undefined> = process.env) => loadConfig(workerEnv, env)

/** What `openDb` opens: PostgreSQL when `DATABASE_URL` is set, else the SQLite file. */
export const databaseLocation = (config: Pick<WorkerConfig, 'DATABASE_URL' | 'DB_PATH'>) =>
  config.DATABASE_URL ?? config.DB_PATH

/** The database as it may appear in logs: a URL without its password. */
export const describeDatabase = (location: string) => {
  if (!URL.canParse(location) || !new URL(location).password) return location
  const url = new URL(location)
  url.password = '***'
  return url.toString()
}
