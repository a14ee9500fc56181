import { describe, expect, test } from 'vitest'
import { check } from './checker.js'
import type { Connection, DbEvent, DbState, Frame, History } from './history.js'

const HB = 1000
const user = (id: string, version: number) => ({ id, version })
const updated = (id: number, userId: string, version: number, createdAt = 1000 + id): DbEvent => ({
  id,
  userId,
  type: 'user.updated',
  data: { user: user(userId, version) },
  createdAt,
})

/** Alice: versions 1..4 at events 1, 3, 5, 6; Bob: versions 1..2 at events 2, 4; a completed timer. */
const dbState = (): DbState => ({
  events: [
    updated(1, 'alice', 1),
    updated(2, 'bob', 1),
    updated(3, 'alice', 2),
    updated(4, 'bob', 2),
    updated(5, 'alice', 3),
    { id: 6, userId: 'alice', type: 'hibernation.completed', data: { hibernationId: 'h1' }, createdAt: 1006 },
    { id: 7, userId: 'alice', type: 'transaction.created', data: { transaction: { id: 't1' } }, createdAt: 1007 },
    updated(8, 'alice', 4),
  ],
  hibernations: [{ id: 'h1', userId: 'alice', status: 'completed', endsAt: 1005, finishedAt: 1006 }],
  historyRows: new Map([['h1', 1]]),
  versions: new Map([
    ['alice', 4],
    ['bob', 2],
  ]),
})

const frame = (id: number | undefined, event: string, data: unknown, at = 2000): Frame => ({
  ...(id === undefined ? {} : { id: String(id) }),
  event,
  data,
  at,
})
const upd = (id: number, userId: string, version: number, at?: number) =>
  frame(id, 'user.updated', { user: user(userId, version) }, at)

/** Alice's stream from the start: a snapshot at position 1, then everything of hers. */
const aliceStream = (): Connection => ({
  id: 1,
  client: 'alice',
  userId: 'alice',
  cookie: 'sa',
  via: 'api0',
  openedAt: 900,
  status: 200,
  stalled: false,
  frames: [
    frame(1, 'snapshot', { user: user('alice', 1) }),
    upd(3, 'alice', 2),
    upd(5, 'alice', 3),
    frame(6, 'hibernation.completed', { hibernationId: 'h1' }),
    frame(7, 'transaction.created', { transaction: { id: 't1' } }),
    upd(8, 'alice', 4),
  ],
})

const history = (connections: Connection[], extra: Partial<History> = {}): History => ({
  heartbeatMs: HB,
  connections,
  cancels: [],
  revocations: [],
  neverReadTransactions: [],
  rss: [{ process: 'api0', maxBytes: 100 * 1048576 }],
  rssBoundBytes: 400 * 1048576,
  quiescedAt: 1900,
  finalClients: [{ client: 'alice', userId: 'alice' }],
  finalDeadlineMs: 10_000,
  ...extra,
})

const kinds = (h: History, db = dbState()) => check(h, db).map((v) => v.kind)

describe('a clean history', () => {
  test('passes, including a replay snapshot, a reset snapshot and a filtered transaction', () => {
    const replay: Connection = {
      ...aliceStream(),
      id: 2,
      lastEventId: '3',
      // The replay snapshot shows the current state (4); the replay continues from version 2.
      frames: [frame(undefined, 'snapshot', { user: user('alice', 4) }), upd(5, 'alice', 3), upd(8, 'alice', 4)],
    }
    const reset: Connection = {
      ...aliceStream(),
      id: 3,
      lastEventId: '999',
      frames: [frame(8, 'snapshot', { user: user('alice', 4), reset: true })],
    }
    const filtered: Connection = {
      ...aliceStream(),
      id: 4,
      frames: aliceStream().frames.filter((f) => f.event !== 'transaction.created'),
    }
    // The snapshot read the database after event 3 committed, before the process heard of it.
    const ahead: Connection = {
      ...aliceStream(),
      id: 5,
      frames: [frame(1, 'snapshot', { user: user('alice', 2) }), upd(3, 'alice', 2), upd(5, 'alice', 3)],
    }
    // A snapshot in the middle of a stream (a process that lost its place) is a new baseline.
    const midReset: Connection = {
      ...aliceStream(),
      id: 6,
      lastEventId: '1',
      frames: [
        frame(undefined, 'snapshot', { user: user('alice', 4) }),
        upd(3, 'alice', 2),
        frame(6, 'snapshot', { user: user('alice', 3) }),
        upd(8, 'alice', 4),
      ],
    }
    expect(check(history([aliceStream(), replay, reset, filtered, ahead, midReset]), dbState())).toEqual([])
  })
})

