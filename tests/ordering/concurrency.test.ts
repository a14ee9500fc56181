import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { type EventType, INTERNAL_EVENT_TYPES } from '@dormant/core'
import {
  databaseEnv,
  queryDb,
  REPO_ROOT,
  type SseFrame,
  type SseRecorder,
  tempDatabase,
  testBackend,
  uniquePrefix,
} from '@dormant/testing'
import { afterAll, expect, inject, test } from 'vitest'
import { ADMIN, type ApiProcess, spawnApi } from '../faults/support.js'

const PROCESSES = 4
const WRITERS = 2
const CHANGES = 250
const USERS = 8

/** An SSE id as a position: `<epoch>:<n>`, or a bare `<n>` from a server without epochs. */
const position = (id: string) => Number(id.slice(id.lastIndexOf(':') + 1))

const changeFrames = (stream: SseRecorder) =>
  stream.events().filter((f): f is SseFrame & { id: string } => f.id !== undefined && f.event !== 'snapshot')

const procs: ApiProcess[] = []
afterAll(async () => {
  await Promise.all(procs.map((p) => p.signal('SIGTERM')))
})

/** A process of its own running `writer.ts`: WRITERS loops calling the data functions concurrently. */
const writerProcess = async (env: Record<string, string>, seed: number) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'tests/ordering/writer.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env, WRITERS: String(WRITERS), CHANGES: String(CHANGES), SEED: String(seed) },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString()
  })
  const [code] = await once(child, 'exit')
  expect(code).toBe(0)
  return (JSON.parse(out) as { changes: number }).changes
}

/** The events table, the truth the streams must match: change ids per user after `afterId`. */
const committed = async (location: string, afterId: number) => {
  const rows = await queryDb<{ id: number; userId: string; type: EventType }>(
    location,
    'select cast(id as integer) as id, user_id as "userId", type from events where id > ? order by id',
    [afterId],
  )
  return rows.filter((r) => !INTERNAL_EVENT_TYPES.has(r.type))
}

test(`${PROCESSES} processes × ${WRITERS} writers on one ${testBackend()} database: every stream gets each event once, in order, versions consecutive`, async () => {
  const location = await tempDatabase()
  const env = {
    REDIS_URL: inject('redisUrl'),
    REDIS_PREFIX: uniquePrefix('ord'),
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    ...databaseEnv(location),
  }
  const api = await spawnApi(env)
  procs.push(api)
  const users = await Promise.all(
    Array.from({ length: USERS }, () => api.newUser({ permissions: ['hibernation.self'] })),
  )
  const streams = users.map((u) => api.stream(u.cookie))
  await Promise.all(streams.map((s) => s.untilEvents(1, 'snapshot')))
  const snapshots = streams.map((s) => {
    const frame = s.events('snapshot')[0] as SseFrame & { id: string }
    return { position: position(frame.id), version: (frame.data as { user: { version: number } }).user.version }
  })

  const made = await Promise.all(
    Array.from({ length: PROCESSES }, (_, seed) =>
      writerProcess({ ...env, USER_IDS: JSON.stringify(users.map((u) => u.id)) }, seed),
    ),
  )
  // A change through the API itself, last: anything doubled or late before it would show.
  for (const u of users) await api.grant(u.id, ['hibernation.self', 'transactions.read'])

  const from = Math.min(...snapshots.map((s) => s.position))
  const rows = await committed(location, from)
  const total = made.reduce((a, b) => a + b, 0)
  expect(rows.length).toBeGreaterThanOrEqual(total)
  console.log(`[measured] ${total} changes committed by ${PROCESSES * WRITERS} writers, ${rows.length} events`)
  expect(total).toBeGreaterThan(1000)

  await Promise.all(
    users.map(async (u, i) => {
      const stream = streams[i] as SseRecorder
      const snapshot = snapshots[i] as { position: number; version: number }
      const expected = rows.filter((r) => r.userId === u.id && r.id > snapshot.position).map((r) => r.id)
      const last = expected.at(-1) as number
      await stream.until(
        () => changeFrames(stream).some((f) => position(f.id) >= last),
        60_000,
        `user ${i}'s event ${last}`,
      )
      const frames = changeFrames(stream)
      expect(frames.map((f) => position(f.id))).toEqual(expected)
      const versions = frames.map((f) => (f.data as { user: { version: number } }).user.version)
      expect(versions).toEqual(expected.map((_, k) => snapshot.version + 1 + k))
    }),
  )
}, 300_000)
