import type { TransactionJson, UserJson } from '@dormant/core'
import { describe, expect, test } from 'vitest'
import { announceSession, type SessionSignal, watchSession } from './session.js'
import { applyFrame, forgetUser, initialState, mergeState, type StreamFrame, type StreamState } from './state.js'

const person = (id: string, version = 1): UserJson => ({
  id,
  email: `${id}@example.com`,
  name: id,
  role: 'user',
  status: 'active',
  goal: 0,
  permissions: ['transactions.read'],
  hibernation: null,
  version,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
})

const txn = (id: string): TransactionJson => ({
  id,
  type: 'hibernation.completed',
  details: {},
  createdAt: '2026-01-02T00:00:00.000Z',
})

const apply = (frames: StreamFrame[], from: StreamState = initialState()) => frames.reduce(applyFrame, from)

/** A's state as a tab holds it: snapshot, two history rows (one live, one fetched), a feed. */
const stateOfA = () => {
  const state = apply([
    { type: 'snapshot', id: 'e:10', data: { user: person('usr_a', 3) } },
    { type: 'transaction.created', id: 'e:11', data: { transaction: txn('txn_a1') } },
    { type: 'user.updated', id: 'e:12', data: { user: person('usr_a', 4) } },
  ])
  return { ...state, transactions: [...state.transactions, txn('txn_a2')], connection: 'live' as const }
}

/** Nothing of A anywhere in the state. */
const holdsNothingOfA = (state: StreamState) => {
  expect(JSON.stringify(state)).not.toContain('usr_a')
  expect(JSON.stringify(state)).not.toContain('txn_a')
}

describe('a change of user in the state', () => {
  test("another user's snapshot drops every row, user, feed entry and position of the previous one", () => {
    const a = stateOfA()
    const b = applyFrame(a, { type: 'snapshot', id: 'e:20', data: { user: person('usr_b') } })
    holdsNothingOfA(b)
    expect(b.user?.id).toBe('usr_b')
    expect(b.users).toEqual({ usr_b: person('usr_b') })
    expect(b.transactions).toEqual([])
    expect(b.feed).toEqual([])
    expect(b.lastEventId).toBe('e:20')
    // History is refetched for the new user: the epoch moved on.
    expect(b.epoch).toBeGreaterThan(a.epoch)
  })

  test("another user's snapshot at a lower id still replaces the position (ids are not per user)", () => {
    const b = applyFrame(stateOfA(), { type: 'snapshot', id: 'e:5', data: { user: person('usr_b') } })
    expect(b.lastEventId).toBe('e:5')
    // The next event after 5 is applied, not skipped as "already seen" by A's position.
    const next = applyFrame(b, { type: 'transaction.created', id: 'e:6', data: { transaction: txn('txn_b1') } })
    expect(next.transactions.map((t) => t.id)).toEqual(['txn_b1'])
  })

  test("another user's snapshot without an id still drops the old state", () => {
    const b = applyFrame(stateOfA(), { type: 'snapshot', data: { user: person('usr_b') } })
    holdsNothingOfA(b)
    expect(b.lastEventId).toBeNull()
  })

  test('the same user in a new snapshot keeps their rows', () => {
    const a = stateOfA()
    const again = applyFrame(a, { type: 'snapshot', id: 'e:13', data: { user: person('usr_a', 4) } })
    expect(again.transactions).toBe(a.transactions)
    expect(again.epoch).toBe(a.epoch)
  })

  test("a follower never merges another user's state, whichever way round", () => {
    const a = stateOfA()
    const b = apply([
      { type: 'snapshot', id: 'e:20', data: { user: person('usr_b') } },
      { type: 'transaction.created', id: 'e:21', data: { transaction: txn('txn_b1') } },
    ])
    expect(mergeState(b, a)).toBe(b)
    expect(mergeState(a, b)).toBe(a)
  })

  test('forgetUser keeps nothing but a higher epoch', () => {
    const a = stateOfA()
    const gone = forgetUser(a)
    holdsNothingOfA(gone)
    expect(gone).toEqual({ ...initialState(), epoch: a.epoch + 1 })
  })
})

describe('session announcements', () => {
  test('reach every listener, in order, including another listener of the announcing context', async () => {
    const heard: SessionSignal[][] = [[], []]
    const stops = heard.map((list) => watchSession((signal) => list.push(signal)))
    try {
      announceSession({ kind: 'user', userId: 'usr_a' })
      announceSession({ kind: 'signed-out' })
      await expect.poll(() => heard.map((list) => list.length)).toEqual([2, 2])
      for (const list of heard) expect(list).toEqual([{ kind: 'user', userId: 'usr_a' }, { kind: 'signed-out' }])
    } finally {
      for (const stop of stops) stop()
    }
  })

  test('each watcher is told the user it knew before, starting from what this tab had announced', async () => {
    announceSession({ kind: 'user', userId: 'usr_a' })
    const heard: [SessionSignal, string | null][] = []
    const stop = watchSession((signal, previous) => heard.push([signal, previous]))
    try {
      announceSession({ kind: 'user', userId: 'usr_b' })
      announceSession({ kind: 'signed-out' })
      await expect.poll(() => heard.length).toBe(2)
      expect(heard).toEqual([
        [{ kind: 'user', userId: 'usr_b' }, 'usr_a'],
        [{ kind: 'signed-out' }, 'usr_b'],
      ])
    } finally {
      stop()
    }
  })

  test('a sign-in under way leaves the known user alone, and a watcher knows its own tab', async () => {
    announceSession({ kind: 'user', userId: 'usr_a' })
    const heard: [SessionSignal, string | null, boolean][] = []
    const stop = watchSession((signal, previous, fromThisTab) => heard.push([signal, previous, fromThisTab]))
    try {
      announceSession({ kind: 'changing' })
      announceSession({ kind: 'user', userId: 'usr_b' })
      await expect.poll(() => heard.length).toBe(2)
      expect(heard).toEqual([
        [{ kind: 'changing' }, 'usr_a', true],
        [{ kind: 'user', userId: 'usr_b' }, 'usr_a', true],
      ])
    } finally {
      stop()
    }
  })
})
