import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { createBullBoard } from '@bull-board/api'
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter'
import { HonoAdapter } from '@bull-board/hono'
import { serveStatic } from '@hono/node-server/serve-static'
import type { Hono } from 'hono'
import { createMiddleware } from 'hono/factory'
import { loadSession } from '../auth/session.js'
import type { AppEnv } from '../context.js'
import type { Deps } from '../deps.js'
import { AppError } from '../errors.js'
import { jsonBodiesOnly, limitBody, sameOrigin } from '../middleware.js'

export const BULL_BOARD_PATH = '/admin/queues'

/**
 * Bull Board computes its static root relative to the working directory once, when it
 * registers; an absolute root from the installed package works from any directory.
 */
const STATIC_ROOT = join(dirname(createRequire(import.meta.url).resolve('@bull-board/ui/package.json')), 'dist/static')

const staticFiles: typeof serveStatic = (options) => serveStatic({ ...options, root: STATIC_ROOT })

/** Admins only. A browser opening the page unsigned goes to /login; anything else gets JSON. */
const requireAdminPage = (deps: Pick<Deps, 'db'>) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const session = await loadSession(c, deps)
    if (!session) {
      const wantsPage = c.req.method === 'GET' && (c.req.header('accept') ?? '').includes('text/html')
      if (wantsPage) return c.redirect(`/login?next=${encodeURIComponent(c.req.path)}`, 302)
      throw new AppError('unauthorized', 'sign in first')
    }
    if (session.user.role !== 'admin') throw new AppError('forbidden', 'admins only')
    c.set('session', session)
    await next()
  })

/**
 * CSRF for Bull Board's write actions (retry, promote, clean, remove…). Its UI sends bodiless
 * PUTs without a custom header, so the guard is the Origin header, which browsers send on every
 * non-GET fetch: it must be present and name this host (and Sec-Fetch-Site, when sent, must be
 * same-origin). Scripts calling these routes must send a matching Origin. SameSite=Lax already
 * keeps the cookie off cross-site PUT/DELETE/POST; this holds even without it.
 */
const sameOriginWrites = createMiddleware<AppEnv>(async (c, next) => {
  if (c.req.method === 'GET' || c.req.method === 'HEAD') return next()
  const origin = c.req.header('origin')
  const site = c.req.header('sec-fetch-site')
  if (!origin || origin === 'null' || (site && site !== 'same-origin')) {
    throw new AppError('forbidden', 'write actions need a same-origin request (Origin header)')
  }
  return sameOrigin(c, next)
})

/** Mounts Bull Board for the hibernation and webhook queues at /admin/queues. */
export const mountBullBoard = (app: Hono<AppEnv>, deps: Pick<Deps, 'db' | 'queue' | 'webhookQueue'>) => {
  const adapter = new HonoAdapter(staticFiles).setBasePath(BULL_BOARD_PATH)
  createBullBoard({
    queues: [new BullMQAdapter(deps.queue), new BullMQAdapter(deps.webhookQueue)],
    serverAdapter: adapter,
    options: { uiConfig: { boardTitle: 'Dormant timers' } },
  })
  app.use(BULL_BOARD_PATH, requireAdminPage(deps))
  app.use(`${BULL_BOARD_PATH}/*`, requireAdminPage(deps))
  app.use(`${BULL_BOARD_PATH}/api/*`, sameOriginWrites, jsonBodiesOnly, limitBody)
  app.route(BULL_BOARD_PATH, adapter.registerPlugin())
}
