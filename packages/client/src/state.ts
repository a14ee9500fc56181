import type { EventPayloads, TransactionJson, UserJson } from '@dormant/core'

/** One SSE frame as received (or relayed from the leader tab). */
export type StreamFrame =
  | { type: 'snapshot'; id?: number; data: { user: UserJson; reset?: boolean } }
  | { [K in keyof EventPayloads]: { type: K; id?: number; data: EventPayloads[K] } }[keyof EventPayloads]

export type ConnectionState = 'connecting' | 'live' | 'reconnecting'

export type StreamState = {
  /** The stream's own user (from `snapshot`), kept current by `user.updated`. */
  user: UserJson | null
  /** Every user seen on the stream, newest version each (admin streams carry all users). */
  users: Readonly<Record<string, UserJson>>
  /** Transactions from the stream plus any merged history, newest first, unique by id. */
  transactions: readonly TransactionJson[]
  /** Recent frames with ids, newest first, for activity feeds. */
  feed: readonly StreamFrame[]
  /** Highest event id applied; a new stream resumes after it. */
  lastEventId: number | null
  /** Bumped by a `reset` snapshot: events were missed, so derived data must be refetched. */
  epoch: number
  connection: ConnectionState
}

export const FEED_LIMIT = 100

export const initialState = (): StreamState => ({
  user: null,
  users: {},
  transactions: [],
  feed: [],
  lastEventId: null,
  epoch: 0,
  connection: 'connecting',
})

/**
 * Drops everything known about the previous user. The epoch moves on so that anything
 * derived from the old state (fetched history) is refetched, and late answers are refused.
 */
export const forgetUser = (state: StreamState): StreamState => ({ ...initialState(), epoch: state.epoch + 1 })

/** The newer of two versions of a user; an older copy never replaces a newer one. */
export const newerUser = (current: UserJson | null | undefined, next: UserJson): UserJson =>
  current && current.id === next.id && current.version >= next.version ? current : next

const byNewest = (a: TransactionJson, b: TransactionJson) =>
  b.createdAt < a.createdAt ? -1 : b.createdAt > a.createdAt ? 1 : a.id < b.id ? 1 : -1

/** Adds transactions, keeping one row per id and newest first. */
export const mergeTransactions = (
  current: readonly TransactionJson[],
  incoming: readonly TransactionJson[],
): readonly TransactionJson[] => {
  const seen = new Set(current.map((t) => t.id))
  const added = incoming.filter((t) => !seen.has(t.id) && seen.add(t.id))
  return added.length ? [...current, ...added].sort(byNewest) : current
}

const withUser = (state: StreamState, user: UserJson): StreamState => {
  const users = { ...state.users, [user.id]: newerUser(state.users[user.id], user) }
  const own = state.user && state.user.id === user.id ? newerUser(state.user, user) : state.user
  return { ...state, users, user: own }
}

/**
 * Applies one frame. Pure: the same frames in any order and with any repeats give the
 * same user (highest version wins) and the same transactions (deduplicated by id).
 */
export const applyFrame = (state: StreamState, frame: StreamFrame): StreamState => {
  if (frame.id !== undefined && state.lastEventId !== null && frame.type !== 'snapshot') {
    // Already applied (a replay overlapping what a relay delivered): nothing to do.
    if (frame.id <= state.lastEventId) return state
  }
  let next: StreamState
  switch (frame.type) {
    case 'snapshot': {
      const { user, reset } = frame.data
      // Another user's snapshot (the session changed under the stream): nothing of the
      // previous user survives, not even the resume position.
      if (state.user && state.user.id !== user.id) {
        next = { ...forgetUser(state), connection: state.connection, user, users: { [user.id]: user } }
        return frame.id === undefined ? next : { ...next, lastEventId: frame.id }
      }
      next = reset
        ? { ...state, user, users: { [user.id]: user }, transactions: [], epoch: state.epoch + 1 }
        : withUser({ ...state, user: newerUser(state.user, user) }, user)
      break
    }
    case 'user.updated':
      next = withUser(state, frame.data.user)
      break
    case 'transaction.created':
      next = { ...state, transactions: mergeTransactions(state.transactions, [frame.data.transaction]) }
      break
    default:
      next = state
  }
  if (frame.id !== undefined) {
    const lastEventId =
      frame.type === 'snapshot' && frame.data.reset ? frame.id : Math.max(state.lastEventId ?? 0, frame.id)
    next = { ...next, lastEventId }
    if (frame.type !== 'snapshot') next = { ...next, feed: [frame, ...next.feed].slice(0, FEED_LIMIT) }
  }
  return next
}

/** Combines what another tab knows with ours (a follower catching up with its leader). */
export const mergeState = (local: StreamState, remote: StreamState): StreamState => {
  // Another user's state is never mixed into ours, whoever sent it.
  if (remote.user && local.user && remote.user.id !== local.user.id) return local
  let next: StreamState = { ...local, connection: remote.connection }
  if (remote.epoch > local.epoch) next = { ...initialState(), epoch: remote.epoch, connection: remote.connection }
  const users = { ...next.users }
  for (const user of Object.values(remote.users)) users[user.id] = newerUser(users[user.id], user)
  const user = remote.user ? newerUser(next.user, remote.user) : next.user
  const ids = new Set(next.feed.map((f) => f.id))
  const feed = [...next.feed, ...remote.feed.filter((f) => !ids.has(f.id))]
    .sort((a, b) => (b.id ?? 0) - (a.id ?? 0))
    .slice(0, FEED_LIMIT)
  return {
    ...next,
    user,
    users,
    feed,
    transactions: mergeTransactions(next.transactions, remote.transactions),
    lastEventId: Math.max(next.lastEventId ?? 0, remote.lastEventId ?? 0) || next.lastEventId || remote.lastEventId,
  }
}
