import type { TransactionJson, UserJson } from '@dormant/core'
import { describe, expect, test } from 'vitest'
import { backoffDelay } from './event-source.js'
import { applyFrame, initialState, mergeState, mergeTransactions, type StreamFrame, type StreamState } from './state.js'

const user = (version: number, fields: Partial<UserJson> = {}): UserJson => ({
  id: 'usr_1',
  email: 'a@example.com',
  name: 'A',
  role: 'user',
  status: 'active',
  goal: 0,
  permissions: [],
  hibernation: null,
  version,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  ...fields,
})

const txn = (id: string, createdAt: string): TransactionJson => ({
  id,
  type: 'hibernation.completed',
  details: {},
  createdAt,
})

const apply = (frames: StreamFrame[], from: StreamState = initialState()) => frames.reduce(applyFrame, from)

describe('applyFrame', () => {
  test('a snapshot sets the user and the resume position', () => {
    const state = apply([{ type: 'snapshot', id: 7, data: { user: user(3) } }])
    expect(state.user?.version).toBe(3)
    expect(state.lastEventId).toBe(7)
  })

  test('user.updated applies by version and never goes backwards', () => {
    const state = apply([
      { type: 'snapshot', id: 1, data: { user: user(1) } },
      { type: 'user.updated', id: 3, data: { user: user(5, { status: 'hibernating' }) } },
      // Id is new, version is older (e.g. a replayed event behind a fresher snapshot).
      { type: 'user.updated', id: 4, data: { user: user(4, { status: 'active' }) } },
    ])
    expect(state.user?.version).toBe(5)
    expect(state.user?.status).toBe('hibernating')
    expect(state.users.usr_1?.version).toBe(5)
    expect(state.lastEventId).toBe(4)
  })

  test('a snapshot older than what was applied does not roll the user back', () => {
    const state = apply([
      { type: 'snapshot', id: 1, data: { user: user(1) } },
      { type: 'user.updated', id: 2, data: { user: user(2, { goal: 1 }) } },
      { type: 'snapshot', data: { user: user(1) } },
    ])
    expect(state.user?.goal).toBe(1)
    expect(state.lastEventId).toBe(2)
  })

  test('a reset snapshot replaces everything and bumps the epoch', () => {
    const state = apply([
      { type: 'snapshot', id: 1, data: { user: user(1) } },
      { type: 'transaction.created', id: 2, data: { transaction: txn('t1', '2026-01-02T00:00:00.000Z') } },
      { type: 'snapshot', id: 50, data: { user: user(9), reset: true } },
    ])
    expect(state.user?.version).toBe(9)
    expect(state.transactions).toEqual([])
    expect(state.epoch).toBe(1)
    expect(state.lastEventId).toBe(50)
  })

  test('transactions are deduplicated by id and kept newest first', () => {
    const early = txn('t1', '2026-01-02T00:00:00.000Z')
    const late = txn('t2', '2026-01-03T00:00:00.000Z')
    const state = apply([
      { type: 'snapshot', id: 1, data: { user: user(1) } },
      { type: 'transaction.created', id: 2, data: { transaction: early } },
      { type: 'transaction.created', id: 3, data: { transaction: late } },
      { type: 'transaction.created', data: { transaction: early } },
    ])
    expect(state.transactions.map((t) => t.id)).toEqual(['t2', 't1'])
    expect(mergeTransactions(state.transactions, [early, late])).toBe(state.transactions)
  })

  test('an event at or below the applied id is not applied twice', () => {
    const once = apply([
      { type: 'snapshot', id: 1, data: { user: user(1) } },
      { type: 'user.updated', id: 2, data: { user: user(2) } },
    ])
    const again = applyFrame(once, { type: 'user.updated', id: 2, data: { user: user(2) } })
    expect(again).toBe(once)
    expect(once.feed).toHaveLength(1)
  })

  test('admin streams keep every user at their newest version', () => {
    const other = (version: number) => user(version, { id: 'usr_2', email: 'b@example.com' })
    const state = apply([
      { type: 'snapshot', id: 1, data: { user: user(1, { role: 'admin' }) } },
      { type: 'user.updated', id: 2, data: { user: other(4) } },
      { type: 'user.updated', id: 3, data: { user: other(3) } },
    ])
    expect(state.user?.id).toBe('usr_1')
    expect(state.users.usr_2?.version).toBe(4)
    expect(state.feed.map((f) => f.id)).toEqual([3, 2])
  })
})

describe('mergeState', () => {
  test('a follower takes the newer user, the union of transactions and the higher id', () => {
    const local = apply([
      { type: 'snapshot', id: 1, data: { user: user(2) } },
      { type: 'transaction.created', id: 2, data: { transaction: txn('t1', '2026-01-02T00:00:00.000Z') } },
    ])
    const remote = apply([
      { type: 'snapshot', id: 1, data: { user: user(1) } },
      { type: 'transaction.created', id: 2, data: { transaction: txn('t1', '2026-01-02T00:00:00.000Z') } },
      { type: 'transaction.created', id: 5, data: { transaction: txn('t3', '2026-01-04T00:00:00.000Z') } },
    ])
    const merged = mergeState(local, { ...remote, connection: 'live' })
    expect(merged.user?.version).toBe(2)
    expect(merged.transactions.map((t) => t.id)).toEqual(['t3', 't1'])
    expect(merged.lastEventId).toBe(5)
    expect(merged.connection).toBe('live')
  })
})

describe('backoffDelay', () => {
  test('grows exponentially with jitter and stays under the cap', () => {
    expect(backoffDelay(0, 1000, 30_000, () => 0)).toBe(500)
    expect(backoffDelay(0, 1000, 30_000, () => 1)).toBe(1000)
    expect(backoffDelay(3, 1000, 30_000, () => 0.5)).toBe(6000)
    expect(backoffDelay(20, 1000, 30_000, () => 1)).toBe(30_000)
  })
})
