import { spawn } from 'node:child_process'
import { connect, type Socket } from 'node:net'
import { queryDb, waitFor } from '@dormant/testing'
import { afterAll, expect, inject, test } from 'vitest'
import { type ApiProcess, committedEvents, dbOf, ids, report, spawnApi, systemEnv, USER_PASSWORD } from './support.js'

const BACKLOG = 12_000
const STALLED = 12

const procs: ApiProcess[] = []
const sockets: Socket[] = []
afterAll(async () => {
  for (const s of sockets) s.destroy()
  await Promise.all(procs.map((p) => p.signal('SIGTERM')))
})

const SEED_BATCH = 500

/**
 * Writes `count` realistic user.updated rows straight into the outbox, a few hundred per
 * statement (one statement per connection is all `queryDb` runs; row by row would take minutes).
 */
const seedBacklog = async (location: string, userId: string, count: number, noteBytes = 300) => {
  const user = { id: userId, email: 'backlog@example.com', name: 'Backlog', role: 'user', status: 'active', goal: 0 }
  for (let from = 0; from < count; from += SEED_BATCH) {
    const rows = Array.from({ length: Math.min(SEED_BATCH, count - from) }, (_, k) => [
      userId,
      'user.updated',
      JSON.stringify({
        user: { ...user, permissions: ['reports.view'], version: from + k + 2, note: 'x'.repeat(noteBytes) },
      }),
      Date.now(),
    ])
    await queryDb(
      location,
      `insert into events (user_id, type, data, created_at) values ${rows.map(() => '(?, ?, ?, ?)').join(', ')}`,
      rows.flat(),
    )
  }
}

/** An admin stream asking for the whole backlog, whose client never reads a byte of it. */
const stalledReplay = (port: number, cookie: string, lastEventId: number) => {
  const socket = connect(port, '127.0.0.1')
  sockets.push(socket)
  socket.pause()
  socket.write(
    `GET /api/admin/events HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${cookie}\r\nLast-Event-ID: ${lastEventId}\r\nAccept: text/event-stream\r\n\r\n`,
  )
}

/**
 * Measures /healthz latencies (sorted) for `ms` from a separate Node process: the test
 * process itself parses a 12,000-event replay meanwhile, and its own delays must not count
 * as the API's. `ready` resolves once the probe is warm and measuring.
 */
const healthzProbe = (api: ApiProcess, ms: number) => {
  const script = `
    const [url, ms] = process.argv.slice(1)
    const out = []
    await (await fetch(url)).text() // a warm connection: its setup is not the API's latency
    process.stdout.write('ready\\n')
    const until = Date.now() + Number(ms)
    while (Date.now() < until) {
      const started = performance.now()
      const res = await fetch(url)
      await res.text()
      if (res.status !== 200) throw new Error('healthz ' + res.status)
      out.push(performance.now() - started)
      await new Promise((r) => setTimeout(r, 10))
    }
    process.stdout.write(JSON.stringify(out))`
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, `${api.url}/healthz`, String(ms)])
  let out = ''
  const ready = new Promise<void>((resolve) =>
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      if (out.startsWith('ready\n')) resolve()
    }),
  )
  const latencies = new Promise<number[]>((resolve, reject) =>
    child.once('exit', (code) =>
      code === 0
        ? resolve((JSON.parse(out.slice('ready\n'.length)) as number[]).sort((x, y) => x - y))
        : reject(new Error(`healthz probe exited ${code}`)),
    ),
  )
  return { ready, latencies }
}

