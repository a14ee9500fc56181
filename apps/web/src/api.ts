import { createApiClient, isApiError } from '@dormant/client'

export const api = createApiClient()

/** A short, human message for a failed call. */
export const errorMessage = (err: unknown) => {
  if (isApiError(err, 'network')) return 'The server cannot be reached. Try again in a moment.'
  if (isApiError(err)) return err.message
  return err instanceof Error ? err.message : String(err)
}
