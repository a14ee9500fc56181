import type { ErrorCode, Logger } from '@dormant/core'
import { databaseRejectedValue, databaseUnavailable } from '@dormant/db'
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
