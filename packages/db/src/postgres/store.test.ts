import { randomBytes } from 'node:crypto'
import type { Permission } from '@dormant/core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import * as data from '../index.js'
import { closeDb, type Db, openDb } from '../index.js'
import { connect, postgresDatabase } from './test-database.js'

// A smoke test of each group of data functions on PostgreSQL, and of the read-then-write
// ones raced from many connections at once: the pool has 10, so these really run concurrently.

let url: string
let db: Db
beforeAll(async () => {
  url = await postgresDatabase()
  db = await openDb(url)
})
afterAll(() => closeDb(db))

const newUser = async (email = `${randomBytes(4).toString('hex')}@x.io`) => {
  const created = await data.createUser(db, {
    email,
    passwordHash: 'hash',
    permissions: ['reports.view' as Permission],
  })
  if (!('user' in created)) throw new Error('duplicate email')
  return created.user
}

describe('users and sessions', () => {
  test('one of five concurrent sign-ups with one email wins; the rest see duplicate_email', async () => {
    const results = await Promise.all(
      Array.from({ length: 5 }, () => data.createUser(db, { email: 'Same@X.io', passwordHash: 'h', permissions: [] })),
    )
    expect(results.filter((r) => 'user' in r)).toHaveLength(1)
    expect(results.filter((r) => 'error' in r && r.error === 'duplicate_email')).toHaveLength(4)
    expect(await data.findLoginByEmail(db, ' same@x.IO ')).toMatchObject({ passwordHash: 'h' })
  })

  test('a change bumps the version once per writer and records user.updated with an id', async () => {
    const user = await newUser()
    const changes = await Promise.all(
      (['hibernation.self', 'transactions.read', 'reports.view'] as Permission[]).map((p) =>
        data.setPermissions(db, user.id, [p]),
      ),
    )
    expect(changes.map((c) => c?.user.version).sort()).toEqual([2, 3, 4])
    for (const change of changes) expect(change?.events[0]?.id).toBeGreaterThan(0)
    expect(await data.setPermissions(db, 'usr_missing', [])).toBeNull()
    expect((await data.getUser(db, user.id))?.version).toBe(4)
  })

  test('users page by email bytewise, as on SQLite, whatever the collation', async () => {
    for (const email of ['pg_c@p.io', 'pg-d@p.io', 'pgb@p.io']) await newUser(email)
    const first = await data.listUsers(db, { query: '@p.io', limit: 2 })
    expect(first.users.map((u) => u.email)).toEqual(['pg-d@p.io', 'pg_c@p.io'])
    const rest = await data.listUsers(db, { query: '@p.io', limit: 2, cursor: first.nextCursor ?? '' })
    expect(rest).toMatchObject({ users: [{ email: 'pgb@p.io' }], nextCursor: null })
    expect(await data.countUsers(db)).toBeGreaterThanOrEqual(3)
  })

  test('sessions: found while valid, revoked once with an event, expired ones deleted', async () => {
    const user = await newUser()
    const id = await data.createSession(db, { userId: user.id, tokenHash: 'tok1', ttlMs: 60_000 })
    expect(await data.findSession(db, 'tok1')).toMatchObject({ sessionId: id, user: { id: user.id } })
    const [revoked, again] = await Promise.all([data.revokeSession(db, id), data.revokeSession(db, id)])
    const events = [revoked, again].filter((e) => e !== null)
    expect(events).toMatchObject([{ type: 'session.revoked', userId: user.id }])
    expect(events[0]?.id).toBeGreaterThan(0)
    expect(await data.findSession(db, 'tok1')).toBeNull()
    await data.createSession(db, { userId: user.id, tokenHash: 'tok2', ttlMs: 1 }, 1000)
    expect(await data.deleteExpiredSessions(db, 2000)).toBe(1)
  })

  test('snapshot reads the user and the newest committed position together', async () => {
    const user = await newUser()
    const snap = await data.snapshot(db, user.id)
    expect(snap).toEqual({ user, position: await data.latestEventId(db) })
  })
})

