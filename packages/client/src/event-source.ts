import type { StreamFrame } from './state.js'

export const EVENT_TYPES = ['snapshot', 'user.updated', 'transaction.created', 'hibernation.completed'] as const

export type SourceOptions = {
  url: string
  /** Read at each (re)connect: a new EventSource resumes after this id (sent back as it came). */
  lastEventId: () => string | null
  onFrame: (frame: StreamFrame) => void
  onConnection: (state: 'live' | 'reconnecting') => void
  /** The session is gone (checked when the browser gave up on the stream). */
  onUnauthorized: () => void
  /** Whose session the cookie holds now (learnt by the same check), before reconnecting. */
  onSessionUser?: (userId: string) => void
  /** Where to ask whether the session is still valid; default `/api/me`. */
  sessionUrl?: string
  backoff?: { baseMs: number; maxMs: number }
}

/** Full jitter: uniformly between half and all of the exponential step, capped. */
export const backoffDelay = (attempt: number, baseMs: number, maxMs: number, random = Math.random) => {
  const step = Math.min(maxMs, baseMs * 2 ** attempt)
  return Math.round(step / 2 + random() * (step / 2))
}

/**
 * One EventSource that never stays dead. The browser reconnects by itself after a dropped
 * connection (with Last-Event-ID); it gives up for good on an HTTP error (a 502 from a proxy
 * while the API restarts, a 401). Then we ask the API whether the session is still valid:
 * a 401 ends it, anything else recreates the EventSource after a backoff, resuming after
 * the last id we saw so no event is lost.
 */
export const openResilientSource = (options: SourceOptions) => {
  const { baseMs, maxMs } = options.backoff ?? { baseMs: 500, maxMs: 15_000 }
  let source: EventSource | null = null
  let timer: ReturnType<typeof setTimeout> | undefined
  let attempt = 0
  let closed = false

  const connect = () => {
    if (closed) return
    const last = options.lastEventId()
    const sep = options.url.includes('?') ? '&' : '?'
    const es = new EventSource(
      last === null ? options.url : `${options.url}${sep}lastEventId=${encodeURIComponent(last)}`,
      {
        withCredentials: true,
      },
    )
    source = es
    for (const type of EVENT_TYPES) {
      es.addEventListener(type, (e) => {
        const { data, lastEventId } = e as MessageEvent<string>
        let parsed: unknown
        try {
          parsed = JSON.parse(data)
        } catch {
          return
        }
        // A frame without `id:` reports the previous id: harmless, ids only move forward.
        const id = lastEventId === '' ? undefined : lastEventId
        options.onFrame({ type, id, data: parsed } as StreamFrame)
      })
    }
    es.onopen = () => {
      attempt = 0
      options.onConnection('live')
    }
    es.onerror = () => {
      if (closed) return
      options.onConnection('reconnecting')
      if (es.readyState === EventSource.CLOSED) void giveUp(es)
    }
  }

  const giveUp = async (es: EventSource) => {
    es.close()
    if (source !== es) return
    source = null
    try {
      const res = await fetch(options.sessionUrl ?? '/api/me', { credentials: 'same-origin', cache: 'no-store' })
      if (res.status === 401) {
        closed = true
        options.onUnauthorized()
        return
      }
      if (res.ok) {
        const body = (await res.json().catch(() => null)) as { user?: { id?: unknown } } | null
        if (typeof body?.user?.id === 'string') options.onSessionUser?.(body.user.id)
      }
    } catch {
      // The API is unreachable: retry below like any other failure.
    }
    if (closed) return
    timer = setTimeout(connect, backoffDelay(attempt++, baseMs, maxMs))
  }

  connect()
  return {
    close: () => {
      closed = true
      clearTimeout(timer)
      source?.close()
      source = null
    },
  }
}
