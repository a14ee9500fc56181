import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  connectRedis,
  createEventPublisher,
  createHibernationQueue,
  createLogger,
  createWebhookQueue,
  type DeploymentClash,
  databaseLocation,
  guardDeployment,
  type Logger,
  redactUrl,
} from '@dormant/core'
import { closeDb, DB_START_WAIT_MS, deploymentId, openDb } from '@dormant/db'
import { serve } from '@hono/node-server'
import { createApp } from './app.js'
import { createLoginLimiter } from './auth/rate-limit.js'
import { ensureAdmin } from './bootstrap.js'
import { answerClientErrors } from './client-error.js'
import type { Deps } from './deps.js'
import type { ApiConfig } from './env.js'
import { createMetrics } from './metrics.js'
import { StreamHub } from './sse/hub.js'
import { subscribeHub } from './sse/subscriber.js'

const LOGIN_WINDOW_MS = 15 * 60 * 1000
const REDIS_CLOSE_MS = 2000

const settledWithin = (ms: number, promises: Promise<unknown>[]) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms)
    void Promise.allSettled(promises).then(() => {
      clearTimeout(timer)
      resolve()
    })
  })

/** Opens the DB and Redis connections and wires them into the app's dependencies. */
export const createDeps = async (config: ApiConfig, log: Logger = createLogger('api', config.LOG_LEVEL)) => {
  const db = await openDb(databaseLocation(config), {
    waitMs: DB_START_WAIT_MS,
    onWait: (err) => log.warn({ err: (err as Error).message }, 'database unavailable at start; trying again'),
  })
  const deployment = await deploymentId(db)
  const redis = connectRedis(config.REDIS_URL)
  const subscriber = connectRedis(config.REDIS_URL)
  for (const conn of [redis, subscriber])
    conn.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'))
  const metrics = createMetrics()
  const hub = new StreamHub(db, log, config.SSE_HEARTBEAT_MS, {
    delivered: (n) => metrics.eventsDelivered.inc(n),
    overflowed: () => metrics.sseOverflows.inc(),
  })
  const deps: Deps = {
    config,
    db,
    redis,
    publisher: createEventPublisher(redis, config.REDIS_PREFIX, deployment),
    queue: createHibernationQueue(redis, config.REDIS_PREFIX, deployment),
    webhookQueue: createWebhookQueue(redis, config.REDIS_PREFIX),
    hub,
    log,
    metrics,
    lifecycle: { draining: false },
    limiters: {
      login: createLoginLimiter(db, {
        perAccount: config.LOGIN_LIMIT_PER_ACCOUNT,
        perAddress: config.LOGIN_LIMIT_PER_ADDRESS,
        windowMs: LOGIN_WINDOW_MS,
      }),
    },
  }
  for (const queue of [deps.queue, deps.webhookQueue])
    queue.on('error', (err) => log.warn({ err: err.message }, 'queue error'))
  return { deps, subscriber }
}

/**
 * While draining, every response ends its connection: a keep-alive connection closes right
 * after a response, when its peer expects it, never while a balancer may be sending on it.
 */
const closeWhenDraining = (server: Server, lifecycle: Deps['lifecycle']) => {
  // Before the app's listener, so the header is there whenever the app writes its head.
  server.prependListener('request', (_req, res) => {
    if (lifecycle.draining) res.setHeader('Connection', 'close')
  })
}

/**
 * The first step of a graceful shutdown behind a balancer: /healthz answers 503 while
 * requests (and streams) are still served, for `ms`, long enough for the balancer's health
 * check to take this process out. Only then does it stop listening and close connections,
 * so no request of the balancer's meets a closed connection or a refused one.
 */
const drain = async (deps: Deps, ms: number) => {
  deps.lifecycle.draining = true
  if (ms === 0) return
  deps.log.info({ ms }, 'draining')
  await new Promise((resolve) => setTimeout(resolve, ms))
}

export type RunningApi = Awaited<ReturnType<typeof startApi>>

const REDIS_START_WAIT_MS = 2000

/** Resolves true once the connection is ready, or false after `ms`. */
const redisReady = (redis: Deps['redis'], ms: number) =>
  new Promise<boolean>((resolve) => {
    if (redis.status === 'ready') return resolve(true)
    const ready = () => {
      clearTimeout(timer)
      resolve(true)
    }
    const timer = setTimeout(() => {
      redis.off('ready', ready)
      resolve(false)
    }, ms)
    redis.once('ready', ready)
  })

