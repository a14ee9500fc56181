import type { UserJson } from '@dormant/core'
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { announceSession, type SessionSignal, watchSession } from './session.js'
import { createEventStream, type EventStream } from './stream.js'

/**
 * Node has no EventSource: a stand-in that records what was opened and lets the test deliver
 * frames, as the browser would. Everything else (BroadcastChannel, the state) is real.
 */
class FakeSource {
  static CLOSED = 2
  static opened: FakeSource[] = []
  readyState = 1
  onopen: (() => void) | null = null
  onerror: (() => void) | null = null
  private listeners = new Map<string, (e: { data: string; lastEventId: string }) => void>()
  constructor(readonly url: string) {
    FakeSource.opened.push(this)
  }
  addEventListener(type: string, listener: (e: { data: string; lastEventId: string }) => void) {
    this.listeners.set(type, listener)
  }
  close() {
    this.readyState = FakeSource.CLOSED
  }
  emit(type: string, data: unknown, id?: string) {
    this.listeners.get(type)?.({ data: JSON.stringify(data), lastEventId: id === undefined ? '' : String(id) })
  }
}

const person = (id: string): UserJson => ({
  id,
  email: `${id}@example.com`,
  name: id,
  role: 'user',
  status: 'active',
  goal: 0,
  permissions: ['transactions.read'],
  hibernation: null,
  version: 1,
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
})

const row = (id: string) => ({ id, type: 'hibernation.completed', details: {}, createdAt: '2026-01-02T00:00:00.000Z' })

/** Whose session the cookie holds, as `/api/me` answers it (null: 401). */
let sessionUser: string | null
let stream: EventStream | undefined
let signOuts: number
const heard: SessionSignal[] = []
let stopWatching: () => void

const open = () => {
  stream = createEventStream({ onUnauthorized: () => signOuts++, backoff: { baseMs: 10, maxMs: 20 } })
  return stream
}
const latest = () => FakeSource.opened.at(-1)!

beforeEach(() => {
  FakeSource.opened = []
  sessionUser = 'usr_a'
  signOuts = 0
  heard.length = 0
  stopWatching = watchSession((signal) => heard.push(signal))
  vi.stubGlobal('EventSource', FakeSource)
  vi.stubGlobal('fetch', async () =>
    sessionUser
      ? new Response(JSON.stringify({ user: person(sessionUser) }), { status: 200 })
      : new Response('{"error":{"code":"unauthorized","message":"no"}}', { status: 401 }),
  )
})
afterEach(() => {
  stream?.close()
  stopWatching()
  vi.unstubAllGlobals()
})

/** A's stream with A's snapshot and a history row applied. */
const streamOfA = async () => {
  const s = open()
  await vi.waitFor(() => expect(FakeSource.opened).toHaveLength(1))
  latest().emit('snapshot', { user: person('usr_a') }, 'e:10')
  s.addTransactions([row('txn_a1')], s.getState().epoch)
  expect(s.getState().transactions).toHaveLength(1)
  return s
}

describe('the stream on a change of user', () => {
  test('learns whose session it has before connecting, and tells the other tabs', async () => {
    await streamOfA()
    expect(heard).toContainEqual({ kind: 'user', userId: 'usr_a' })
  })

  test("another tab's sign-in as B drops A's state, closes A's connection and opens B's", async () => {
    const s = await streamOfA()
    const epochOfA = s.getState().epoch
    const first = latest()
    sessionUser = 'usr_b'
    announceSession({ kind: 'user', userId: 'usr_b' })
    await vi.waitFor(() => expect(s.getState().transactions).toEqual([]))
    expect(s.getState().user).toBeNull()
    expect(first.readyState).toBe(FakeSource.CLOSED)
    await vi.waitFor(() => expect(FakeSource.opened).toHaveLength(2))
    // The new connection starts afresh: no resume position of A's.
    expect(latest().url).toBe('/api/events')
    // History A asked for before the change arrives late: refused.
    s.addTransactions([row('txn_a2')], epochOfA)
    expect(s.getState().transactions).toEqual([])
    latest().emit('snapshot', { user: person('usr_b') }, 'e:12')
    expect(s.getState().user?.id).toBe('usr_b')
    expect(signOuts).toBe(0)
  })

  test("a snapshot of someone else on A's connection drops A's state and is announced", async () => {
    const s = await streamOfA()
    sessionUser = 'usr_b'
    latest().emit('snapshot', { user: person('usr_b') }, 'e:11')
    expect(s.getState().transactions).toEqual([])
    expect(s.getState().user).toBeNull()
    await vi.waitFor(() => expect(heard).toContainEqual({ kind: 'user', userId: 'usr_b' }))
    await vi.waitFor(() => expect(FakeSource.opened).toHaveLength(2))
  })

  test('a logout in another tab drops the state and signs this one out once', async () => {
    const s = await streamOfA()
    sessionUser = null
    announceSession({ kind: 'signed-out' })
    announceSession({ kind: 'signed-out' })
    await vi.waitFor(() => expect(signOuts).toBe(1))
    expect(s.getState().transactions).toEqual([])
    expect(latest().readyState).toBe(FakeSource.CLOSED)
    expect(FakeSource.opened).toHaveLength(1)
  })

  test('a 401 when the stream gives up drops the state, signs out and tells every tab', async () => {
    const s = await streamOfA()
    sessionUser = null
    const source = latest()
    source.readyState = FakeSource.CLOSED
    source.onerror?.()
    await vi.waitFor(() => expect(signOuts).toBe(1))
    expect(s.getState().transactions).toEqual([])
    expect(heard).toContainEqual({ kind: 'signed-out' })
  })

  test('a stream that gives up and finds the session is now B reconnects as B, with nothing of A', async () => {
    const s = await streamOfA()
    sessionUser = 'usr_b'
    const source = latest()
    source.readyState = FakeSource.CLOSED
    source.onerror?.()
    await vi.waitFor(() => expect(heard).toContainEqual({ kind: 'user', userId: 'usr_b' }))
    expect(s.getState().transactions).toEqual([])
    await vi.waitFor(() => expect(FakeSource.opened.length).toBeGreaterThanOrEqual(2))
    expect(latest().url).toBe('/api/events')
  })

  test("another tab's sign-in under way drops the state at once and waits for its outcome", async () => {
    const s = await streamOfA()
    announceSession({ kind: 'changing' })
    await vi.waitFor(() => expect(s.getState().transactions).toEqual([]))
    expect(latest().readyState).toBe(FakeSource.CLOSED)
    // It failed: the session is still A's, so the stream comes back (from scratch) as A.
    announceSession({ kind: 'unchanged' })
    await vi.waitFor(() => expect(FakeSource.opened).toHaveLength(2))
    expect(latest().url).toBe('/api/events')
    expect(signOuts).toBe(0)
  })
})