describe('hibernations', () => {
  test('start, refuse a second start, complete exactly once across four racing completions', async () => {
    const user = await newUser()
    const started = await data.startHibernation(db, user.id, 10, 1000)
    if (!('hibernation' in started)) throw new Error(`not started: ${JSON.stringify(started)}`)
    expect(await data.startHibernation(db, user.id, 10, 1000)).toEqual({ error: 'already_hibernating' })
    expect(await data.completeHibernation(db, started.hibernation.id, 1005)).toEqual({
      outcome: 'not_due',
      endsAt: 1010,
    })

    const outcomes = await Promise.all(
      Array.from({ length: 4 }, () => data.completeHibernation(db, started.hibernation.id, 2000)),
    )
    const completed = outcomes.filter((o) => o.outcome === 'completed')
    expect(completed).toHaveLength(1)
    const events = completed[0]?.outcome === 'completed' ? completed[0].events : []
    expect(events.map((e) => e.type)).toEqual(['user.updated', 'transaction.created', 'hibernation.completed'])
    const ids = events.map((e) => e.id)
    expect(ids).toEqual([ids[0], (ids[0] ?? 0) + 1, (ids[0] ?? 0) + 2])
    expect(await data.readEvents(db, (ids[0] ?? 0) - 1, { userId: user.id })).toEqual(events)
    expect(await data.listTransactions(db, user.id)).toMatchObject([{ type: 'hibernation.completed' }])
    expect((await data.getUser(db, user.id))?.status).toBe('active')
  })

  test('a cancel racing a completion: exactly one of them wins', async () => {
    const user = await newUser()
    const started = await data.startHibernation(db, user.id, 10, 1000)
    if (!('hibernation' in started)) throw new Error('not started')
    const [completion, cancel] = await Promise.all([
      data.completeHibernation(db, started.hibernation.id, 2000),
      data.cancelHibernation(db, user.id, 2000),
    ])
    expect([completion.outcome === 'completed', 'user' in cancel].filter(Boolean)).toHaveLength(1)
  })

  test('a batch completes in the order given; listing and membership see only scheduled ones', async () => {
    const users = [await newUser(), await newUser()]
    const ids: string[] = []
    for (const u of users) {
      const started = await data.startHibernation(db, u.id, 10, 1000)
      if ('hibernation' in started) ids.push(started.hibernation.id)
    }
    expect(await data.scheduledAmong(db, [...ids, 'hib_missing'])).toEqual(new Set(ids))
    const listed = await data.listScheduledHibernations(db, '', 1000)
    expect(listed.map((h) => h.id)).toEqual(expect.arrayContaining(ids))
    const outcomes = await data.completeHibernations(db, [ids[1] ?? '', ids[0] ?? '', 'hib_missing'], 2000)
    expect(outcomes.map((o) => o.outcome)).toEqual(['completed', 'completed', 'skipped'])
    expect(outcomes.map((o) => (o.outcome === 'completed' ? o.userId : null))).toEqual([
      users[1]?.id,
      users[0]?.id,
      null,
    ])
    expect(await data.scheduledAmong(db, ids)).toEqual(new Set())
  })
})

describe('events', () => {
  test('marks, cuts and prunes; the position never goes back when the table empties', async () => {
    await newUser()
    const latest = await data.latestEventId(db)
    expect(await data.countEvents(db, 0, { upTo: latest, limit: 3 })).toBe(3)
    expect((await data.readEventsJson(db, latest - 1))[0]).toMatchObject({ id: latest, type: 'user.updated' })
    expect(typeof (await data.readEventsJson(db, latest - 1))[0]?.data).toBe('string')
    await data.markEvents(db, 5000)
    expect(await data.eventCutAt(db, 5000)).toBe(latest)
    expect(await data.eventCutAt(db, 4999)).toBe(0)
    expect(await data.pruneEventsBatch(db, latest, 2)).toBe(2)
    expect(await data.pruneEvents(db, 6000, 6000)).toBe(latest - 2)
    expect(await data.countEvents(db, 0, { upTo: latest, limit: 10_000 })).toBe(0)
    expect(await data.eventsPrunedThrough(db)).toBe(latest)
    expect(await data.latestEventId(db)).toBe(latest)
    await data.trimEventMarks(db, 6000)
  })
})

describe('login limits', () => {
  test('twenty concurrent reservations on a limit of three: three are reserved', async () => {
    const limits = [{ key: `acct:${randomBytes(3).toString('hex')}`, limit: 3, windowMs: 60_000 }]
    const results = await Promise.all(Array.from({ length: 20 }, () => data.reserveLoginAttempt(db, limits, 1000)))
    expect(results.filter((r) => r === 0)).toHaveLength(3)
    expect(await data.findLoginFailures(db, limits[0]?.key ?? '', 1000)).toEqual({
      count: 3,
      pending: 3,
      resetAt: 61_000,
    })
    const keys = [limits[0]?.key ?? '']
    await data.keepLoginAttempt(db, keys)
    await data.releaseLoginAttempt(db, keys)
    expect(await data.findLoginFailures(db, keys[0] ?? '', 1000)).toMatchObject({ count: 2, pending: 1 })
    await data.forgiveLoginFailures(db, keys)
    expect(await data.findLoginFailures(db, keys[0] ?? '', 1000)).toMatchObject({ count: 0, pending: 0 })
    expect(await data.pruneLoginFailures(db, 61_000)).toBeGreaterThanOrEqual(1)
  })
})

