import { connectRedis } from '@dormant/core'
import { type AppProcess, databaseEnv, spawnApp, tempDatabase, waitFor } from '@dormant/testing'
import { afterAll, describe, expect, inject, test } from 'vitest'
import {
  type ApiProcess,
  committedEvents,
  completions,
  dbOf,
  ids,
  killHard,
  seedHibernations,
  spawnApi,
  spawnWorker,
  systemEnv,
} from './support.js'

const procs: AppProcess[] = []
afterAll(async () => {
  for (const p of procs) p.child.kill('SIGCONT')
  await Promise.all(procs.map((p) => p.signal('SIGKILL')))
})
const track = <P extends AppProcess>(p: P) => {
  procs.push(p)
  return p
}

/** A process that must refuse: it exits non-zero, saying which setting to change. */
const expectRefusal = async (proc: AppProcess, within = 20_000) => {
  const code = await Promise.race([proc.exited, new Promise((r) => setTimeout(() => r('still running'), within))])
  expect(code, proc.output()).not.toBe('still running')
  expect(code).not.toBe(0)
  expect(proc.output()).toMatch(/REDIS_PREFIX/)
}

/**
 * A second deployment on the same Redis and prefix, with a database whose event ids run
 * ahead of the first one's (so a hub that took its messages would jump past its own ids).
 */
const secondDeployment = async (x: Record<string, string>) => {
  const y = await withFreshDatabase(x)
  await seedHibernations(dbOf(y), 40, () => 3600_000)
  return y
}

/** The same settings with a database of its own: another deployment's identity. */
const withFreshDatabase = async (env: Record<string, string>) => ({ ...env, ...databaseEnv(await tempDatabase()) })

/** X keeps working: its user's changes reach its streams, its admin feed holds only its users, a 3 s timer fires. */
const expectHealthy = async (api: ApiProcess, foreignUserIds: string[]) => {
  const user = await api.newUser()
  const stream = api.stream(user.cookie)
  const feed = api.stream(await api.adminCookie(), { admin: true })
  await Promise.all([stream.untilEvents(1, 'snapshot'), feed.untilEvents(1, 'snapshot')])
  await api.grant(user.id, ['hibernation.self', 'transactions.read'])
  const started = Date.now()
  const res = await api.call(`/api/users/${user.id}/hibernation`, {
    method: 'POST',
    cookie: await api.adminCookie(),
    json: { durationMs: 3000 },
  })
  expect(res.status).toBe(201)
  await stream.until((f) => f.some((x) => x.event === 'hibernation.completed'), 9_000, 'the 3 s hibernation')
  expect(Date.now() - started).toBeLessThan(9_000)
  expect(ids(stream).length).toBeGreaterThanOrEqual(3)
  const feedText = JSON.stringify(feed.events())
  for (const id of foreignUserIds) expect(feedText).not.toContain(id)
  stream.close()
  feed.close()
}

