import { waitFor } from '@dormant/testing'
import type pg from 'pg'
import { afterAll, beforeAll, expect, test } from 'vitest'
import * as data from '../index.js'
import { closeDb, type Db, latestEventId, openDb, readEvents } from '../index.js'
import { EVENTS_APPEND_LOCK, type PgDb } from './client.js'
import { connect, postgresDatabase } from './test-database.js'

let url: string
let db: Db
beforeAll(async () => {
  url = await postgresDatabase()
  db = await openDb(url)
})
afterAll(() => closeDb(db))

const insertEvent = async (client: pg.Client) =>
  Number(
    (
      await client.query(
        `insert into events (user_id, type, data, created_at) values ('usr_x', 'user.updated', '{}', 0) returning id`,
      )
    ).rows[0].id,
  )

/** Until `pid` waits on a lock (the append lock: an advisory lock, wait_event 'advisory'). */
const blocked = (observer: pg.Client, pid: number) =>
  waitFor(
    async () =>
      (
        await observer.query(
          "select 1 from pg_stat_activity where pid = $1 and wait_event_type = 'Lock' and wait_event = 'advisory'",
          [pid],
        )
      ).rowCount === 1,
    { what: 'the second insert to wait on the append lock' },
  )

test('an insert waits for the open appender, then takes the next id: ids follow commit order', async () => {
  const [a, b, observer] = await Promise.all([connect(url), connect(url), connect(url)])
  try {
    const before = await latestEventId(db)
    await a.query('begin')
    const idA = await insertEvent(a)
    const pidB = (await b.query('select pg_backend_pid() as pid')).rows[0].pid as number
    await b.query('begin')
    const pendingB = insertEvent(b)
    await blocked(observer, pidB)
    const waitingOn = await observer.query(
      "select (classid::bigint << 32) | objid::bigint as key from pg_locks where pid = $1 and locktype = 'advisory' and not granted",
      [pidB],
    )
    expect(waitingOn.rows.map((r) => BigInt(r.key))).toEqual([EVENTS_APPEND_LOCK])
    // A's id is taken but not committed: it is nobody's position yet.
    expect(await latestEventId(db)).toBe(before)
    expect(await readEvents(db, before)).toEqual([])

    await a.query('commit')
    expect(await pendingB).toBe(idA + 1)
    expect(await latestEventId(db)).toBe(idA)
    await b.query('commit')
    expect(await latestEventId(db)).toBe(idA + 1)
  } finally {
    await Promise.all([a.end(), b.end(), observer.end()])
  }
})

test('a rolled-back append leaves a hole; the position is only ever a committed id', async () => {
  const client = await connect(url)
  try {
    const before = await latestEventId(db)
    await client.query('begin')
    const lost = await insertEvent(client)
    await client.query('rollback')
    expect(await latestEventId(db)).toBe(before)
    const next = await insertEvent(client)
    expect(next).toBe(lost + 1)
    expect((await readEvents(db, before)).map((e) => e.id)).toEqual([next])
  } finally {
    await client.end()
  }
})

test('guardrails: pooled sessions end idle transactions; an appender gives up after lock_timeout', async () => {
  const { pg: pool } = db as Db & { pg: PgDb }
  const { rows } = await pool.$client.query('show idle_in_transaction_session_timeout')
  expect(rows[0].idle_in_transaction_session_timeout).toBe('10s')

  // Another session holds the append lock (an open transaction that appended): a write that
  // appends fails with lock_timeout (55P03) after 5 s instead of queueing forever.
  const holder = await connect(url)
  try {
    await holder.query('begin')
    await insertEvent(holder)
    const started = Date.now()
    const failed = await data.createUser(db, { email: 'late@x.io', passwordHash: 'h', permissions: [] }).catch((e) => e)
    expect(failed?.cause?.code ?? failed?.code).toBe('55P03')
    expect(Date.now() - started).toBeGreaterThanOrEqual(4900)
    await holder.query('rollback')
    // Rolled back with the append: the user was never created.
    expect(await data.findLoginByEmail(db, 'late@x.io')).toBeNull()
  } finally {
    await holder.end()
  }
}, 20_000)
