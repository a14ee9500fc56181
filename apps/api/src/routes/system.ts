import { ping } from '@dormant/db'
import { getConnInfo } from '@hono/node-server/conninfo'
import type { Context } from 'hono'
import { Hono } from 'hono'
import type { AppEnv } from '../context.js'
import type { Deps } from '../deps.js'
import { AppError } from '../errors.js'

const PING_TIMEOUT_MS = 1000

/** True when `check` answers true within PING_TIMEOUT_MS: a health check never hangs on a dead peer. */
const answers = async (check: () => Promise<boolean>) => {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS)
  })
  try {
    return await Promise.race([check(), timeout])
  } catch {
    return false
  } finally {
    clearTimeout(timer)
  }
}

const redisUp = (deps: Deps) =>
  deps.redis.status === 'ready' && answers(async () => (await deps.redis.ping()) === 'PONG')

const dbUp = (deps: Deps) => answers(() => ping(deps.db))

const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/

/** Metrics are for whoever runs the host, not for the internet the API may face. */
const fromThisHost = (c: Context<AppEnv>) => {
  try {
    return LOOPBACK.test(getConnInfo(c).remote.address ?? '')
  } catch {
    return false
  }
}

export const systemRoutes = (deps: Deps) =>
  new Hono<AppEnv>()
    .get('/healthz', async (c) => {
      // Leaving: not ready, whatever its connections' state, so no dependency is reported.
      if (deps.lifecycle.draining) return c.json({ ok: false, draining: true }, 503)
      const [redisOk, dbOk] = await Promise.all([redisUp(deps), dbUp(deps)])
      const redis = redisOk ? 'up' : 'down'
      const db = dbOk ? 'up' : 'down'
      const ok = redis === 'up' && db === 'up'
      return c.json({ ok, redis, db }, ok ? 200 : 503)
    })
    .get('/metrics', async (c) => {
      if (!fromThisHost(c)) throw new AppError('forbidden', 'metrics are served to this host only')
      return c.text(await deps.metrics.registry.metrics(), 200, { 'Content-Type': deps.metrics.registry.contentType })
    })
