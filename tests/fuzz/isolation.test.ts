import { queryDb, type SseRecorder } from '@dormant/testing'
import fc from 'fast-check'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { startTestApi, type TestApi } from '../../apps/api/src/testing.js'
import { ids, report } from '../faults/support.js'

let api: TestApi
beforeAll(async () => {
  api = await startTestApi()
})
afterAll(() => api?.stop())

const USERS = 4

type Step =
  | { kind: 'selfStart' | 'selfCancel' | 'adminStart' | 'adminCancel'; user: number }
  | { kind: 'permissions'; user: number; permissions: string[] }

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constantFrom('selfStart', 'selfCancel', 'adminStart', 'adminCancel'),
    user: fc.nat({ max: USERS - 1 }),
  }),
  fc.record({
    kind: fc.constant('permissions' as const),
    user: fc.nat({ max: USERS - 1 }),
    permissions: fc.subarray(['hibernation.self', 'transactions.read', 'reports.view', 'billing.manage']),
  }),
)

const perform = (s: Step, u: { id: string; cookie: string }, admin: string) => {
  switch (s.kind) {
    case 'selfStart':
      return api.call('/api/me/hibernation', { method: 'POST', cookie: u.cookie })
    case 'selfCancel':
      return api.call('/api/me/hibernation', { method: 'DELETE', cookie: u.cookie })
    case 'adminStart':
      return api.call(`/api/users/${u.id}/hibernation`, {
        method: 'POST',
        cookie: admin,
        json: { durationMs: 3_600_000 },
      })
    case 'adminCancel':
      return api.call(`/api/users/${u.id}/hibernation`, { method: 'DELETE', cookie: admin })
    case 'permissions':
      return api.call(`/api/users/${u.id}/permissions`, {
        method: 'PUT',
        cookie: admin,
        json: { permissions: s.permissions },
      })
  }
}

const eventsAfter = async (after: number) =>
  (
    await queryDb<{ id: number; userId: string }>(
      api.database,
      'select id, user_id as "userId" from events where id > ? order by id',
      [after],
    )
  )
    // PostgreSQL hands bigint ids back as text.
    .map((e) => ({ ...e, id: Number(e.id) }))

/** Every id a recording got must belong to `userId` (per the table), and no id twice. */
const ownership = (rec: SseRecorder, owner: Map<number, string>) => ids(rec).map((id) => owner.get(id))

test('each stream holds exactly its own user’s events, in order; the admin stream holds all', async () => {
  let runs = 0
  let total = 0
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), async (steps) => {
      const users = await Promise.all(
        Array.from({ length: USERS }, () => api.newUser({ permissions: ['hibernation.self', 'transactions.read'] })),
      )
      const admin = await api.adminCookie()
      const start = api.deps.hub.lastId
      const streams = users.map((u) => api.stream(u.cookie))
      const adminStream = api.stream(admin, { admin: true })
      await Promise.all([...streams, adminStream].map((s) => s.untilEvents(1, 'snapshot')))

      // Interleave: the steps run concurrently in small groups, as many tabs and an admin would.
      for (let i = 0; i < steps.length; i += 3) {
        await Promise.all(
          steps.slice(i, i + 3).map(async (s) => {
            const u = users[s.user]
            if (!u) return
            const res = await perform(s, u, admin)
            // 403: permissions taken away by an earlier step; 409: already (not) hibernating.
            expect([200, 201, 403, 409]).toContain(res.status)
          }),
        )
      }

      const committed = await eventsAfter(start)
      const owner = new Map(committed.map((e) => [e.id, e.userId]))
      for (const [i, u] of users.entries()) {
        const expected = committed.filter((e) => e.userId === u.id).map((e) => e.id)
        const rec = streams[i] as SseRecorder
        await rec.until(() => ids(rec).length >= expected.length, 10_000, `${expected.length} events for user ${i}`)
        expect(ids(rec)).toEqual(expected)
        expect(new Set(ownership(rec, owner))).toEqual(new Set(expected.length ? [u.id] : []))
        for (const f of rec.events('user.updated')) expect((f.data as { user: { id: string } }).user.id).toBe(u.id)
      }
      const all = committed.map((e) => e.id)
      await adminStream.until(() => ids(adminStream).length >= all.length, 10_000, 'admin events')
      expect(ids(adminStream)).toEqual(all)
      for (const s of [...streams, adminStream]) s.close()
      runs += 1
      total += all.length
    }),
    { numRuns: 8 },
  )
  report(`isolation: ${runs} runs, ${total} events, each stream exactly its own user's events`)
})

test('admin streams need an admin session', async () => {
  const user = await api.newUser({ permissions: ['reports.view', 'reports.export', 'billing.manage'] })
  for (const cookie of [user.cookie, undefined, 'dormant_session=forged']) {
    const rec = api.stream(cookie, { admin: true })
    await rec.opened
    expect(rec.status).toBe(cookie === user.cookie ? 403 : 401)
    expect(rec.events()).toEqual([])
  }
})