test('12 stalled 12,000-event replays: /healthz stays fast; a reading client gets every event once, live ones after', async () => {
  const env = await systemEnv(inject('redisUrl'))
  const seeder = await spawnApi(env)
  const owner = await seeder.newUser()
  await seeder.signal('SIGTERM')
  const before = Math.max(0, ...(await committedEvents(dbOf(env))).all)
  await seedBacklog(dbOf(env), owner.id, BACKLOG)

  const api = await spawnApi(env)
  procs.push(api)
  const admin = await api.adminCookie()
  const quiet = healthzProbe(api, 300)
  await quiet.ready
  const idle = await quiet.latencies
  const probe = healthzProbe(api, 1500)
  await probe.ready
  for (let i = 0; i < STALLED; i++) stalledReplay(api.port, admin, before)
  const reader = api.stream(admin, { admin: true, lastEventId: before })
  // A live change while the replays run: it must come after the backlog, once.
  await api.grant(owner.id, ['hibernation.self'])
  const during = await probe.latencies
  const max = during.at(-1) ?? 0
  report(
    `${STALLED} stalled ${BACKLOG}-event replays + 1 reader: /healthz max ${max.toFixed(0)} ms, p50 ${during[Math.floor(during.length / 2)]?.toFixed(0)} ms (idle max ${idle.at(-1)?.toFixed(0)} ms)`,
  )
  // Built in one piece, the replays held /healthz 455–490 ms on a quiet machine (1.5–2.8 s on
  // one loaded ten times over); in turns of one small page it stays near its idle time
  // (under 100 ms quiet, up to about 300 ms at that load).
  expect(max).toBeLessThan(400)

  const expected = (await committedEvents(dbOf(env), before)).all
  await waitFor(() => ids(reader).length >= expected.length, { timeoutMs: 30_000, what: 'the whole replay' })
  expect(reader.events('snapshot')[0]?.data).not.toMatchObject({ reset: true })
  expect(ids(reader)).toEqual(expected)
})

test('a client further behind than SSE_REPLAY_CAP gets a reset snapshot, not a partial replay', async () => {
  const env = await systemEnv(inject('redisUrl'), { SSE_REPLAY_CAP: '5000' })
  const api = await spawnApi(env)
  procs.push(api)
  const owner = await api.newUser()
  const before = Math.max(0, ...(await committedEvents(dbOf(env))).all)
  await seedBacklog(dbOf(env), owner.id, 6000)
  // The API learns of the rows from the table itself (nothing was published).
  await api.grant(owner.id, ['reports.view'])
  const admin = await api.adminCookie()
  const behind = api.stream(admin, { admin: true, lastEventId: before })
  const user = api.stream(await api.login(owner.email, USER_PASSWORD), { lastEventId: before })
  await Promise.all([behind.untilEvents(1, 'snapshot'), user.untilEvents(1, 'snapshot')])
  for (const s of [behind, user]) {
    expect(s.events('snapshot')[0]?.data).toMatchObject({ reset: true })
    expect(ids(s)).toEqual([])
  }
  const near = api.stream(admin, { admin: true, lastEventId: before + 2000 })
  await waitFor(() => ids(near).length === 4001, { what: 'a replay within the cap' })
})

test('more live events during a replay than a stream may hold: it reads on through them, every event once, in order', async () => {
  // A 1 KB cap: a second live frame already exceeds what the stream may hold.
  // Heartbeats every 0.2 s: some land while the paused reader leaves the replay unread.
  const env = await systemEnv(inject('redisUrl'), { SSE_BUFFER_LIMIT_BYTES: '1024', SSE_HEARTBEAT_MS: '200' })
  const api = await spawnApi(env)
  procs.push(api)
  const owner = await api.newUser()
  const before = Math.max(0, ...(await committedEvents(dbOf(env))).all)
  // About 20 MB: more than the socket buffers of both ends hold, so while the reader pauses the
  // replay waits for it, and the live events below come during the replay, never after it.
  await seedBacklog(dbOf(env), owner.id, BACKLOG, 1500)
  await api.grant(owner.id, ['reports.view'])
  const admin = await api.adminCookie()
  const reader = api.stream(admin, { admin: true, lastEventId: before })
  await reader.untilEvents(1, 'snapshot')
  reader.pause()
  await Promise.all(
    Array.from({ length: 30 }, (_, i) => api.grant(owner.id, i % 2 ? ['reports.view'] : ['reports.export'])),
  )
  reader.resume()
  const expected = (await committedEvents(dbOf(env), before)).all
  await waitFor(() => ids(reader).length >= expected.length || reader.ended, { timeoutMs: 30_000, what: 'everything' })
  expect(reader.ended).toBe(false)
  expect(ids(reader)).toEqual(expected)
})
