import { databaseEnv } from '@dormant/testing'
import { describe, expect } from 'vitest'
import { startTestApi, type TestApi, test } from './testing.js'

type UserData = { user: { permissions: string[] } }

const put = async (api: TestApi, id: string, permissions: string[]) => {
  const res = await api.call(`/api/users/${id}/permissions`, {
    method: 'PUT',
    cookie: await api.adminCookie(),
    json: { permissions },
  })
  expect(res.status).toBe(200)
}

/** The status of the two permission-guarded requests, made with the user's unchanged cookie. */
const probe = async (api: TestApi, cookie: string) => ({
  transactions: (await api.call('/api/me/transactions', { cookie })).status,
  hibernation: (await api.call('/api/me/hibernation', { method: 'POST', cookie })).status,
})

describe('G5: permission changes apply to the very next request', () => {
  test('granting and revoking, with the same cookie, in this process', async ({ api }) => {
    const user = await api.newUser({ permissions: [] })
    expect(await probe(api, user.cookie)).toEqual({ transactions: 403, hibernation: 403 })
    await put(api, user.id, ['transactions.read'])
    expect(await probe(api, user.cookie)).toEqual({ transactions: 200, hibernation: 403 })
    await put(api, user.id, ['hibernation.self'])
    expect(await probe(api, user.cookie)).toEqual({ transactions: 403, hibernation: 201 })
    await put(api, user.id, [])
    const me = (await (await api.call('/api/me', { cookie: user.cookie })).json()) as UserData
    expect(me.user.permissions).toEqual([])
    expect((await api.call('/api/me/hibernation', { method: 'DELETE', cookie: user.cookie })).status).toBe(403)
  })

  test('a change made through one API process is in force on the next request to another', async ({ api }) => {
    const other = await startTestApi({ ...databaseEnv(api.database), REDIS_PREFIX: api.deps.config.REDIS_PREFIX })
    try {
      const user = await api.newUser({ permissions: [] })
      // Warm both processes with the old set first, so a cached grant would show.
      expect(await probe(other, user.cookie)).toEqual({ transactions: 403, hibernation: 403 })
      const stream = other.stream(user.cookie)
      await stream.untilEvents(1, 'snapshot')

      await put(api, user.id, ['hibernation.self', 'transactions.read'])
      expect(await probe(other, user.cookie)).toEqual({ transactions: 200, hibernation: 201 })
      await stream.untilEvents(2, 'user.updated')
      const permissions = stream.events('user.updated').map((f) => (f.data as UserData).user.permissions)
      expect(permissions[0]).toEqual(['hibernation.self', 'transactions.read'])

      await put(api, user.id, [])
      expect((await other.call('/api/me/transactions', { cookie: user.cookie })).status).toBe(403)
      await stream.untilEvents(3, 'user.updated')
      expect((stream.events('user.updated')[2]!.data as UserData).user.permissions).toEqual([])
    } finally {
      await other.stop()
    }
  })

  test("the user's open stream gets user.updated with the new permissions", async ({ api }) => {
    const user = await api.newUser()
    const stream = api.stream(user.cookie)
    await stream.untilEvents(1, 'snapshot')
    await put(api, user.id, ['reports.view', 'billing.manage'])
    await stream.untilEvents(1, 'user.updated')
    expect((stream.events('user.updated')[0]!.data as UserData).user.permissions).toEqual([
      'billing.manage',
      'reports.view',
    ])
  })
})