/**
 * Starts a whole API process's worth of machinery: connections, the hub's subscription and
 * the HTTP server; housekeeping (event pruning, expired sessions) is the worker's.
 * `stop()` is the graceful shutdown. Rejects with a `DeploymentClash` when another deployment
 * owns `REDIS_PREFIX`; `onClash` hears of one found later (the API has then stopped).
 */
export const startApi = async (
  config: ApiConfig,
  log?: Logger,
  hooks: { onClash?: (err: DeploymentClash) => void } = {},
) => {
  const { deps, subscriber } = await createDeps(config, log)
  // A clash can be found before the server is up (Redis arrived late): stop once `stop` exists.
  let clash: DeploymentClash | undefined
  let stopApi: (() => Promise<void>) | undefined
  const afterClash = async () => {
    if (!clash || !stopApi) return
    await stopApi()
    hooks.onClash?.(clash)
  }
  const clashed = (err: DeploymentClash) => {
    deps.log.fatal(err.message)
    clash = err
    void afterClash()
  }
  const guard = guardDeployment({
    redis: deps.redis,
    prefix: config.REDIS_PREFIX,
    claimTtlMs: config.TEST_DEPLOYMENT_CLAIM_TTL_MS,
    deployment: deps.queue.deployment,
    log: deps.log,
    onClash: clashed,
  })
  await ensureAdmin(deps)
  const app = createApp(deps)
  // A short wait at start, so "api listening" normally means Redis is connected too (a
  // health check right after start is true). Past it the API serves without Redis, and
  // /healthz says so, until it is back.
  if (!(await redisReady(deps.redis, REDIS_START_WAIT_MS))) {
    deps.log.warn({ redis: redactUrl(config.REDIS_URL) }, 'Redis is not reachable yet; serving without it until it is')
    guard.first.catch(clashed)
  } else {
    await guard.first.catch(async (err) => {
      guard.stop()
      subscriber.disconnect()
      deps.redis.disconnect()
      await closeDb(deps.db)
      throw err
    })
  }
  // Revocations and lost publishes reach streams within a heartbeat at most (G5).
  deps.hub.watchTable(Math.min(config.EVENTS_CHECK_MS, config.SSE_HEARTBEAT_MS))
  // Not awaited: the API serves (and reports Redis down on /healthz) while Redis is away.
  subscribeHub(subscriber, config.REDIS_PREFIX, deps.queue.deployment, deps.hub, deps.log).catch((err) =>
    deps.log.error({ err }, 'subscribe failed'),
  )

  const server = await new Promise<Server>((resolve) => {
    const s = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST }, () =>
      resolve(s as Server),
    ) as Server
  })
  answerClientErrors(server)
  closeWhenDraining(server, deps.lifecycle)
  // Longer than typical proxy idle timeouts (60 s), so the proxy closes first, never us mid-request.
  server.keepAliveTimeout = 65_000
  server.headersTimeout = 66_000
  server.requestTimeout = 0
  const { port } = server.address() as AddressInfo
  deps.log.info({ port, host: config.HOST, db: redactUrl(databaseLocation(config)) }, 'api listening')

  let stopped: Promise<void> | undefined
  /**
   * Drains (see `drain`), then stops accepting, ends every stream (clients reconnect
   * elsewhere) and closes connections.
   */
  const stop = () => {
    stopped ??= (async () => {
      await drain(deps, config.SHUTDOWN_DRAIN_MS)
      guard.stop()
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      deps.hub.closeAll()
      server.closeIdleConnections()
      const force = setTimeout(() => server.closeAllConnections(), 10_000)
      await closed
      clearTimeout(force)
      // Commands wait for Redis without limit (maxRetriesPerRequest: null), so a Redis that
      // is down would hold shutdown forever: give it a moment to flush, then cut the sockets.
      await settledWithin(REDIS_CLOSE_MS, [
        deps.queue.close(),
        deps.webhookQueue.close(),
        subscriber.quit(),
        deps.redis.quit(),
      ])
      subscriber.disconnect()
      deps.redis.disconnect()
      // Last: streams and requests are over, so nothing reads the database any more.
      await closeDb(deps.db).catch((err) => deps.log.warn({ err }, 'closing the database failed'))
    })()
    return stopped
  }
  stopApi = stop
  void afterClash()
  return { app, deps, server, port, url: `http://${config.HOST}:${port}`, stop }
}
