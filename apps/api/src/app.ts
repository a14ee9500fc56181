import type { OpenAPIHono } from '@hono/zod-openapi'
import { SESSION_COOKIE } from './auth/session.js'
import type { AppEnv } from './context.js'
import type { Deps } from './deps.js'
import { errorBody, toErrorResponse } from './errors.js'
import { closeOnUnreadBody, jsonBodiesOnly, limitBody, requestContext, sameOrigin } from './middleware.js'
import { router } from './router.js'
import { authRoutes } from './routes/auth.js'
import { mountBullBoard } from './routes/bull-board.js'
import { docsRoutes } from './routes/docs.js'
import { eventsRoutes } from './routes/events.js'
import { meRoutes } from './routes/me.js'
import { permissionsRoutes } from './routes/permissions.js'
import { systemRoutes } from './routes/system.js'
import { usersRoutes } from './routes/users.js'
import { webhooksRoutes } from './routes/webhooks.js'
import { noStore, securityHeaders } from './secure-headers.js'
import { DEFAULT_WEB_DIST, webRoutes } from './web.js'

/** Builds the HTTP app; no I/O happens here, so tests build it with real deps and call it. */
export const createApp = (deps: Deps, extra: { mount?: (app: OpenAPIHono<AppEnv>) => void } = {}) => {
  const app = router()
  app.onError(toErrorResponse(deps.log))
  app.use('*', requestContext(deps.log, deps.metrics))
  // Streams first: they write the Node response themselves, so no later middleware may touch it.
  app.route('/', eventsRoutes(deps))
  app.use('*', securityHeaders({ crossOriginEmbedderPolicy: false }))
  app.use('/api/*', noStore, closeOnUnreadBody, sameOrigin, jsonBodiesOnly, limitBody)

  app.route('/api/auth', authRoutes(deps))
  app.route('/api/me', meRoutes(deps))
  app.route('/api/permissions', permissionsRoutes(deps))
  app.route('/api/users', usersRoutes(deps))
  app.route('/api/webhooks', webhooksRoutes(deps))
  app.route('/', systemRoutes(deps))

  app.openAPIRegistry.registerComponent('securitySchemes', 'session', {
    type: 'apiKey',
    in: 'cookie',
    name: SESSION_COOKIE,
  })
  app.doc31('/api/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Dormant API',
      version: '1.0.0',
      description: 'Per-user state pushed over Server-Sent Events. Streams: GET /api/events, GET /api/admin/events.',
    },
  })
  app.route('/', docsRoutes())
  mountBullBoard(app, deps)
  extra.mount?.(app)

  app.all('/api/*', (c) => c.json(errorBody('not_found', 'no such route'), 404))
  app.route('/', webRoutes(deps.config.WEB_DIST ?? DEFAULT_WEB_DIST))
  return app
}

export type App = ReturnType<typeof createApp>
