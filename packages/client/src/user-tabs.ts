import { openResilientSource, type SourceOptions } from './event-source.js'
import { applyFrame, type ConnectionState, mergeState, type StreamFrame, type StreamState } from './state.js'

type Relay = { userId: string } & (
  | { kind: 'frame'; frame: StreamFrame }
  | { kind: 'connection'; connection: ConnectionState }
  | { kind: 'hello' }
  | { kind: 'sync'; state: StreamState }
)

export type UserTabsOptions = {
  /** Lock and channel name: the stream's base name and the user id. */
  key: string
  userId: string
  source: Pick<SourceOptions, 'url' | 'sessionUrl' | 'backoff'>
  getState(): StreamState
  setState(state: StreamState): void
  /** The connection or the session check names another user: the session changed hands. */
  onOtherUser(userId: string): void
  onUnauthorized(): void
}

export type UserTabs = { isLeader(): boolean; stop(): void }

/**
 * One user's tabs in this browser: the tab holding the Web Lock `key` opens the one
 * EventSource and relays every frame on the BroadcastChannel `key`; the others apply the
 * relayed frames. When the leader goes, the next tab in the lock's queue opens the stream
 * after the last id it has applied, so the handover loses nothing. `stop` releases all of it
 * at once (closing the tab, or a change of user).
 */
export const joinUserTabs = (options: UserTabsOptions): UserTabs => {
  const { key, userId, getState, setState } = options
  const locks = typeof navigator === 'object' ? navigator.locks : undefined
  const abort = new AbortController()
  const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(`dormant ${key}`) : null
  let source: { close(): void } | null = null
  let releaseLock: (() => void) | undefined
  let leader = false
  let stopped = false
  const post = (message: Relay) => channel?.postMessage(message)

  if (channel) {
    channel.onmessage = ({ data }: MessageEvent<Relay>) => {
      if (stopped || data.userId !== userId) return
      if (data.kind === 'hello' && leader) post({ kind: 'sync', state: getState(), userId })
      else if (leader) return
      else if (data.kind === 'frame') setState(applyFrame(getState(), data.frame))
      else if (data.kind === 'connection') setState({ ...getState(), connection: data.connection })
      else if (data.kind === 'sync') setState(mergeState(getState(), data.state))
    }
  }

  const lead = () => {
    if (stopped) return Promise.resolve()
    leader = true
    source = openResilientSource({
      ...options.source,
      lastEventId: () => getState().lastEventId,
      onFrame: (frame) => {
        if (stopped) return
        // The connection was opened with someone else's cookie: the session changed.
        if (frame.type === 'snapshot' && frame.data.user.id !== userId) return options.onOtherUser(frame.data.user.id)
        setState(applyFrame(getState(), frame))
        post({ kind: 'frame', frame, userId })
      },
      onConnection: (connection) => {
        if (stopped) return
        setState({ ...getState(), connection })
        post({ kind: 'connection', connection, userId })
      },
      onSessionUser: (sessionUser) => {
        if (!stopped && sessionUser !== userId) options.onOtherUser(sessionUser)
      },
      onUnauthorized: () => {
        if (!stopped) options.onUnauthorized()
      },
    })
    // Held until this tab stops (or goes away, which frees the lock).
    return new Promise<void>((resolve) => {
      releaseLock = resolve
    })
  }

  if (locks && channel) {
    locks.request(key, { signal: abort.signal }, lead).catch(() => {
      // Aborted while waiting in the queue: this tab stopped before leading.
    })
    post({ kind: 'hello', userId })
  } else {
    void lead()
  }

  return {
    isLeader: () => leader,
    stop: () => {
      stopped = true
      source?.close()
      releaseLock?.()
      abort.abort()
      channel?.close()
    },
  }
}
