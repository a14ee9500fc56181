import { PERMISSION_NAMES } from '@dormant/core'
import { completeHibernation } from '@dormant/db'
import { databaseEnv, type SseFrame, type SseRecorder, spawnApp, streamPosition } from '@dormant/testing'
import fc from 'fast-check'
import { describe, expect } from 'vitest'
import { startTestApi, test } from '../testing.js'

type Owned = { user?: { id: string } }

const eventFrames = (stream: SseRecorder) => stream.events().filter((f) => f.id !== undefined && f.event !== 'snapshot')
const ownerOf = (frame: SseFrame) => (frame.data as Owned).user?.id

describe('G4: a stream carries only its own user’s events', () => {
  test("user B's stream never sees user A's changes, completions or transactions", async ({ api }) => {
    const [a, b] = [await api.newUser(), await api.newUser()]
    const [streamA, streamB] = [api.stream(a.cookie), api.stream(b.cookie)]
    await Promise.all([streamA.untilEvents(1, 'snapshot'), streamB.untilEvents(1, 'snapshot')])
    const admin = await api.adminCookie()

    const started = await api.call(`/api/users/${a.id}/hibernation`, {
      method: 'POST',
      cookie: admin,
      json: { durationMs: 1000 },
    })
    const hibernationId = ((await started.json()) as { user: { hibernation: { id: string } } }).user.hibernation.id
    const completion = await completeHibernation(api.deps.db, hibernationId, Date.now() + 1000)
    if (completion.outcome !== 'completed') throw new Error(`not completed: ${completion.outcome}`)
    await api.deps.hub.offer(completion.events)
    await api.call(`/api/users/${a.id}/permissions`, { method: 'PUT', cookie: admin, json: { permissions: [] } })
    await streamA.untilEvents(5)

    // B's own change is the proof B's stream was listening all along.
    await api.call(`/api/users/${b.id}/permissions`, { method: 'PUT', cookie: admin, json: { permissions: [] } })
    await streamB.untilEvents(1, 'user.updated')
    expect(eventFrames(streamB).map((f) => f.event)).toEqual(['user.updated'])
    expect(ownerOf(eventFrames(streamB)[0] as SseFrame)).toBe(b.id)
    expect(JSON.stringify(streamB.frames)).not.toContain(a.id)

    expect(eventFrames(streamA).map((f) => f.event)).toEqual([
      'user.updated',
      'user.updated',
      'transaction.created',
      'hibernation.completed',
      'user.updated',
    ])
    const [, completed, transaction, done] = eventFrames(streamA)
    expect(completed?.data).toMatchObject({ user: { id: a.id, status: 'active', goal: 1 } })
    expect(transaction?.data).toMatchObject({
      transaction: { type: 'hibernation.completed', details: { hibernationId } },
    })
    expect(done?.data).toMatchObject({ hibernationId })
  })
})

describe('G4 over random users and changes', () => {
  test('each stream holds exactly its own user’s events; the admin stream holds all, in id order', async () => {
    const api = await startTestApi()
    try {
      const users = await Promise.all(Array.from({ length: 5 }, () => api.newUser()))
      const admin = await api.adminCookie()
      const change = fc.record({
        user: fc.nat({ max: users.length - 1 }),
        op: fc.constantFrom('permissions', 'start', 'cancel'),
        permissions: fc.subarray([...PERMISSION_NAMES]),
      })
      await fc.assert(
        fc.asyncProperty(fc.array(change, { minLength: 1, maxLength: 12 }), async (changes) => {
          const streams = users.map((u) => api.stream(u.cookie))
          const all = api.stream(admin, { admin: true })
          await Promise.all([...streams, all].map((s) => s.untilEvents(1, 'snapshot')))
          const expected = users.map(() => 0)
          for (const { user, op, permissions } of changes) {
            const id = users[user]?.id as string
            const res =
              op === 'permissions'
                ? await api.call(`/api/users/${id}/permissions`, {
                    method: 'PUT',
                    cookie: admin,
                    json: { permissions },
                  })
                : await api.call(`/api/users/${id}/hibernation`, {
                    method: op === 'start' ? 'POST' : 'DELETE',
                    cookie: admin,
                  })
            expect([200, 201, 409]).toContain(res.status)
            if (res.status !== 409) expected[user] = (expected[user] ?? 0) + 1
          }
          const total = expected.reduce((sum, n) => sum + n, 0)
          await all.until(() => eventFrames(all).length >= total)
          await Promise.all(streams.map((s, i) => s.until(() => eventFrames(s).length >= (expected[i] ?? 0))))

          const allIds = eventFrames(all).map((f) => streamPosition(f.id))
          expect(allIds).toEqual([...allIds].sort((x, y) => x - y))
          expect(new Set(allIds).size).toBe(total)
          users.forEach((u, i) => {
            const own = eventFrames(streams[i] as SseRecorder)
            expect(own.every((f) => ownerOf(f) === u.id)).toBe(true)
            const fromAdmin = eventFrames(all).filter((f) => ownerOf(f) === u.id)
            expect(own.map((f) => f.id)).toEqual(fromAdmin.map((f) => f.id))
            expect(own).toHaveLength(expected[i] ?? 0)
          })
          for (const s of [...streams, all]) s.close()
        }),
        { numRuns: 12 },
      )
    } finally {
      await api.stop()
    }
  })
})

describe('G4 through the real worker and Redis', () => {
  test('completions run by a worker process reach only their own user’s stream', async () => {
    const api = await startTestApi({ HIBERNATION_DURATION_MS: '1000' })
    const { REDIS_PREFIX, REDIS_URL } = api.deps.config
    const worker = spawnApp('worker', { ...databaseEnv(api.database), REDIS_PREFIX, REDIS_URL })
    try {
      await worker.waitForOutput(/worker (started|ready|listening)/i, 30_000)
      const fields = { permissions: ['hibernation.self', 'transactions.read'] }
      const [a, b] = [await api.newUser(fields), await api.newUser(fields)]
      const [streamA, streamB] = [api.stream(a.cookie), api.stream(b.cookie)]
      await Promise.all([streamA.untilEvents(1, 'snapshot'), streamB.untilEvents(1, 'snapshot')])
      // The worker completes A's hibernation and publishes through Redis; the hub fans it out.
      expect((await api.call('/api/me/hibernation', { method: 'POST', cookie: a.cookie })).status).toBe(201)
      await streamA.untilEvents(1, 'hibernation.completed', 15_000)
      // B's own change is the proof B's stream was listening all along.
      await api.grant(b.id, ['reports.view'])
      await streamB.untilEvents(1, 'user.updated')
      expect(eventFrames(streamA).map((f) => f.event)).toEqual([
        'user.updated',
        'user.updated',
        'transaction.created',
        'hibernation.completed',
      ])
      expect(eventFrames(streamB).map((f) => f.event)).toEqual(['user.updated'])
      expect(JSON.stringify(streamB.frames)).not.toContain(a.id)
      expect(JSON.stringify(streamA.frames)).not.toContain(b.id)
    } finally {
      await worker.signal('SIGTERM')
      await api.stop()
    }
  })
})
