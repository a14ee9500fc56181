import type { ErrorCode, Logger } from '@dormant/core'
import type { Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'

export type { ErrorCode }

const STATUS: Record<ErrorCode, ContentfulStatusCode> = {
  validation_failed: 400,
  invalid_json: 400,
  unauthorized: 401,
  invalid_credentials: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  unavailable: 503,
  internal: 500,
}

/** The generic code of each status (the first listed), for errors raised by Hono itself. */
const CODE_OF_STATUS: Partial<Record<number, ErrorCode>> = {}
for (const [code, status] of Object.entries(STATUS) as [ErrorCode, number][]) CODE_OF_STATUS[status] ??= code

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message)
  }

  get status() {
    return STATUS[this.code]
  }
}

export const errorBody = (code: ErrorCode, message: string, details?: unknown) => ({
  error: details === undefined ? { code, message } : { code, message, details },
})

/** The one place errors become responses. Unexpected errors are logged, never leaked. */
export const toErrorResponse = (log: Logger) => (err: Error, c: Context) => {
  if (err instanceof AppError) return c.json(errorBody(err.code, err.message, err.details), err.status)
  if (err instanceof HTTPException) {
    const status = err.status as ContentfulStatusCode
    const code = /json/i.test(err.message) && status === 400 ? 'invalid_json' : (CODE_OF_STATUS[status] ?? 'internal')
    return c.json(errorBody(code, err.message || code.replaceAll('_', ' ')), status)
  }
  if (databaseUnavailable(err)) {
    log.error({ err, requestId: c.get('requestId') }, 'database unavailable')
    return c.json(errorBody('unavailable', 'the database is unavailable; try again shortly'), 503)
  }
  if (databaseRejectedValue(err)) {
    log.warn({ err, requestId: c.get('requestId') }, 'database rejected a value of the request')
    return c.json(
      errorBody('validation_failed', 'a value cannot be stored: text holding NUL characters, or a number out of range'),
      400,
    )
  }
  log.error({ err, requestId: c.get('requestId') }, 'unhandled error')
  return c.json(errorBody('internal', 'internal server error'), 500)
}

const UNAVAILABLE_SQLITE = /^SQLITE_(BUSY|LOCKED|CANTOPEN|IOERR|FULL|READONLY|NOTADB|CORRUPT)/

/**
 * PostgreSQL: connection exceptions (class 08), too many connections, the server shutting
 * down or starting; and the socket errors of a server that cannot be reached.
 */
const UNAVAILABLE_POSTGRES = /^(08...|53300|57P0[123]|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND)$/

/** What node-postgres says when its pool or connection is gone, with no code to go by. */
const UNAVAILABLE_MESSAGE =
  /^(The database connection is not open|Cannot use a pool after calling end on the pool|Connection terminated( unexpectedly)?|timeout exceeded when trying to connect)$/

/**
 * Errors that mean "the database cannot serve now" (locked past busy_timeout, disk gone or
 * full, connection closed or refused) rather than a bug: the contract's 503. Drizzle may
 * wrap them.
 */
const databaseUnavailable = (err: unknown): boolean =>
  causes(err).some((e) => {
    const code = (e as { code?: unknown }).code
    return (
      (typeof code === 'string' && (UNAVAILABLE_SQLITE.test(code) || UNAVAILABLE_POSTGRES.test(code))) ||
      UNAVAILABLE_MESSAGE.test(e.message)
    )
  })

/**
 * PostgreSQL refusing a value the client sent, which SQLite stores: a NUL character in text
 * (22021) or in jsonb (22P05), a number beyond its column's range (22003). The client's
 * fault, not the server's: the contract's 400, whatever route let the value through
 * (tests/fuzz/routes.test.ts checks such a rejected request writes nothing).
 */
const REJECTED_VALUE_POSTGRES = new Set(['22021', '22P05', '22003'])

const databaseRejectedValue = (err: unknown): boolean =>
  causes(err).some((e) => REJECTED_VALUE_POSTGRES.has(String((e as { code?: unknown }).code)))

/** The error and the causes it wraps (Drizzle wraps the driver's error), at most three. */
const causes = (err: unknown): Error[] => {
  const chain: Error[] = []
  for (let e = err; e instanceof Error && chain.length < 3; e = e.cause) chain.push(e)
  return chain
}
