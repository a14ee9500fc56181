import { tempDatabase, testBackend, waitFor } from '@dormant/testing'
import pg from 'pg'
import { afterEach, describe, expect, test } from 'vitest'
import { closeDb, openDb } from './index.js'

/**
 * The PostgreSQL pitfall (docs/architecture.md, "PostgreSQL"): a plain sequence hands ids out at
 * INSERT, so a transaction holding a lower id can commit after one holding a higher id, and
 * a reader that moved its cursor past the higher one never sees the lower. These tests drive
 * that interleaving deterministically with two sessions of their own, beneath the data
 * functions, against the real migrated schema.
 */
describe.runIf(testBackend() === 'postgres')('event ids commit in order on PostgreSQL', () => {
  const clients: pg.Client[] = []
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.end()))
  })

  /** A fresh database with the product's migrations applied, as the apps open it. */
  const migratedDatabase = async () => {
    const location = await tempDatabase()
    await closeDb(await openDb(location))
    return location
  }

  const connect = async (location: string) => {
    const client = new pg.Client({ connectionString: location })
    await client.connect()
    clients.push(client)
    return client
  }

  /** Ask before the client has a query in flight: pg queues a client's queries one after another. */
  const pidOf = async (client: pg.Client) => Number((await client.query('select pg_backend_pid() as pid')).rows[0].pid)

  const append = async (client: pg.Client, table = 'events') => {
    const { rows } = await client.query(
      `insert into ${table} (user_id, type, data, created_at) values ('usr_x', 'user.updated', '{}', $1) returning id`,
      [Date.now()],
    )
    return Number(rows[0].id)
  }

  /** What a tail reader sees after `cursor`, in id order: the fan-out's catch-up read. */
  const tail = async (reader: pg.Client, cursor: number, table = 'events') =>
    (await reader.query(`select id from ${table} where id > $1 order by id`, [cursor])).rows.map((r) => Number(r.id))

  /** Until the session `pid` waits on a lock; no timing assumption about when it gets there. */
  const blockedOnLock = (observer: pg.Client, pid: number) =>
    waitFor(
      async () => {
        const { rows } = await observer.query(
          'select wait_event_type, wait_event from pg_stat_activity where pid = $1',
          [pid],
        )
        return rows[0]?.wait_event_type === 'Lock' ? (rows[0].wait_event as string) : null
      },
      { intervalMs: 1, what: `session ${pid} blocked on a lock` },
    )

  test('a second appender waits for the first to commit; a tail reader only ever sees a prefix', async () => {
    const location = await migratedDatabase()
    const [a, b, reader] = [await connect(location), await connect(location), await connect(location)]
    await a.query('begin')
    const idA = await append(a)
    const pidB = await pidOf(b)
    await b.query('begin')
    const pendingB = append(b)
    expect(await blockedOnLock(reader, pidB)).toBe('advisory')
    // Nothing committed yet, and B cannot take an id ahead of A's commit.
    expect(await tail(reader, 0)).toEqual([])
    await a.query('commit')
    const idB = await pendingB
    expect(idB).toBe(idA + 1)
    // B is still open: the visible ids are a prefix of what will ever exist.
    expect(await tail(reader, 0)).toEqual([idA])
    await b.query('commit')
    expect(await tail(reader, idA)).toEqual([idB])
  })

  test('control: with a plain BIGSERIAL the same interleaving loses an event (the test can see the bug)', async () => {
    const location = await migratedDatabase()
    const [a, b, reader] = [await connect(location), await connect(location), await connect(location)]
    await reader.query(
      'create table scratch_events (id bigserial primary key, user_id text not null, type text not null, data text not null, created_at bigint not null)',
    )
    await a.query('begin')
    const idA = await append(a, 'scratch_events')
    await b.query('begin')
    // Nothing serialises the appends: B takes the next id without waiting, and commits first.
    const idB = await append(b, 'scratch_events')
    expect(idB).toBe(idA + 1)
    await b.query('commit')
    const seen = await tail(reader, 0, 'scratch_events')
    expect(seen).toEqual([idB])
    const cursor = seen.at(-1) as number
    await a.query('commit')
    // A's event is committed, but behind the cursor: a tail reader never delivers it.
    expect(await tail(reader, cursor, 'scratch_events')).toEqual([])
    expect(await tail(reader, 0, 'scratch_events')).toEqual([idA, idB])
  })

  test('a rolled-back append leaves a hole that a reader passes without waiting', async () => {
    const location = await migratedDatabase()
    const [a, b, reader] = [await connect(location), await connect(location), await connect(location)]
    const before = await append(a)
    await a.query('begin')
    const hole = await append(a)
    const pidB = await pidOf(b)
    await b.query('begin')
    const pendingB = append(b)
    expect(await blockedOnLock(reader, pidB)).toBe('advisory')
    await a.query('rollback')
    // The rollback releases the append lock as a commit does; the hole is never filled.
    const next = await pendingB
    expect([before + 1, hole + 1]).toEqual([hole, next])
    await b.query('commit')
    // Read at once, with nothing waiting on `hole`: the reader goes straight past it.
    expect(await tail(reader, before)).toEqual([next])
    expect(await tail(reader, next)).toEqual([])
  })

  test('12 writers × 40 appends with rollbacks beside a tail reader: every committed event is seen once, in order', async () => {
    const WRITERS = 12
    const APPENDS = 40
    const location = await migratedDatabase()
    const reader = await connect(location)
    const writers = await Promise.all(Array.from({ length: WRITERS }, () => connect(location)))
    const committed: number[] = []
    const rolledBack: number[] = []
    let writing = true

    const writer = async (client: pg.Client, w: number) => {
      for (let i = 0; i < APPENDS; i++) {
        await client.query('begin')
        const id = await append(client)
        // 0–3 ms of other work after the append, holding the lock as a slow transaction would.
        await new Promise((resolve) => setTimeout(resolve, (w + i) % 4))
        if ((w * APPENDS + i) % 10 === 7) {
          await client.query('rollback')
          rolledBack.push(id)
        } else {
          await client.query('commit')
          committed.push(id)
        }
      }
    }

    const seen: number[] = []
    const tailReader = async () => {
      let cursor = 0
      let reads = 0
      // One more read after the writers finish picks up their last commits.
      for (let last = false; !last; ) {
        last = !writing
        const ids = await tail(reader, cursor)
        seen.push(...ids)
        cursor = ids.at(-1) ?? cursor
        reads++
      }
      return reads
    }

    const reading = tailReader()
    await Promise.all(writers.map(writer))
    writing = false
    const reads = await reading

    expect(committed).toHaveLength(WRITERS * APPENDS * 0.9)
    expect(rolledBack).toHaveLength(WRITERS * APPENDS * 0.1)
    // The reader really ran beside the writers, rather than once at the end.
    expect(reads).toBeGreaterThan(10)
    expect(seen).toEqual([...committed].sort((x, y) => x - y))
    expect(seen.every((id, i) => i === 0 || id > (seen[i - 1] as number))).toBe(true)
    expect(seen.filter((id) => rolledBack.includes(id))).toEqual([])
  })
})
