import { OpenAPIHono } from '@hono/zod-openapi'
import type { MiddlewareHandler } from 'hono'
import type { AppEnv } from './context.js'
import { AppError } from './errors.js'
import { strictJsonBody } from './middleware.js'

type Issue = { path: PropertyKey[]; message: string; code: string }

/** Validation failures of any route become our error shape, with zod's issues as details. */
const validationHook = (result: { success: boolean; error?: { issues: unknown[] } }) => {
  if (result.success) return
  const issues = (result.error?.issues ?? []) as Issue[]
  throw new AppError(
    'validation_failed',
    issues.map((i) => `${i.path.map(String).join('.') || '(body)'}: ${i.message}`).join('; ') || 'invalid request',
    issues.map((i) => ({ path: i.path.map(String), message: i.message, code: i.code })),
  )
}

/**
 * A documented router whose routes all pass through `guard` (authentication) first, then
 * through the body rules (`strictJsonBody`): every route gets them here, so a new route
 * cannot forget them, whether or not it declares a body.
 */
export const router = (guard?: MiddlewareHandler<AppEnv>) => {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  if (guard) app.use('*', guard)
  const openapi = app.openapi
  app.openapi = ((route, ...rest) => {
    const own =
      route.middleware === undefined ? [] : Array.isArray(route.middleware) ? route.middleware : [route.middleware]
    const bodyRules = strictJsonBody(route.request?.body !== undefined)
    return openapi({ ...route, middleware: [bodyRules, ...own] }, ...rest)
  }) as typeof app.openapi
  return app
}
