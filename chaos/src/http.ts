export type CallInit = { method?: string; cookie?: string; json?: unknown }
export type CallResult = { status: number; body: Record<string, unknown>; cookie: string | undefined }

/** One JSON call to one API; status 0 when it could not be reached or did not answer in 5 s. */
export const callApi = async (base: string, path: string, init: CallInit = {}): Promise<CallResult> => {
  const headers: Record<string, string> = {}
  if (init.cookie) headers.cookie = init.cookie
  if (init.json !== undefined) headers['content-type'] = 'application/json'
  try {
    const res = await fetch(`${base}${path}`, {
      method: init.method ?? 'GET',
      headers,
      body: init.json === undefined ? undefined : JSON.stringify(init.json),
      signal: AbortSignal.timeout(5000),
    })
    const text = await res.text()
    const body = text ? (JSON.parse(text) as Record<string, unknown>) : {}
    return { status: res.status, body, cookie: res.headers.getSetCookie()[0]?.split(';')[0] }
  } catch {
    return { status: 0, body: {}, cookie: undefined }
  }
}

export type Outcome = 'ok' | 'conflict' | 'forbidden' | 'refused' | `status ${number}`

/** How an operation ended, for the table of operations. */
export const outcome = (status: number): Outcome => {
  if (status >= 200 && status < 300) return 'ok'
  if (status === 409) return 'conflict'
  if (status === 403) return 'forbidden'
  return status === 0 ? 'refused' : `status ${status}`
}
