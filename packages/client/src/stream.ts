import type { TransactionJson } from '@dormant/core'
import { backoffDelay } from './event-source.js'
import { announceSession, SESSION_CHANGE_HOLD_MS, type SessionSignal, watchSession } from './session.js'
import { forgetUser, initialState, mergeTransactions, type StreamState } from './state.js'
import { joinUserTabs, type UserTabs } from './user-tabs.js'

export type EventStreamOptions = {
  /** `/api/events` (the user's own stream) or `/api/admin/events`. */
  url?: string
  /** Called once when the session is gone; typically navigates to `/login`. */
  onUnauthorized: () => void
  /** Web Locks name; tabs of the same user with the same name share one connection. */
  lockName?: string
  /** Whose stream this is, when the page already knows; otherwise asked from `sessionUrl`. */
  userId?: string
  sessionUrl?: string
  backoff?: { baseMs: number; maxMs: number }
}

export type EventStream = {
  getState(): StreamState
  /** Calls `listener` after every change; returns the unsubscribe function. */
  subscribe(listener: (state: StreamState) => void): () => void
  /**
   * Merges history fetched over HTTP with what the stream delivered (deduplicated by id).
   * With `epoch` (the state's epoch when the fetch started) rows that arrive after a reset or
   * a change of user are dropped: they belong to a state that no longer exists.
   */
  addTransactions(transactions: readonly TransactionJson[], epoch?: number): void
  /** Whether this tab holds the connection (the others receive its frames). */
  isLeader(): boolean
  close(): void
}

/**
 * A live view of a Dormant stream, shared by the tabs of one user in the browser (one
 * connection, relayed: `user-tabs.ts`).
 *
 * The lock and the channel are named after the user, learnt from `/api/me` before joining.
 * The session cookie is shared by every tab, so a change of user anywhere (a sign-in, a
 * logout, a 401, a snapshot of someone else) is announced to all tabs (`session.ts`); each
 * then drops the whole state, its connection, lock and channel, and starts again as whoever
 * the session now belongs to, or calls `onUnauthorized`.
 * Framework-free: wrap `subscribe`/`getState` in React's useSyncExternalStore, a Vue ref, …
 */
export const createEventStream = (options: EventStreamOptions): EventStream => {
  const url = options.url ?? '/api/events'
  const sessionUrl = options.sessionUrl ?? '/api/me'
  const lockBase = options.lockName ?? (url === '/api/events' ? 'dormant-stream' : `dormant-stream ${url}`)
  const { baseMs, maxMs } = options.backoff ?? { baseMs: 500, maxMs: 15_000 }
  let state = initialState()
  const listeners = new Set<(state: StreamState) => void>()
  let closed = false
  let unauthorized = false
  /** The user this tab's stream is for; null while it is being learnt. */
  let identity: string | null = null
  /** What belongs to the current identity: torn down as one on a change of user. */
  let joined: UserTabs | null = null
  let retry: ReturnType<typeof setTimeout> | undefined
  let attempt = 0
  let generation = 0
  /** Waiting for the outcome of another tab's sign-in, with nothing shown. */
  let holding = false

  const set = (next: StreamState) => {
    if (next === state) return
    state = next
    for (const listener of listeners) listener(state)
  }
  const signOut = () => {
    if (unauthorized || closed) return
    unauthorized = true
    options.onUnauthorized()
  }

  /** Drops the previous user's everything, then follows the session wherever it went. */
  const changeUser = (next: SessionSignal) => {
    if (closed || unauthorized) return
    if (next.kind === 'unchanged') {
      // Another tab's sign-in failed: whoever the session was is still it; ask.
      if (holding) resume()
      return
    }
    if (next.kind === 'user' && next.userId === identity) return
    generation++
    identity = null
    joined?.stop()
    joined = null
    clearTimeout(retry)
    holding = false
    set(forgetUser(state))
    if (next.kind === 'signed-out') signOut()
    else if (next.kind === 'user') start(next.userId)
    else {
      // A sign-in is under way somewhere: wait for its outcome (or ask, if it never comes).
      holding = true
      retry = setTimeout(resume, SESSION_CHANGE_HOLD_MS)
    }
  }
  const resume = () => {
    holding = false
    clearTimeout(retry)
    generation++
    start()
  }

  const stopWatching = watchSession(changeUser)

  /** Learns whose session this is (unless told), tells the other tabs, and joins that user. */
  const start = (known?: string) => {
    const mine = generation
    const proceed = (userId: string) => {
      if (closed || mine !== generation) return
      attempt = 0
      identity = userId
      announceSession({ kind: 'user', userId })
      joined = joinUserTabs({
        key: `${lockBase} ${userId}`,
        userId,
        source: { url, sessionUrl, backoff: options.backoff },
        getState: () => state,
        setState: set,
        onOtherUser: (other) => {
          announceSession({ kind: 'user', userId: other })
          changeUser({ kind: 'user', userId: other })
        },
        onUnauthorized: () => {
          announceSession({ kind: 'signed-out' })
          changeUser({ kind: 'signed-out' })
        },
      })
    }
    const later = () => {
      if (closed || mine !== generation) return
      retry = setTimeout(() => start(), backoffDelay(attempt++, baseMs, maxMs))
    }
    if (known) return proceed(known)
    fetch(sessionUrl, { credentials: 'same-origin', cache: 'no-store' }).then(
      async (res) => {
        if (closed || mine !== generation) return
        if (res.status === 401) {
          announceSession({ kind: 'signed-out' })
          return changeUser({ kind: 'signed-out' })
        }
        const body = res.ok ? ((await res.json().catch(() => null)) as { user?: { id?: string } } | null) : null
        if (body?.user?.id) proceed(body.user.id)
        else later()
      },
      () => later(),
    )
  }

  start(options.userId)

  return {
    getState: () => state,
    subscribe: (listener) => {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    addTransactions: (transactions, epoch) => {
      if (epoch !== undefined && epoch !== state.epoch) return
      set({ ...state, transactions: mergeTransactions(state.transactions, transactions) })
    },
    isLeader: () => joined?.isLeader() ?? false,
    close: () => {
      closed = true
      clearTimeout(retry)
      joined?.stop()
      joined = null
      stopWatching()
      listeners.clear()
    },
  }
}