describe('two deployments on one Redis and one REDIS_PREFIX', () => {
  test('the second deployment refuses to start, naming REDIS_PREFIX; the first keeps working', async () => {
    const x = await systemEnv(inject('redisUrl'))
    const api = track(await spawnApi(x))
    track(await spawnWorker(x))
    const y = await secondDeployment(x)
    await expectRefusal(track(spawnApp('api', { ...y, PORT: '0' })))
    await expectRefusal(track(spawnApp('worker', y)))
    await expectHealthy(api, [])
  })

  test('a worker that opens another database file than the API refuses, whichever started first', async () => {
    const x = await systemEnv(inject('redisUrl'))
    const api = track(await spawnApi(x))
    await expectRefusal(track(spawnApp('worker', await withFreshDatabase(x))))

    const z = await systemEnv(inject('redisUrl'))
    track(await spawnWorker(await withFreshDatabase(z)))
    await expectRefusal(track(spawnApp('api', { ...z, PORT: '0' })))
    expect(api.child.exitCode).toBeNull()
  })

  test('after FLUSHALL the other deployment claims the prefix first: the first one stops, and never touches its jobs or messages', async () => {
    const redisUrl = inject('redisUrl')
    const x = await systemEnv(redisUrl, { RECONCILE_INTERVAL_MS: '300', JOB_LOCK_MS: '1000' })
    const xApi = track(await spawnApi(x))
    const xWorker = track(await spawnWorker(x))
    const xUser = await xApi.newUser()
    const xStream = xApi.stream(xUser.cookie)
    await xStream.untilEvents(1, 'snapshot')

    // X is paused (not dead) while Redis is wiped and Y arrives: Y finds the prefix free.
    xApi.child.kill('SIGSTOP')
    xWorker.child.kill('SIGSTOP')
    const redis = connectRedis(redisUrl)
    await redis.flushall()
    await redis.quit()
    const y = await secondDeployment(x)
    const yApi = track(await spawnApi(y))
    track(await spawnWorker(y))
    const yUser = await yApi.newUser()
    const started = Date.now()
    const res = await yApi.call(`/api/users/${yUser.id}/hibernation`, {
      method: 'POST',
      cookie: await yApi.adminCookie(),
      json: { durationMs: 3000 },
    })
    expect(res.status).toBe(201)
    xApi.child.kill('SIGCONT')
    xWorker.child.kill('SIGCONT')

    // Y's timer fires on time, once, though X's reconciler and worker woke up beside it.
    await waitFor(async () => (await completions(dbOf(y))).history.get(yUser.id) === 1, {
      what: "Y's 3 s hibernation",
      timeoutMs: 9_000,
    })
    expect(Date.now() - started).toBeLessThan(9_000)
    await expectRefusal(xApi)
    await expectRefusal(xWorker)
    // X's stream never carried Y's events (Y's ids run ahead of X's).
    const yEvents = new Set((await committedEvents(dbOf(y))).rows.map((r) => `${r.id}:${r.userId}`))
    expect(JSON.stringify(xStream.events())).not.toContain(yUser.id)
    expect(yEvents.size).toBeGreaterThan(0)
    const after = await completions(dbOf(y))
    expect(after.history.get(yUser.id)).toBe(1)
    expect(after.events.get(yUser.id)).toBe(1)
  })

  test('an API ignores bus messages of another identity: no foreign user, no jump past its own ids', async () => {
    const x = await systemEnv(inject('redisUrl'))
    const api = track(await spawnApi(x))
    const user = await api.newUser()
    const stream = api.stream(user.cookie)
    const feed = api.stream(await api.adminCookie(), { admin: true })
    await Promise.all([stream.untilEvents(1, 'snapshot'), feed.untilEvents(1, 'snapshot')])
    const position = Math.max(0, ...(await committedEvents(dbOf(x))).all)

    // What a deployment Y on the same prefix, ahead of X, would publish (even about X's user id).
    const foreign = { id: position + 1000, userId: user.id, type: 'user.updated', createdAt: Date.now() }
    const redis = connectRedis(inject('redisUrl'))
    const channel = `${x.REDIS_PREFIX}:events`
    await redis.publish(
      channel,
      JSON.stringify({ kind: 'events', d: 'other', events: [{ ...foreign, data: { user: { id: 'usr_theirs' } } }] }),
    )
    await redis.publish(channel, JSON.stringify({ kind: 'upTo', d: 'other', id: position + 2000 }))
    await redis.quit()

    await api.grant(user.id, ['transactions.read'])
    const own = (await committedEvents(dbOf(x), position)).byUser(user.id)
    expect(own.length).toBe(1)
    await stream.until(() => ids(stream).length >= 1, 10_000, 'the own change')
    await feed.until(() => ids(feed).length >= 1, 10_000, 'the own change on the admin feed')
    expect(ids(stream)).toEqual(own)
    expect(ids(feed)).toEqual(own)
    expect(JSON.stringify(feed.events())).not.toContain('usr_theirs')

    // And the hub's position stayed its own: the next change arrives too.
    await api.grant(user.id, ['hibernation.self'])
    await stream.until(() => ids(stream).length >= 2, 10_000, 'the next own change')
    expect(ids(stream)).toEqual((await committedEvents(dbOf(x), position)).byUser(user.id))
  })

  test('the claim of a deployment that is gone lapses: a recreated database can start once it did', async () => {
    // The lapse is production's 30 s; the test-only setting shortens it (every process of
    // both deployments reads it, as each would read the same production constant).
    const ttlMs = 6000
    const x = { ...(await systemEnv(inject('redisUrl'))), TEST_DEPLOYMENT_CLAIM_TTL_MS: String(ttlMs) }
    const first = track(await spawnApi(x))
    // The same settings with a fresh database file (as after deleting ./data): a new identity,
    // refused while the first deployment holds the prefix (refused before the kill, so a slow
    // start cannot outlast the short lapse).
    const fresh = await withFreshDatabase(x)
    const refused = track(spawnApp('api', { ...fresh, PORT: '0' }))
    await expectRefusal(refused)
    expect(refused.output()).toContain(`lapses ${ttlMs / 1000} s after`)
    const redis = connectRedis(inject('redisUrl'))
    const claim = `${x.REDIS_PREFIX}:deployment`
    await killHard(first)
    const killed = Date.now()
    // The dead deployment's claim outlives it (a fresh one would still be refused)...
    const owner = await redis.get(claim)
    expect(owner).not.toBeNull()
    expect(refused.output()).toContain(`identity ${owner}`)
    // ...and lapses within the TTL of its last renewal (one check interval before the kill at most).
    await waitFor(async () => (await redis.exists(claim)) === 0, {
      what: 'the claim to lapse',
      timeoutMs: ttlMs + 10_000,
      intervalMs: 200,
    })
    await redis.quit()
    expect(Date.now() - killed).toBeLessThan(ttlMs + 1000)
    const second = track(await spawnApi(fresh))
    expect((await second.call('/healthz')).status).toBe(200)
  })
})
