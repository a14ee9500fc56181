import { getConnInfo } from '@hono/node-server/conninfo'
import type { Context } from 'hono'
import { Hono } from 'hono'
import type { AppEnv } from '../context.js'
import type { Deps } from '../deps.js'
import { AppError } from '../errors.js'

const PING_TIMEOUT_MS = 1000

const redisUp = async (deps: Deps) => {
  if (deps.redis.status !== 'ready') return false
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS)
  })
  try {
    return await Promise.race([deps.redis.ping().then((r) => r === 'PONG'), timeout])
  } catch {
    return false
  } finally {
    clearTimeout(timer)
  }
}

const dbUp = (deps: Deps) => {
  try {
    return deps.db.$client.prepare('select 1 as ok').get() !== undefined
  } catch {
    return false
  }
}

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
      const redis = (await redisUp(deps)) ? 'up' : 'down'
      const db = dbUp(deps) ? 'up' : 'down'
      const ok = redis === 'up' && db === 'up'
      return c.json({ ok, redis, db }, ok ? 200 : 503)
    })
    .get('/metrics', async (c) => {
      if (!fromThisHost(c)) throw new AppError('forbidden', 'metrics are served to this host only')
      return c.text(await deps.metrics.registry.metrics(), 200, { 'Content-Type': deps.metrics.registry.contentType })
    })
