export type SseFrame = {
  id?: string
  event: string
  data: unknown
  retry?: number
  /** A `: ping` style comment line rather than an event. */
  comment?: string
}

/**
 * An SSE id as our servers write it, `<epoch>:<n>` (or a bare `<n>`): the epoch of the
 * database's positions and the event's position. Throws on anything else, so a test never
 * compares ids it did not understand.
 */
export const parseStreamId = (id: string | undefined): { epoch: string | undefined; position: number } => {
  const match = /^(?:([0-9a-z]+):)?(\d+)$/.exec(id ?? '')
  if (!match) throw new Error(`not an SSE id of ours: ${id}`)
  return { epoch: match[1], position: Number(match[2]) }
}

/** The position an SSE id names (see `parseStreamId`). */
export const streamPosition = (id: string | undefined) => parseStreamId(id).position

type Waiter = { predicate: (frames: SseFrame[]) => boolean; resolve: () => void }

/**
 * A test client that records every frame of one SSE response, in order, comments
 * included, so tests can assert on exact sequences. Waits are on frames, not on time.
 */
export class SseRecorder {
  readonly frames: SseFrame[] = []
  status = 0
  headers = new Headers()
  ended = false
  private readonly controller = new AbortController()
  private waiters: Waiter[] = []
  private endWaiters: (() => void)[] = []
  readonly opened: Promise<void>

  constructor(
    url: string,
    init: { cookie?: string; lastEventId?: number | string; headers?: Record<string, string> } = {},
  ) {
    const headers: Record<string, string> = { Accept: 'text/event-stream', ...init.headers }
    if (init.cookie) headers.Cookie = init.cookie
    if (init.lastEventId !== undefined) headers['Last-Event-ID'] = String(init.lastEventId)
    this.opened = fetch(url, { headers, signal: this.controller.signal }).then((res) => {
      this.status = res.status
      this.headers = res.headers
      if (!res.body) return this.finish()
      void this.read(res.body)
    })
    this.opened.catch(() => this.finish())
  }

  /** Events only (no comments), optionally of one type. */
  events(type?: string) {
    return this.frames.filter((f) => f.comment === undefined && (type === undefined || f.event === type))
  }

  /** Resolves when `predicate` holds for the frames received so far. */
  until(predicate: (frames: SseFrame[]) => boolean, timeoutMs = 10_000, what = 'frames') {
    if (predicate(this.frames)) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter)
        reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.frames.map((f) => f.event))}`))
      }, timeoutMs)
      const waiter: Waiter = {
        predicate,
        resolve: () => {
          clearTimeout(timer)
          resolve()
        },
      }
      this.waiters.push(waiter)
    })
  }

  /** Resolves once `count` events (comments excluded) of `type` have arrived. */
  untilEvents(count: number, type?: string, timeoutMs = 10_000) {
    return this.until(() => this.events(type).length >= count, timeoutMs, `${count} ${type ?? 'events'}`)
  }

  /** Resolves when the server ends the response. */
  closedByServer(timeoutMs = 10_000) {
    if (this.ended) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('stream was not closed by the server')), timeoutMs)
      this.endWaiters.push(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }

  close() {
    this.controller.abort()
  }

  /** Until `resume`, reads nothing more: the server's writes back up, as with a client that hung. */
  pause() {
    this.gate ??= new Promise<void>((resolve) => {
      this.open = resolve
    })
  }

  resume() {
    this.open()
    this.gate = undefined
  }

  private gate: Promise<void> | undefined
  private open = () => {}

  private async read(body: ReadableStream<Uint8Array>) {
    const decoder = new TextDecoder()
    let buffer = ''
    try {
      for await (const chunk of body) {
        if (this.gate) await this.gate
        buffer += decoder.decode(chunk, { stream: true })
        // One pass over the chunk (slicing the rest off after each frame was quadratic in
        // its size, which a long replay made noticeable in the test process itself).
        let start = 0
        let boundary = buffer.indexOf('\n\n')
        while (boundary !== -1) {
          this.push(buffer.slice(start, boundary))
          start = boundary + 2
          boundary = buffer.indexOf('\n\n', start)
        }
        buffer = buffer.slice(start)
      }
    } catch {
      // aborted by close() or the connection dropped
    }
    this.finish()
  }

  private push(block: string) {
    const frame: SseFrame = { event: 'message', data: undefined }
    const data: string[] = []
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) frame.comment = line.slice(1).trim()
      const colon = line.indexOf(':')
      const field = colon === -1 ? line : line.slice(0, colon)
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '')
      if (field === 'id') frame.id = value
      else if (field === 'event') frame.event = value
      else if (field === 'data') data.push(value)
      else if (field === 'retry') frame.retry = Number(value)
    }
    if (data.length) frame.data = JSON.parse(data.join('\n'))
    if (frame.comment !== undefined) frame.event = 'comment'
    this.frames.push(frame)
    this.waiters = this.waiters.filter((w) => {
      if (!w.predicate(this.frames)) return true
      w.resolve()
      return false
    })
  }

  private finish() {
    if (this.ended) return
    this.ended = true
    for (const resolve of this.endWaiters) resolve()
    this.endWaiters = []
  }
}