describe('webhooks', () => {
  test('three dispatchers at once turn each event into one delivery per endpoint', async () => {
    const endpoint = await data.createWebhookEndpoint(db, {
      url: 'http://x.test/',
      events: ['user.updated'],
      secret: 's1',
    })
    const user = await newUser()
    await data.setPermissions(db, user.id, ['transactions.read' as Permission])
    const runs = await Promise.all([1, 2, 3].map(() => data.dispatchWebhookEvents(db)))
    const created = runs.flatMap((r) => r.created)
    expect(created).toHaveLength(2)
    expect(created.map((d) => d.eventId)).toEqual([...created.map((d) => d.eventId)].sort((a, b) => a - b))
    const [first] = created
    if (!first) throw new Error('no delivery')
    expect(first.body).toContain('"type":"user.updated"')
    expect(await data.pendingAmong(db, [first.id])).toEqual(new Set([first.id]))
    expect(await data.listPendingDeliveries(db, '', 10)).toHaveLength(2)

    expect(
      await data.recordAttempt(db, first.id, { status: 'delivered', httpStatus: 200, latencyMs: 5 }, 3000),
    ).toMatchObject({
      status: 'delivered',
      attempts: 1,
    })
    expect(await data.recordAttempt(db, first.id, { status: 'delivered', httpStatus: 200, latencyMs: 5 })).toBeNull()
    await data.disableWebhookEndpoint(db, endpoint.id, 'gone')
    expect(await data.getWebhookEndpoint(db, endpoint.id)).toMatchObject({ enabled: false, disabledReason: 'gone' })
    expect(await data.redeliver(db, endpoint.id, first.id, 4000)).toMatchObject({ status: 'pending', redeliveries: 1 })
    expect(await data.getWebhookEndpoint(db, endpoint.id)).toMatchObject({ enabled: true })
    expect(await data.webhookDeliveryStats(db, 5000)).toEqual({
      byStatus: { pending: 2, delivered: 0, failed: 0 },
      dueLagMs: expect.any(Number),
    })
    const page = await data.listWebhookDeliveries(db, endpoint.id, 1)
    expect(page.deliveries).toHaveLength(1)
    expect(page.nextCursor).toBe(String(created[1]?.eventId))

    await Promise.all([
      data.rotateWebhookSecret(db, endpoint.id, 's2', 1000, 100),
      data.rotateWebhookSecret(db, endpoint.id, 's3', 1000, 100),
    ])
    const found = await data.deliveryForAttempt(db, first.id, 200)
    expect(found?.endpoint.activeSecrets).toHaveLength(3)
    expect(await data.listWebhookEndpoints(db)).toHaveLength(1)
    expect(await data.deleteWebhookEndpoint(db, endpoint.id)).toBe(true)
  })
})

describe('deployment, leases, epoch', () => {
  test('of ten processes taking a free lease at once, one gets it; its holder keeps it', async () => {
    const taken = await Promise.all(Array.from({ length: 10 }, () => data.takeLease(db, 'lease:test', 0, 2000, 1000)))
    expect(taken.filter(Boolean)).toHaveLength(1)
    expect(await data.takeLease(db, 'lease:test', 2000, 3000, 1500)).toBe(true)
    expect(await data.takeLease(db, 'lease:test', 0, 4000, 1500)).toBe(false)
    expect(await data.takeLease(db, 'lease:test', 0, 5000, 3000)).toBe(true)
  })

  test('deployment id and epoch are stable, base 36; a new epoch differs', async () => {
    const [a, b] = await Promise.all([data.deploymentId(db), data.deploymentId(db)])
    expect(a).toBe(b)
    const epoch = await data.streamEpoch(db)
    expect(epoch).toMatch(/^[0-9a-z]{1,20}$/)
    expect(await data.streamEpoch(db)).toBe(epoch)
    const next = await data.newStreamEpoch(db)
    expect(next).not.toBe(epoch)
    expect(await data.streamEpoch(db)).toBe(next)
    expect(await data.ping(db)).toBe(true)
  })

  test('the epoch changes with the database (its oid), and works for a role refused pg_control_*', async () => {
    const other = await postgresDatabase()
    const role = `dormant_t_role_${randomBytes(4).toString('hex')}`
    const admin = await connect(other)
    const plain = new URL(other)
    plain.username = role
    let otherDb: Db | undefined
    try {
      // The same random value in another database of the same cluster: the oid tells them apart.
      otherDb = await openDb(other)
      await otherDb.streamEpoch()
      const { rows } = await admin.query("select value from meta where key = 'stream_epoch'")
      const mine = await connect(url)
      try {
        await mine.query("update meta set value = $1 where key = 'stream_epoch'", [rows[0].value])
      } finally {
        await mine.end()
      }
      expect(await data.streamEpoch(db)).not.toBe(await otherDb.streamEpoch())
      await closeDb(otherDb)
      otherDb = undefined

      // A plain role may use the tables, but not pg_control_*: the epoch still comes.
      await admin.query(`create role ${role} login`)
      await admin.query(`grant create, connect on database "${plain.pathname.slice(1)}" to ${role}`)
      await admin.query(`grant all on schema public, drizzle to ${role}`)
      await admin.query(`grant all on all tables in schema public, drizzle to ${role}`)
      await admin.query(`grant all on all sequences in schema public, drizzle to ${role}`)
      await admin.query('revoke execute on function pg_control_system(), pg_control_checkpoint() from public')
      otherDb = await openDb(plain.toString())
      expect(await otherDb.streamEpoch()).toMatch(/^[0-9a-z]+$/)
    } finally {
      if (otherDb) await closeDb(otherDb)
      await admin.query(`drop owned by ${role}`).catch(() => {})
      await admin.end()
      const cleanup = await connect(url)
      await cleanup.query(`drop role if exists ${role}`).catch(() => {})
      await cleanup.end()
    }
  })
})
