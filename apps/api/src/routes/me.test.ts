import { completeHibernation, startHibernation } from '@dormant/db'
import { describe, expect } from 'vitest'
import { test } from '../testing.js'

type User = { id: string; status: string; permissions: string[]; hibernation: { endsAt: string } | null }

describe('GET /api/me', () => {
  test('returns the signed-in user', async ({ api }) => {
    const user = await api.newUser()
    const res = await api.call('/api/me', { cookie: user.cookie })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { user: { id: string; status: string } }
    expect(body.user).toMatchObject({ id: user.id, status: 'active' })
  })

  test('401 without a session', async ({ api }) => {
    const res = await api.call('/api/me')
    expect(res.status).toBe(401)
    expect(await res.json()).toEqual({ error: { code: 'unauthorized', message: 'sign in first' } })
  })
})

describe('POST and DELETE /api/me/hibernation', () => {
  test('201 hibernating for HIBERNATION_DURATION_MS; 409 again; DELETE 200 active; 409 again', async ({ api }) => {
    const user = await api.newUser()
    const started = await api.call('/api/me/hibernation', { method: 'POST', cookie: user.cookie })
    expect(started.status).toBe(201)
    const { user: sleeping } = (await started.json()) as { user: User & { hibernation: { startedAt: string } } }
    expect(sleeping.status).toBe('hibernating')
    expect(Date.parse(sleeping.hibernation.endsAt) - Date.parse(sleeping.hibernation.startedAt)).toBe(
      api.deps.config.HIBERNATION_DURATION_MS,
    )
    const again = await api.call('/api/me/hibernation', { method: 'POST', cookie: user.cookie })
    expect(again.status).toBe(409)
    expect(await again.json()).toEqual({ error: { code: 'conflict', message: 'already hibernating' } })

    const woken = await api.call('/api/me/hibernation', { method: 'DELETE', cookie: user.cookie })
    expect(woken.status).toBe(200)
    expect(((await woken.json()) as { user: User }).user).toMatchObject({ status: 'active', hibernation: null })
    const twice = await api.call('/api/me/hibernation', { method: 'DELETE', cookie: user.cookie })
    expect(twice.status).toBe(409)
    expect(await twice.json()).toEqual({ error: { code: 'conflict', message: 'not hibernating' } })
  })

  test('403 without hibernation.self, and nothing changes', async ({ api }) => {
    const user = await api.newUser({ permissions: ['transactions.read'] })
    for (const method of ['POST', 'DELETE']) {
      const res = await api.call('/api/me/hibernation', { method, cookie: user.cookie })
      expect(res.status).toBe(403)
      expect(await res.json()).toEqual({
        error: {
          code: 'forbidden',
          message: 'missing permission hibernation.self',
          details: { permission: 'hibernation.self' },
        },
      })
    }
    const me = (await (await api.call('/api/me', { cookie: user.cookie })).json()) as { user: User }
    expect(me.user.status).toBe('active')
  })

  test('401 without a session', async ({ api }) => {
    for (const method of ['POST', 'DELETE']) {
      expect((await api.call('/api/me/hibernation', { method })).status).toBe(401)
    }
  })
})

describe('GET /api/me/transactions', () => {
  test('200 with a list; 403 without transactions.read; 401 without a session', async ({ api }) => {
    const reader = await api.newUser()
    const res = await api.call('/api/me/transactions', { cookie: reader.cookie })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ transactions: [] })
    const other = await api.newUser({ permissions: ['hibernation.self'] })
    expect((await api.call('/api/me/transactions', { cookie: other.cookie })).status).toBe(403)
    expect((await api.call('/api/me/transactions')).status).toBe(401)
  })
})

describe('transaction history', () => {
  test('newest first, the same for the user and for an admin', async ({ api }) => {
    const user = await api.newUser()
    const completed: string[] = []
    for (const at of [1_000_000, 2_000_000]) {
      const started = await startHibernation(api.deps.db, user.id, 1000, at)
      if ('error' in started) throw new Error(started.error)
      expect((await completeHibernation(api.deps.db, started.hibernation.id, at + 1000)).outcome).toBe('completed')
      completed.push(started.hibernation.id)
    }
    const mine = await api.call('/api/me/transactions', { cookie: user.cookie })
    const { transactions } = (await mine.json()) as {
      transactions: { id: string; type: string; details: { hibernationId: string }; createdAt: string }[]
    }
    expect(transactions.map((t) => [t.type, t.details.hibernationId, t.createdAt])).toEqual([
      ['hibernation.completed', completed[1], new Date(2_001_000).toISOString()],
      ['hibernation.completed', completed[0], new Date(1_001_000).toISOString()],
    ])
    const asAdmin = await api.call(`/api/users/${user.id}/transactions`, { cookie: await api.adminCookie() })
    expect(await asAdmin.json()).toEqual({ transactions })
  })
})

describe('GET /api/permissions', () => {
  test('the catalogue, to any session; 401 without one', async ({ api }) => {
    const user = await api.newUser({ permissions: [] })
    const res = await api.call('/api/permissions', { cookie: user.cookie })
    expect(res.status).toBe(200)
    const { permissions } = (await res.json()) as { permissions: { name: string; description: string }[] }
    expect(permissions.map((p) => p.name)).toEqual([
      'hibernation.self',
      'transactions.read',
      'reports.view',
      'reports.export',
      'billing.manage',
    ])
    for (const p of permissions) expect(p.description.length).toBeGreaterThan(0)
    expect((await api.call('/api/permissions')).status).toBe(401)
  })
})
