import { randomUUID } from 'node:crypto'
import type { Logger } from '@dormant/core'
import { bodyLimit } from 'hono/body-limit'
import { createMiddleware } from 'hono/factory'
import type { AppEnv } from './context.js'
import type { Deps } from './deps.js'
import { AppError } from './errors.js'

export const MAX_BODY_BYTES = 64 * 1024

/**
 * A request id (taken from a proxy's X-Request-Id when sane) and a child logger per request.
 * Kept cheap, since every request pays it: the child logger is made on first use (pino
 * serialises its bindings when made), the id header goes on the Node response before the
 * route runs (set on Hono's finished Response, it makes the adapter rebuild the response
 * around a stream), and the duration histogram's labelled child is looked up once per label set.
 */
export const requestContext = (log: Logger, metrics: Deps['metrics']) => {
  const observers = new Map<string, { observe(seconds: number): void }>()
  const observe = (method: string, route: string, status: number, seconds: number) => {
    const key = `${method} ${status} ${route}`
    let observer = observers.get(key)
    if (!observer) {
      observer = metrics.httpDuration.labels({ method, route, status: String(status) })
      observers.set(key, observer)
    }
    observer.observe(seconds)
  }
  return createMiddleware<AppEnv>(async (c, next) => {
    const incoming = c.req.header('x-request-id')
    const requestId = incoming && /^[\w-]{1,64}$/.test(incoming) ? incoming : randomUUID()
    c.set('requestId', requestId)
    c.set('log', lazyChild(log, requestId))
    const outgoing = c.env?.outgoing
    outgoing?.setHeader('X-Request-Id', requestId)
    const started = performance.now()
    await next()
    const seconds = (performance.now() - started) / 1000
    observe(c.req.method, c.req.routePath || 'unmatched', c.res.status, seconds)
    // A stream owns its Node response; touching Hono's response would write headers twice.
    if (c.res.headers.has('x-hono-already-sent')) return
    if (!outgoing) c.header('X-Request-Id', requestId)
    if (log.isLevelEnabled('debug')) {
      log.debug(
        { requestId, method: c.req.method, path: c.req.path, status: c.res.status, ms: seconds * 1000 },
        'request',
      )
    }
  })
}

/** `log.child({ requestId })`, made when first used: most requests never log. */
const lazyChild = (log: Logger, requestId: string): Logger => {
  let child: Logger | undefined
  return new Proxy(log, {
    get(_, key) {
      child ??= log.child({ requestId })
      const value = Reflect.get(child, key, child)
      return typeof value === 'function' ? value.bind(child) : value
    },
  })
}

const hasBody = (headers: Headers) => headers.has('transfer-encoding') || Number(headers.get('content-length') ?? 0) > 0

/**
 * Bodies are JSON only. Refusing other types also stops cross-site HTML forms, which can
 * only send form or text bodies, from reaching any mutating route — even an empty form,
 * whose request has no body but still names a form content type.
 */
export const jsonBodiesOnly = createMiddleware<AppEnv>(async (c, next) => {
  const headers = c.req.raw.headers
  if (hasBody(headers) || (!SAFE_METHODS.has(c.req.method) && headers.has('content-type'))) {
    const type = c.req.header('content-type') ?? ''
    if (!/^application\/json\s*(;|$)/i.test(type)) {
      throw new AppError('unsupported_media_type', 'request bodies must be application/json')
    }
  }
  await next()
})

/**
 * A request refused before its body was read (413, 415, 401…) leaves unread bytes on the
 * connection; the Node adapter drains them briefly and then drops the socket, which a client
 * reusing the keep-alive connection would see as a reset. Saying `Connection: close` up front
 * makes it open a fresh connection instead.
 */
export const closeOnUnreadBody = createMiddleware<AppEnv>(async (c, next) => {
  await next()
  const incoming = c.env?.incoming
  if (incoming && !incoming.readableEnded && hasBody(c.req.raw.headers) && c.res.status >= 400) {
    c.res.headers.set('Connection', 'close')
  }
})

const streamedBodyLimit = bodyLimit({
  maxSize: MAX_BODY_BYTES,
  onError: () => {
    throw new AppError('payload_too_large', `request bodies are limited to ${MAX_BODY_BYTES} bytes`)
  },
})

/**
 * Hono's bodyLimit asks for `c.req.raw.body` on every request, which makes the Node adapter
 * build a whole fetch Request (undici headers, body stream, AbortSignal): a fifth of an
 * authenticated GET's CPU, profiled. A declared Content-Length is judged from the Node
 * request's headers (Node's parser never delivers more than it declares); only a chunked
 * body, whose size is known only while reading, goes through bodyLimit.
 */
export const limitBody = createMiddleware<AppEnv>(async (c, next) => {
  const headers = c.env?.incoming?.headers
  if (!headers || headers['transfer-encoding']) return streamedBodyLimit(c, next)
  if (Number(headers['content-length'] ?? 0) > MAX_BODY_BYTES) {
    throw new AppError('payload_too_large', `request bodies are limited to ${MAX_BODY_BYTES} bytes`)
  }
  await next()
})

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * CSRF defence in depth beside SameSite=Lax: a browser always sends Origin on cross-site
 * mutating requests, so one that names another host is refused. Non-browser clients
 * (curl, servers) send no Origin and are unaffected.
 */
export const sameOrigin = createMiddleware<AppEnv>(async (c, next) => {
  if (!SAFE_METHODS.has(c.req.method)) {
    // Browsers that send Fetch Metadata say outright when a request is cross-site.
    if (c.req.header('sec-fetch-site') === 'cross-site') throw new AppError('forbidden', 'cross-origin request refused')
    const origin = c.req.header('origin')
    if (origin && origin !== 'null') {
      const host = c.req.header('x-forwarded-host') ?? c.req.header('host')
      let originHost: string | undefined
      try {
        originHost = new URL(origin).host
      } catch {
        originHost = undefined
      }
      if (!host || originHost !== host) throw new AppError('forbidden', 'cross-origin request refused')
    } else if (origin === 'null') {
      throw new AppError('forbidden', 'cross-origin request refused')
    }
  }
  await next()
})

const isEmptyObject = (value: unknown) =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 0

/**
 * G6 for every route, installed by `router()`: a body that is not JSON is refused (400
 * `invalid_json`) before any handler runs, and a route that declares no body refuses one
 * with fields (400 `validation_failed`), since its handler would otherwise ignore it and
 * write anyway. Routes that declare a body leave fields to their strict zod schema. An
 * empty body sent with `Content-Type: application/json` (what many clients send for "no
 * body") means `{}`; the validator then parses the cached `{}`.
 */
export const strictJsonBody = (declaresBody: boolean) =>
  createMiddleware<AppEnv>(async (c, next) => {
    if (!hasBody(c.req.raw.headers) && !c.req.header('content-type')) return next()
    const text = await c.req.text()
    if (text.trim() === '') {
      // Hono caches bodies as promises at runtime, though its type says otherwise.
      c.req.bodyCache.text = Promise.resolve('{}') as unknown as string
      return next()
    }
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      throw new AppError('invalid_json', 'the request body is not valid JSON')
    }
    if (!declaresBody && !isEmptyObject(body)) {
      throw new AppError('validation_failed', 'this route takes no request body (or an empty object)', [
        { path: [], message: 'unexpected body', code: 'unrecognized_keys' },
      ])
    }
    await next()
  })
