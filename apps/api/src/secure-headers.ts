import type { Context } from 'hono'
import { createMiddleware } from 'hono/factory'
import { secureHeaders } from 'hono/secure-headers'
import type { AppEnv } from './context.js'

type Options = Parameters<typeof secureHeaders>[0]

/** The headers Hono's secureHeaders sets with these options, found once by running it. */
const headersOf = async (options: Options) => {
  const headers = new Headers()
  const probe = { res: { headers } } as unknown as Context
  await secureHeaders(options)(probe, async () => {})
  return [...headers]
}

/**
 * Hono's secureHeaders, set where they cost least. Hono sets them on the finished Response,
 * which makes the adapter rebuild it around a body stream (chunked, written in pieces): with
 * the request id, about half of a small request's CPU, profiled. On Node they are set on the
 * Node response before the route runs, and `writeHead` merges them in; a header the route
 * sets itself wins. Without a Node response (`app.request` in tests) Hono's own middleware runs.
 */
export const securityHeaders = (options: Options) => {
  const fallback = secureHeaders(options)
  let list: [string, string][] | undefined
  const ready = headersOf(options).then((l) => {
    list = l
  })
  return createMiddleware<AppEnv>(async (c, next) => {
    const outgoing = c.env?.outgoing
    if (!outgoing) return fallback(c, next)
    if (!list) await ready
    for (const [name, value] of list ?? []) outgoing.setHeader(name, value)
    await next()
  })
}

/**
 * API answers carry one person's data: `no-store` keeps them out of the browser's cache, so
 * another person on the same browser (back button, a restored tab) never gets them from it.
 */
export const noStore = createMiddleware<AppEnv>(async (c, next) => {
  const outgoing = c.env?.outgoing
  if (outgoing) outgoing.setHeader('Cache-Control', 'no-store')
  await next()
  if (!outgoing && !c.res.headers.has('Cache-Control')) c.header('Cache-Control', 'no-store')
})
