import type { TransactionJson, UserJson } from '@dormant/core'
import { describe, expect, test } from 'vitest'
import { backoffDelay } from './event-source.js'
import {
  applyFrame,
  compareEventIds,
  initialState,
  mergeState,
  mergeTransactions,
  parseEventId,
  type StreamFrame,
  type StreamState,
} from './state.js'

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
    const state = apply([{ type: 'snapshot', id: 'e:7', data: { user: user(3) } }])
    expect(state.user?.version).toBe(3)
    expect(state.lastEventId).toBe('e:7')
  })

  test('user.updated applies by version and never goes backwards', () => {
    const state = apply([
      { type: 'snapshot', id: 'e:1', data: { user: user(1) } },
      { type: 'user.updated', id: 'e:3', data: { user: user(5, { status: 'hibernating' }) } },
      // Id is new, version is older (e.g. a replayed event behind a fresher snapshot).
      { type: 'user.updated', id: 'e:4', data: { user: user(4, { status: 'active' }) } },
    ])
    expect(state.user?.version).toBe(5)
    expect(state.user?.status).toBe('hibernating')
    expect(state.users.usr_1?.version).toBe(5)
    expect(state.lastEventId).toBe('e:4')
  })

  test('a snapshot older than what was applied does not roll the user back', () => {
    const state = apply([
      { type: 'snapshot', id: 'e:1', data: { user: user(1) } },
      { type: 'user.updated', id: 'e:2', data: { user: user(2, { goal: 1 }) } },
      { type: 'snapshot', data: { user: user(1) } },
    ])
    expect(state.user?.goal).toBe(1)
    expect(state.lastEventId).toBe('e:2')
  })

  test('a reset snapshot replaces everything and bumps the epoch', () => {
    const state = apply([
      { type: 'snapshot', id: 'e:1', data: { user: user(1) } },
      { type: 'transaction.created', id: 'e:2', data: { transaction: txn('t1', '2026-01-02T00:00:00.000Z') } },
      { type: 'snapshot', id: 'e:50', data: { user: user(9), reset: true } },
    ])
    expect(state.user?.version).toBe(9)
    expect(state.transactions).toEqual([])
    expect(state.epoch).toBe(1)
    expect(state.lastEventId).toBe('e:50')
  })

  test('transactions are deduplicated by id and kept newest first', () => {
    const early = txn('t1', '2026-01-02T00:00:00.000Z')
    const late = txn('t2', '2026-01-03T00:00:00.000Z')
    const state = apply([
      { type: 'snapshot', id: 'e:1', data: { user: user(1) } },
      { type: 'transaction.created', id: 'e:2', data: { transaction: early } },
      { type: 'transaction.created', id: 'e:3', data: { transaction: late } },
      { type: 'transaction.created', data: { transaction: early } },
    ])
    expect(state.transactions.map((t) => t.id)).toEqual(['t2', 't1'])
    expect(mergeTransactions(state.transactions, [early, late])).toBe(state.transactions)
  })

  test('an event at or below the applied id is not applied twice', () => {
    const once = apply([
      { type: 'snapshot', id: 'e:1', data: { user: user(1) } },
      { type: 'user.updated', id: 'e:2', data: { user: user(2) } },
    ])
    const again = applyFrame(once, { type: 'user.updated', id: 'e:2', data: { user: user(2) } })
    expect(again).toBe(once)
    expect(once.feed).toHaveLength(1)
  })

  test('admin streams keep every user at their newest version', () => {
    const other = (version: number) => user(version, { id: 'usr_2', email: 'b@example.com' })
    const state = apply([
      { type: 'snapshot', id: 'e:1', data: { user: user(1, { role: 'admin' }) } },
      { type: 'user.updated', id: 'e:2', data: { user: other(4) } },
      { type: 'user.updated', id: 'e:3', data: { user: other(3) } },
    ])
    expect(state.user?.id).toBe('usr_1')
    expect(state.users.usr_2?.version).toBe(4)
    expect(state.feed.map((f) => f.id)).toEqual(['e:3', 'e:2'])
  })
})

describe('mergeState', () => {
  test('a follower takes the newer user, the union of transactions and the higher id', () => {
    const local = apply([
      { type: 'snapshot', id: 'e:1', data: { user: user(2) } },
      { type: 'transaction.created', id: 'e:2', data: { transaction: txn('t1', '2026-01-02T00:00:00.000Z') } },
    ])
    const remote = apply([
      { type: 'snapshot', id: 'e:1', data: { user: user(1) } },
      { type: 'transaction.created', id: 'e:2', data: { transaction: txn('t1', '2026-01-02T00:00:00.000Z') } },
      { type: 'transaction.created', id: 'e:5', data: { transaction: txn('t3', '2026-01-04T00:00:00.000Z') } },
    ])
    const merged = mergeState(local, { ...remote, connection: 'live' })
    expect(merged.user?.version).toBe(2)
    expect(merged.transactions.map((t) => t.id)).toEqual(['t3', 't1'])
    expect(merged.lastEventId).toBe('e:5')
    expect(merged.connection).toBe('live')
  })
})

describe('event ids and their epoch', () => {
  test('`<epoch>:<n>` and a bare `<n>` parse; anything else is not an id of ours', () => {
    expect(parseEventId('k3x9:42')).toEqual({ epoch: 'k3x9', position: 42 })
    expect(parseEventId('42')).toEqual({ epoch: '', position: 42 })
    for (const bad of ['', 'abc', ':4', 'a:', 'a:-1', 'a:1.5', 'A:1']) expect(parseEventId(bad), bad).toBeNull()
  })

  test('positions compare within one epoch only: 10 is after 9, not after 9 of another epoch', () => {
    expect(compareEventIds('e:10', 'e:9')).toBeGreaterThan(0)
    expect(compareEventIds('e:9', 'e:10')).toBeLessThan(0)
    expect(compareEventIds('f:10', 'e:9')).toBeUndefined()
    expect(compareEventIds('f:1', 'e:9')).toBeUndefined()
  })

  test('a reset snapshot adopts the new epoch even at a lower position; later events of it apply', () => {
    const state = apply([
      { type: 'snapshot', id: 'old:1', data: { user: user(1) } },
      { type: 'user.updated', id: 'old:40', data: { user: user(2) } },
      // The database was restored: positions start again lower, in a new epoch.
      { type: 'snapshot', id: 'new:5', data: { user: user(3), reset: true } },
      { type: 'user.updated', id: 'new:6', data: { user: user(4) } },
    ])
    expect(state.lastEventId).toBe('new:6')
    expect(state.user?.version).toBe(4)
  })

  test('an event of an epoch the state has left (a late relay) is not applied and does not move the id', () => {
    const state = apply([
      { type: 'snapshot', id: 'new:5', data: { user: user(3) } },
      { type: 'transaction.created', id: 'old:41', data: { transaction: txn('t_old', '2026-01-02T00:00:00.000Z') } },
    ])
    expect(state.lastEventId).toBe('new:5')
    expect(state.transactions).toEqual([])
  })

  test('merging tabs of different epochs keeps the id of the state reset last', () => {
    const before = apply([{ type: 'snapshot', id: 'old:40', data: { user: user(1) } }])
    const after = apply([{ type: 'snapshot', id: 'new:5', data: { user: user(2), reset: true } }], before)
    expect(mergeState(before, after).lastEventId).toBe('new:5')
    expect(mergeState(after, before).lastEventId).toBe('new:5')
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
