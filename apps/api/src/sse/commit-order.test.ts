import { latestEventId, readEvents } from '@dormant/db'
import {
  databaseEnv,
  freePort,
  type SseFrame,
  SseRecorder,
  spawnApp,
  streamPosition,
  testBackend,
  waitFor,
} from '@dormant/testing'
import pg from 'pg'
import { describe, expect } from 'vitest'
import { ADMIN, type TestApi, test } from '../testing.js'

/** A connection of its own on the test database: one "process" with its own transaction. */
const connect = async (api: TestApi) => {
  const client = new pg.Client({ connectionString: api.database })
  await client.connect()
  return client
}

/** Appends a `user.updated` row by hand, as another process's transaction would (its trigger takes the position). */
const insertEvent = (client: pg.Client, user: unknown, userId: string) =>
  client
    .query<{ id: string }>(
      `insert into events (user_id, type, data, created_at) values ($1, 'user.updated', $2, $3) returning id`,
      [userId, JSON.stringify({ user }), Date.now()],
    )
    .then((res) => Number(res.rows[0]?.id))

/** Positions a fresh reader sees above `after`: what any process can read now. */
const visible = async (reader: pg.Client, after: number) =>
  (await reader.query<{ id: string }>('select id from events where id > $1 order by id', [after])).rows.map((r) =>
    Number(r.id),
  )

const changes = (stream: SseRecorder) => stream.events().filter((f) => f.id !== undefined && f.event !== 'snapshot')

const snapshotOf = (stream: SseRecorder) => stream.events('snapshot')[0] as SseFrame

describe.runIf(testBackend() === 'postgres')('PostgreSQL: positions in commit order (issue 9)', () => {
  test('the transaction that took its position first commits first; a stream on a third process gets both, in order, no reset', async ({
    api,
  }) => {
    const user = await api.newUser()
    const port = await freePort()
    // The third process: an API of its own, told of these commits by nobody (no publish), so
    // only its reads of the table can bring them.
    const child = spawnApp('api', {
      ...databaseEnv(api.database),
      HOST: '127.0.0.1',
      PORT: String(port),
      REDIS_URL: api.deps.config.REDIS_URL,
      REDIS_PREFIX: api.deps.config.REDIS_PREFIX,
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
      EVENTS_CHECK_MS: '200',
    })
    const [a, b, reader] = [await connect(api), await connect(api), await connect(api)]
    try {
      await child.waitForOutput('api listening', 30_000)
      const stream = new SseRecorder(`http://127.0.0.1:${port}/api/events`, { cookie: user.cookie })
      await stream.untilEvents(1, 'snapshot')
      const cursor = streamPosition(snapshotOf(stream).id)
      const state = (snapshotOf(stream).data as { user: Record<string, unknown> }).user

      const pidB = (await b.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid
      await a.query('begin')
      const idA = await insertEvent(a, { ...state, name: 'first' }, user.id)
      await b.query('begin')
      const pendingB = insertEvent(b, { ...state, name: 'second' }, user.id)
      // B's insert waits on the append lock A holds: it cannot take a position until A ends.
      await waitFor(
        async () =>
          (
            await reader.query(
              `select 1 from pg_stat_activity where pid = $1 and wait_event_type = 'Lock' and wait_event = 'advisory'`,
              [pidB],
            )
          ).rowCount === 1,
        { what: "B's insert to wait on the append lock" },
      )
      expect(await visible(reader, cursor)).toEqual([])

      await a.query('commit')
      const idB = await pendingB
      expect(idB).toBe(idA + 1)
      // B still open: what can be read is a prefix of what will ever be.
      expect(await visible(reader, cursor)).toEqual([idA])
      await stream.until(() => changes(stream).length >= 1, 10_000, "A's event")
      await b.query('commit')
      expect(await visible(reader, cursor)).toEqual([idA, idB])

      await stream.until(() => changes(stream).length >= 2, 10_000, "B's event")
      expect(changes(stream).map((f) => streamPosition(f.id))).toEqual([idA, idB])
      expect(changes(stream).map((f) => (f.data as { user: { name: string } }).user.name)).toEqual(['first', 'second'])
      expect(stream.events('snapshot')).toHaveLength(1)
      expect(stream.ended).toBe(false)
      stream.close()
    } finally {
      await Promise.all([a.end(), b.end(), reader.end()])
      await child.signal('SIGTERM')
    }
  }, 90_000)

  test('a rolled-back transaction leaves a hole the stream passes without a reset, live and on replay', async ({
    api,
  }) => {
    const user = await api.newUser()
    const stream = api.stream(user.cookie)
    await stream.untilEvents(1, 'snapshot')
    const { epoch } = api.deps.hub
    const before = await latestEventId(api.deps.db)
    const client = await connect(api)
    let hole: number
    try {
      await client.query('begin')
      hole = await insertEvent(client, { id: user.id }, user.id)
      await client.query('rollback')
    } finally {
      await client.end()
    }
    expect(hole).toBe(before + 1)

    // The API's own commit comes next: its event jumps over the hole, which nobody will fill.
    await api.grant(user.id, ['reports.view'])
    const after = (await readEvents(api.deps.db, before, { userId: user.id })).map((e) => e.id)
    expect(after[0]).toBeGreaterThan(hole)
    await stream.until(() => changes(stream).length >= after.length)
    expect(changes(stream).map((f) => f.id)).toEqual(after.map((id) => `${epoch}:${id}`))
    expect(stream.ended).toBe(false)

    // A client that stopped before the hole resumes across it; a pruned-looking gap it is not.
    for (const lastEventId of [`${epoch}:${before}`, `${epoch}:${hole}`]) {
      const resumed = api.stream(user.cookie, { lastEventId })
      await resumed.until(() => changes(resumed).length >= after.length)
      expect((snapshotOf(resumed).data as { reset?: boolean }).reset).toBeUndefined()
      expect(changes(resumed).map((f) => f.id)).toEqual(after.map((id) => `${epoch}:${id}`))
      resumed.close()
    }
    await waitFor(() => api.deps.hub.lastId >= (after.at(-1) ?? 0), { what: 'the hub past the hole' })
  })
})