describe('each violation kind is detected', () => {
  test('timers: a due hibernation never completed, two history rows, an early completion, a cancel that lost', () => {
    const db = dbState()
    db.hibernations.push(
      { id: 'h2', userId: 'bob', status: 'scheduled', endsAt: 1800, finishedAt: null },
      { id: 'h3', userId: 'bob', status: 'completed', endsAt: 1500, finishedAt: 1400 },
    )
    db.historyRows.set('h3', 2)
    const h = history([], { finalClients: [], cancels: [{ userId: 'alice', hibernationId: 'h1', returnedAt: 1005 }] })
    const details = check(h, db).map((v) => `${v.kind} ${v.detail}`)
    expect(details.filter((d) => d.startsWith('timers'))).toHaveLength(5)
    expect(details.join('\n')).toMatch(/h2.*never completed/)
    expect(details.join('\n')).toMatch(/h3.*2 history rows/)
    expect(details.join('\n')).toMatch(/h3.*early/)
    expect(details.join('\n')).toMatch(/h1.*cancel returned 200/)
  })

  test('a scheduled hibernation not yet due is fine', () => {
    const db = dbState()
    db.hibernations.push({ id: 'h2', userId: 'bob', status: 'scheduled', endsAt: 5000, finishedAt: null })
    expect(kinds(history([aliceStream()]), db)).toEqual([])
  })

  test('order: a repeated id, a missing version, a stale version, an event the table does not hold', () => {
    const base = aliceStream()
    const repeated = { ...base, frames: [...base.frames, upd(8, 'alice', 4)] }
    expect(kinds(history([repeated]))).toContain('order')
    const gap = { ...base, frames: base.frames.filter((f) => f.id !== '5') }
    expect(kinds(history([gap]))).toEqual(['order'])
    const stale = { ...base, frames: [frame(5, 'snapshot', { user: user('alice', 3) }), upd(5, 'alice', 3)] }
    expect(kinds(history([stale], { finalClients: [] }))).toEqual(['order'])
    const older = { ...base, frames: [frame(1, 'snapshot', { user: user('alice', 3) }), upd(3, 'alice', 2)] }
    expect(kinds(history([older], { finalClients: [] }))).toEqual(['order'])
    const altered = { ...base, frames: [...base.frames.slice(0, 5), upd(8, 'alice', 5)] }
    expect(kinds(history([altered], { finalClients: [] }))).toEqual(['order', 'order'])
    const phantom = { ...base, frames: [...base.frames, upd(99, 'alice', 5)] }
    expect(kinds(history([phantom], { finalClients: [] }))).toEqual(['order'])
  })

  test('order: a replay that skips what followed Last-Event-ID', () => {
    const replay: Connection = {
      ...aliceStream(),
      lastEventId: '1',
      frames: [frame(undefined, 'snapshot', { user: user('alice', 4) }), upd(5, 'alice', 3), upd(8, 'alice', 4)],
    }
    expect(kinds(history([replay]))).toEqual(['order'])
  })

  test("isolation: another user's event, another user's state, a transaction to a user who may not read them", () => {
    const base = aliceStream()
    const foreign = {
      ...base,
      frames: [...base.frames.slice(0, 2), frame(4, 'user.updated', { user: user('bob', 2) })],
    }
    expect(kinds(history([foreign], { finalClients: [] }))).toContain('isolation')
    const foreignRow = { ...base, frames: [...base.frames.slice(0, 2), upd(4, 'alice', 3)] }
    expect(kinds(history([foreignRow], { finalClients: [] }))).toContain('isolation')
    expect(kinds(history([base], { neverReadTransactions: ['alice'] }))).toEqual(['isolation'])
  })

  test('final state: a live client that never showed the final version', () => {
    const behind = { ...aliceStream(), frames: aliceStream().frames.slice(0, 5) }
    expect(kinds(history([behind]))).toEqual(['final-state'])
    const late = { ...aliceStream(), frames: [...aliceStream().frames.slice(0, 5), upd(8, 'alice', 4, 20_000)] }
    expect(kinds(history([late]))).toEqual(['final-state'])
  })

  test('revocation: a late event, a stream left open, a stream opened after; a prompt close is fine', () => {
    const revokedAt = 1004
    const revocations = [{ userId: 'alice', cookie: 'sa', returnedAt: revokedAt }]
    // Event 8 was committed at 1008: within the bound (2 s) of the revocation.
    const prompt = { ...aliceStream(), closedAt: revokedAt + 1500, closedBy: 'server' as const }
    expect(kinds(history([prompt], { revocations }))).toEqual([])
    const db = dbState()
    const last = db.events.at(-1)
    if (last) last.createdAt = revokedAt + 2 * HB + 1
    expect(kinds(history([prompt], { revocations }), db)).toEqual(['revocation'])
    const leftOpen = { ...aliceStream(), closedAt: revokedAt + 10_000, closedBy: 'client' as const }
    expect(kinds(history([leftOpen], { revocations }))).toEqual(['revocation'])
    // A stalled client cannot see the close; it is judged on what it received.
    expect(kinds(history([{ ...leftOpen, stalled: true }], { revocations }))).toEqual([])
    const after = { ...prompt, openedAt: revokedAt + 1 }
    expect(kinds(history([after], { revocations }))).toEqual(['revocation'])
  })

  test('memory: a process beyond the bound', () => {
    expect(kinds(history([aliceStream()], { rss: [{ process: 'worker1', maxBytes: 500 * 1048576 }] }))).toEqual([
      'memory',
    ])
  })
})
