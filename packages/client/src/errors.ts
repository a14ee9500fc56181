import type { ErrorCode } from '@dormant/core'

/** Error codes the API returns, plus `network` when no response arrived at all. */
export type ApiErrorCode = ErrorCode | 'network' | 'http_error' | (string & {})

/** A failed API call: `status` is 0 when the request never got a response. */
export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly status: number,
    readonly details?: unknown,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

export const isApiError = (err: unknown, code?: ApiErrorCode): err is ApiError =>
  err instanceof ApiError && (code === undefined || err.code === code)
