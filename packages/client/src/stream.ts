import type { TransactionJson } from '@dormant/core'
import { openResilientSource } from './event-source.js'
import {
  applyFrame,
  type ConnectionState,
  initialState,
  mergeState,
  mergeTransactions,
  type StreamFrame,
  type StreamState,
} from './state.js'

type Relay =
  | { kind: 'frame'; frame: StreamFrame }
  | { kind: 'connection'; connection: ConnectionState }
  | { kind: 'hello' }
  | { kind: 'sync'; state: StreamState }
  | { kind: 'unauthorized' }

export type EventStreamOptions = {
  /** `/api/events` (the user's own stream) or `/api/admin/events`. */
  url?: string
  /** Called once when the session is gone; typically navigates to `/login`. */
  onUnauthorized: () => void
  /** Web Locks name; tabs with the same name share one connection. */
  lockName?: string
  sessionUrl?: string
  backoff?: { baseMs: number; maxMs: number }
}

export type EventStream = {
  getState(): StreamState
  /** Calls `listener` after every change; returns the unsubscribe function. */
  subscribe(listener: (state: StreamState) => void): () => void
  /** Merges history fetched over HTTP with what the stream delivered (deduplicated by id). */
  addTransactions(transactions: readonly TransactionJson[]): void
  /** Whether this tab holds the connection (the others receive its frames). */
  isLeader(): boolean
  close(): void
}

/**
 * A live view of a Dormant stream, shared by all tabs of the browser: the tab holding the
 * Web Lock opens the one EventSource and relays every frame on a BroadcastChannel; the
 * others apply the relayed frames. When the leader goes, the next tab in the lock's queue
 * opens the stream after the last id it has applied, so the handover loses nothing.
 * Framework-free: wrap `subscribe`/`getState` in React's useSyncExternalStore, a Vue ref, …
 */
export const createEventStream = (options: EventStreamOptions): EventStream => {
  const url = options.url ?? '/api/events'
  const lockName = options.lockName ?? (url === '/api/events' ? 'dormant-stream' : `dormant-stream ${url}`)
  let state = initialState()
  const listeners = new Set<(state: StreamState) => void>()
  let leader = false
  let closed = false
  let unauthorized = false
  let source: { close(): void } | null = null
  let releaseLock: (() => void) | undefined
  const abort = new AbortController()
  const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(`dormant ${lockName}`) : null

  const set = (next: StreamState) => {
    if (next === state) return
    state = next
    for (const listener of listeners) listener(state)
  }
  const post = (message: Relay) => channel?.postMessage(message)
  const signOut = () => {
    if (unauthorized) return
    unauthorized = true
    options.onUnauthorized()
  }

  if (channel) {
    channel.onmessage = ({ data }: MessageEvent<Relay>) => {
      if (closed) return
      if (data.kind === 'hello' && leader) post({ kind: 'sync', state })
      else if (data.kind === 'unauthorized') signOut()
      else if (leader) return
      else if (data.kind === 'frame') set(applyFrame(state, data.frame))
      else if (data.kind === 'connection') set({ ...state, connection: data.connection })
      else if (data.kind === 'sync') set(mergeState(state, data.state))
    }
  }

  const lead = () => {
    if (closed) return Promise.resolve()
    leader = true
    source = openResilientSource({
      url,
      sessionUrl: options.sessionUrl,
      backoff: options.backoff,
      lastEventId: () => state.lastEventId,
      onFrame: (frame) => {
        set(applyFrame(state, frame))
        post({ kind: 'frame', frame })
      },
      onConnection: (connection) => {
        set({ ...state, connection })
        post({ kind: 'connection', connection })
      },
      onUnauthorized: () => {
        post({ kind: 'unauthorized' })
        signOut()
      },
    })
    // Held until this tab closes the stream (or the tab goes away, which frees the lock).
    return new Promise<void>((resolve) => {
      releaseLock = resolve
    })
  }

  const locks = typeof navigator === 'object' ? navigator.locks : undefined
  if (locks && channel) {
    locks.request(lockName, { signal: abort.signal }, lead).catch(() => {
      // Aborted while waiting in the queue: this tab closed its stream before leading.
    })
    post({ kind: 'hello' })
  } else {
    void lead()
  }

  return {
    getState: () => state,
    subscribe: (listener) => {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    addTransactions: (transactions) =>
      set({ ...state, transactions: mergeTransactions(state.transactions, transactions) }),
    isLeader: () => leader,
    close: () => {
      closed = true
      source?.close()
      releaseLock?.()
      abort.abort()
      channel?.close()
      listeners.clear()
    },
  }
}
