import type { ServerResponse } from 'node:http'

/** One open stream, written straight to the Node response (no web-stream plumbing). */
export class SseConnection {
  /** Highest event id this stream has been sent (or has seen in its replay). */
  cursor: number
  closed = false
  slot = 0
  readonly deadline: number

  constructor(
    private readonly res: ServerResponse,
    readonly scope: { userId: string } | 'all',
    readonly sessionId: string,
    options: {
      cursor: number
      lifetimeMs: number
      /** The stream never outlives its session: it ends at this time at the latest. */
      notAfter: number
      bufferLimit: number
      onOverflow: () => void
    },
  ) {
    this.cursor = options.cursor
    this.bufferLimit = options.bufferLimit
    this.onOverflow = options.onOverflow
    // ±20 % jitter, so streams opened together do not all reconnect together.
    this.deadline = Math.min(options.notAfter, Date.now() + options.lifetimeMs * (0.8 + Math.random() * 0.4))
  }

  private readonly bufferLimit: number
  private readonly onOverflow: () => void
  /** Bytes we let sit unread: the cap, plus the replay until the client has drained it. */
  private allowance = 0

  /**
   * Writes the opening frames and the replay. A replay may exceed the cap on its own (a client
   * far behind); counting it against the cap would cut that client off every time it
   * reconnects, so it never caught up. The cap applies to what is buffered beyond it.
   */
  writeOpening(frames: string) {
    if (this.closed) return
    this.res.write(frames)
    this.allowance = this.res.writableLength + this.bufferLimit
  }

  /**
   * Writes a frame. A client that does not read lets Node buffer our writes; past the cap
   * we drop the stream instead of growing memory, and the client catches up by replay.
   */
  write(frame: string) {
    if (this.closed) return
    this.res.write(frame)
    const buffered = this.res.writableLength
    if (buffered <= this.bufferLimit) this.allowance = this.bufferLimit
    else if (buffered > Math.max(this.allowance, this.bufferLimit)) {
      this.onOverflow()
      this.destroy()
    }
  }

  /** Ends the stream cleanly: the client sees the end and reconnects. */
  end() {
    if (this.closed) return
    this.closed = true
    this.res.end()
  }

  /** Drops the connection without flushing what a stalled client never read. */
  destroy() {
    if (this.closed) return
    this.closed = true
    this.res.destroy()
  }
}
