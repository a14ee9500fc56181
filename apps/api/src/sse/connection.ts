import type { ServerResponse } from 'node:http'

/** One open stream, written straight to the Node response (no web-stream plumbing). */
export class SseConnection {
  /** Highest event position this stream has been sent (or has seen in its replay). */
  cursor = -1
  /** Whether the stream has its position yet (`open`); until then it holds every event. */
  opened = false
  closed = false
  slot = 0
  readonly deadline: number
  /** Whether `transaction.created` frames may reach this stream (the route's permission). */
  readsTransactions: boolean
  /**
   * Live frames held while the stream's opening is read and its replay written: sent after
   * them, so the stream stays in position order. Undefined once the stream is live.
   */
  private held: { id: number; frame: string }[] | undefined = []
  private heldBytes = 0
  /** Set when held frames were dropped: the replay must read the table up to this id. */
  replayTo = 0
  /** Wakes a replay waiting in `drained()` when the stream ends. */
  private wake: (() => void) | undefined

  constructor(
    private readonly res: ServerResponse,
    readonly scope: { userId: string } | 'all',
    readonly sessionId: string,
    options: {
      lifetimeMs: number
      /** The stream never outlives its session: it ends at this time at the latest. */
      notAfter: number
      bufferLimit: number
      readsTransactions: boolean
      onOverflow: () => void
    },
  ) {
    this.bufferLimit = options.bufferLimit
    this.onOverflow = options.onOverflow
    this.readsTransactions = options.readsTransactions
    // ±20 % jitter, so streams opened together do not all reconnect together.
    this.deadline = Math.min(options.notAfter, Date.now() + options.lifetimeMs * (0.8 + Math.random() * 0.4))
  }

  private readonly bufferLimit: number
  private readonly onOverflow: () => void
  /** Bytes we let sit unread: the cap, plus the replay until the client has drained it. */
  private allowance = 0

  /**
   * Sets where the stream starts: the snapshot's position, or the client's when it replays.
   * Held events at or below it are dropped when the stream goes live.
   */
  open(cursor: number) {
    this.cursor = cursor
    this.opened = true
  }

  /** Sends one live event unless this stream already has it; held until the stream is live. */
  send(id: number, frame: string) {
    if (id <= this.cursor) return false
    if (this.held) {
      this.heldBytes += frame.length
      if (this.heldBytes <= this.bufferLimit) this.held.push({ id, frame })
      else {
        // Too much to hold (a slow replay, a busy admin feed): these events are in the table,
        // so drop them and let the replay read on through them instead.
        this.replayTo = id
        this.held = []
        this.heldBytes = 0
      }
      return true
    }
    this.cursor = id
    this.write(frame)
    return true
  }

  /** Writes replayed frames, all at or below `lastId` (the replay reads ids in order, below anything held). */
  replay(lastId: number, frames: string) {
    if (this.closed || lastId <= this.cursor) return
    this.cursor = lastId
    if (!frames) return
    this.res.write(frames)
    // As with the opening: what the replay leaves unread does not count against the cap, or a
    // heartbeat written while a reading client works through a long replay would end it.
    this.allowance = Math.max(this.allowance, this.res.writableLength + this.bufferLimit)
  }

  /** Whether the replay should wait for the client to read before writing more. */
  get congested() {
    return this.res.writableLength > this.bufferLimit
  }

  /** Resolves once the client has read the output (or the stream closed). */
  drained() {
    return new Promise<void>((resolve) => {
      if (this.closed || !this.congested) return resolve()
      const done = () => {
        this.res.off('drain', done).off('close', done)
        this.wake = undefined
        resolve()
      }
      this.wake = done
      this.res.on('drain', done).on('close', done)
    })
  }

  /** Ends the replay: the frames held during it go out now, in order, none twice. */
  goLive() {
    const held = this.held ?? []
    this.held = undefined
    this.heldBytes = 0
    // Same rule as the opening: what the replay left unread does not count against the cap.
    this.allowance = this.res.writableLength + this.bufferLimit
    for (const { id, frame } of held) this.send(id, frame)
  }

  /**
   * Writes the opening frames. The replay may exceed the cap on its own (a client far
   * behind); counting it against the cap would cut that client off every time it
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
    else if (buffered > Math.max(this.allowance, this.bufferLimit)) this.overflow()
  }

  private overflow() {
    this.onOverflow()
    this.destroy()
  }

  /** Ends the stream cleanly: the client sees the end and reconnects. */
  end() {
    if (this.closed) return
    this.closed = true
    this.held = undefined
    this.res.end()
    this.wake?.()
  }

  /** Drops the connection without flushing what a stalled client never read. */
  destroy() {
    if (this.closed) return
    this.closed = true
    this.held = undefined
    this.res.destroy()
    this.wake?.()
  }
}
