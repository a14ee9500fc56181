import { connect, type Socket } from 'node:net'

/**
 * A polling browser tab: one keep-alive socket, one GET every `periodMs`, starting after
 * `phaseMs` so a thousand clients do not all ask in the same millisecond.
 */
export class PollClient {
  private socket: Socket | undefined
  private timer: NodeJS.Timeout | undefined
  private pending = ''
  private busy = false
  responses = 0
  errors = 0

  constructor(
    private readonly port: number,
    private readonly request: string,
  ) {}

  private closedBytes = 0

  get bytes() {
    return this.closedBytes + (this.socket?.bytesRead ?? 0)
  }

  start(periodMs: number, phaseMs: number) {
    this.timer = setTimeout(() => {
      this.poll()
      this.timer = setInterval(() => this.poll(), periodMs)
    }, phaseMs)
  }

  stop() {
    clearTimeout(this.timer)
    clearInterval(this.timer)
    this.socket?.destroy()
  }

  private poll() {
    if (this.busy) return
    this.busy = true
    if (!this.socket || this.socket.destroyed) this.socket = this.connect()
    this.socket.write(this.request)
  }

  private connect() {
    const socket = connect({ port: this.port, host: '127.0.0.1', noDelay: true })
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      this.pending += chunk
      const end = this.pending.indexOf('\r\n\r\n')
      if (end === -1) return
      const length = Number(/content-length: (\d+)/i.exec(this.pending.slice(0, end))?.[1] ?? 0)
      if (this.pending.length < end + 4 + length) return
      this.pending = this.pending.slice(end + 4 + length)
      this.responses += 1
      this.busy = false
    })
    socket.on('close', () => {
      this.closedBytes += socket.bytesRead
      if (this.socket === socket) this.socket = undefined
      this.busy = false
    })
    socket.on('error', () => {
      this.errors += 1
      this.busy = false
    })
    return socket
  }
}
