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
const databaseUnavailable = (err: unknown): boolean => {
  for (let e = err, depth = 0; e instanceof Error && depth < 3; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && (UNAVAILABLE_SQLITE.test(code) || UNAVAILABLE_POSTGRES.test(code))) return true
    if (UNAVAILABLE_MESSAGE.test(e.message)) return true
  }
  return false
}
