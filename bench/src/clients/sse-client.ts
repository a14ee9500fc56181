import { connect, type Socket } from 'node:net'
import { now } from '../clock.js'

export type SseEvent = { id: number; type: string; data: string; at: number }

/** The event's position from an SSE id, `<epoch>:<n>` (or a bare `<n>`, as the floor sends). */
export const eventPosition = (id: string) => Number(id.slice(id.lastIndexOf(':') + 1))

/**
 * A raw-socket SSE client: one GET, then it de-chunks the body and splits events, keeping
 * only the last event's fields. No fetch/web streams, so 10,000 of them stay cheap.
 */
export class SseClient {
  socket: Socket | undefined
  status = 0
  events = 0
  lastId = 0
  /** Body bytes received, headers included. */
  get bytes() {
    return this.socket?.bytesRead ?? 0
  }
  private head = ''
  private inBody = false
  private chunkLeft = -1
  private carry = ''
  private line = ''
  private id = ''
  private type = ''
  private data = ''

  constructor(
    readonly index: number,
    private readonly onEvent: (client: SseClient, event: SseEvent) => void,
  ) {}

  open(port: number, path: string, cookie?: string) {
    return new Promise<void>((resolve, reject) => {
      let settled = false
      const socket = connect({ port, host: '127.0.0.1', noDelay: true })
      this.socket = socket
      socket.setEncoding('latin1')
      const request = `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n${cookie ? `Cookie: ${cookie}\r\n` : ''}\r\n`
      socket.on('connect', () => socket.write(request))
      socket.on('data', (chunk: string) => {
        const at = now()
        this.feed(chunk, at)
        if (!settled && this.events > 0) {
          settled = true
          resolve()
        }
        if (!settled && this.status !== 0 && this.status !== 200) {
          settled = true
          reject(new Error(`stream answered ${this.status}`))
        }
      })
      socket.on('error', (err) => {
        if (!settled) {
          settled = true
          reject(err)
        }
      })
      socket.on('close', () => {
        if (!settled) {
          settled = true
          reject(new Error('stream closed before its first event'))
        }
      })
    })
  }

  close() {
    this.socket?.destroy()
  }

  private feed(chunk: string, at: number) {
    let text = chunk
    if (!this.inBody) {
      this.head += text
      const end = this.head.indexOf('\r\n\r\n')
      if (end === -1) return
      this.status = Number(this.head.slice(9, 12))
      text = this.head.slice(end + 4)
      this.head = ''
      this.inBody = true
    }
    this.carry += text
    // Chunked transfer encoding: "<hex size>\r\n<bytes>\r\n", repeated.
    for (;;) {
      if (this.chunkLeft <= 0) {
        const eol = this.carry.indexOf('\r\n', this.chunkLeft === 0 ? 2 : 0)
        if (eol === -1) return
        const start = this.chunkLeft === 0 ? 2 : 0
        this.chunkLeft = Number.parseInt(this.carry.slice(start, eol), 16)
        this.carry = this.carry.slice(eol + 2)
        if (this.chunkLeft === 0) return
      }
      if (!this.carry) return
      const take = this.carry.slice(0, this.chunkLeft)
      this.carry = this.carry.slice(take.length)
      this.chunkLeft -= take.length
      this.lines(take, at)
      if (this.chunkLeft === 0 && !this.carry) return
    }
  }

  private lines(text: string, at: number) {
    let from = 0
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', from)) {
      this.fieldLine(this.line + text.slice(from, nl), at)
      this.line = ''
      from = nl + 1
    }
    this.line += text.slice(from)
  }

  private fieldLine(line: string, at: number) {
    if (line === '') {
      if (this.type || this.data) {
        this.events += 1
        const id = this.id ? eventPosition(this.id) : 0
        if (id) this.lastId = id
        this.onEvent(this, { id, type: this.type || 'message', data: this.data, at })
      }
      this.id = this.type = this.data = ''
    } else if (line.startsWith('id: ')) this.id = line.slice(4)
    else if (line.startsWith('event: ')) this.type = line.slice(7)
    else if (line.startsWith('data: ')) this.data = line.slice(6)
  }
}

/** Opens `count` streams, at most `parallel` handshakes at a time. */
export const openClients = async (
  count: number,
  open: (index: number) => Promise<SseClient>,
  parallel = 100,
  onProgress?: (opened: number) => void,
) => {
  const clients: SseClient[] = new Array(count)
  let next = 0
  let opened = 0
  const lane = async () => {
    while (next < count) {
      const index = next++
      clients[index] = await open(index)
      opened += 1
      if (opened % 250 === 0) onProgress?.(opened)
    }
  }
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, lane))
  return clients
}
