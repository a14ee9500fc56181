import { request } from 'node:http'
import type { Connection, Frame } from './history.js'

export type StreamHandle = {
  conn: Connection
  /** Resolves once the response status is known (0 when the connection failed). */
  opened: Promise<number>
  /** Resolves when the stream ends, whoever ended it. */
  ended: Promise<void>
  close(): void
  /** Stops reading: the server's buffer fills, as with a client that hung. */
  stall(): void
}

/**
 * A small SSE client over node:http that records every event frame with its arrival time.
 * Comments (heartbeats) are parsed and dropped.
 */
export const openStream = (url: string, conn: Connection, onFrame: (frame: Frame) => void = () => {}): StreamHandle => {
  const headers: Record<string, string> = { accept: 'text/event-stream', cookie: conn.cookie }
  if (conn.lastEventId !== undefined) headers['last-event-id'] = conn.lastEventId
  let endResolve: () => void = () => {}
  const ended = new Promise<void>((resolve) => {
    endResolve = resolve
  })
  let closing = false
  const finish = () => {
    if (conn.closedAt !== undefined) return
    conn.closedAt = Date.now()
    conn.closedBy = closing ? 'client' : 'server'
    endResolve()
  }
  let statusResolve: (s: number) => void = () => {}
  const opened = new Promise<number>((resolve) => {
    statusResolve = resolve
  })
  let response: { pause(): void } | undefined
  const req = request(url, { headers, agent: false }, (res) => {
    response = res
    conn.status = res.statusCode ?? 0
    statusResolve(conn.status)
    res.setEncoding('utf8')
    let buffer = ''
    res.on('data', (chunk: string) => {
      buffer += chunk
      for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
        const frame = parse(buffer.slice(0, end))
        buffer = buffer.slice(end + 2)
        if (frame && conn.status === 200) {
          conn.frames.push(frame)
          onFrame(frame)
        }
      }
    })
    res.on('close', finish)
    res.on('error', finish)
  })
  req.on('error', () => {
    statusResolve(0)
    finish()
  })
  req.end()
  return {
    conn,
    opened,
    ended,
    close: () => {
      closing = true
      req.destroy()
      finish()
    },
    stall: () => {
      conn.stalled = true
      req.socket?.pause()
      response?.pause()
    },
  }
}

const parse = (block: string): Frame | undefined => {
  let id: string | undefined
  let event = 'message'
  const data: string[] = []
  for (const line of block.split('\n')) {
    if (line.startsWith(':') || line === '') continue
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '')
    if (field === 'id') id = value
    else if (field === 'event') event = value
    else if (field === 'data') data.push(value)
  }
  if (data.length === 0) return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(data.join('\n'))
  } catch {
    parsed = data.join('\n')
  }
  return { ...(id === undefined ? {} : { id }), event, data: parsed, at: Date.now() }
}
