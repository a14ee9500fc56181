import type { EventPayloads, TransactionJson, UserJson } from '@dormant/core'

/**
 * One SSE frame as received (or relayed from the leader tab). Its id is the server's,
 * `<epoch>:<position>`, kept as the text to send back (see `parseEventId`).
 */
export type StreamFrame =
  | { type: 'snapshot'; id?: string; data: { user: UserJson; reset?: boolean } }
  | { [K in keyof EventPayloads]: { type: K; id?: string; data: EventPayloads[K] } }[keyof EventPayloads]

/**
 * An event id: the position of the event in the database's commit order, and the epoch of
 * those positions (a restored or failed-over database starts a new one, so one position can
 * name two events only across epochs). A bare `<n>` has the empty epoch. Null for an id the
 * server did not write.
 */
export const parseEventId = (id: string): { epoch: string; position: number } | null => {
  const match = /^(?:([0-9a-z]+):)?(\d{1,15})$/.exec(id)
  return match ? { epoch: match[1] ?? '', position: Number(match[2]) } : null
}

/**
 * How `a` compares with `b` in commit order (negative: before), or undefined when they
 * cannot be compared: different epochs, or not ids of ours.
 */
export const compareEventIds = (a: string, b: string): number | undefined => {
  const [x, y] = [parseEventId(a), parseEventId(b)]
  return x && y && x.epoch === y.epoch ? x.position - y.position : undefined
}

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
  /** Id of the latest event applied (in the epoch last adopted); a new stream resumes after it. */
  lastEventId: string | null
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
    // Already applied (a replay overlapping what a relay delivered), or of an epoch this
    // state has left (a late relay from before a reset): nothing to do. Only a snapshot
    // moves the stream to another epoch.
    if ((compareEventIds(frame.id, state.lastEventId) ?? 0) <= 0) return state
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
    // A snapshot's id adopts its epoch; within one epoch the id only moves forward.
    const adopt =
      state.lastEventId === null ||
      (frame.type === 'snapshot' && frame.data.reset) ||
      (compareEventIds(frame.id, state.lastEventId) ?? (frame.type === 'snapshot' ? 1 : 0)) > 0
    next = { ...next, lastEventId: adopt ? frame.id : state.lastEventId }
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
    .sort((a, b) => positionOf(b) - positionOf(a))
    .slice(0, FEED_LIMIT)
  return {
    ...next,
    user,
    users,
    feed,
    transactions: mergeTransactions(next.transactions, remote.transactions),
    lastEventId: laterId(next.lastEventId, remote.lastEventId, remote.epoch > local.epoch),
  }
}

const positionOf = (frame: StreamFrame) => (frame.id === undefined ? 0 : (parseEventId(frame.id)?.position ?? 0))

/**
 * The later of two resume ids. Ids of different epochs cannot be ordered: the one of the
 * state that was reset last wins (`remoteIsNewer`), since a reset adopts the current epoch.
 */
const laterId = (local: string | null, remote: string | null, remoteIsNewer: boolean) => {
  if (local === null || remote === null) return local ?? remote
  const order = compareEventIds(remote, local)
  return (order === undefined ? remoteIsNewer : order > 0) ? remote : local
}
